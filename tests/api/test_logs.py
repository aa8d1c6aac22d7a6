"""Logs an operator can use (issue 15 point 6; docs/deploy.md "Logs"): one JSON object per line, at CHRONO_LOG_LEVEL;
each refusal (auth, signature, callback target, idempotency) logged once at WARNING with its reason; never a
secret, a signature, a password, a personal field nor a URL's query."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import boto3
import pytest

from chalicelib import config
from chalicelib.services import callbacks
from chalicelib.web import logs
from chalicelib.signature import sign_query
from tests.conftest import ROOT, basic

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=timezone.utc)
WCS_KEY = '12345'  # tests/conftest.py: CHRONO_SIGNATURE_KEYS of wcs.example.org


class Output:
    """The root logger's only handler writes here, as Lambda's does to CloudWatch."""

    def __init__(self, monkeypatch) -> None:
        self.stream = io.StringIO()
        root = logging.getLogger()
        monkeypatch.setattr(root, 'handlers', [logging.StreamHandler(self.stream)])
        monkeypatch.setattr(root, 'level', root.level)
        for name in logs.CHATTY_LIBRARIES:
            monkeypatch.setattr(logging.getLogger(name), 'level', logging.getLogger(name).level)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self, at_least: int = logging.WARNING) -> list[dict]:
        """Every line is a JSON object; those at `at_least` or above."""
        parsed = [json.loads(line) for line in self.text.splitlines()]
        return [line for line in parsed if logging.getLevelName(line['level']) >= at_least]

    def clear(self) -> None:
        self.stream.seek(0)
        self.stream.truncate()


@pytest.fixture
def output(monkeypatch, env, clock):
    out = Output(monkeypatch)
    env(CHRONO_LOG_LEVEL=None)
    clock(NOW)
    logs.configure()
    return out


def without_timestamp(line: dict) -> dict:
    stamp = datetime.fromisoformat(line.pop('timestamp'))
    assert stamp.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - stamp) < timedelta(minutes=5)
    return line


def test_a_refused_signature_is_one_warning_line_with_its_reason_and_no_secret(api, output):
    query = sign_query('orig=wcs.example.org&email=victim%40example.org', 'not-the-key', now=NOW, nonce='n0nce-42')
    mac = query.rsplit('signature=', 1)[1]
    assert api.client.http.get(f'/api/agenda/?{query}').status_code == 401
    assert [without_timestamp(line) for line in output.lines()] == [{
        'level': 'WARNING', 'logger': 'chalicelib.web.auth', 'message': 'auth refused: bad signature',
        'auth_method': 'signature', 'reason': 'bad signature'}]
    for secret in (WCS_KEY, 'not-the-key', mac, unquote(mac), 'victim', 'n0nce-42', 'orig='):
        assert secret not in output.text


def test_every_auth_refusal_is_logged_once_at_warning_without_password_or_user_name(api, output):
    cases = [
        (basic('demo', 'hunter2-password')['Authorization'], 'wrong API client credentials', 'basic'),
        (basic('somebody-typed-a-password', 'x')['Authorization'], 'wrong API client credentials', 'basic'),
        ('Basic !!!', 'malformed Basic credentials', 'basic'),
        ('Bearer abc-token', 'unsupported Authorization scheme', 'basic'),
        (None, 'no credentials', None),
    ]
    for authorization, reason, method in cases:
        output.clear()
        headers = {'Authorization': authorization} if authorization else {}
        assert api.client.http.get('/api/agenda/', headers=headers).status_code == 401
        assert [(line['reason'], line['auth_method']) for line in output.lines()] == [(reason, method)], reason
    for secret in ('hunter2', 'somebody-typed', 'abc-token'):
        assert secret not in output.text
    # A replayed nonce: the MAC held, so the orig is known and named.
    query = sign_query('orig=wcs.example.org', WCS_KEY, now=NOW, nonce='n-1')
    assert api.client.http.get(f'/api/agenda/?{query}').status_code == 200
    output.clear()
    assert api.client.http.get(f'/api/agenda/?{query}').status_code == 401
    assert [without_timestamp(line) for line in output.lines()] == [{
        'level': 'WARNING', 'logger': 'chalicelib.web.auth', 'message': 'auth refused: nonce replayed',
        'auth_method': 'signature', 'reason': 'nonce replayed', 'orig': 'wcs.example.org'}]


def test_chrono_log_level_error_silences_the_warnings(api, output, env):
    env(CHRONO_LOG_LEVEL='error')
    logs.configure()
    query = sign_query('orig=wcs.example.org', 'not-the-key', now=NOW)
    assert api.client.http.get(f'/api/agenda/?{query}').status_code == 401
    assert api.client.http.get('/api/agenda/', headers=basic('demo', 'wrong')).status_code == 401
    assert output.text == ''
    logging.getLogger('chalicelib.web.api').error('an error still shows')
    assert [line['message'] for line in output.lines()] == ['an error still shows']


def test_an_unknown_level_falls_back_to_info_and_says_so(output):
    logs.configure('LOUD')
    assert [without_timestamp(line) for line in output.lines()] == [{
        'level': 'WARNING', 'logger': 'chalicelib.web.logs', 'reason': 'unknown log level',
        'message': "CHRONO_LOG_LEVEL 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR: INFO is used"}]
    assert logging.getLogger().level == logging.INFO


def test_at_debug_the_aws_libraries_stay_at_warning(output):
    """botocore and pynamodb write request bodies (personal data) and signed headers at DEBUG."""
    logs.configure('DEBUG')
    assert logging.getLogger().level == logging.DEBUG
    assert {name: logging.getLogger(name).level for name in ('botocore', 'pynamodb', 'urllib3')} == {
        'botocore': logging.WARNING, 'pynamodb': logging.WARNING, 'urllib3': logging.WARNING}


def test_a_callback_refusal_is_one_warning_line_without_the_query(api, output, env, receiver):
    env(CHRONO_CALLBACK_HOSTS='127.0.0.1', CHRONO_SIGNATURE_KEYS=json.dumps({'127.0.0.1': 'k'}),
        CHRONO_ORIG='chrono.example.org', CHRONO_CALLBACK_OWNERS=json.dumps({'wcs': ['127.0.0.1:*']}))
    boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
    assert api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0})[0] == 200
    assert api.post('/api/agenda/piscine/event/', {'slug': 'lundi', 'start_datetime': '2030-03-04 10:00',
                                                   'places': 5})[0] == 200
    url = receiver.url('/hooks/cancel/?NameID=admin-uuid&email=victim%40example.org&form=12')
    booking_id = api.post('/api/agenda/piscine/fillslot/lundi/', {'cancel_callback_url': url})[1]['booking_id']
    assert api.post(f'/api/booking/{booking_id}/agent-cancel/', {})[1]['err'] == 0
    output.clear()
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'refused'
    reason = f'host 127.0.0.1:{receiver.port} is not owned by client basic:demo (CHRONO_CALLBACK_OWNERS)'
    assert [without_timestamp(line) for line in output.lines()] == [{
        'level': 'WARNING', 'logger': 'chalicelib.services.callbacks', 'message': f'callback refused: {reason}',
        'reason': reason, 'callback': f'{booking_id}:cancel:0', 'client': 'basic:demo',
        'target': f'http://127.0.0.1:{receiver.port}/hooks/cancel/'}]
    for private in ('?', 'admin-uuid', 'victim', 'form=12'):
        assert private not in output.text
    assert receiver.requests == []


def test_an_idempotency_refusal_is_one_warning_line_naming_the_client_not_the_key(api, output):
    key = {'X-Idempotency-Key': 'jane@example.org-1'}
    assert api.post('/api/agenda/', {'slug': 'a', 'label': 'A'}, headers=key)[0] == 200
    output.clear()
    status, answer = api.post('/api/agenda/', {'slug': 'b', 'label': 'B'}, headers=key)
    assert (status, answer['err_class']) == (422, 'idempotency key reused')
    digest = hashlib.sha256(b'jane@example.org-1').hexdigest()[:16]
    assert [without_timestamp(line) for line in output.lines()] == [{
        'level': 'WARNING', 'logger': 'chalicelib.web.idempotency',
        'message': 'idempotency key refused: key reused with another request',
        'reason': 'key reused with another request', 'client': 'basic:demo', 'key_sha256': digest}]
    output.clear()
    status, answer = api.post('/api/agenda/', {'slug': 'b', 'label': 'B'}, headers={'X-Idempotency-Key': 'bad key#'})
    assert status == 400
    assert [line['reason'] for line in output.lines()] == ['malformed X-Idempotency-Key header']
    assert 'jane' not in output.text and 'bad key' not in output.text


def test_the_formatter_writes_extra_fields_the_lambda_request_id_and_the_exception_on_one_line():
    record = logging.LogRecord('chalicelib.x', logging.ERROR, __file__, 1, 'failed: %s', ('why',), None)
    record.reason = 'because\nof this'
    record.aws_request_id = 'req-1'
    try:
        raise ValueError('boom')
    except ValueError:
        record.exc_info = sys.exc_info()
    text = logs.JsonFormatter().format(record)
    assert '\n' not in text
    line = without_timestamp(json.loads(text))
    assert line.pop('exception').endswith('ValueError: boom')
    assert line == {'level': 'ERROR', 'logger': 'chalicelib.x', 'message': 'failed: why', 'reason': 'because\nof this',
                    'request_id': 'req-1'}


PROBE = '''
import io, json, logging, sys
stream = io.StringIO()
if sys.argv[1] == 'lambda':  # the runtime's handler is on the root logger before the handler module is imported
    logging.getLogger().addHandler(logging.StreamHandler(stream))
import app
root = logging.getLogger()
if sys.argv[1] != 'lambda':
    root.handlers[0].stream = stream
logging.getLogger('chalicelib.web.auth').warning('auth refused: x', extra={'reason': 'x'})
logging.getLogger('chrono').error('chalice itself')
logging.getLogger('chalicelib.services.callbacks').info('callback sent')
print(json.dumps({'handlers': len(root.handlers), 'level': root.level, 'lines': stream.getvalue().splitlines()}))
'''


@pytest.mark.parametrize('runtime', ['lambda', 'make run'])
def test_importing_app_sets_json_lines_on_the_one_root_handler(runtime):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_', 'PYTEST'))}
    for level, infos in (('', 1), ('WARNING', 0)):
        result = subprocess.run([sys.executable, '-c', PROBE, runtime], cwd=ROOT, capture_output=True, text=True,
                                env={**env, 'PYTHONPATH': str(ROOT), 'CHRONO_LOG_LEVEL': level}, timeout=60)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        lines = [json.loads(line) for line in report['lines']]
        assert report['handlers'] == 1 and report['level'] == (logging.WARNING if level else logging.INFO)
        assert [(line['level'], line['logger'], line['message']) for line in lines] == [
            ('WARNING', 'chalicelib.web.auth', 'auth refused: x'), ('ERROR', 'chrono', 'chalice itself'),
            *[('INFO', 'chalicelib.services.callbacks', 'callback sent')] * infos]
        assert result.stderr == ''
