"""Odd and malformed inputs against the booking routes (design.md §3.5, spec chrono-api.md §1.3-1.4, §6.1, §8):
no input a client can send answers HTTP 500, every refusal carries `err` (non-zero), `err_class` and
`err_desc`, and a refused call changes nothing.

One world for every case: the events agenda `x`, its event `e` (2 places, a waiting list of 2, on
2030-03-05 10:00 Paris) and one booking of user `u1` on it, built once for the module and rebuilt only when
a case left it changed. Requests run at 2030-03-01 09:00 Paris.
"Nothing changed" is read through the API (`GET /api/export/`, the event's status, the booking, the user's
bookings on the event) and, to catch writes the API does not show (user counters, cancelled legs), as the
table's raw items.

Inputs that are legitimately accepted (a blank value meaning the default, a duplicated slot, unknown keys
stored in `extra_data`) are checked against the exact success answer instead.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import config, store
from chalicelib.web import api as http
from tests.api.conftest import ERROR_KEYS
from tests.conftest import BASIC, Api

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)
BASE = 'http://localhost'
JSON_CT = 'application/json'
FORM_CT = 'application/x-www-form-urlencoded'
NOT_JSON = {'non_field_errors': ['The body is not valid JSON.']}
NOT_OBJECT = {'non_field_errors': ['Expected a JSON object.']}
NOT_UTF8 = {'non_field_errors': ['The body is not valid UTF-8.']}
SURROGATE = {'non_field_errors': ['The body holds an invalid \\u escape (lone surrogate).']}
NOT_STRING = ['Not a valid string.']
NOT_CHOICE = ['This value is not a valid choice.']
NOT_LIST = ['Expected a list of items or a comma-separated string.']
NOT_BOOL = ['Must be a valid boolean.']
NOT_INT = ['A valid integer is required.']
DATE_FORMAT = ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.']
LONG = 'a' * 3000
U5000 = 'u' * 5000


# ---- helpers ----------------------------------------------------------------------------------

def shown(value: Any, limit: int = 300) -> str:
    """An answer short enough for an assertion message (some echo 200 KB)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else f'{text[:limit]}... ({len(text)} characters)'


def send(client, method: str, path: str, body: str | bytes | None = None, content_type: str | None = None):
    """A raw request with the demo API client; the answer must be a JSON object in Chrono's shape."""
    headers = dict(BASIC)
    if content_type:
        headers['Content-Type'] = content_type
    if isinstance(body, str):
        body = body.encode('utf-8')
    response = client.http.request(method, path, headers=headers, body=body or b'')
    assert response.headers.get('Content-Type') == 'application/json', (response.status_code, response.headers)
    answer = json.loads(response.body)
    assert isinstance(answer, dict) and 'err' in answer and 'Code' not in answer, shown(answer)
    return response.status_code, answer


def check_refusal(status: int, answer: dict, expected_status: int, err_class: str,
                  errors: dict | None = None, err_desc: str | None = None) -> None:
    """The exact status, a non-zero `err`, the exact `err_class`, a human `err_desc`, `errors` for a 400
    invalid payload and nothing else."""
    assert status != 500, f'HTTP 500: {shown(answer)}'
    assert (status, answer.get('err_class')) == (expected_status, err_class), shown(answer)
    assert answer['err'] not in (0, '0', None, False), shown(answer)
    assert isinstance(answer['err_desc'], str) and answer['err_desc'], shown(answer)
    if err_desc is not None:
        assert answer['err_desc'] == err_desc, shown(answer)
    if errors is None:
        assert set(answer) == ERROR_KEYS, shown(answer)
    else:
        assert set(answer) == ERROR_KEYS | {'errors'} and answer['errors'] == errors, shown(answer)


def table_items() -> list[str]:
    """Every item of the table, as sorted JSON (what the API does not show: counters, cancelled legs)."""
    dynamodb = boto3.client('dynamodb', region_name=os.environ['AWS_DEFAULT_REGION'])
    request = {'TableName': config.settings().table_name, 'ConsistentRead': True}
    items = []
    while True:
        page = dynamodb.scan(**request)
        items += page['Items']
        if 'LastEvaluatedKey' not in page:
            return sorted(json.dumps(item, sort_keys=True) for item in items)
        request['ExclusiveStartKey'] = page['LastEvaluatedKey']


def places(reserved: int, waiting: int = 0, total: int = 2, waiting_total: int = 2) -> dict:
    """Spec §7.1's `places`, computed here from the counters."""
    available = max(0, total - reserved)
    return {'total': total, 'reserved': reserved, 'available': available,
            'full': available == 0 and waiting >= waiting_total, 'has_waiting_list': True,
            'waiting_list_total': waiting_total, 'waiting_list_reserved': waiting,
            'waiting_list_available': max(0, waiting_total - waiting),
            'waiting_list_activated': waiting > 0 or available == 0}


def urls(booking_id: int) -> dict:
    url = f'{BASE}/api/booking/{booking_id}'
    return {'booking_url': f'{url}/', 'cancel_url': f'{url}/cancel/', 'ics_url': f'{url}/ics/',
            'anonymize_url': f'{url}/anonymize/', 'accept_url': f'{url}/accept/', 'suspend_url': f'{url}/suspend/'}


def booked_on_e(booking_id: int) -> dict:
    """The answer of a one-place booking of `e` next to u1's: the last main-list place (spec §6.1)."""
    return {'err': 0, 'booking_id': booking_id, 'datetime': '2030-03-05 10:00:00', 'end_datetime': None,
            'in_waiting_list': False, 'agenda': {'label': 'X', 'slug': 'x'}, 'api': urls(booking_id),
            'places': places(2)}


@dataclass
class World:
    client: Any
    api: Any
    booking_id: int
    baseline: dict | None = None  # the views as built
    before: dict | None = None  # the state as the current case found it
    last: dict | None = None  # the state as `state()` last read it

    def send(self, method, path, body=None, content_type=None):
        return send(self.client, method, path, body, content_type)

    def views(self) -> dict:
        """What a client can read of the state."""
        return {
            'export': self.api.get('/api/export/'),
            'status': self.api.get('/api/agenda/x/status/e/'),
            'booking': self.api.get(f'/api/booking/{self.booking_id}/'),
            'u1 bookings': self.api.get('/api/agenda/x/bookings/e/?user_external_id=u1'),
        }

    def state(self) -> dict:
        self.last = {**self.views(), 'items': table_items()}
        return self.last

    def state_before(self) -> dict:
        """The state, reading the views again only when the items changed since `state()` last read them: the
        views are read from the items (the clock and settings are the module's), and every case ends by
        comparing a full `state()` with this one. Speed only: it saves four reads per case."""
        items = table_items()
        if self.last is not None and self.last['items'] == items:
            return {**{name: value for name, value in self.last.items() if name != 'items'}, 'items': items}
        return self.state()


