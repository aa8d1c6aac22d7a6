"""Remote ICS sources (`exceptions_sources[].ics_url` of unavailability calendars and desks; docs/api.md
"Closures") fetched by `POST /api/exceptions-sources/refresh/` and the daily `refresh_closures` function:
only from hosts of CHRONO_ICS_HOSTS, through the guarded client of callbacks; a failed fetch keeps the last
good closures and says why. Files are served by a loopback server; other addresses are stubbed, and no
connection to them is ever attempted.

Every request runs at NOW (Friday 2030-03-01 09:00 in Paris). Agendas `rdv` (desk g1 names the calendar
`feries`, desk g2 has a URL source of its own) and `autre` (desk a1 names `feries`) open on Mondays 09:00-10:00.
"""
from __future__ import annotations

import base64
import copy
import socket
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from chalicelib.services import guarded_http, ics_sources
from tests.api.test_http_conventions import EVERY_ROUTE, UNSUPPORTED, send
from tests.conftest import LoopbackServer, QuietHandler

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)  # a Friday
NOW_TEXT = '2030-03-01T08:00:00Z'
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '10:00'}
NOTHING = {'err': 0, 'data': {'created': [], 'updated': []}}


def ics(*days: str, summary: str = 'Férié') -> str:
    events = ''.join(f'BEGIN:VEVENT\r\nUID:{day}@mairie\r\nSUMMARY:{summary}\r\nDTSTART;VALUE=DATE:{day}\r\n'
                     'END:VEVENT\r\n' for day in days)
    return f'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mairie//Feries//FR\r\n{events}END:VCALENDAR\r\n'


MONDAY_4, MONDAY_11 = ics('20300304'), ics('20300311')
TOO_LARGE = 'BEGIN:VCALENDAR\r\n' + 'X' * 1_000_001


