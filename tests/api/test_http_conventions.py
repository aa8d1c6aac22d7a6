"""How every route reads a request and answers (design §3.3, §3.5, §3.6): malformed input never
answers 500 nor changes anything, errors always carry err/err_class/err_desc, 401s say nothing."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, quote_plus, urlencode

import pytest

from chalicelib.signature import sign_query
from tests.api.conftest import GENERIC_401
from tests.conftest import BASIC, basic

KEY = '12345'
ORIG = 'wcs.example.org'
NOT_JSON = {'non_field_errors': ['The body is not valid JSON.']}
NOT_OBJECT = {'non_field_errors': ['Expected a JSON object.']}
NOT_UTF8 = {'non_field_errors': ['The body is not valid UTF-8.']}
DATETIME_FORMAT = 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD HH:MM[:SS].'
REQUIRED = 'This field is required.'
NOT_INT = 'A valid integer is required.'
NOT_ICS = 'Expected the content of an iCalendar file (BEGIN:VCALENDAR), as text or base64-encoded.'
JSON_CT = 'application/json'
FORM_CT = 'application/x-www-form-urlencoded'


def check_conventions(response) -> dict:
    """What every answer of the API must be, whatever was asked (design §3.5, §3.6.4)."""
    assert response.status_code not in (204, 205)
    assert not any(name.lower() == 'x-error-code' for name in response.headers), response.headers
    assert response.headers.get('Content-Type') == 'application/json'
    body = json.loads(response.body)
    assert isinstance(body, dict) and 'err' in body and 'Code' not in body and 'Message' not in body
    if body['err']:
        assert isinstance(body['err_class'], str) and body['err_class']
        assert isinstance(body['err_desc'], str) and body['err_desc']
    return body


def send(client, method, path, body=b'', content_type=None, headers=None):
    all_headers = dict(BASIC if headers is None else headers)
    if content_type:
        all_headers['Content-Type'] = content_type
    if isinstance(body, str):
        body = body.encode('utf-8')
    response = client.http.request(method, path, headers=all_headers, body=body)
    return response.status_code, check_conventions(response), response.headers


@pytest.fixture
def state(api):
    """An events agenda `x` with event `e`, a meetings agenda and a resource; the export to compare."""
    status, answer = api.post('/api/import/', {
        'resources': [{'slug': 'salle-1', 'label': 'Salle 1'}],
        'agendas': [
            {'slug': 'x', 'label': 'X', 'events': [{'slug': 'e', 'start_datetime': '2030-03-01 10:00', 'places': 5}]},
            {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'resources': ['salle-1'],
             'meetingtypes': [{'label': 'A', 'duration': 30}]},
        ]})
    assert (status, answer) == (200, {'err': 0, 'data': {'created': ['x', 'rdv'], 'updated': []}})
    return api.get('/api/export/')


# ---- malformed requests against every admin route -------------------------------------------

ROUTES = {
    'agenda': ('POST', '/api/agenda/'),
    'event': ('POST', '/api/agenda/x/event/'),
    'patch': ('PATCH', '/api/agenda/x/event/e/'),
    'import': ('POST', '/api/import/'),
}

# (name, content type, raw body, errors): identical on every route, the body is refused before use.
EVERY_ROUTE = [
    ('malformed JSON', JSON_CT, '{"label": "X",', NOT_JSON),
    ('single quotes', JSON_CT, "{'label': 'X'}", NOT_JSON),
    ('trailing garbage', JSON_CT, '{"label": "X"} {}', NOT_JSON),
    ('JSON array', JSON_CT, '[{"label": "X"}]', NOT_OBJECT),
    ('JSON string', JSON_CT, '"label=X"', NOT_OBJECT),
    ('JSON number', JSON_CT, '42', NOT_OBJECT),
    ('JSON null', JSON_CT, 'null', NOT_OBJECT),
    ('JSON NaN', JSON_CT, 'NaN', NOT_OBJECT),
    ('array, no content type', None, '[]', NOT_OBJECT),
    ('non-UTF-8 JSON', JSON_CT, b'{"label": "\xe9t\xe9"}', NOT_UTF8),
    ('non-UTF-8 bytes', JSON_CT, b'\xff\xfe\x00{', NOT_UTF8),
    ('non-UTF-8 form', FORM_CT, b'label=\xe9t\xe9', NOT_UTF8),
    ('100000 nested arrays', JSON_CT, '[' * 100_000, NOT_JSON),
    ('100000 nested objects', JSON_CT, '{"a":' * 100_000, NOT_JSON),
    ('deep arrays, closed', JSON_CT, '{"label": ' + '[' * 5000 + ']' * 5000 + '}', NOT_JSON),
]
UNSUPPORTED = [
    ('text/plain', 'text/plain', '{"label": "X"}'),
    ('multipart/form-data', 'multipart/form-data; boundary=b', '--b\r\n\r\nX\r\n--b--'),
    ('application/xml', 'application/xml', '<label>X</label>'),
]


PER_ROUTE = {
    'agenda': [
        ('form with bad values', FORM_CT,
         'label=Piscine&kind=piscine&minimal_booking_delay=deux&free_range=peut-%C3%AAtre',
         {'kind': ['"piscine" is not a valid choice.'], 'minimal_booking_delay': [NOT_INT],
          'free_range': ['Must be a valid boolean.']}),
        ('form with a repeated field', FORM_CT, 'label=A&label=B', {'label': ['Not a valid string.']}),
        ('form without label', FORM_CT, 'slug=piscine&kind=events', {'label': [REQUIRED]}),
        ('lists and objects for scalars', JSON_CT, json.dumps({
            'label': ['Piscine'], 'slug': {'fr': 'piscine'}, 'maximal_booking_delay': {'days': 3},
            'partial_bookings': [], 'permissions': 'admin', 'absence_reasons': {'slug': 'x'}}),
         {'label': ['Not a valid string.'],
          'slug': ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
          'maximal_booking_delay': [NOT_INT], 'partial_bookings': ['Must be a valid boolean.'],
          'permissions': ['Expected a JSON object.'], 'absence_reasons': ['Expected a list of items.']}),
        ('wrong types in children', JSON_CT, json.dumps({
            'label': 'Rdv', 'kind': 'meetings', 'meetingtypes': {'label': 'A'},
            'desks': [{'label': 'G', 'timeperiods': 'lundi'}, 'guichet']}),
         {'meetingtypes': ['Expected a list of items.'], 'desks.0.timeperiods': ['Expected a list of items.'],
          'desks.1': ['Expected a JSON object.']}),
        ('huge numbers', JSON_CT, '{"label": "P", "minimal_booking_delay": 1e400, '
                                  '"maximal_booking_delay": 1000000000000000000000000000000, '
                                  '"anonymize_delay": -1e400, "minimal_cancellation_delay": "99999999999999999999"}',
         {'minimal_booking_delay': [NOT_INT],
          'maximal_booking_delay': ['Ensure this value is less than or equal to 3650.'],
          'anonymize_delay': [NOT_INT], 'minimal_cancellation_delay': [NOT_INT]}),
        ('huge numbers in children', JSON_CT, '{"label": "Rdv", "kind": "meetings", "meetingtypes": '
                                              '[{"label": "A", "duration": 1000000000000000000000000000000}], '
                                              '"desks": [{"label": "G", "timeperiods": [{"weekday": 1e400, '
                                              '"start_time": "09:00", "end_time": "10:00"}]}]}',
         {'meetingtypes.0.duration': ['Ensure this value is less than or equal to 10080.'],
          'desks.0.timeperiods.0.weekday': [NOT_INT]}),
        ('unknown fields only', JSON_CT, json.dumps({'nom': 'Piscine', 'type': 'events'}), {'label': [REQUIRED]}),
        ('a label too long', JSON_CT, json.dumps({'label': 'P' * 251}),
         {'label': ['Ensure this field has no more than 250 characters.']}),
    ],
    'event': [
        ('form with bad values', FORM_CT, 'start_datetime=demain&places=beaucoup',
         {'start_datetime': [DATETIME_FORMAT], 'places': [NOT_INT]}),
        ('lists and objects for scalars', JSON_CT, json.dumps({
            'start_datetime': ['2030-03-01 10:00'], 'places': {'n': 1}, 'label': {'fr': 'Cours'},
            'recurrence_days': {'0': True}}),
         {'start_datetime': [DATETIME_FORMAT], 'places': [NOT_INT], 'label': ['Not a valid string.'],
          'recurrence_days': ['Expected a list of items or a comma-separated string.']}),
        ('huge numbers', JSON_CT, '{"start_datetime": "2030-03-01 10:00", "places": 1e400, '
                                  '"duration": 1000000000000000000000000000000, '
                                  '"waiting_list_places": -1000000000000000000000000000000}',
         {'places': [NOT_INT], 'duration': ['Ensure this value is less than or equal to 10080.'],
          'waiting_list_places': ['Ensure this value is greater than or equal to 0.']}),
        ('places 10**30', JSON_CT, json.dumps({'start_datetime': '2030-03-01 10:00', 'places': 10 ** 30}),
         {'places': ['Ensure this value is less than or equal to 100000.']}),
        ('unknown fields only', JSON_CT, json.dumps({'lieu': 'bassin', 'couleur': 'bleu'}),
         {'start_datetime': [REQUIRED], 'places': [REQUIRED]}),
    ],
    'patch': [
        ('form with bad values', FORM_CT, 'places=dix&cancelled=peut-etre',
         {'places': [NOT_INT], 'cancelled': ['Must be a valid boolean.']}),
        ('lists and objects for scalars', JSON_CT, json.dumps({
            'places': [3], 'label': {'fr': 'x'}, 'start_datetime': 20300301}),
         {'start_datetime': [DATETIME_FORMAT], 'places': [NOT_INT], 'label': ['Not a valid string.']}),
        ('huge numbers', JSON_CT, '{"places": 1e400, "waiting_list_places": 1000000000000000000000000000000}',
         {'places': [NOT_INT], 'waiting_list_places': ['Ensure this value is less than or equal to 100000.']}),
        ('places 10**30', JSON_CT, json.dumps({'places': 10 ** 30}),
         {'places': ['Ensure this value is less than or equal to 100000.']}),
        ('unknown fields and a bad value', JSON_CT, json.dumps({'couleur': 'rouge', 'places': '0'}),
         {'places': ['Ensure this value is greater than or equal to 1.']}),
        ('a new slug', JSON_CT, json.dumps({'slug': 'f'}), {'slug': ['The slug of an event cannot change.']}),
    ],
    'import': [
        ('form', FORM_CT, 'agendas=x', {'agendas': ['Expected a list of agendas.']}),
        ('form with a repeated field', FORM_CT, 'agendas=x&agendas=rdv',
         {'agendas.0': ['Expected a JSON object.'], 'agendas.1': ['Expected a JSON object.']}),
        ('lists and objects for lists', JSON_CT, json.dumps({
            'agendas': [['x']], 'categories': {'sport': 'Sport'}, 'resources': 'salle-1'}),
         {'agendas.0': ['Expected a JSON object.'], 'categories': ['Expected a list of items.'],
          'resources': ['Expected a list of items.']}),
        ('wrong types inside agendas', JSON_CT, json.dumps({'agendas': [
            {'slug': 'x', 'label': 'X', 'events': {'slug': 'e'}},
            {'slug': 'rdv', 'label': ['Rdv'], 'kind': 'meetings', 'desks': [{'label': 'G', 'exceptions': [1]}]}]}),
         {'agendas.0.events': ['Expected a list of items.'], 'agendas.1.label': ['Not a valid string.'],
          'agendas.1.desks.0.exceptions.0': ['Expected a JSON object.']}),
        ('wrong types inside exceptions sources', JSON_CT, json.dumps({'agendas': [
            {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'desks': [
                {'label': 'G', 'exceptions_sources': [{'ics_file': ['BEGIN:VCALENDAR'], 'enabled': 'peut-etre'},
                                                      {'ics_file': 12, 'ics_url': 'javascript:x'}, 'x']},
                {'label': 'H', 'exceptions_sources': {'ics_url': 'https://example.org/h.ics'}}]}]}),
         {'agendas.0.desks.0.exceptions_sources.0.ics_file': [NOT_ICS],
          'agendas.0.desks.0.exceptions_sources.0.enabled': ['Must be a valid boolean.'],
          'agendas.0.desks.0.exceptions_sources.1.ics_file': [NOT_ICS],
          'agendas.0.desks.0.exceptions_sources.1.ics_url': ['Enter a valid URL (http or https).'],
          'agendas.0.desks.0.exceptions_sources.2': ['Expected a JSON object.'],
          'agendas.0.desks.1.exceptions_sources': ['Expected a list of items.']}),
        ('huge numbers', JSON_CT, '{"agendas": [{"slug": "x", "label": "X", "events": ['
                                  '{"slug": "e", "start_datetime": "2030-03-01 10:00", "places": 1e400}, '
                                  '{"slug": "f", "start_datetime": "2030-03-01 10:00", '
                                  '"places": 1000000000000000000000000000000}]}]}',
         {'agendas.0.events.0.places': [NOT_INT],
          'agendas.0.events.1.places': ['Ensure this value is less than or equal to 100000.']}),
        ('unknown fields', JSON_CT, json.dumps({
            'agendas': [{'slug': 'x', 'label': 'X', 'events': [{'slug': 'e', 'lieu': 'bassin'}]}],
            'events_types': [], 'unavailability_calendars': [{'slug': 'c'}]}),
         {'agendas.0.events.0.start_datetime': [REQUIRED], 'agendas.0.events.0.places': [REQUIRED],
          'unavailability_calendars.0.label': [REQUIRED]}),
    ],
}


def table(route):
    """Every malformed request of the table for one route: (name, content type, body, err_desc, errors)."""
    cases = [(name, ct, body, 'invalid payload', errors) for name, ct, body, errors in EVERY_ROUTE]
    cases += [(name, ct, body, 'invalid payload: send application/json',
               {'non_field_errors': [f'Unsupported media type "{ct.split(";")[0]}".']})
              for name, ct, body in UNSUPPORTED]
    cases += [(name, ct, body, 'invalid payload', errors) for name, ct, body, errors in PER_ROUTE[route]]
    return cases


@pytest.mark.parametrize('route', ROUTES)
def test_malformed_requests_are_refused_and_change_nothing(client, api, state, route):
    """The whole table runs in one test per route; every mismatch is listed, not only the first."""
    method, path = ROUTES[route]
    mismatches = []
    cases = table(route)
    for name, content_type, body, err_desc, errors in cases:
        status, answer, _ = send(client, method, path, body, content_type)
        expected = {'err': 1, 'err_class': 'invalid payload', 'err_desc': err_desc, 'errors': errors}
        if (status, answer) != (400, expected):
            mismatches.append((name, status, answer))
        if api.get('/api/export/') != state:
            mismatches.append((name, 'the data changed'))
    assert mismatches == []
    assert len(cases) == len(EVERY_ROUTE) + len(UNSUPPORTED) + len(PER_ROUTE[route])


def nested(client, method, path, template, depth):
    status, answer, _ = send(client, method, path, template % ('[' * depth + ']' * depth), JSON_CT)
    return status, answer


@pytest.mark.parametrize('route', ROUTES)
def test_json_nested_up_to_the_parser_limit_never_answers_500(client, api, state, route):
    """Depths the JSON parser still accepts, then used deeper in the stack (the `kind` error message
    quotes the value: its repr runs out of recursion a few frames later)."""
    method, path = ROUTES[route]
    template = {
        'agenda': '{"label": "L", "kind": %s}',
        'event': '{"places": 1, "start_datetime": "2030-03-01 10:00", "recurrence_days": %s}',
        'patch': '{"recurrence_days": %s}',
        'import': '{"agendas": [{"label": "L", "kind": %s}]}',
    }[route]
    # The deepest nesting the parser accepts here: it depends on the stack depth of the caller.
    low, high = 10, sys.getrecursionlimit() + 10
    while high - low > 1:
        middle = (low + high) // 2
        if nested(client, method, path, template, middle)[1].get('errors') == NOT_JSON:
            high = middle
        else:
            low = middle
    failures = []
    for depth in range(low - 40, low + 1):
        status, answer = nested(client, method, path, template, depth)
        if status != 400 or answer['err_class'] != 'invalid payload':
            failures.append((depth, status, answer['err_class']))
    assert failures == []
    assert api.get('/api/export/') == state


@pytest.mark.parametrize('route, body, field', [
    ('agenda', '{"label": "\\ud800", "slug": "piscine"}', 'label'),
    ('agenda', '{"label": "Piscine", "kind": "\\udfff"}', 'kind'),
    ('event', '{"label": "\\ud83d", "start_datetime": "2030-03-01 10:00", "places": 1}', 'label'),
    ('patch', '{"label": "\\ud800"}', 'label'),
    ('import', '{"agendas": [{"slug": "x", "label": "\\ud800"}]}', 'agendas.0.label'),
], ids=['agenda label', 'agenda kind', 'event label', 'patch label', 'import label'])
def test_lone_surrogates_are_invalid_payload(client, api, state, route, body, field):
    """Valid JSON, but no valid Unicode text: it can be neither stored nor written back as UTF-8.
    The refusal names the field or the body, never another cause (a taken slug, bookings)."""
    method, path = ROUTES[route]
    try:
        status, answer, _ = send(client, method, path, body, JSON_CT)
    except UnicodeEncodeError as exc:
        pytest.fail(f'the answer cannot be encoded as UTF-8: {exc}')
    assert (status, answer['err'], answer['err_class']) == (400, 1, 'invalid payload'), answer
    assert list(answer['errors']) in ([field], ['non_field_errors']), answer
    assert api.get('/api/export/') == state


@pytest.mark.parametrize('route', ['agenda', 'import'])
def test_an_agenda_too_large_for_one_item_is_invalid_payload(client, api, state, route):
    """2000 absence reasons of 250 characters: a 0.5 MB body (API Gateway takes 10 MB), an agenda
    item over DynamoDB's 400 KB."""
    agenda = {'slug': 'grand', 'label': 'Grand', 'absence_reasons': [
        {'slug': f'raison-{n}', 'label': 'x' * 250} for n in range(2000)]}
    method, path = ROUTES[route]
    status, answer, _ = send(client, method, path, json.dumps(agenda if route == 'agenda' else {'agendas': [agenda]}),
                             JSON_CT)
    assert (status, answer['err'], answer['err_class']) == (400, 1, 'invalid payload'), answer
    assert api.get('/api/export/') == state