def build_world(client, patch: pytest.MonkeyPatch, table: str) -> World:
    """A fresh table holding the world; every case starts from it."""
    patch.setenv('CHRONO_TABLE', table)
    config.reset()
    store.reset()
    store.create_table()
    api = Api(client)
    assert api.post('/api/agenda/', {'label': 'X', 'slug': 'x'})[0] == 200
    status, answer = api.post('/api/agenda/x/event/', {
        'slug': 'e', 'start_datetime': '2030-03-05 10:00', 'places': 2, 'waiting_list_places': 2})
    assert (status, answer['err']) == (200, 0), answer
    status, answer = api.post('/api/agenda/x/fillslot/e/', {'user_external_id': 'u1'})
    assert (status, answer['err']) == (200, 0), answer
    world = World(client, api, answer['booking_id'])
    world.baseline = world.views()
    assert world.baseline['status'][1]['places'] == places(1)
    assert world.baseline['booking'][1]['in_waiting_list'] is False
    assert world.baseline['u1 bookings'] == (200, {'err': 0, 'data': [{'id': world.booking_id,
                                                                         'in_waiting_list': False}]})
    return world


@pytest.fixture(scope='module')
def service():
    """One moto account, one test client and the request clock for the whole module: the cases are many and
    each one leaves the world as it found it (`world` rebuilds it when one did not)."""
    from chalice.test import Client
    from moto import mock_aws

    import app
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(http, 'utcnow', lambda: NOW.astimezone(timezone.utc))
        patch.setenv('CHRONO_TABLE', 'chrono-inputs')
        with Client(app.app, stage_name='test') as client:
            yield {'client': client, 'patch': patch, 'world': None, 'tables': itertools.count()}
    store.reset()
    config.reset()


@pytest.fixture
def world(service) -> World:
    """The events agenda `x`, its event `e` (2 places, a waiting list of 2) and u1's booking on it."""
    current = service['world']
    state = current.state_before() if current is not None else None
    if state is None or {name: state[name] for name in current.baseline} != current.baseline:
        table = f'chrono-inputs-{next(service["tables"])}'
        current = service['world'] = build_world(service['client'], service['patch'], table)
        state = current.state()
    current.before = state
    return current


def check_accepted_booking(world: World, status: int, answer: dict, fields: dict) -> None:
    """A success on `e`: the exact answer, the stored fields, then cancelled to leave the world as it was."""
    assert status != 500, f'HTTP 500: {shown(answer)}'
    booking_id = answer.get('booking_id')
    assert (status, answer) == (200, booked_on_e(booking_id)), shown(answer)
    status, detail = world.api.get(f'/api/booking/{booking_id}/')
    assert (status, detail['err']) == (200, 0), shown(detail)
    assert {name: detail['data'][name] for name in fields} == fields, shown(detail['data'])
    assert world.api.post(f'/api/booking/{booking_id}/cancel/') == (200, {'err': 0, 'booking_id': booking_id})


# ---- path segments -----------------------------------------------------------------------------

# (name, segment as sent in the URL, how the application reads it once decoded; None: not UTF-8)
SEGMENTS = [
    ('3000 characters', LONG, LONG),
    ('%ff', '%ff', None),
    ('%C3%28 (bad UTF-8)', '%C3%28', None),
    ('%00', '%00', '\x00'),
    ('%2F', '%2F', '/'),
    ('..', '..', '..'),
    ('%2e%2e', '%2e%2e', '..'),
    ('%252F (encoded twice)', '%252F', '%2F'),
    ('%25', '%25', '%'),
    ('unicode', 'é', 'é'),
    ('unicode encoded', quote('日本'), '日本'),
    ('a@b', 'a@b', 'a@b'),
    ('meeting slot id', 'type:2020-01-01-1000', 'type:2020-01-01-1000'),
    ('blank', '', ''),
    ('space', '%20', ' '),
    ('new line', '%0A', '\n'),
]
AGENDA_ROUTES = [
    ('datetimes', 'GET', '/api/agenda/{}/datetimes/', None),
    ('status', 'GET', '/api/agenda/{}/status/e/', None),
    ('bookings', 'GET', '/api/agenda/{}/bookings/e/?user_external_id=u1', None),
    ('fillslot', 'POST', '/api/agenda/{}/fillslot/e/', '{}'),
    ('fillslots', 'POST', '/api/agenda/{}/fillslots/', '{"slots": "e"}'),
]
EVENT_ROUTES = [
    ('status', 'GET', '/api/agenda/x/status/{}/', None, 'event'),
    ('bookings', 'GET', '/api/agenda/x/bookings/{}/?user_external_id=u1', None, 'event'),
    ('fillslot', 'POST', '/api/agenda/x/fillslot/{}/', '{}', 'slot'),
]
PATH_CASES = [
    pytest.param(method, path.format(raw), body, 'agenda', decoded, id=f'{route} agenda {name}')
    for route, method, path, body in AGENDA_ROUTES
    for name, raw, decoded in SEGMENTS + [('x with a trailing space', 'x%20', 'x '), ('X', 'X', 'X')]
] + [
    pytest.param(method, path.format(raw), body, param, decoded, id=f'{route} event {name}')
    for route, method, path, body, param in EVENT_ROUTES
    for name, raw, decoded in SEGMENTS + [('e with a trailing space', 'e%20', 'e '), ('E', 'E', 'E')]
]


@pytest.mark.parametrize('method, path, body, param, decoded', PATH_CASES)
def test_odd_path_segments_are_404_and_change_nothing(world, method, path, body, param, decoded):
    before = world.before
    status, answer = world.send(method, path, body, JSON_CT if body else None)
    if decoded is None:
        check_refusal(status, answer, 404, 'not found', err_desc=f'invalid {param} in path')
    elif param == 'agenda':
        check_refusal(status, answer, 404, 'unknown agenda', err_desc=f'agenda {decoded[:200]} does not exist')
    else:
        check_refusal(status, answer, 404, 'unknown event',
                      err_desc=f'event {decoded[:200]} does not exist in agenda x')
    assert world.state() == before


# ---- booking ids -------------------------------------------------------------------------------

BOOKING_IDS = [
    ('0', '0', '0'), ('-1', '-1', '-1'), ('1.5', '1.5', '1.5'), ('+1', '+1', '+1'), ('1e3', '1e3', '1e3'),
    ('0x10', '0x10', '0x10'), ('1_000', '1_000', '1_000'),
    ('arabic-indic digits', '١٢', '١٢'), ('arabic-indic digits encoded', quote('١٢'), '١٢'),
    ('superscript two', quote('²'), '²'), ('fullwidth digits', quote('１２'), '１２'),
    ('19 digits', '1' * 19, '1' * 19), ('19 nines, above 2**63', '9' * 19, '9' * 19),
    ('20 digits', '1' * 20, '1' * 20), ('20 nines', '9' * 20, '9' * 20),
    ('space', '%20', ' '), ('tab', '%09', '\t'), ('1 and a space', '1%20', '1 '), ('tab and 1', '%091', '\t1'),
    ('3000 characters', LONG, LONG), ('%00', '%00', '\x00'), ('..', '..', '..'), ('%2F', '%2F', '/'),
    ('blank', '', ''), ('%ff', '%ff', None),
]
BOOKING_ROUTES = [('get', 'GET', ''), ('delete', 'DELETE', ''), ('cancel', 'POST', 'cancel/'),
                  ('accept', 'POST', 'accept/'), ('suspend', 'POST', 'suspend/')]