class IcsServer(LoopbackServer):
    """Serves `files[path]` (text, or (status, body, headers)); records each request's path."""

    def __init__(self) -> None:
        self.files: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(QuietHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                server.requests.append(self.path)
                found = server.files.get(self.path, (404, b'', {}))
                status, body, headers = found if isinstance(found, tuple) else (200, found, {})
                body = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                for name, value in {'Content-Type': 'text/calendar', 'Content-Length': str(len(body)),
                                    **headers}.items():
                    if value is not None:  # None: not sent (the body then ends when the connection closes)
                        self.send_header(name, value)
                self.end_headers()
                if headers.get('X-Trickle'):  # a byte every 0.1 s, for 2 s
                    for _ in range(20):
                        self.wfile.write(b'B')
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                self.wfile.write(body)

        super().__init__(Handler)


@pytest.fixture
def files():
    server = IcsServer()
    yield server
    server.server.shutdown()


def meetings(slug: str, *desks: dict) -> dict:
    return {'slug': slug, 'label': slug.title(), 'kind': 'meetings', 'minimal_booking_delay': 1,
            'maximal_booking_delay': 14, 'meetingtypes': [{'slug': 'rdv', 'label': 'Rdv', 'duration': 30}],
            'desks': list(desks)}


def document(files: IcsServer) -> dict:
    return {
        'unavailability_calendars': [{'slug': 'feries', 'label': 'Fériés',
                                      'exceptions_sources': [{'ics_url': files.url('/feries.ics')}]}],
        'agendas': [
            meetings('rdv', {'slug': 'g1', 'label': 'G1', 'timeperiods': [MONDAY], 'unavailability_calendars': ['feries']},
                     {'slug': 'g2', 'label': 'G2', 'timeperiods': [MONDAY],
                      'exceptions_sources': [{'ics_filename': 'g2.ics', 'ics_url': files.url('/g2.ics')}]}),
            meetings('autre', {'slug': 'a1', 'label': 'A1', 'timeperiods': [MONDAY],
                               'unavailability_calendars': ['feries']}),
        ],
    }


@pytest.fixture
def sources(api, clock, env, files):
    clock(NOW)
    env(CHRONO_ICS_HOSTS='127.0.0.1')
    files.files.update({'/feries.ics': MONDAY_4, '/g2.ics': MONDAY_11})
    status, answer = api.post('/api/import/', document(files))
    assert status == 200 and answer['data']['created'] == ['rdv', 'autre'], answer
    return files


def times(api, agenda: str) -> list[str]:
    status, answer = api.get(f'/api/agenda/{agenda}/meetings/rdv/datetimes/')
    assert status == 200, answer
    return [item['id'] + (' (disabled)' if item['disabled'] else '') for item in answer['data']]


def outcome(status: str, error: str | None = None, *, calendar=None, agenda=None, desk=None, url='') -> dict:
    return {'unavailability_calendar': calendar, 'agenda': agenda, 'desk': desk, 'source': 0, 'ics_url': url,
            'status': status, 'error': error}


def refresh(api) -> list[dict]:
    status, answer = api.post('/api/exceptions-sources/refresh/', {})
    assert status == 200 and answer['err'] == 0, answer
    return answer['data']


def source_status(api) -> tuple:
    source = api.get('/api/unavailability-calendar/feries/')[1]['data']['exceptions_sources'][0]
    return source['last_fetch'], source['last_attempt'], source['last_error']


def closures(api) -> list[tuple[str, int | None]]:
    return [(c['start_datetime'], c['source']) for c in api.get('/api/unavailability-calendar/feries/')[1]['data'][
        'closures']]


ALL_OPEN = ['rdv:2030-03-04-0900', 'rdv:2030-03-04-0930', 'rdv:2030-03-11-0900', 'rdv:2030-03-11-0930']


# ---- fetched, applied, refreshed -------------------------------------------------------------------------

def test_a_remote_source_on_loopback_is_fetched_applied_and_refreshed(api, sources, clock):
    # Imported: known, not fetched yet.
    assert sources.requests == []
    assert times(api, 'autre') == ALL_OPEN
    assert source_status(api) == (None, None, None)

    feries, g2 = sources.url('/feries.ics'), sources.url('/g2.ics')
    assert refresh(api) == [outcome('updated', calendar='feries', url=feries),
                            outcome('updated', agenda='rdv', desk='g2', url=g2)]
    assert sorted(sources.requests) == ['/feries.ics', '/g2.ics']
    assert times(api, 'autre') == ['rdv:2030-03-11-0900', 'rdv:2030-03-11-0930']  # the calendar closes the 4th
    assert times(api, 'rdv') == ALL_OPEN  # g1 closed on the 4th (the calendar), g2 on the 11th (its own source)
    assert source_status(api) == (NOW_TEXT, NOW_TEXT, None)
    assert closures(api) == [('2030-03-04 00:00:00', 0)]
    on_4th = api.post('/api/agenda/rdv/fillslot/rdv:2030-03-04-0900/', {})[1]
    on_11th = api.post('/api/agenda/rdv/fillslot/rdv:2030-03-11-0900/', {})[1]
    assert [(b['err'], b['desk']['slug']) for b in (on_4th, on_11th)] == [(0, 'g2'), (0, 'g1')]
    refused = api.post('/api/agenda/autre/fillslot/rdv:2030-03-04-0930/', {})[1]
    assert (refused['err'], refused['err_class']) == (1, 'no more desk available')

    # The file changes: the next refresh follows it, in both agendas.
    sources.files['/feries.ics'] = ics('20300311', '20300318', summary='Pont')
    later = NOW + timedelta(days=1)
    clock(later)
    assert refresh(api) == [outcome('updated', calendar='feries', url=feries),
                            outcome('unchanged', agenda='rdv', desk='g2', url=g2)]
    assert closures(api) == [('2030-03-11 00:00:00', 0), ('2030-03-18 00:00:00', 0)]
    assert times(api, 'autre') == ['rdv:2030-03-04-0900', 'rdv:2030-03-04-0930']
    assert source_status(api) == ('2030-03-02T08:00:00Z', '2030-03-02T08:00:00Z', None)
    assert refresh(api)[0]['status'] == 'unchanged'
    assert len(sources.requests) == 6  # each URL once per run


def test_the_daily_function_refreshes_every_source(client, api, sources, monkeypatch):
    from chalicelib.web import api as http
    monkeypatch.setattr(http, 'utcnow', lambda: NOW.astimezone(timezone.utc))
    scheduled = client.events.generate_cw_event('aws.events', 'Scheduled Event', {}, ['arn:rule'])
    assert client.lambda_.invoke('refresh_closures', scheduled).payload == {
        'updated': 2, 'unchanged': 0, 'failed': 0, 'skipped': 0}
    assert times(api, 'autre') == ['rdv:2030-03-11-0900', 'rdv:2030-03-11-0930']


def test_a_run_out_of_time_fetches_nothing_more_and_the_least_recently_tried_go_first(api, sources, monkeypatch):
    assert ics_sources.counts(ics_sources.refresh(PARIS, NOW, 0)) == {
        'updated': 0, 'unchanged': 0, 'failed': 0, 'skipped': 2}
    assert sources.requests == [] and source_status(api) == (None, None, None)
    ticks = iter(range(100))  # each clock reading: one second later; the budget allows one fetch
    assert [o.status for o in ics_sources.refresh(PARIS, NOW, 1.5, clock=lambda: next(ticks))] == [
        'updated', 'skipped']
    assert sources.requests == ['/feries.ics']
    ticks = iter(range(100))
    later = NOW + timedelta(hours=1)
    assert [o.status for o in ics_sources.refresh(PARIS, later, 1.5, clock=lambda: next(ticks))] == [
        'skipped', 'updated']  # g2's source was never tried: its turn
    assert sources.requests == ['/feries.ics', '/g2.ics']


def test_a_disabled_source_is_not_fetched(api, sources):
    status, _ = api.patch('/api/unavailability-calendar/feries/', {'exceptions_sources': [
        {'ics_url': sources.url('/feries.ics'), 'enabled': False}]})
    assert status == 200
    assert [o['ics_url'] for o in refresh(api)] == [sources.url('/g2.ics')]
    assert sources.requests == ['/g2.ics']


# ---- a failed refresh keeps the last good closures ---------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize('served, error', [
    ((500, 'oops', {}), 'HTTP 500'),
    ((404, '', {}), 'HTTP 404'),
    ((302, '', {'Location': '/elsewhere.ics'}), 'HTTP 302 (redirects are not followed)'),
    ('<html>Maintenance</html>', 'Expected the content of an iCalendar file (BEGIN:VCALENDAR), as text or '
                                 'base64-encoded.'),
    (ics('2030-03-18'), 'Event "Férié": its DTSTART cannot be read (Expected datetime, date, or time. Got: '
                        "'2030-03-18')."),
    (TOO_LARGE, f'too large: {len(TOO_LARGE)} bytes, at most 1000000'),
    ((200, TOO_LARGE, {'Content-Length': None}), 'too large: more than 1000000 bytes'),  # no length: counted
    ((200, MONDAY_4, {'Content-Length': None, 'X-Trickle': '1'}), 'too slow: not read within 0.5 s'),
])
def test_a_failed_refresh_keeps_the_last_good_closures(api, sources, clock, monkeypatch, served, error):
    feries = sources.url('/feries.ics')
    refresh(api)
    good = closures(api)
    assert good == [('2030-03-04 00:00:00', 0)]
    sources.files['/feries.ics'] = served
    clock(NOW + timedelta(days=1))
    monkeypatch.setattr(ics_sources, 'FETCH_TIMEOUT', 0.5)
    assert refresh(api)[0] == outcome('failed', error, calendar='feries', url=feries)
    assert closures(api) == good
    assert times(api, 'autre') == ['rdv:2030-03-11-0900', 'rdv:2030-03-11-0930']
    assert source_status(api) == (NOW_TEXT, '2030-03-02T08:00:00Z', error)
    exported = api.get('/api/export/')[1]['unavailability_calendars'][0]['exceptions_sources'][0]
    assert (exported['ics_file'], exported['last_error']) == (base64.b64encode(MONDAY_4.strip().encode()).decode(),
                                                              error)
    # Served again: the status clears.
    sources.files['/feries.ics'] = MONDAY_4
    assert refresh(api)[0]['status'] == 'unchanged'
    assert source_status(api) == ('2030-03-02T08:00:00Z', '2030-03-02T08:00:00Z', None)


