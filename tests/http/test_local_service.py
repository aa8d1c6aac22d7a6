"""The service as a user meets it: `python -m local` (what `make run` runs) over real HTTP."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
import requests

from chalicelib.signature import sign_query
from tests.conftest import ROOT

KEYS = {'wcs.example.org': 'wcs-key', 'lingo.example.org': 'lingo-key'}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_service(extra_env: dict[str, str]) -> tuple[subprocess.Popen, str, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_'))}
    env.update(PORT=str(port), PYTHONUNBUFFERED='1', **extra_env)
    process = subprocess.Popen([sys.executable, '-m', 'local'], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if 'Ctrl-C stops everything' in line:
            banner = ''.join(output)
            # Keep reading what it prints: a full pipe would block the service on its next print (its stop too).
            threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
            return process, banner, port
    process.kill()
    raise AssertionError('the local service did not start:\n' + ''.join(output))


@pytest.fixture(scope='module')
def service():
    process, banner, port = start_service({'CHRONO_SIGNATURE_KEYS': json.dumps(KEYS)})
    yield f'http://127.0.0.1:{port}', banner
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


def signed(url_path: str, query: str, orig: str = 'wcs.example.org') -> str:
    query = f'{query}&orig={orig}' if query else f'orig={orig}'
    return f'{url_path}?{sign_query(query, KEYS[orig])}'


def test_banner_tells_the_url_the_credentials_and_a_curl_command(service):
    base, banner = service
    assert 'ready' in banner and f'{base}/' in banner
    assert 'API client (HTTP Basic): demo / demo' in banner
    assert f'curl -u demo:demo {base}/api/agenda/' in banner


def test_demo_agendas_are_listed_with_the_keys_clients_read(service):
    base, _ = service
    response = requests.get(f'{base}/api/agenda/', auth=('demo', 'demo'), timeout=10)
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/json'
    data = response.json()
    assert data['err'] == 0
    by_slug = {item['slug']: item for item in data['data']}
    assert sorted(by_slug) == ['passeports', 'piscine']
    assert by_slug['piscine']['kind'] == 'events'
    assert (by_slug['piscine']['category'], by_slug['piscine']['category_label']) == ('sport', 'Sport')
    assert by_slug['piscine']['api']['datetimes_url'] == f'{base}/api/agenda/piscine/datetimes/'
    meetings = by_slug['passeports']
    assert (meetings['kind'], meetings['free_range'], meetings['category_label']) == ('meetings', False, 'État civil')
    assert meetings['api']['meetings_url'] == f'{base}/api/agenda/passeports/meetings/'


def test_demo_events_have_a_waiting_list(service):
    base, _ = service
    export = requests.get(f'{base}/api/export', auth=('demo', 'demo'), timeout=10).json()
    piscine = next(a for a in export['agendas'] if a['slug'] == 'piscine')
    assert len(piscine['events']) == 6
    assert {(e['places'], e['waiting_list_places']) for e in piscine['events']} == {(20, 5)}
    passeports = next(a for a in export['agendas'] if a['slug'] == 'passeports')
    assert [d['slug'] for d in passeports['desks']] == ['guichet-1', 'guichet-2']
    assert [(m['slug'], m['duration']) for m in passeports['meetingtypes']] == [('depot', 30), ('retrait', 15)]


def test_trailing_slash_is_optional(service):
    base, _ = service
    with_slash = requests.get(f'{base}/api/agenda/', auth=('demo', 'demo'), timeout=10)
    without = requests.get(f'{base}/api/agenda', auth=('demo', 'demo'), timeout=10)
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()


def test_signature_from_wcs_encoder_verifies_on_the_raw_query(service):
    base, _ = service
    # w.c.s. re-encodes with urlencode: `+` for spaces, `%3A` for colons, blank values dropped.
    query = urlencode([('q', 'pisc'), ('lock_code', 'a b:c')])
    response = requests.get(base + signed('/api/agenda/', query), timeout=10)
    assert response.status_code == 200, response.text
    assert [a['slug'] for a in response.json()['data']] == ['piscine']


def test_signature_with_raw_colon_as_lingo_sends_it_verifies(service):
    base, _ = service
    url = base + signed('/api/agenda/', 'NameID=&email=&q=pisc&user_external_id=user:1', 'lingo.example.org')
    assert ':1&' in url
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert [a['slug'] for a in response.json()['data']] == ['piscine']


def test_percent_20_and_repeated_keys_verify(service):
    base, _ = service
    response = requests.get(base + signed('/api/agenda/', 'q=pisc&lock_code=a%20b&x=1&x=2'), timeout=10)
    assert response.status_code == 200, response.text


def test_tampered_expired_and_replayed_signatures_are_refused(service):
    base, _ = service
    good = signed('/api/agenda/', 'q=pisc')
    tampered = good.replace('q=pisc', 'q=pass')
    answers = [requests.get(base + tampered, timeout=10)]
    answers.append(requests.get(base + good, timeout=10))
    answers.append(requests.get(base + good, timeout=10))  # the same nonce again
    expired = sign_query('orig=wcs.example.org', KEYS['wcs.example.org'],
                         now=datetime.now(timezone.utc) - timedelta(seconds=31))
    old = requests.get(f'{base}/api/agenda/?{expired}', timeout=10)
    assert [a.status_code for a in answers] == [401, 200, 401]
    assert old.status_code == 401
    for refused in (answers[0], answers[2], old):
        body = refused.json()
        assert body['err'] == 1 and set(body) == {'err', 'err_class', 'err_desc'}


def test_get_with_a_json_body_and_a_caller_url_header(service):
    base, _ = service
    response = requests.get(f'{base}/api/agenda/piscine/', auth=('demo', 'demo'), data='{}', timeout=10,
                            headers={'Content-Type': 'application/json', 'Publik-Caller-URL': ''})
    assert response.status_code == 200
    assert response.json()['data']['slug'] == 'piscine'


def test_text_plain_and_malformed_bodies_get_chrono_400(service):
    base, _ = service
    for headers, body in (({'Content-Type': 'text/plain'}, 'hello'),
                          ({'Content-Type': 'application/json'}, '{bad'),
                          ({'Content-Type': 'application/json'}, b'\xff\xfe')):
        response = requests.post(f'{base}/api/agenda/', auth=('demo', 'demo'), data=body, headers=headers,
                                 timeout=10)
        assert response.status_code == 400
        body = response.json()
        assert (body['err'], body['err_class']) == (1, 'invalid payload')
        assert 'Code' not in body


def test_percent_encoded_path_parameters_are_decoded_once(service):
    base, _ = service
    first = (date.today() + timedelta(days=(1 - date.today().weekday()) % 7 or 7)).isoformat()
    response = requests.get(f'{base}/api/agenda/piscine/event/natation%2D{first}/', auth=('demo', 'demo'),
                            timeout=10)
    assert response.status_code == 200
    assert response.json()['data']['slug'] == f'natation-{first}'
    missing = requests.get(f'{base}/api/agenda/piscine/event/natation%252D{first}/', auth=('demo', 'demo'),
                           timeout=10)
    assert missing.status_code == 404


def test_a_wcs_booking_workflow_over_signed_calls(service):
    """What a w.c.s. form does: list the datetimes, book the first one with the fillslot_url it
    got (a signed POST with the form's values as strings), read the booking, cancel it."""
    base, _ = service
    listing = requests.get(base + signed('/api/agenda/piscine/datetimes/', 'lock_code=abc'), timeout=10).json()
    first = listing['meta']['first_bookable_slot']
    assert (listing['err'], first['places']['reserved']) == (0, 0)
    path = first['api']['fillslot_url'][len(base):]
    body = {'user_external_id': 'nameid-1', 'user_email': 'nothing', 'count': '2', 'form_url': 'https://wcs/f/1/',
            'exclude_user': 'True', 'demande': '42'}
    booking = requests.post(base + signed(path, ''), json=body, timeout=10).json()
    assert (booking['err'], booking['in_waiting_list'], booking['places']['reserved']) == (0, False, 2)
    assert set(booking) == {'err', 'booking_id', 'datetime', 'end_datetime', 'in_waiting_list', 'agenda', 'api',
                            'places'}
    again = requests.post(base + signed(path, ''), json=body, timeout=10).json()
    assert (again['err'], again['err_class']) == (1, 'event is already booked by user')
    detail = requests.get(base + signed(booking['api']['booking_url'][len(base):], ''), timeout=10).json()
    assert (detail['err'], detail['data']['extra_data'], detail['data']['user_email']) == (0, {'demande': '42'},
                                                                                         'nothing')
    cancelled = requests.post(base + signed(booking['api']['cancel_url'][len(base):], ''), timeout=10).json()
    assert cancelled == {'err': 0, 'booking_id': booking['booking_id']}
    status = requests.get(base + signed(first['api']['status_url'][len(base):], ''), timeout=10).json()
    assert status['places']['reserved'] == 0


def test_a_wcs_appointment_workflow_over_signed_calls(service):
    """What a w.c.s. appointment form does: meeting types of the agenda, their datetimes, book the
    first time through its fillslot_url (two desks: the same time twice, then no desk), cancel."""
    base, _ = service
    types = requests.get(base + signed('/api/agenda/passeports/meetings/', ''), timeout=10).json()['data']
    assert [(t['id'], t['duration']) for t in types] == [('depot', 30), ('retrait', 15)]
    listing = requests.get(base + signed(types[0]['api']['datetimes_url'][len(base):], 'lock_code=abc'),
                           timeout=10).json()
    first = listing['meta']['first_bookable_slot']
    path = first['api']['fillslot_url'][len(base):]
    body = {'user_external_id': 'nameid-2', 'label': 'Passeport', 'use_color_for': 'Dépôt'}
    bookings = [requests.post(base + signed(path, ''), json=body, timeout=10).json() for _ in range(3)]
    assert [(b['err'], b.get('desk', {}).get('slug')) for b in bookings] == [(0, 'guichet-1'), (0, 'guichet-2'),
                                                                           (1, None)]
    assert bookings[0]['datetime'] == first['datetime'] and bookings[0]['duration'] == 30
    assert bookings[2]['err_class'] == 'no more desk available'
    after = requests.get(base + signed(types[0]['api']['datetimes_url'][len(base):], ''), timeout=10).json()
    assert next(i for i in after['data'] if i['id'] == first['id'])['disabled'] is True
    for booking in bookings[:2]:
        cancelled = requests.post(base + signed(booking['api']['cancel_url'][len(base):], ''), timeout=10).json()
        assert cancelled == {'err': 0, 'booking_id': booking['booking_id']}
    again = requests.get(base + signed(types[0]['api']['datetimes_url'][len(base):], ''), timeout=10).json()
    assert next(i for i in again['data'] if i['id'] == first['id'])['disabled'] is False


def test_make_run_delivers_a_cancel_callback_for_real():
    """The README's recipe: make run with a loopback callback host and its key; an agent cancel
    reaches the receiver, signed, through the local worker (SQS on moto, then the app's handler)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from chalicelib.signature import verify_raw
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass
    receiver = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    Thread(target=receiver.serve_forever, daemon=True).start()
    keys = {'demo.localhost': 'demo', '127.0.0.1': 'demo'}
    # CHRONO_CALLBACK_OWNERS given here until make run's own default ({"demo": ["127.0.0.1:*", ...]}) lands.
    process, _, port = start_service({'CHRONO_CALLBACK_HOSTS': '127.0.0.1', 'CHRONO_ORIG': 'chrono.localhost',
                                      'CHRONO_SIGNATURE_KEYS': json.dumps(keys),
                                      'CHRONO_CALLBACK_OWNERS': json.dumps({'demo': ['127.0.0.1:*']})})
    try:
        base = f'http://127.0.0.1:{port}'
        listing = requests.get(f'{base}/api/agenda/piscine/datetimes/', auth=('demo', 'demo'), timeout=10).json()
        hook = f'http://127.0.0.1:{receiver.server_address[1]}/hooks/cancel/'
        booking = requests.post(listing['data'][0]['api']['fillslot_url'], auth=('demo', 'demo'), timeout=10,
                                json={'cancel_callback_url': hook}).json()
        cancelled = requests.post(f"{base}/api/booking/{booking['booking_id']}/agent-cancel/", auth=('demo', 'demo'),
                                  timeout=10).json()
        assert cancelled == {'err': 0, 'booking_id': booking['booking_id']}
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [path.split('?')[0] for path in received] == ['/hooks/cancel/']
        caller = verify_raw(received[0].split('?', 1)[1], {'chrono.localhost': 'demo'}, datetime.now(timezone.utc))
        assert caller.orig == 'chrono.localhost'
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        receiver.shutdown()


def test_ctrl_c_stops_everything_and_leaves_no_process_behind():
    process, banner, port = start_service({})
    ddb_port = int(re.search(r'DynamoDB Local: http://127\.0\.0\.1:(\d+)', banner).group(1))
    assert requests.get(f'http://127.0.0.1:{port}/api/agenda/', auth=('demo', 'demo'), timeout=10).status_code == 200
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    for closed in (port, ddb_port):
        with pytest.raises(OSError):
            socket.create_connection(('127.0.0.1', closed), timeout=1).close()
    java = subprocess.run(['pgrep', '-f', f'DynamoDBLocal.jar.*-port {ddb_port}'], capture_output=True, text=True)
    assert java.stdout.strip() == ''