BOOKING_CASES = [
    pytest.param(method, f'/api/booking/{raw}/{suffix}', decoded, id=f'{route} {name}')
    for route, method, suffix in BOOKING_ROUTES for name, raw, decoded in BOOKING_IDS]


@pytest.mark.parametrize('method, path, decoded', BOOKING_CASES)
def test_odd_booking_ids_are_404_and_change_nothing(world, method, path, decoded):
    before = world.before
    status, answer = world.send(method, path)
    if decoded is None:
        check_refusal(status, answer, 404, 'not found', err_desc='invalid booking_id in path')
    else:
        check_refusal(status, answer, 404, 'unknown booking', err_desc=f'booking {decoded[:200]} does not exist')
    assert world.state() == before


@pytest.mark.parametrize('template', ['%20{}', '{}%20', '{}%0A', '0{}', '00{}'],
                         ids=['leading space', 'trailing space', 'trailing new line', 'leading zero', 'two zeros'])
def test_an_existing_id_padded_with_blanks_or_zeros_names_that_booking(world, template):
    """Ids are read leniently (lookup.booking_or_404 strips blanks; int() drops leading zeros)."""
    before = world.before
    assert world.send('GET', f'/api/booking/{template.format(world.booking_id)}/') == before['booking']
    assert world.state() == before


# ---- fillslot bodies -----------------------------------------------------------------------------

def deep(depth: int, leaf: str = '1') -> str:
    return '{"a": ' * depth + leaf + '}' * depth