def test_an_unreachable_or_silent_server_fails_within_its_time(api, sources, monkeypatch):
    refresh(api)
    status, _ = api.patch('/api/unavailability-calendar/feries/', {'exceptions_sources': [
        {'ics_url': f'http://127.0.0.1:{closed_port()}/feries.ics'}]})
    assert status == 200  # a new URL: no content kept from the old one
    assert closures(api) == []
    assert refresh(api)[0]['error'] == 'ConnectionRefusedError'
    monkeypatch.setattr(ics_sources, 'FETCH_TIMEOUT', 0.5)
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(1)  # takes the connection, never answers
        api.patch('/api/unavailability-calendar/feries/', {'exceptions_sources': [
            {'ics_url': f'http://127.0.0.1:{silent.getsockname()[1]}/feries.ics'}]})
        started = time.monotonic()
        assert refresh(api)[0]['error'] == 'TimeoutError'
        assert time.monotonic() - started < 3
    assert closures(api) == []


# ---- only allowed hosts and public addresses, never a connection otherwise ------------------------------------

class Untouchable:
    """Name resolution and connections that fail the test if used."""

    def __init__(self, monkeypatch, resolved: list[str] | None = None) -> None:
        self.calls: list[tuple] = []
        self.resolved = resolved
        monkeypatch.setattr(guarded_http, 'resolve', self.resolve)
        for name in ('PinnedHTTPConnection', 'PinnedHTTPSConnection'):
            monkeypatch.setattr(guarded_http, name, self.called(name))
        monkeypatch.setattr(guarded_http.socket, 'create_connection', self.called('socket'))

    def resolve(self, host, port):
        self.calls.append(('resolve', host, port))
        if self.resolved is None:
            raise AssertionError('resolved')
        return self.resolved

    def called(self, what: str):
        def record(*args, **kwargs):
            self.calls.append((what,))
            raise AssertionError(f'{what} attempted')
        return record