def test_unknown_fields_are_ignored(client, api, state):
    status, answer, _ = send(client, 'PATCH', '/api/agenda/x/event/e/', json.dumps({'couleur': 'rouge'}), JSON_CT)
    assert (status, answer['err'], answer['data']['places']['total']) == (200, 0, 5)
    assert api.get('/api/export/') == state


# ---- bodies that are fine -----------------------------------------------------------------

@pytest.mark.parametrize('route, expected', [
    ('agenda', (400, {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
                      'errors': {'label': [REQUIRED]}})),
    ('event', (400, {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
                     'errors': {'start_datetime': [REQUIRED], 'places': [REQUIRED]}})),
    ('import', (400, {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
                      'errors': {'agendas': ['Expected a list of agendas.']}})),
])
def test_an_empty_body_is_an_empty_object(client, api, state, route, expected):
    method, path = ROUTES[route]
    answers = {
        'no body': send(client, method, path)[:2],
        'no body, JSON type': send(client, method, path, b'', JSON_CT)[:2],
        'blank body': send(client, method, path, b' \r\n', JSON_CT)[:2],
        'empty form': send(client, method, path, b'', FORM_CT)[:2],
        '{}': send(client, method, path, b'{}', JSON_CT)[:2],
    }
    assert answers == {name: expected for name in answers}
    assert api.get('/api/export/') == state


