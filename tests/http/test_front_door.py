"""The local front door is the deployed one: local/server.py over real HTTP and `app.http_handler`
called as the HTTP API calls it give the same answers, HEAD, unrouted methods and unknown paths included."""
from __future__ import annotations

import base64
import json
import threading

import pytest
import requests

from local.server import ServerThread, http_api_event
from tests.conftest import BASIC, JSON_BASIC, basic
from tests.http.wire import exchange

NOT_FOUND = {'err': 1, 'err_class': 'not found', 'err_desc': 'unknown path'}


def not_allowed(method: str) -> dict:
    return {'err': 1, 'err_class': 'method not allowed', 'err_desc': f'Unsupported method: {method}'}


def deployed_event(method: str, target: str, headers: dict[str, str], body: bytes, port: int) -> dict:
    """The event API Gateway's HTTP API hands the Lambda ($default route and stage), written out here
    rather than built by local/server.py, so that the comparison is not with itself."""
    path, _, query = target.partition('?')
    return {
        'version': '2.0', 'routeKey': '$default', 'rawPath': path, 'rawQueryString': query,
        'headers': {'host': f'127.0.0.1:{port}', **{k.lower(): v for k, v in headers.items()}},
        'requestContext': {'http': {'method': method, 'path': path, 'protocol': 'HTTP/1.1', 'sourceIp': '192.0.2.1',
                                    'userAgent': ''}, 'requestId': 'req-1', 'routeKey': '$default',
                           'stage': '$default'},
        'body': body.decode() if body else None, 'isBase64Encoded': False}


@pytest.fixture
def door(ddb):
    import app
    server = ServerThread(app.app).start()
    created = requests.post(f'{server.url}/api/agenda/', json={'label': 'Piscine', 'kind': 'events'},
                            headers=BASIC, timeout=10)
    assert created.json()['data']['slug'] == 'piscine'
    yield server
    server.stop()


GET_BODY = object()  # the expected Content-Length of a HEAD is the one of the same GET's body
WRONG_PASSWORD = basic('demo', 'wrong')
# (method, target, headers, body, status, JSON answer or None for no body, Allow)
CASES = [
    ('HEAD', '/api/agenda/', BASIC, b'', 200, GET_BODY, None),
    ('HEAD', '/api/agenda/piscine', BASIC, b'', 200, GET_BODY, None),
    ('HEAD', '/api/agenda/?q=pisc', {}, b'', 401, GET_BODY, None),
    ('HEAD', '/api/agenda/nope/', BASIC, b'', 404, GET_BODY, None),
    ('HEAD', '/nothing/here', {}, b'', 404, GET_BODY, None),
    ('HEAD', '/api/import/', BASIC, b'', 405, GET_BODY, 'POST'),
    ('OPTIONS', '/api/agenda/', BASIC, b'', 405, not_allowed('OPTIONS'), 'GET, POST, HEAD'),
    ('OPTIONS', '/api/booking/1/', {}, b'', 405, not_allowed('OPTIONS'), 'GET, DELETE, PATCH, HEAD'),
    ('OPTIONS', '/nothing/here', {}, b'', 404, NOT_FOUND, None),
    ('TRACE', '/api/agenda/piscine/', BASIC, b'', 405, not_allowed('TRACE'), 'GET, HEAD'),
    ('TRACE', '/nothing/here', {}, b'', 404, NOT_FOUND, None),
    ('PROPFIND', '/api/import', BASIC, b'', 405, not_allowed('PROPFIND'), 'POST'),
    ('GET', '/', BASIC, b'', 404, NOT_FOUND, None),
    ('GET', '/api/agendas/', BASIC, b'', 404, NOT_FOUND, None),
    ('GET', '/api/agenda/', WRONG_PASSWORD, b'', 401,
     {'err': 1, 'err_class': 'authentication failed',
      'err_desc': 'authentication failed: give valid API client credentials or a valid signature'}, None),
    ('POST', '/api/agenda/', JSON_BASIC, b'{bad', 400, {'err': 1, 'err_class': 'invalid payload',
                                                      'err_desc': 'invalid payload',
                                                      'errors': {'non_field_errors': ['The body is not valid JSON.']}},
     None),
]


@pytest.mark.parametrize('method, target, headers, body, status, expected, allow', CASES,
                         ids=[f'{c[0]} {c[1]} {c[4]}' for c in CASES])