@pytest.mark.parametrize('url, resolved, error', [
    ('https://ics.example.org/f.ics', ['10.1.2.3'], 'refused: host ics.example.org resolves to a non-public address '
                                                    '(10.1.2.3)'),
    ('https://ics.example.org/f.ics', ['93.184.216.34', '192.168.1.1'], 'refused: host ics.example.org resolves to '
                                                                        'a non-public address (192.168.1.1)'),
    ('https://ics.example.org/f.ics', ['169.254.169.254'], 'refused: host ics.example.org resolves to a non-public '
                                                           'address (169.254.169.254)'),
    ('https://ics.example.org/f.ics', ['::ffff:127.0.0.1'], 'refused: host ics.example.org resolves to a '
                                                            'non-public address (127.0.0.1)'),
    ('https://ics.example.org/f.ics', ['fd00::1'], 'refused: host ics.example.org resolves to a non-public address '
                                                   '(fd00::1)'),
    ('https://other.example.org/f.ics', None, 'refused: host other.example.org is not in CHRONO_ICS_HOSTS'),
    ('http://ics.example.org/f.ics', None, 'refused: plain http is only allowed to a listed loopback name'),
    ('https://user:pw@ics.example.org/f.ics', None, 'refused: credentials in the URL'),
    ('http://10.0.0.1/f.ics', None, 'refused: host 10.0.0.1 is not in CHRONO_ICS_HOSTS'),
])
def test_a_private_address_or_unlisted_host_is_refused_without_any_connection(api, sources, env, monkeypatch, url,
                                                                              resolved, error):
    refresh(api)
    good = closures(api)
    without_g2_source = document(sources)['agendas'][0]
    without_g2_source['desks'][1]['exceptions_sources'] = []
    assert api.post('/api/import/', {'agendas': [without_g2_source]})[0] == 200  # only the calendar's source left
    env(CHRONO_ICS_HOSTS='ics.example.org,127.0.0.1')
    assert api.patch('/api/unavailability-calendar/feries/', {'exceptions_sources': [
        {'ics_url': url}, {'ics_url': sources.url('/feries.ics'), 'enabled': False}]})[0] == 200
    untouchable = Untouchable(monkeypatch, resolved)
    answer = refresh(api)
    assert answer[0] == outcome('failed', error, calendar='feries', url=url)
    assert [c for c in untouchable.calls if c[0] != 'resolve'] == []  # no connection, whatever was resolved
    assert untouchable.calls == ([('resolve', 'ics.example.org', 443)] if resolved else [])
    assert closures(api) == []  # the new URL had no content yet; the old source is disabled
    assert good == [('2030-03-04 00:00:00', 0)]