def test_an_empty_patch_body_changes_nothing(client, api, state):
    expected = api.get('/api/agenda/x/event/e/')
    for body, content_type in ((b'', None), (b'', JSON_CT), (b'{}', JSON_CT), (b'', FORM_CT)):
        assert send(client, 'PATCH', '/api/agenda/x/event/e/', body, content_type)[:2] == expected
    assert api.get('/api/export/') == state


def test_form_encoded_agenda_creation(client, api):
    status, answer, _ = send(client, 'POST', '/api/agenda/',
                             'label=Salle+des+f%C3%AAtes&kind=meetings&free_range=True&minimal_booking_delay=2'
                             '&edit_role=&category=culture', f'{FORM_CT}; charset=utf-8')
    assert status == 200
    data = answer['data']
    assert (data['slug'], data['text'], data['kind'], data['free_range'], data['minimal_booking_delay'],
            data['edit_role'], data['category'], data['category_label']) == (
        'salle-des-fetes', 'Salle des fêtes', 'meetings', True, 2, None, 'culture', 'culture')
    assert api.get('/api/agenda/salle-des-fetes/') == (200, answer)


def test_form_encoded_event_creation_and_patch(client, api, state):
    status, answer, _ = send(client, 'POST', '/api/agenda/x/event/',
                             'label=Cours&start_datetime=2030-03-02+10%3A00&places=7', FORM_CT)
    assert (status, answer['data']['slug'], answer['data']['datetime'], answer['data']['places']['total']) == (
        200, 'cours', '2030-03-02 10:00:00', 7)
    status, answer, _ = send(client, 'PATCH', '/api/agenda/x/event/cours/', 'places=9', FORM_CT)
    assert (status, answer['data']['places']['total']) == (200, 9)