# (name, content type, raw body, status, err_class, errors)
FILLSLOT_REFUSALS = [
    ('JSON array', JSON_CT, '[{"count": 1}]', 400, 'invalid payload', NOT_OBJECT),
    ('JSON string', JSON_CT, '"count=1"', 400, 'invalid payload', NOT_OBJECT),
    ('JSON null', JSON_CT, 'null', 400, 'invalid payload', NOT_OBJECT),
    ('malformed JSON', JSON_CT, '{"count": 1', 400, 'invalid payload', NOT_JSON),
    ('UTF-8 byte order mark', JSON_CT, b'\xef\xbb\xbf{"count": 1}', 400, 'invalid payload', NOT_JSON),
    ('a count of 5000 digits', JSON_CT, '{"count": %s}' % ('9' * 5000), 400, 'invalid payload', NOT_JSON),
    ('100000 nested arrays', JSON_CT, '[' * 100_000, 400, 'invalid payload', NOT_JSON),
    ('extra key nested 100000 deep', JSON_CT, '{"extra": ' + deep(100_000), 400, 'invalid payload', NOT_JSON),
    ('non-UTF-8 bytes', JSON_CT, b'{"label": "\xe9t\xe9"}', 400, 'invalid payload', NOT_UTF8),
    ('latin-1 declared', f'{JSON_CT}; charset=latin-1', b'{"label": "\xe9"}', 400, 'invalid payload', NOT_UTF8),
    ('non-UTF-8 form', FORM_CT, b'label=\xe9t\xe9', 400, 'invalid payload', NOT_UTF8),
    ('lone surrogate in label', JSON_CT, '{"label": "\\ud800"}', 400, 'invalid payload', SURROGATE),
    ('lone surrogate as a key', JSON_CT, '{"\\udfff": 1}', 400, 'invalid payload', SURROGATE),
    ('lone surrogate in an extra list', JSON_CT, '{"note": ["\\ud83d"]}', 400, 'invalid payload', SURROGATE),
    ('lone surrogate in user_external_id', JSON_CT, '{"user_external_id": "u\\udc00"}', 400, 'invalid payload',
     SURROGATE),
    ('text/plain', 'text/plain', '{}', 400, 'invalid payload',
     {'non_field_errors': ['Unsupported media type "text/plain".']}),
    # count (spec §6.1: `invalid value for count (<value>)`, HTTP 400)
    ('count object', JSON_CT, '{"count": {"n": 1}}', 400, 'invalid value for count (...)', None),
    ('count []', JSON_CT, '{"count": []}', 400, 'invalid value for count (...)', None),
    ('count [1]', JSON_CT, '{"count": [1]}', 400, 'invalid value for count (...)', None),
    ('count 1e30', JSON_CT, '{"count": 1e30}', 400, 'invalid value for count (1e+30)', None),
    ('count "1e3"', JSON_CT, '{"count": "1e3"}', 400, 'invalid value for count (1e3)', None),
    ('count true', JSON_CT, '{"count": true}', 400, 'invalid value for count (True)', None),
    ('count 1.5', JSON_CT, '{"count": 1.5}', 400, 'invalid value for count (1.5)', None),
    ('count 2**70', JSON_CT, '{"count": %d}' % 2 ** 70, 400, 'invalid value for count (1180591620717411303424)',
     None),
    ('count NaN', JSON_CT, '{"count": NaN}', 400, 'invalid value for count (nan)', None),
    ('count -Infinity', JSON_CT, '{"count": -Infinity}', 400, 'invalid value for count (-inf)', None),
    ('count 1e400', JSON_CT, '{"count": 1e400}', 400, 'invalid value for count (inf)', None),
    ('count "0x10"', JSON_CT, '{"count": "0x10"}', 400, 'invalid value for count (0x10)', None),
    ('count 0', JSON_CT, '{"count": 0}', 400, 'count cannot be less than or equal to zero', None),
    ('count "-0"', JSON_CT, '{"count": "-0"}', 400, 'count cannot be less than or equal to zero', None),
    # Python's int(), as Chrono's: "٣" is 3, more than the main list and the waiting list can take.
    ('count "٣" (arabic-indic 3)', JSON_CT, '{"count": "٣"}', 200, 'sold out', None),
    ('form count repeated', FORM_CT, 'count=1&count=2', 400, 'invalid value for count (...)', None),
    # cancel_booking_id (spec §6.1, §9.4)
    ('cancel_booking_id object', JSON_CT, '{"cancel_booking_id": {"id": 1}}', 400,
     'cancel_booking_id is not an integer', None),
    ('cancel_booking_id 2**70', JSON_CT, '{"cancel_booking_id": %d}' % 2 ** 70, 400,
     'cancel_booking_id is not an integer', None),
    ('cancel_booking_id 2**63', JSON_CT, '{"cancel_booking_id": %d}' % 2 ** 63, 400,
     'cancel_booking_id is not an integer', None),
    ('cancel_booking_id -5', JSON_CT, '{"cancel_booking_id": -5}', 400, 'cancel_booking_id is not an integer', None),
    ('cancel_booking_id "0x10"', JSON_CT, '{"cancel_booking_id": "0x10"}', 400, 'cancel_booking_id is not an integer',
     None),
    ('cancel_booking_id 1e30', JSON_CT, '{"cancel_booking_id": 1e30}', 400, 'cancel_booking_id is not an integer',
     None),
    ('cancel_booking_id 1.5', JSON_CT, '{"cancel_booking_id": 1.5}', 400, 'cancel_booking_id is not an integer',
     None),
    ('cancel_booking_id true', JSON_CT, '{"cancel_booking_id": true}', 400, 'cancel_booking_id is not an integer',
     None),
    ('cancel_booking_id []', JSON_CT, '{"cancel_booking_id": []}', 400, 'cancel_booking_id is not an integer', None),
    ('form cancel_booking_id repeated', FORM_CT, 'cancel_booking_id=1&cancel_booking_id=2', 400,
     'cancel_booking_id is not an integer', None),
    ('cancel_booking_id 0', JSON_CT, '{"cancel_booking_id": 0}', 200, 'cancel booking: booking does not exist', None),
    ('cancel_booking_id 2**63-1', JSON_CT, '{"cancel_booking_id": %d}' % (2 ** 63 - 1), 200,
     'cancel booking: booking does not exist', None),
    ('cancel_booking_id "١٢"', JSON_CT, '{"cancel_booking_id": "١٢"}', 200,
     'cancel booking: booking does not exist', None),
    # events, slots, users, labels, contacts
    ('events ["future"]', JSON_CT, '{"events": ["future"]}', 400, 'invalid payload', {'events': NOT_CHOICE}),
    ('events object', JSON_CT, '{"events": {"future": true}}', 400, 'invalid payload', {'events': NOT_CHOICE}),
    ('events "futur"', JSON_CT, '{"events": "futur"}', 400, 'invalid payload',
     {'events': ['"futur" is not a valid choice.']}),
    ('form events repeated', FORM_CT, 'events=future&events=past', 400, 'invalid payload', {'events': NOT_CHOICE}),
    ('user_external_id object', JSON_CT, '{"user_external_id": {"id": "u1"}}', 400, 'invalid payload',
     {'user_external_id': NOT_STRING}),
    ('user_external_id list', JSON_CT, '{"user_external_id": ["u1"]}', 400, 'invalid payload',
     {'user_external_id': NOT_STRING}),
    ('user_external_id 5000 characters', JSON_CT, json.dumps({'user_external_id': U5000}), 400, 'invalid payload',
     {'user_external_id': ['Ensure this field has no more than 250 characters.']}),
    ('form user_external_id repeated', FORM_CT, 'user_external_id=a&user_external_id=b', 400, 'invalid payload',
     {'user_external_id': NOT_STRING}),
    ('label object', JSON_CT, '{"label": {"fr": "x"}}', 400, 'invalid payload', {'label': NOT_STRING}),
    ('label 200 KB', JSON_CT, json.dumps({'label': 'x' * 200_000}), 400, 'invalid payload',
     {'label': ['Ensure this field has no more than 1000 characters.']}),
    ('form label repeated', FORM_CT, 'label=a&label=b', 400, 'invalid payload', {'label': NOT_STRING}),
    ('extra key of 200 KB', JSON_CT, json.dumps({'note': 'x' * 200_000}), 400, 'invalid payload',
     {'non_field_errors': ['The extra keys (extra_data) exceed 32000 bytes.']}),
    ('extra_emails object', JSON_CT, '{"extra_emails": {"a": "a@example.org"}}', 400, 'invalid payload',
     {'extra_emails': NOT_LIST}),
    ('extra_emails list of objects', JSON_CT, '{"extra_emails": [{"a": "a@example.org"}]}', 400, 'invalid payload',
     {'extra_emails': ['Expected a list of strings.']}),
    ('extra_phone_numbers object', JSON_CT, '{"extra_phone_numbers": {"a": 1}}', 400, 'invalid payload',
     {'extra_phone_numbers': NOT_LIST}),
    ('exclude_user "maybe"', JSON_CT, '{"exclude_user": "maybe"}', 400, 'invalid payload', {'exclude_user': NOT_BOOL}),
    ('form exclude_user repeated', FORM_CT, 'exclude_user=true&exclude_user=false', 400, 'invalid payload',
     {'exclude_user': NOT_BOOL}),
    ('force_waiting_list 2', JSON_CT, '{"force_waiting_list": 2}', 400, 'invalid payload',
     {'force_waiting_list': NOT_BOOL}),
    ('bypass_delays object', JSON_CT, '{"bypass_delays": {}}', 400, 'invalid payload', {'bypass_delays': NOT_BOOL}),
    ('every field wrong', JSON_CT, json.dumps({
        'user_external_id': {}, 'label': [], 'events': {}, 'extra_emails': {}, 'exclude_user': {}}), 400,
     'invalid payload', {'user_external_id': NOT_STRING, 'label': NOT_STRING, 'events': NOT_CHOICE,
                         'extra_emails': NOT_LIST, 'exclude_user': NOT_BOOL}),
]


@pytest.mark.parametrize('content_type, body, status, err_class, errors', [
    pytest.param(*case[1:], id=case[0]) for case in FILLSLOT_REFUSALS])
def test_fillslot_refuses_odd_bodies_and_changes_nothing(world, content_type, body, status, err_class, errors):
    before = world.before
    answer = world.send('POST', '/api/agenda/x/fillslot/e/', body, content_type)
    check_refusal(*answer, status, err_class, errors)
    assert world.state() == before


# (name, content type, raw body, stored fields)
FILLSLOT_ACCEPTED = [
    ('count blank', JSON_CT, '{"count": "  "}', {'count': 1}),
    ('count null', JSON_CT, '{"count": null}', {'count': 1}),
    ('count 1.0', JSON_CT, '{"count": 1.0}', {'count': 1}),
    ('count " 1 "', JSON_CT, '{"count": " 1 "}', {'count': 1}),
    ('cancel_booking_id blank', JSON_CT, '{"cancel_booking_id": ""}', {'count': 1}),
    ('events blank', JSON_CT, '{"events": ""}', {'extra_data': None}),
    ('slots object on fillslot (not read)', JSON_CT, '{"slots": {"a": 1}}', {'extra_data': None}),
    ('user_external_id 250 emoji', JSON_CT, json.dumps({'user_external_id': '😀' * 250}),
     {'user_external_id': '😀' * 250}),
    ('label 1000 emoji', JSON_CT, json.dumps({'label': '😀' * 1000}), {'label': '😀' * 1000}),
    ('form extra key repeated', FORM_CT, 'foo=a&foo=b', {'extra_data': {'foo': ['a', 'b']}}),
    ('extra_emails with blanks', JSON_CT, '{"extra_emails": "a@example.org,, ,"}',
     {'extra_emails': ['a@example.org']}),
    ('extra keys nested 5 deep', JSON_CT, json.dumps({'extra': {'a': [{'b': [1]}]}, 'other': [[]]}),
     {'extra_data': {'extra': {'a': [{'b': [1]}]}, 'other': [[]]}}),
]