def test_without_chrono_ics_hosts_nothing_is_fetched(api, sources, env, monkeypatch):
    env(CHRONO_ICS_HOSTS=None)
    untouchable = Untouchable(monkeypatch)
    assert [o['error'] for o in refresh(api)] == ['refused: host 127.0.0.1 is not in CHRONO_ICS_HOSTS'] * 2
    assert untouchable.calls == [] and sources.requests == []


# ---- export and import ------------------------------------------------------------------------------------

def test_a_fetched_source_is_exported_with_its_file_and_status_and_reimporting_changes_nothing(api, sources, export):
    refresh(api)
    exported = export()
    assert exported['unavailability_calendars'][0]['exceptions_sources'] == [{
        'ics_filename': None, 'ics_file': base64.b64encode(MONDAY_4.strip().encode()).decode(),
        'ics_url': sources.url('/feries.ics'), 'enabled': True,
        'last_fetch': NOW_TEXT, 'last_attempt': NOW_TEXT, 'last_error': None}]
    g2 = exported['agendas'][1]['desks'][1]
    assert (g2['slug'], g2['exceptions'], g2['exceptions_sources'][0]['last_fetch']) == ('g2', [], NOW_TEXT)
    assert api.post('/api/import/', exported) == (200, NOTHING)
    assert export() == exported
    # The original document (URLs without files, as Chrono's): the fetched closures stay.
    assert api.post('/api/import/', document(sources)) == (200, NOTHING)
    assert export() == exported
    assert times(api, 'autre') == ['rdv:2030-03-11-0900', 'rdv:2030-03-11-0930']
    # Another URL is another source: nothing kept.
    changed = copy.deepcopy(document(sources))
    changed['unavailability_calendars'][0]['exceptions_sources'][0]['ics_url'] = sources.url('/autre.ics')
    assert api.post('/api/import/', changed)[1]['data']['unavailability_calendars'] == {
        'created': [], 'updated': ['feries']}
    assert times(api, 'autre') == ALL_OPEN


def test_a_refresh_never_undoes_an_import_made_meanwhile(api, sources):
    stale = store.load_agenda('rdv', with_events=False)
    changed = document(sources)
    changed['agendas'][0]['desks'][1]['exceptions_sources'] = []
    assert api.post('/api/import/', {'agendas': changed['agendas'][:1]})[0] == 200
    holder = ics_sources._Holder(agenda=stale, desk='g2')
    outcomes = ics_sources._apply(holder, {sources.url('/g2.ics'): MONDAY_11}, PARIS, NOW.astimezone(timezone.utc))
    assert [(o.status, o.error) for o in outcomes] == [('failed', 'not written: changed meanwhile')]
    assert store.load_agenda('rdv').spec.desks[1].exceptions_sources == ()
    calendar = store.load_calendar('feries')
    api.patch('/api/unavailability-calendar/feries/', {'label': 'Jours fériés'})
    outcomes = ics_sources._apply(ics_sources._Holder(calendar=calendar), {sources.url('/feries.ics'): MONDAY_4},
                                  PARIS, NOW.astimezone(timezone.utc))
    assert [(o.status, o.error) for o in outcomes] == [('failed', 'not written: changed meanwhile')]
    assert (store.load_calendar('feries').spec.label, closures(api)) == ('Jours fériés', [])


def test_malformed_bodies_are_refused_on_the_refresh_route(client, api, sources):
    for name, content_type, body, errors in EVERY_ROUTE:
        status, answer, _ = send(client, 'POST', '/api/exceptions-sources/refresh/', body, content_type)
        assert (status, answer) == (400, {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
                                          'errors': errors}), name
    for name, content_type, body in UNSUPPORTED:
        status, answer, _ = send(client, 'POST', '/api/exceptions-sources/refresh/', body, content_type)
        assert (status, answer['err_class']) == (400, 'invalid payload'), name
    assert sources.requests == [] and source_status(api) == (None, None, None)