def test_local_and_deployed_handlers_answer_alike(door, method, target, headers, body, status, expected, allow):
    import app
    wire_status, wire_headers, wire_body = exchange(door.port, method, target, headers, body)
    deployed = app.http_handler(deployed_event(method, target, headers, body, door.port), None)
    deployed_headers = {k.lower(): v for k, v in deployed['headers'].items()}
    assert wire_status == deployed['statusCode'] == status
    assert wire_headers.get('allow') == deployed_headers.get('allow') == allow
    assert wire_headers['content-type'] == deployed_headers['content-type'] == 'application/json'
    if status == 401:
        assert wire_headers['www-authenticate'] == deployed_headers['www-authenticate'] == 'Basic realm="chrono"'
    if expected is GET_BODY:
        # HEAD: headers only, on the wire and from the handler; the length is the GET's.
        get_status, _, get_body = exchange(door.port, 'GET', target, headers)
        assert (wire_body, deployed['body'], get_status) == (b'', '', status)
        assert wire_headers['content-length'] == deployed_headers['content-length'] == str(len(get_body))
        assert json.loads(get_body)['err'] == (0 if status == 200 else 1)
    else:
        assert json.loads(wire_body) == json.loads(deployed['body']) == expected
        assert wire_headers['content-length'] == str(len(wire_body))


def test_an_event_is_the_http_apis_payload_2(door):
    """Raw path and query exactly as sent, headers lower-cased (repeats joined with commas), cookies
    apart, a body that is not UTF-8 in base64."""
    event = http_api_event('POST', '/api/agenda/p%40x/?b=%3A&a=1+2&a=3&orig=w', [
        ('Host', 'h:1'), ('X-Many', 'one'), ('Cookie', 'a=1; b=2'), ('x-many', 'two'), ('Content-Type', 'x/y')],
        b'\xff\x00', '127.0.0.9', request_id='r-9')
    assert event['requestContext'].pop('timeEpoch') > 0
    assert event == {
        'version': '2.0', 'routeKey': '$default', 'rawPath': '/api/agenda/p%40x/',
        'rawQueryString': 'b=%3A&a=1+2&a=3&orig=w',
        'headers': {'host': 'h:1', 'x-many': 'one,two', 'content-type': 'x/y'}, 'cookies': ['a=1', 'b=2'],
        'requestContext': {'http': {'method': 'POST', 'path': '/api/agenda/p%40x/', 'protocol': 'HTTP/1.1',
                                    'sourceIp': '127.0.0.9', 'userAgent': ''},
                           'requestId': 'r-9', 'routeKey': '$default', 'stage': '$default'},
        'body': base64.b64encode(b'\xff\x00').decode(), 'isBase64Encoded': True}
    plain = http_api_event('GET', '/api/agenda', [('Host', 'h')], b'', '127.0.0.1')
    assert ('body' in plain, plain['rawQueryString'], plain['isBase64Encoded'], 'cookies' in plain) == (
        False, '', False, False)


def test_parallel_requests_stay_apart(door):
    """24 creations at once, each with its own body: every answer is about its own request
    (Chalice's `current_request` is one attribute; the server gives each thread its own)."""
    start = threading.Barrier(24)
    answers: dict[int, dict] = {}

    def create(n: int) -> None:
        start.wait()
        answers[n] = requests.post(f'{door.url}/api/agenda/?n={n}', json={'label': f'Salle {n}', 'kind': 'events'},
                                   headers=BASIC, timeout=30).json()
    threads = [threading.Thread(target=create, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {n: (a['err'], a['data']['slug'], a['data']['text']) for n, a in answers.items()} == {
        n: (0, f'salle-{n}', f'Salle {n}') for n in range(24)}
    listed = requests.get(f'{door.url}/api/agenda/', headers=BASIC, timeout=10).json()['data']
    assert len(listed) == 25


def test_a_chunked_body_is_read_whole(door):
    chunks = (part.encode() for part in ('{"label": ', '"Gymnase", ', '"kind": "events"}'))
    answer = requests.post(f'{door.url}/api/agenda/', data=chunks, timeout=10,
                           headers={**BASIC, 'Content-Type': 'application/json'})
    assert answer.request.headers['Transfer-Encoding'] == 'chunked'
    assert (answer.status_code, answer.json()['data']['slug']) == (200, 'gymnase')


def test_requests_the_server_cannot_read_get_chrono_errors_and_change_nothing(door):
    for headers, body, status, desc in (({'Content-Length': 'abc'}, b'', 400, 'invalid Content-Length'),
                                         ({'Content-Length': str(7 * 1024 * 1024)}, b'', 413,
                                          'request body too large'),
                                         ({'Transfer-Encoding': 'chunked'}, b'zz\r\n{}', 400, 'invalid chunked body')):
        got, answer_headers, raw = exchange(door.port, 'POST', '/api/agenda/', {**JSON_BASIC, **headers}, body)
        assert (got, json.loads(raw)) == (status, {'err': 1, 'err_class': 'invalid request', 'err_desc': desc})
        assert answer_headers['connection'] == 'close'
    listed = requests.get(f'{door.url}/api/agenda/', headers=BASIC, timeout=10).json()['data']
    assert [a['slug'] for a in listed] == ['piscine']


def test_stop_ends_idle_kept_alive_connections(door):
    session = requests.Session()
    assert session.get(f'{door.url}/api/agenda/', headers=BASIC, timeout=10).status_code == 200
    door.stop()  # without closing them, the old thread would still answer on that connection
    with pytest.raises(requests.ConnectionError):
        session.get(f'{door.url}/api/agenda/', headers=BASIC, timeout=10)