def test_json_with_charset_and_json_suffix_types(client, api, state):
    status, answer, _ = send(client, 'PATCH', '/api/agenda/x/event/e/', '{"places": "6"}',
                             'application/json; charset=UTF-8')
    assert (status, answer['data']['places']['total']) == (200, 6)
    status, answer, _ = send(client, 'PATCH', '/api/agenda/x/event/e/', '{"places": 8}', 'application/merge-patch+json')
    assert (status, answer['data']['places']['total']) == (200, 8)


@pytest.mark.parametrize('path', ['/api/agenda/', '/api/agenda/x/', '/api/agenda/x/event/e/', '/api/export/'])
def test_a_get_may_carry_a_json_body(client, path, state):
    plain = send(client, 'GET', path)[:2]
    assert plain[0] == 200 and plain[1]['err'] == 0
    assert send(client, 'GET', path, b'{}', JSON_CT)[:2] == plain  # Lingo
    assert send(client, 'GET', path, b'{not json', JSON_CT)[:2] == plain
    assert send(client, 'GET', path, b'{}', 'text/plain')[:2] == plain


def test_a_delete_body_is_ignored(client, api, state):
    assert send(client, 'DELETE', '/api/agenda/x/event/e/', b'{"force": true', JSON_CT)[:2] == (200, {'err': 0})
    assert api.get('/api/agenda/x/event/e/')[0] == 404