@pytest.mark.parametrize('content_type, body, fields', [
    pytest.param(*case[1:], id=case[0]) for case in FILLSLOT_ACCEPTED])
def test_fillslot_accepts_lenient_bodies(world, content_type, body, fields):
    before = world.baseline
    status, answer = world.send('POST', '/api/agenda/x/fillslot/e/', body, content_type)
    check_accepted_booking(world, status, answer, fields)
    assert world.views() == before


@pytest.mark.parametrize('path, body, extra', [
    ('/api/agenda/x/fillslot/e/', '{"extra": %s}' % deep(900), json.loads(deep(900))),
    ('/api/agenda/x/fillslot/e/', '{"extra": %s}' % ('[' * 900 + ']' * 900), json.loads('[' * 900 + ']' * 900)),
    ('/api/agenda/x/fillslots/', '{"slots": "e", "extra": %s}' % deep(900), json.loads(deep(900))),
], ids=['fillslot objects', 'fillslot arrays', 'fillslots objects'])
def test_extra_keys_nested_900_deep_are_stored_whole_or_refused_whole(world, path, body, extra):
    """The spec sets no depth limit on extra keys: 900 levels (2.7 KB, under the 32000 bytes of extra_data)
    are either stored and read back intact, or refused as an invalid payload that writes nothing."""
    before = world.before
    status, answer = world.send('POST', path, body, JSON_CT)
    if (status, answer.get('err')) == (200, 0):
        check_accepted_booking(world, status, answer, {'extra_data': {'extra': extra}})
        assert world.views() == world.baseline
    else:
        check_refusal(status, answer, 400, 'invalid payload', answer.get('errors'))
        assert list(answer['errors']) == ['non_field_errors'], shown(answer)
        assert world.state() == before


# ---- fillslots bodies ----------------------------------------------------------------------------

FILLSLOTS_REFUSALS = [
    ('no body', None, None, 400, 'slots list cannot be empty', None),
    ('JSON array', JSON_CT, '["e"]', 400, 'invalid payload', NOT_OBJECT),
    ('JSON string', JSON_CT, '"e"', 400, 'invalid payload', NOT_OBJECT),
    ('non-UTF-8 bytes', JSON_CT, b'{"slots": "\xe9"}', 400, 'invalid payload', NOT_UTF8),
    ('lone surrogate slot', JSON_CT, '{"slots": ["\\ud800"]}', 400, 'invalid payload', SURROGATE),
    ('slots 500 distinct items', JSON_CT, json.dumps({'slots': [f'e{n}' for n in range(500)]}), 400,
     'invalid payload', {'slots': ['Ensure this list has no more than 16 slots.']}),
    ('slots 17 distinct items', JSON_CT, json.dumps({'slots': ['e'] + [f'e{n}' for n in range(16)]}), 400,
     'invalid payload', {'slots': ['Ensure this list has no more than 16 slots.']}),
    ('slots object', JSON_CT, '{"slots": {"e": true}}', 400, 'invalid payload', {'slots': NOT_LIST}),
    ('slots true', JSON_CT, '{"slots": true}', 400, 'invalid payload', {'slots': NOT_LIST}),
    ('slots 5', JSON_CT, '{"slots": 5}', 400, 'invalid payload', {'slots': NOT_LIST}),
    ('slots [null]', JSON_CT, '{"slots": [null]}', 400, 'invalid payload', {'slots': ['Expected a list of strings.']}),
    ('slots [["e"]]', JSON_CT, '{"slots": [["e"]]}', 400, 'invalid payload',
     {'slots': ['Expected a list of strings.']}),
    ('slots [{"slug": "e"}]', JSON_CT, '{"slots": [{"slug": "e"}]}', 400, 'invalid payload',
     {'slots': ['Expected a list of strings.']}),
    ('slots ","', JSON_CT, '{"slots": ","}', 400, 'slots list cannot be empty', None),
    ('slots blank', JSON_CT, '{"slots": " "}', 400, 'slots list cannot be empty', None),
    ('slots [""]', JSON_CT, '{"slots": [""]}', 400, 'slots list cannot be empty', None),
    ('slots []', JSON_CT, '{"slots": []}', 400, 'slots list cannot be empty', None),
    ('slots "a,,b"', JSON_CT, '{"slots": "a,,b"}', 400, 'invalid slugs: a, b', None),
    ('slots "e,,nope"', JSON_CT, '{"slots": "e,,nope"}', 400, 'invalid slugs: nope', None),
    ('slots a@b', JSON_CT, '{"slots": "a@b"}', 400, 'invalid slugs: a@b', None),
    ('slots agenda@event', JSON_CT, '{"slots": "x@e"}', 400, 'invalid slugs: x@e', None),
    ('slots meeting slot id', JSON_CT, '{"slots": "type:2020-01-01-1000"}', 400,
     'invalid slugs: type:2020-01-01-1000', None),
    ('slots [1]', JSON_CT, '{"slots": [1]}', 400, 'invalid slugs: 1', None),
    ('slots .. and e', JSON_CT, '{"slots": "..,e"}', 400, 'invalid slugs: ..', None),
    ('slots unicode', JSON_CT, '{"slots": ["é", "日本"]}', 400, 'invalid slugs: é, 日本', None),
    ('slots NUL', JSON_CT, '{"slots": ["\\u0000"]}', 400, 'invalid slugs: \x00', None),
    ('slots 3000 characters', JSON_CT, json.dumps({'slots': ['e', LONG]}), 400, f'invalid slugs: {LONG}', None),
    ('form slots repeated, one unknown', FORM_CT, 'slots=e&slots=nope', 400, 'invalid slugs: nope', None),
    ('count object', JSON_CT, '{"slots": "e", "count": {}}', 400, 'invalid value for count (...)', None),
    ('count "٣"', JSON_CT, '{"slots": "e", "count": "٣"}', 200, 'sold out', None),
    ('cancel_booking_id 2**70', JSON_CT, '{"slots": "e", "cancel_booking_id": %d}' % 2 ** 70, 400,
     'cancel_booking_id is not an integer', None),
    ('cancel_booking_id "0x10"', JSON_CT, '{"slots": "e", "cancel_booking_id": "0x10"}', 400,
     'cancel_booking_id is not an integer', None),
    ('events ["future"]', JSON_CT, '{"slots": "e", "events": ["future"]}', 400, 'invalid payload',
     {'events': NOT_CHOICE}),
    ('user_external_id object', JSON_CT, '{"slots": "e", "user_external_id": {"a": 1}}', 400, 'invalid payload',
     {'user_external_id': NOT_STRING}),
    ('label list', JSON_CT, '{"slots": "e", "label": ["a"]}', 400, 'invalid payload', {'label': NOT_STRING}),
    ('extra_emails object', JSON_CT, '{"slots": "e", "extra_emails": {"a": "b"}}', 400, 'invalid payload',
     {'extra_emails': NOT_LIST}),
    ('label 200 KB', JSON_CT, json.dumps({'slots': 'e', 'label': 'x' * 200_000}), 400, 'invalid payload',
     {'label': ['Ensure this field has no more than 1000 characters.']}),
]


