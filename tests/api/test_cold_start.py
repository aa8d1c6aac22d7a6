"""Cold start (issue 20, point 3): one botocore session for every client of the process, the DynamoDB client
made during a Lambda's init phase (the import of app), and service modules imported on first use. The
figures themselves (import and first fillslot against boto3) are `make bench FIGURES=cold_import`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.client import BaseClient

from chalicelib import aws, config, store
from tests.conftest import ROOT

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)


@pytest.fixture
def sessions(monkeypatch):
    """The botocore sessions made from now on (the store and aws module forgotten first)."""
    made = []
    original = aws.get_session

    def counting():
        made.append(original())
        return made[-1]

    store.reset()
    monkeypatch.setattr(aws, 'get_session', counting)
    return made


@pytest.fixture
def clients(monkeypatch):
    """(service, client) of every AWS call made from now on."""
    seen: list[tuple[str, BaseClient]] = []
    original = BaseClient._make_api_call

    def recording(client, operation, params):
        seen.append((client.meta.service_model.service_name, client))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, '_make_api_call', recording)
    return seen


def test_every_model_the_transactions_and_sqs_share_one_session(api, clock, sessions, clients):
    boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
    clock(NOW)
    assert api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0})[0] == 200
    assert api.post('/api/agenda/piscine/event/', {'slug': 'cours', 'start_datetime': '2030-03-04 10:00',
                                                   'places': 5})[0] == 200
    status, booked = api.post('/api/agenda/piscine/fillslot/cours/', {
        'user_external_id': 'u1', 'cancel_callback_url': 'http://127.0.0.1:9/hook/'})
    assert (status, booked['err']) == (200, 0)
    assert api.get('/api/agenda/piscine/datetimes/?user_external_id=u1')[1]['data'][0]['booked_for_external_user']
    status, cancelled = api.post(f"/api/booking/{booked['booking_id']}/agent-cancel/")
    assert (status, cancelled['err']) == (200, 0)

    sqs = aws.client('sqs')
    assert {id(client) for service, client in clients if service == 'dynamodb'} == {id(store.connection().client)}
    assert [client is sqs for service, client in clients if service == 'sqs'] == [False, True, True]  # boto3's, ours
    assert len(sessions) == 1  # both services' clients on it (boto3 has its own)


def test_the_clients_follow_a_changed_endpoint(aws_test_env):
    store.reset()
    assert store.connection().client.meta.endpoint_url == 'https://dynamodb.eu-west-3.amazonaws.com'
    sqs = aws.client('sqs')
    os.environ['AWS_ENDPOINT_URL_SQS'] = 'http://127.0.0.1:4566'
    assert aws.client('sqs').meta.endpoint_url == 'http://127.0.0.1:4566'  # no reset needed, as before
    assert aws.client('sqs') is not sqs
    os.environ['AWS_ENDPOINT_URL_DYNAMODB'] = 'http://127.0.0.1:8001'
    assert store.connection().client.meta.endpoint_url == 'https://dynamodb.eu-west-3.amazonaws.com'
    store.reset()  # as the tests and the local stack do when they move the table
    assert store.connection().client.meta.endpoint_url == 'http://127.0.0.1:8001'


@pytest.fixture
def aws_test_env(monkeypatch):
    for name in ('AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS'):
        monkeypatch.delenv(name, raising=False)
    yield
    for name in ('AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS'):
        os.environ.pop(name, None)
    store.reset()


PROBE = '''
import gc, json, sys
import app
from chalicelib import aws
from chalicelib.store import tables
client = tables._connection._client if tables._connection else None
print(json.dumps({
    "client": client.meta.endpoint_url if client else None,
    "session": aws._session is not None,
    "services": sorted(m for m in sys.modules if m.startswith("chalicelib.services.")),
    "collector": [gc.isenabled(), gc.get_freeze_count() > 10000],
}))
'''


def imported(extra_env: dict[str, str]) -> dict:
    """`import app` in a fresh interpreter, without the tests' variables; no call is made (the endpoint is
    a closed port on loopback: making a client connects nowhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_', 'PYTEST'))}
    env.update(PYTHONPATH=str(ROOT), AWS_DEFAULT_REGION='eu-west-3', AWS_ACCESS_KEY_ID='cold',
               AWS_SECRET_ACCESS_KEY='cold', AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:9',
               CHRONO_API_CLIENTS='not json', **extra_env)
    done = subprocess.run([sys.executable, '-c', PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_on_lambda_the_dynamodb_client_is_made_at_import_without_reading_the_configuration():
    assert imported({'AWS_LAMBDA_FUNCTION_NAME': 'chrono-prod'}) == {
        'client': 'http://127.0.0.1:9', 'session': True, 'services': [], 'collector': [True, True]}


def test_elsewhere_importing_app_makes_no_client_and_imports_no_service():
    """No credentials lookup at import outside Lambda (which could reach for an instance's metadata). The
    garbage collector, off while app imports, is on again, the objects of the import frozen out of its scans."""
    assert imported({}) == {'client': None, 'session': False, 'services': [], 'collector': [True, True]}