# ---- methods ------------------------------------------------------------------------------

@pytest.mark.parametrize('method, path, allow', [
    ('PUT', '/api/import/', 'POST'),
    ('GET', '/api/import/', 'POST'),
    ('DELETE', '/api/agenda/', 'GET, POST'),
    ('PUT', '/api/agenda/x/event/e/', 'GET, PATCH, DELETE'),
    ('POST', '/api/export/', 'GET'),
    ('HEAD', '/api/agenda/', 'GET, POST'),
])
def test_wrong_method_is_405_in_chrono_shape(client, api, state, method, path, allow):
    status, answer, headers = send(client, method, path, b'{"agendas": []}', JSON_CT)
    assert (status, answer, headers.get('Allow')) == (405, {
        'err': 1, 'err_class': 'method not allowed', 'err_desc': f'Unsupported method: {method}'}, allow)
    assert api.get('/api/export/') == state


# ---- authentication -----------------------------------------------------------------------

def now():
    return datetime.now(timezone.utc)


def md5_signed(query: str) -> str:
    signed = f'{query}&' + urlencode([('algo', 'md5'), ('timestamp', now().strftime('%Y-%m-%dT%H:%M:%SZ')),
                                      ('nonce', secrets.token_hex(16))])
    mac = base64.b64encode(hmac.new(KEY.encode(), signed.encode(), hashlib.md5).digest()).decode()
    return f'{signed}&signature={quote(mac)}'