@pytest.mark.parametrize('content_type, body, status, err_class, errors', [
    pytest.param(*case[1:], id=case[0]) for case in FILLSLOTS_REFUSALS])
def test_fillslots_refuses_odd_bodies_and_changes_nothing(world, content_type, body, status, err_class, errors):
    before = world.before
    answer = world.send('POST', '/api/agenda/x/fillslots/', body, content_type)
    check_refusal(*answer, status, err_class, errors)
    assert world.state() == before


FILLSLOTS_ACCEPTED = [
    ('slots: "e" 500 times', JSON_CT, json.dumps({'slots': ['e'] * 500}), {'count': 1}),
    ('slots "e,,e, "', JSON_CT, '{"slots": "e,,e, "}', {'count': 1}),
    ('form slots repeated', FORM_CT, 'slots=e&slots=e', {'count': 1}),
    ('form slots as a comma string', FORM_CT, 'slots=%2Ce%2C', {'count': 1}),
]


@pytest.mark.parametrize('content_type, body, fields', [
    pytest.param(*case[1:], id=case[0]) for case in FILLSLOTS_ACCEPTED])
def test_fillslots_accepts_duplicated_and_blank_slots(world, content_type, body, fields):
    """Duplicates and blanks are dropped (domain.bookings.read_slots): one event, its `places` answered."""
    before = world.baseline
    status, answer = world.send('POST', '/api/agenda/x/fillslots/', body, content_type)
    check_accepted_booking(world, status, answer, fields)
    assert world.views() == before


# ---- extra keys nested up to the JSON parser's limit ---------------------------------------------

def deepest_parsed(world: World, path: str, template: str) -> int:
    """The deepest nesting the JSON parser still accepts for this route (it depends on the stack)."""
    low, high = 10, sys.getrecursionlimit() + 10
    while high - low > 1:
        middle = (low + high) // 2
        status, answer = world.send('POST', path, template % ('[' * middle + ']' * middle), JSON_CT)
        if status == 200 and answer['err'] == 0:
            assert world.api.post(f'/api/booking/{answer["booking_id"]}/cancel/')[1]['err'] == 0
        if answer.get('errors') == NOT_JSON:
            high = middle
        else:
            low = middle
    return low


@pytest.mark.parametrize('path, template', [
    ('/api/agenda/x/fillslot/e/', '{"extra": %s}'),
    ('/api/agenda/x/fillslots/', '{"slots": "e", "extra": %s}'),
], ids=['fillslot', 'fillslots'])
def test_extra_keys_nested_up_to_the_parser_limit_never_answer_500(world, path, template):
    """Every depth the parser accepts is either stored (and readable back) or refused as invalid payload;
    refusals write nothing."""
    top = deepest_parsed(world, path, template)
    before = world.baseline
    outcomes: dict[tuple, list[int]] = {}
    for depth in range(top - 40, top + 1):
        items = table_items()
        status, answer = world.send('POST', path, template % ('[' * depth + ']' * depth), JSON_CT)
        if status == 200 and answer['err'] == 0:
            booking_id = answer['booking_id']
            read = send(world.client, 'GET', f'/api/booking/{booking_id}/')
            readable = read[0] == 200 and read[1]['extra_data'] == {'extra': json.loads('[' * depth + ']' * depth)}
            outcome = ('stored', 'readable' if readable else f'GET answers {read[0]} {read[1].get("err_class")}')
            assert world.api.post(f'/api/booking/{booking_id}/cancel/')[1]['err'] == 0
        else:
            outcome = (status, answer.get('err_class'), 'wrote nothing' if table_items() == items else 'WROTE')
        outcomes.setdefault(outcome, []).append(depth)
    allowed = {('stored', 'readable'), (400, 'invalid payload', 'wrote nothing')}
    assert set(outcomes) <= allowed, f'parser limit {top}: ' + '; '.join(
        f'{outcome}: depths {depths[0]}-{depths[-1]}' for outcome, depths in outcomes.items())
    assert world.views() == before


# ---- lifecycle bodies --------------------------------------------------------------------------

LIFECYCLE_BODIES = [
    ('JSON array', JSON_CT, '[]', 'invalid payload', NOT_OBJECT),
    ('JSON string', JSON_CT, '"cancel"', 'invalid payload', NOT_OBJECT),
    ('malformed JSON', JSON_CT, '{', 'invalid payload', NOT_JSON),
    ('100000 nested arrays', JSON_CT, '[' * 100_000, 'invalid payload', NOT_JSON),
    ('non-UTF-8 bytes', JSON_CT, b'\xff\xfe{', 'invalid payload', NOT_UTF8),
    ('lone surrogate', JSON_CT, '{"reason": "\\ud800"}', 'invalid payload', SURROGATE),
]


@pytest.mark.parametrize('verb', ['cancel', 'accept', 'suspend'])
@pytest.mark.parametrize('content_type, body, err_class, errors', [
    pytest.param(*case[1:], id=case[0]) for case in LIFECYCLE_BODIES])
def test_lifecycle_posts_refuse_malformed_bodies_and_change_nothing(world, verb, content_type, body, err_class,
                                                                    errors):
    before = world.before
    answer = world.send('POST', f'/api/booking/{world.booking_id}/{verb}/', body, content_type)
    check_refusal(*answer, 400, err_class, errors)
    assert world.state() == before


def test_get_ignores_its_body_and_delete_ignores_a_malformed_one(world):
    before = world.before
    for body in (b'[', b'\xff', b'{"a": "\\ud800"}'):
        assert world.send('GET', f'/api/booking/{world.booking_id}/', body, JSON_CT) == before['booking']
        assert world.send('GET', '/api/agenda/x/status/e/', body, JSON_CT) == before['status']
    assert world.state() == before
    assert world.send('DELETE', f'/api/booking/{world.booking_id}/', b'\xff[', JSON_CT) == (
        200, {'err': 0, 'booking_id': world.booking_id})
    assert world.api.get('/api/agenda/x/status/e/')[1]['places'] == places(0)