def tampered() -> str:
    return sign_query(f'q=piscine&orig={ORIG}', KEY).replace('q=piscine', 'q=salle')


def signature_first() -> str:
    query = sign_query(f'orig={ORIG}', KEY)
    head, signature = query.split('&signature=')
    return f'signature={signature}&{head}'


def replayed(client) -> str:
    query = sign_query(f'orig={ORIG}', KEY)
    assert send(client, 'GET', f'/api/agenda/?{query}', headers={})[0] == 200
    return query


def reused_nonce(client) -> str:
    nonce = secrets.token_hex(16)
    assert send(client, 'GET', f'/api/agenda/?{sign_query(f"orig={ORIG}", KEY, nonce=nonce)}', headers={})[0] == 200
    return sign_query(f'q=piscine&orig={ORIG}', KEY, nonce=nonce)


UNAUTHORIZED = {
    'no credentials': ({}, lambda c: '', 'authentication required'),
    'wrong password': (basic('demo', 'wrong'), lambda c: '', 'authentication failed'),
    'unknown user': (basic('nobody', 'demo'), lambda c: '', 'authentication failed'),
    'empty password': (basic('demo', ''), lambda c: '', 'authentication failed'),
    'Basic with no colon': ({'Authorization': 'Basic ' + base64.b64encode(b'demo').decode()}, lambda c: '',
                            'authentication failed'),
    'Basic not base64': ({'Authorization': 'Basic !!!'}, lambda c: '', 'authentication failed'),
    'Bearer scheme': ({'Authorization': 'Bearer demo'}, lambda c: '', 'authentication failed'),
    'bad Basic beside a good signature': (basic('demo', 'wrong'), lambda c: sign_query(f'orig={ORIG}', KEY),
                                          'authentication failed'),
    'unknown signature orig': ({}, lambda c: sign_query('orig=evil.example.org', KEY), 'authentication failed'),
    'wrong signature key': ({}, lambda c: sign_query(f'orig={ORIG}', 'lingo-key'), 'authentication failed'),
    'no orig': ({}, lambda c: sign_query('q=piscine', KEY), 'authentication failed'),
    'algo=md5': ({}, lambda c: md5_signed(f'orig={ORIG}'), 'authentication failed'),
    'expired timestamp': ({}, lambda c: sign_query(f'orig={ORIG}', KEY, now=now() - timedelta(seconds=60)),
                          'authentication failed'),
    'timestamp in the future': ({}, lambda c: sign_query(f'orig={ORIG}', KEY, now=now() + timedelta(seconds=60)),
                                'authentication failed'),
    'replayed URL': ({}, replayed, 'authentication failed'),
    'nonce reused in another query': ({}, reused_nonce, 'authentication failed'),
    'tampered query': ({}, lambda c: tampered(), 'authentication failed'),
    'signature not last': ({}, lambda c: signature_first(), 'authentication failed'),
    'two signatures': ({}, lambda c: sign_query(f'orig={ORIG}', KEY) + '&signature=abc', 'authentication failed'),
}


@pytest.mark.parametrize('case', list(UNAUTHORIZED))
def test_unauthorized_is_401_with_a_generic_message(client, api, state, case):
    headers, make_query, err_class = UNAUTHORIZED[case]
    query = make_query(client)
    path = f'/api/agenda/?{query}' if query else '/api/agenda/'
    for method, body in (('GET', b''), ('POST', b'{"label": "Intrus"}')):
        status, answer, response_headers = send(client, method, path, body, JSON_CT, headers=headers)
        assert (status, answer) == (401, {'err': 1, 'err_class': err_class, 'err_desc': GENERIC_401}), method
        assert response_headers.get('WWW-Authenticate') == 'Basic realm="chrono"'
        if query:
            query = make_query(client)  # a fresh nonce: refused for its own reason, not as a replay
            path = f'/api/agenda/?{query}'
    assert api.get('/api/export/') == state


@pytest.fixture
def listed(api):
    for body in ({'label': 'Piscine', 'slug': 'piscine'}, {'label': 'Salle', 'slug': 'salle'},
                 {'label': 'Rdv', 'slug': 'rdv', 'kind': 'meetings'}):
        assert api.post('/api/agenda/', body)[0] == 200


@pytest.mark.parametrize('query, key, slugs', [
    (urlencode([('q', 'un agenda'), ('orig', ORIG)]), KEY, []),  # w.c.s.: q=un+agenda
    (urlencode([('kind', 'events'), ('NameID', 'agent 1'), ('email', 'a+b@example.org'), ('orig', ORIG)]), KEY,
     ['piscine', 'salle']),
    ('user_external_id=user:1&q=pisc&orig=wcs.example.org', KEY, ['piscine']),  # raw `:` (Lingo)
    ('q=un%20agenda&orig=wcs.example.org', KEY, []),
    ('q=sal&email=jean%40example.org&user_external_id=user:1&orig=wcs.example.org', KEY, ['salle']),  # mixed
    ('NameID=&email=&orig=lingo.example.org&user_external_id=user:1&kind=meetings', 'lingo-key', ['rdv']),
])
def test_signed_queries_verify_once(client, listed, query, key, slugs):
    signed = sign_query(query, key)
    status, answer, _ = send(client, 'GET', f'/api/agenda/?{signed}', headers={})
    assert (status, [item['slug'] for item in answer['data']]) == (200, slugs)
    assert send(client, 'GET', f'/api/agenda/?{signed}', headers={})[:2] == (401, {
        'err': 1, 'err_class': 'authentication failed', 'err_desc': GENERIC_401})