# ---- query strings -----------------------------------------------------------------------------

EMPTY_LISTING = {'err': 0, 'data': [], 'meta': {
    'no_bookable_datetimes': True, 'bookable_datetimes_number_total': 0, 'bookable_datetimes_number_available': 0,
    'first_bookable_slot': None}}


def e_item(disabled: bool = False, **extra) -> dict:
    api = {name: f'{BASE}/api/agenda/x/{name}/e/' for name in ('bookings', 'fillslot', 'status', 'check')}
    return {'id': 'e', 'slug': 'e', 'text': '2030-03-05 10:00:00', 'label': '', 'date': '2030-03-05',
            'datetime': '2030-03-05 10:00:00', 'end_datetime': '', 'description': None, 'pricing': None,
            'url': None, 'disabled': disabled, 'checked': False, 'check_locked': False, 'invoiced': False,
            'cancelled': False, 'places': places(1),
            'api': {f'{name}_url': url for name, url in api.items()}, **extra}


def listing(*items: dict) -> dict:
    available = [item for item in items if not item['disabled']]
    return {'err': 0, 'data': list(items), 'meta': {
        'no_bookable_datetimes': not available, 'bookable_datetimes_number_total': len(items),
        'bookable_datetimes_number_available': len(available),
        'first_bookable_slot': available[0] if available else None}}


def test_the_reference_listings(world):
    """The answers the query cases below compare with."""
    assert world.send('GET', '/api/agenda/x/datetimes/') == (200, listing(e_item()))
    assert world.send('GET', '/api/agenda/x/datetimes/?events=all') == (200, listing(e_item()))
    assert world.send('GET', '/api/agenda/x/datetimes/?events=past') == (200, EMPTY_LISTING)


DEFAULT = listing(e_item())
DISABLED = listing(e_item(disabled=True))
# (name, query, expected: an `errors` dict for a 400 invalid payload, or the exact 200 answer)
DATETIMES_QUERIES = [
    ('min_places=1&min_places=x (the last wins)', 'min_places=1&min_places=x', {'min_places': NOT_INT}),
    ('min_places=x&min_places=1 (the last wins)', 'min_places=x&min_places=1', DEFAULT),
    ('date_start=2030-02-30', 'date_start=2030-02-30', {'date_start': DATE_FORMAT}),
    ('date_start=2030-3-1', 'date_start=2030-3-1', {'date_start': DATE_FORMAT}),
    ('date_start with a time', 'date_start=2030-03-01T00:00', {'date_start': DATE_FORMAT}),
    ('date_start %ff', 'date_start=%ff', {'date_start': DATE_FORMAT}),
    ('date_start %00', 'date_start=2030-03-01%00', {'date_start': DATE_FORMAT}),
    ('date_start arabic-indic year', f'date_start={quote("٢٠٣٠")}-03-01', {'date_start': DATE_FORMAT}),
    ('date_end=9999-12-31', 'date_end=9999-12-31', DEFAULT),
    ('date_end=9999-12-31&events=all', 'date_end=9999-12-31&events=all', DEFAULT),
    ('date_end=9999-12-31&events=all&bypass_delays', 'date_end=9999-12-31&events=all&bypass_delays=true', DEFAULT),
    ('date_start=9999-12-31', 'date_start=9999-12-31', EMPTY_LISTING),
    ('date_start=9999-12-31&events=all&bypass_delays', 'date_start=9999-12-31&events=all&bypass_delays=true',
     EMPTY_LISTING),
    ('date_start=0001-01-01', 'date_start=0001-01-01', DEFAULT),
    ('date_start=0001-01-01&events=all', 'date_start=0001-01-01&events=all', DEFAULT),
    ('date_start=0001-01-01&events=past', 'date_start=0001-01-01&events=past', EMPTY_LISTING),
    ('date_start=0001-01-01&events=all&user_external_id=u1', 'date_start=0001-01-01&events=all&user_external_id=u1',
     listing(e_item(booked_for_external_user=True))),
    ('date_start=0001-01-01&date_end=9999-12-31&events=all',
     'date_start=0001-01-01&date_end=9999-12-31&events=all&bypass_delays=true', DEFAULT),
    # Years before 1000: the UTC key of local midnight, 0999-12-31T23:50:39Z for 1000-01-01 (Paris was 9 min 21 s
    # ahead of UTC), must still sort before 2030's.
    ('date_start=0002-01-01&events=all', 'date_start=0002-01-01&events=all', DEFAULT),
    ('date_start=0050-01-01&events=all', 'date_start=0050-01-01&events=all', DEFAULT),
    ('date_start=1000-01-01&events=all', 'date_start=1000-01-01&events=all', DEFAULT),
    ('date_start=0999-01-01&date_end=2031-01-01&events=all', 'date_start=0999-01-01&date_end=2031-01-01&events=all',
     DEFAULT),
    ('date_start=1000-01-01&events=all&user_external_id=u1', 'date_start=1000-01-01&events=all&user_external_id=u1',
     listing(e_item(booked_for_external_user=True))),
    ('date_start=1000-01-02&events=all', 'date_start=1000-01-02&events=all', DEFAULT),
    ('date_end=0001-01-01', 'date_end=0001-01-01', EMPTY_LISTING),
    ('date_end=0001-01-01&events=all', 'date_end=0001-01-01&events=all', EMPTY_LISTING),
    ('date_end=0001-01-01&events=past', 'date_end=0001-01-01&events=past', EMPTY_LISTING),
    ('date_end=0001-01-02&events=past', 'date_end=0001-01-02&events=past', EMPTY_LISTING),
    ('reversed range', 'date_start=2030-03-06&date_end=2030-03-05', EMPTY_LISTING),
    ('date_start blank', 'date_start=&date_end=', DEFAULT),
    ('min_places=0', 'min_places=0', {'min_places': ['Ensure this value is greater than or equal to 1.']}),
    ('min_places=-1', 'min_places=-1', {'min_places': ['Ensure this value is greater than or equal to 1.']}),
    ('min_places=99999999999', 'min_places=99999999999',
     {'min_places': ['Ensure this value is less than or equal to 2147483647.']}),
    ('min_places=1e3', 'min_places=1e3', {'min_places': NOT_INT}),
    ('min_places=1.0', 'min_places=1.0', {'min_places': NOT_INT}),
    ('min_places=2147483647', 'min_places=2147483647', DISABLED),
    ('min_places=2', 'min_places=2', DEFAULT),
    ('min_places=3', 'min_places=3', DISABLED),
    ('min_places=" 2 "', 'min_places=%202%20', DEFAULT),
    ('min_places arabic-indic 3', f'min_places={quote("٣")}', DISABLED),
    ('min_places without a value', 'min_places', DEFAULT),
    ('events= (blank: the default)', 'events=', DEFAULT),
    ('events=%20', 'events=%20', DEFAULT),
    ('events=futur', 'events=futur', {'events': ['"futur" is not a valid choice.']}),
    ('events=future&events=past (the last wins)', 'events=future&events=past', EMPTY_LISTING),
    ('hide_disabled=maybe', 'hide_disabled=maybe', {'hide_disabled': NOT_BOOL}),
    ('hide_disabled blank', 'hide_disabled=', DEFAULT),
    ('hide_disabled with min_places=3', 'hide_disabled=true&min_places=3', EMPTY_LISTING),
    ('bypass_delays=2', 'bypass_delays=2', {'bypass_delays': NOT_BOOL}),
    ('user_external_id of 5000 characters', f'user_external_id={U5000}',
     {'user_external_id': ['Ensure this field has no more than 250 characters.']}),
    ('exclude_user_external_id of 5000 characters', f'exclude_user_external_id={U5000}',
     {'exclude_user_external_id': ['Ensure this field has no more than 250 characters.']}),
    ('user_external_id=u1', 'user_external_id=u1', listing(e_item(booked_for_external_user=True))),
    ('exclude_user_external_id=u1', 'exclude_user_external_id=u1', DISABLED),
    ('user_external_id %ff', 'user_external_id=%ff', listing(e_item(booked_for_external_user=False))),
    ('user_external_id %00', 'user_external_id=%00', listing(e_item(booked_for_external_user=False))),
    ('lock_code of 20000 characters', 'lock_code=' + 'x' * 20_000,
     {'lock_code': ['Ensure this field has no more than 10000 characters.']}),
    ('several errors at once', 'min_places=0&events=x&hide_disabled=maybe&date_end=2030-13-01', {
        'min_places': ['Ensure this value is greater than or equal to 1.'], 'events': ['"x" is not a valid choice.'],
        'hide_disabled': NOT_BOOL, 'date_end': DATE_FORMAT}),
    ('unknown parameters', f'foo=bar&%ff=1&{LONG}=1&&&=', DEFAULT),
]