def test_a_signed_post_creates_and_its_replay_does_not(client, api):
    signed = sign_query(urlencode([('email', 'agent@example.org'), ('orig', ORIG)]), KEY)
    status, answer, _ = send(client, 'POST', f'/api/agenda/?{signed}', '{"label": "Piscine"}', JSON_CT, headers={})
    assert (status, answer['data']['slug']) == (200, 'piscine')
    status, answer, _ = send(client, 'POST', f'/api/agenda/?{signed}', '{"label": "Salle"}', JSON_CT, headers={})
    assert (status, answer['err_class']) == (401, 'authentication failed')
    assert [a['slug'] for a in api.get('/api/agenda/')[1]['data']] == ['piscine']


def test_sha1_and_sha512_signatures_verify(client, listed):
    for algo in ('sha1', 'sha512'):
        signed = sign_query(f'q=rdv&orig={ORIG}', KEY, algo=algo)
        status, answer, _ = send(client, 'GET', f'/api/agenda/?{signed}', headers={})
        assert (status, [item['slug'] for item in answer['data']]) == (200, ['rdv']), algo


def test_quote_plus_signature_encoding_verifies(client, listed):
    """Older signers used urlencode for the signature too (`/` as %2F)."""
    signed = sign_query(f'q=salle&orig={ORIG}', KEY)
    head, mac = signed.split('&signature=')
    from urllib.parse import unquote
    status, answer, _ = send(client, 'GET', f'/api/agenda/?{head}&signature={quote_plus(unquote(mac))}', headers={})
    assert (status, [item['slug'] for item in answer['data']]) == (200, ['salle'])