@pytest.mark.parametrize('query, expected', [pytest.param(*case[1:], id=case[0]) for case in DATETIMES_QUERIES])
def test_datetimes_query_strings(world, query, expected):
    before = world.before
    status, answer = world.send('GET', f'/api/agenda/x/datetimes/?{query}')
    if 'err' in expected:
        assert status != 500, f'HTTP 500: {shown(answer)}'
        assert (status, answer) == (200, expected), shown(answer)
    else:
        check_refusal(status, answer, 400, 'invalid payload', expected, 'invalid payload')
    assert world.state() == before


BOOKINGS_QUERIES = [
    ('no user_external_id', '', {'user_external_id': ['This field is required.']}),
    ('user_external_id blank', 'user_external_id=%20', {'user_external_id': ['This field is required.']}),
    ('user_external_id of 5000 characters', f'user_external_id={U5000}',
     {'user_external_id': ['Ensure this field has no more than 250 characters.']}),
    ('u1 then u2 (the last wins)', 'user_external_id=u1&user_external_id=u2', []),
    ('u2 then u1 (the last wins)', 'user_external_id=u2&user_external_id=u1', 'u1'),
    ('user_external_id %ff', 'user_external_id=%ff', []),
    ('user_external_id %00', 'user_external_id=%00', []),
    ('user_external_id padded', 'user_external_id=%20u1%20', []),
    ('user_external_id U1', 'user_external_id=U1', []),
    ('unknown parameters', f'user_external_id=u1&date_start=0001-01-01&{LONG}=1', 'u1'),
]


@pytest.mark.parametrize('query, expected', [pytest.param(*case[1:], id=case[0]) for case in BOOKINGS_QUERIES])
def test_event_bookings_query_strings(world, query, expected):
    before = world.before
    status, answer = world.send('GET', f'/api/agenda/x/bookings/e/?{query}')
    if isinstance(expected, dict):
        check_refusal(status, answer, 400, 'invalid payload', expected, 'invalid payload')
    else:
        data = [{'id': world.booking_id, 'in_waiting_list': False}] if expected == 'u1' else expected
        assert (status, answer) == (200, {'err': 0, 'data': data}), shown(answer)
    assert world.state() == before


@pytest.mark.parametrize('query', ['user_external_id=' + U5000, 'date_start=0001-01-01&events=all', 'min_places=x',
                                   '%ff=%ff'])
def test_status_ignores_its_query(world, query):
    before = world.before
    assert world.send('GET', f'/api/agenda/x/status/e/?{query}') == before['status']
    assert world.state() == before


# ---- the deployed entry point ------------------------------------------------------------------

def through_http_api(method: str, path: str, body: str | bytes | None = None, content_type: str | None = None):
    """The same request through `app.http_handler`, the Lambda handler behind the HTTP API or a function URL
    (payload 2.0, the raw path and query as sent), where production requests arrive."""
    import app
    raw_path, _, query = path.partition('?')
    headers = {'host': 'localhost', **{name.lower(): value for name, value in BASIC.items()}}
    if content_type:
        headers['content-type'] = content_type
    if isinstance(body, str):
        body = body.encode('utf-8')
    event = {'version': '2.0', 'routeKey': '$default', 'rawPath': raw_path, 'rawQueryString': query,
             'headers': headers, 'body': base64.b64encode(body).decode() if body else None,
             'isBase64Encoded': bool(body),
             'requestContext': {'http': {'method': method, 'path': raw_path, 'sourceIp': '127.0.0.1'},
                                'requestId': 'inputs'}}
    response = app.http_handler(event, None)
    return response['statusCode'], json.loads(response['body'])


UNKNOWN_PATH = (404, {'err': 1, 'err_class': 'not found', 'err_desc': 'unknown path'})


def test_the_deployed_entry_point_answers_odd_paths_and_queries_alike(world):
    """Every path and query case above, through the HTTP API adapter: the same answer as through the test
    client (an empty segment matches no route there: Chrono's 404), never a 500, nothing changed."""
    cases = [(p.values[0], p.values[1], p.values[2]) for p in PATH_CASES]
    cases += [(p.values[0], p.values[1], None) for p in BOOKING_CASES]
    cases += [('GET', f'/api/agenda/x/datetimes/?{case[1]}', None) for case in DATETIMES_QUERIES]
    cases += [('GET', f'/api/agenda/x/bookings/e/?{case[1]}', None) for case in BOOKINGS_QUERIES]
    mismatches = []
    for method, path, body in cases:
        content_type = JSON_CT if body else None
        expected = world.send(method, path, body, content_type)
        if '//' in path.split('?')[0]:
            expected = UNKNOWN_PATH
        answer = through_http_api(method, path, body, content_type)
        if answer[0] == 500 or answer != expected:
            mismatches.append((method, path[:80], answer[0], answer[1].get('err_class'), expected[0]))
    assert not mismatches, shown(mismatches, 3000)
    assert world.state() == world.before
