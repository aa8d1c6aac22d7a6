"""Unavailability calendars (spec §2.3, §9.5, §11.1; docs/api.md "Closures") through the API: shared
closures that every desk naming them applies, in every agenda; their admin routes; their import and export.

Every request runs at NOW (Friday 2030-03-01 09:00 in Paris) unless a test sets the clock. Agendas `rdv`
and `autre` open on Mondays 09:00-10:00 (30-minute meetings); `rdv` has two desks, `autre` one.
"""
from __future__ import annotations

import base64
import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from tests.api.conftest import ERROR_KEYS, assert_not_found

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)  # a Friday
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '10:00'}
NO_DESK = 'no more desk available'
REQUIRED = 'This field is required.'
# Closed on Monday 4th in the morning.
FERMETURE = {'label': 'Inventaire', 'start_datetime': '2030-03-04 08:00:00', 'end_datetime': '2030-03-04 12:00:00'}
HOLIDAYS = ('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mairie//Feries//FR\r\n'
            'BEGIN:VEVENT\r\nUID:lundi-11@mairie\r\nSUMMARY:Pont\r\nDTSTART;VALUE=DATE:20300311\r\nEND:VEVENT\r\n'
            'END:VCALENDAR\r\n')


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def meetings(slug: str, *desks: dict) -> dict:
    return {'slug': slug, 'label': slug.title(), 'kind': 'meetings', 'minimal_booking_delay': 1,
            'maximal_booking_delay': 14, 'meetingtypes': [{'slug': 'rdv', 'label': 'Rdv', 'duration': 30}],
            'desks': list(desks)}


def desk(slug: str, *calendars) -> dict:
    return {'slug': slug, 'label': slug.upper(), 'timeperiods': [MONDAY], 'unavailability_calendars': list(calendars)}


def document(*calendars: dict) -> dict:
    return {
        'unavailability_calendars': list(calendars),
        'agendas': [meetings('rdv', desk('g1', 'fermetures'), desk('g2')),
                    meetings('autre', desk('a1', {'slug': 'fermetures'}))],
    }


def calendar(**changes) -> dict:
    return {'slug': 'fermetures', 'label': 'Fermetures', 'exceptions': [FERMETURE], **changes}


def times(api, agenda: str) -> dict[str, bool]:
    """id -> disabled, of the agenda's meeting times."""
    status, answer = api.get(f'/api/agenda/{agenda}/meetings/rdv/datetimes/')
    assert status == 200, answer
    return {item['id']: item['disabled'] for item in answer['data']}


@pytest.fixture
def shared(api, clock):
    clock(NOW)
    assert api.post('/api/import/', document(calendar())) == (200, {'err': 0, 'data': {
        'created': ['rdv', 'autre'], 'updated': [],
        'unavailability_calendars': {'created': ['fermetures'], 'updated': []}}})


MONDAYS = {'rdv:2030-03-04-0900': False, 'rdv:2030-03-04-0930': False,
           'rdv:2030-03-11-0900': False, 'rdv:2030-03-11-0930': False}


# ---- one calendar, two agendas -----------------------------------------------------------------------

def test_a_calendar_shared_by_two_agendas_closes_both(api, shared):
    # autre's only desk names it: Monday 4th is not offered at all; rdv still offers it on g2.
    assert times(api, 'autre') == {'rdv:2030-03-11-0900': False, 'rdv:2030-03-11-0930': False}
    assert times(api, 'rdv') == MONDAYS
    refused = api.post('/api/agenda/autre/fillslot/rdv:2030-03-04-0900/', {})[1]
    assert (refused['err'], refused['err_class']) == (1, NO_DESK)
    booked = api.post('/api/agenda/rdv/fillslot/rdv:2030-03-04-0900/', {})[1]
    assert (booked['err'], booked['desk']['slug']) == (0, 'g2')  # g1 is closed, g2 takes it
    assert times(api, 'rdv') == {**MONDAYS, 'rdv:2030-03-04-0900': True}  # g1 closed, g2 booked
    again = api.post('/api/agenda/rdv/fillslot/rdv:2030-03-04-0900/', {})[1]
    assert (again['err'], again['err_class']) == (1, NO_DESK)
    assert api.post('/api/agenda/autre/fillslot/rdv:2030-03-11-0900/', {})[1]['err'] == 0  # another day: open

    # Opened again in the calendar: both agendas at once.
    status, answer = api.patch('/api/unavailability-calendar/fermetures/', {'exceptions': []})
    assert (status, answer['data']['exceptions'], answer['data']['closures']) == (200, [], [])
    assert times(api, 'autre') == {'rdv:2030-03-04-0900': False, 'rdv:2030-03-04-0930': False,
                                   'rdv:2030-03-11-0900': True, 'rdv:2030-03-11-0930': False}
    assert api.post('/api/agenda/rdv/fillslot/rdv:2030-03-04-0900/', {})[1]['desk']['slug'] == 'g1'


def test_a_virtual_agenda_over_them_applies_the_closures_of_its_real_agendas(api, shared):
    assert api.post('/api/agenda/', {'slug': 'v', 'label': 'V', 'kind': 'virtual',
                                     'real_agendas': ['rdv', 'autre']})[0] == 200
    status, answer = api.get('/api/agenda/v/meetings/rdv/datetimes/')
    assert status == 200
    assert [(i['id'], [a['id'] for a in i['agendas']]) for i in answer['data'] if i['id'].startswith('rdv:2030-03-04')] \
        == [('rdv:2030-03-04-0900', ['rdv']), ('rdv:2030-03-04-0930', ['rdv'])]
    booked = api.post('/api/agenda/v/fillslot/rdv:2030-03-04-0900/', {})[1]
    assert (booked['err'], booked['agenda']['slug'], booked['desk']['slug']) == (0, 'rdv', 'g2')


def test_a_listing_reads_each_calendar_once_and_only_when_a_desk_names_one(api, shared, monkeypatch):
    from chalicelib.store.models import CalendarException
    queried = []
    original = CalendarException.query.__func__
    monkeypatch.setattr(CalendarException, 'query', classmethod(
        lambda cls, key, *args, **kw: queried.append(key) or original(cls, key, *args, **kw)))
    api.post('/api/agenda/', {'slug': 'v', 'label': 'V', 'kind': 'virtual', 'real_agendas': ['rdv', 'autre']})
    assert api.get('/api/agenda/v/meetings/rdv/datetimes/')[0] == 200  # two agendas, three desks, one calendar
    assert queried == ['CALENDAR#fermetures']
    assert api.get('/api/agenda/rdv/desks/')[0] == 200  # no closure needed: none read
    assert api.post('/api/import/', {'agendas': [meetings('sans', desk('s1'))]})[0] == 200
    assert api.get('/api/agenda/sans/meetings/rdv/datetimes/')[0] == 200
    assert queried == ['CALENDAR#fermetures']


# ---- the admin routes ---------------------------------------------------------------------------------

DETAIL = {
    'slug': 'fermetures', 'label': 'Fermetures', 'permissions': {'view': None, 'edit': 'Agents'},
    'exceptions': [FERMETURE],
    'exceptions_sources': [{'ics_filename': 'feries.ics', 'ics_file': b64(HOLIDAYS.strip()), 'ics_url': None,
                            'enabled': True}],
    'closures': [{**FERMETURE, 'source': None},
                 {'label': 'Pont', 'start_datetime': '2030-03-11 00:00:00', 'end_datetime': '2030-03-12 00:00:00',
                  'source': 0}],
}


def test_create_read_list_update_delete(api, clock):
    clock(NOW)
    status, answer = api.post('/api/unavailability-calendar/', {
        'label': 'Fermetures', 'permissions': {'edit': 'Agents'}, 'exceptions': [FERMETURE],
        'exceptions_sources': [{'ics_filename': 'feries.ics', 'ics_file': HOLIDAYS}]})
    assert (status, answer) == (200, {'err': 0, 'data': DETAIL})
    assert api.get('/api/unavailability-calendar/fermetures/') == (200, {'err': 0, 'data': DETAIL})
    listed = {k: v for k, v in DETAIL.items() if k != 'closures'}
    assert api.get('/api/unavailability-calendar/') == (200, {'err': 0, 'data': [listed]})

    # The ICS closure applies like the one entered by hand.
    assert api.post('/api/import/', {'agendas': [meetings('autre', desk('a1', 'fermetures'))]})[0] == 200
    assert times(api, 'autre') == {}

    status, answer = api.patch('/api/unavailability-calendar/fermetures/', {'label': 'Fermetures 2030'})
    assert (status, answer) == (200, {'err': 0, 'data': {**DETAIL, 'label': 'Fermetures 2030'}})
    status, answer = api.patch('/api/unavailability-calendar/fermetures/', {'exceptions_sources': []})
    assert (status, answer['data']['exceptions_sources'], answer['data']['closures']) == (
        200, [], [{**FERMETURE, 'source': None}])
    assert times(api, 'autre') == {'rdv:2030-03-11-0900': False, 'rdv:2030-03-11-0930': False}

    # Named by a desk: not deleted.
    status, answer = api.delete('/api/unavailability-calendar/fermetures/')
    assert (status, answer) == (200, {'err': 1, 'err_class': 'unavailability calendar in use',
                                      'err_desc': 'desks name it: autre/a1'})
    assert api.get('/api/unavailability-calendar/fermetures/')[0] == 200
    assert api.post('/api/import/', {'agendas': [meetings('autre', desk('a1'))]})[0] == 200
    assert api.delete('/api/unavailability-calendar/fermetures/') == (200, {'err': 0})
    assert_not_found(api.get('/api/unavailability-calendar/fermetures/'))
    assert api.get('/api/unavailability-calendar/') == (200, {'err': 0, 'data': []})
    assert [i.sk for i in store.models.TableItem.query('CALENDAR#fermetures')] == []


def test_a_slug_is_taken_once(api, shared):
    status, answer = api.post('/api/unavailability-calendar/', {'label': 'Fermetures'})
    assert (status, answer['errors']) == (400, {'slug': [
        'An unavailability calendar with the slug "fermetures" already exists.']})
    assert store.load_calendar('fermetures').spec.exceptions[0].label == 'Inventaire'


@pytest.mark.parametrize('method', ['GET', 'PATCH', 'DELETE'])
@pytest.mark.parametrize('slug', ['nope', 'a%20b', 'x' * 161])
def test_an_unknown_calendar_is_a_404(api, shared, method, slug):
    assert_not_found(api.call(method, f'/api/unavailability-calendar/{slug}/', {} if method == 'PATCH' else None))


# ---- bad input: 400 in Chrono's shape, nothing changed ------------------------------------------------

BAD_BODIES = [
    ({'label': ['x']}, {'label': ['Not a valid string.']}),
    ({'label': 'X', 'slug': 'a b'},
     {'slug': ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']}),
    ({'label': 'X', 'exceptions': {'label': 'x'}}, {'exceptions': ['Expected a list of items.']}),
    ({'label': 'X', 'exceptions': [{'start_datetime': '2030-03-04 10:00', 'end_datetime': '2030-03-04 09:00'}, 3]},
     {'exceptions.0.end_datetime': ['End must be after start.'], 'exceptions.1': ['Expected a JSON object.']}),
    ({'label': 'X', 'exceptions': [{'start_datetime': 'demain'}]},
     {'exceptions.0.start_datetime': ['Datetime has wrong format. Use one of these formats instead: '
                                      'YYYY-MM-DD HH:MM[:SS].'], 'exceptions.0.end_datetime': [REQUIRED]}),
    ({'label': 'X', 'exceptions_sources': [{'ics_file': 'pas un calendrier'}, {'ics_url': 'ftp://x/y.ics'},
                                           {'ics_url': 'https://x.example.org/y.ics', 'last_fetch': 'hier'}]},
     {'exceptions_sources.0.ics_file': [
         'Expected the content of an iCalendar file (BEGIN:VCALENDAR), as text or base64-encoded.'],
      'exceptions_sources.1.ics_url': ['Enter a valid URL (http or https).'],
      'exceptions_sources.2.last_fetch': ['Datetime has wrong format. Use one of these formats instead: '
                                          'YYYY-MM-DD HH:MM[:SS].']}),
    ({'label': 'X', 'permissions': 'Agents'}, {'permissions': ['Expected a JSON object.']}),
    ({'label': 'X', 'exceptions': [FERMETURE] * 2001}, {'exceptions': ['Ensure this list has no more than 2000 items.']}),
]


@pytest.mark.parametrize('body, errors', BAD_BODIES)
def test_bad_input_is_refused_on_create_and_update_and_changes_nothing(api, shared, export, body, errors):
    before = export()
    invalid = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}
    assert api.post('/api/unavailability-calendar/', body) == (400, {**invalid, 'errors': errors})
    # The same on PATCH, but for the label and slug (a PATCH keeps them).
    patch_errors = {k: v for k, v in errors.items() if k not in ('label', 'slug')}
    if patch_errors:
        patch = {k: v for k, v in body.items() if k not in ('label', 'slug')}
        assert api.patch('/api/unavailability-calendar/fermetures/', patch) == (400, {**invalid, 'errors': patch_errors})
    assert export() == before


def test_malformed_bodies_are_refused_on_every_calendar_route(client, api, shared, export):
    from tests.api.test_http_conventions import EVERY_ROUTE, UNSUPPORTED, send
    before = export()
    for method, path in (('POST', '/api/unavailability-calendar/'),
                         ('PATCH', '/api/unavailability-calendar/fermetures/')):
        for name, content_type, body, errors in EVERY_ROUTE:
            status, answer, _ = send(client, method, path, body, content_type)
            assert (status, answer) == (400, {'err': 1, 'err_class': 'invalid payload',
                                              'err_desc': 'invalid payload', 'errors': errors}), (method, name)
        for name, content_type, body in UNSUPPORTED:
            status, answer, _ = send(client, method, path, body, content_type)
            assert (status, answer['err_class']) == (400, 'invalid payload'), (method, name)
    assert export() == before


def test_a_desk_naming_an_unknown_calendar_is_refused_with_its_path(api, shared, export):
    before = export()
    status, answer = api.post('/api/import/', {'agendas': [meetings('rdv', desk('g1', 'fermetures', 'nope'),
                                                                    desk('g2', 'autre-nope'))]})
    assert (status, answer['errors']) == (400, {
        'agendas.0.desks.0.unavailability_calendars': ['The unavailability calendar "nope" does not exist.'],
        'agendas.0.desks.1.unavailability_calendars': ['The unavailability calendar "autre-nope" does not exist.']})
    status, answer = api.post('/api/agenda/', meetings('neuf', desk('n1', 'nope')))
    assert (status, answer['errors']) == (400, {
        'desks.0.unavailability_calendars': ['The unavailability calendar "nope" does not exist.']})
    status, answer = api.post('/api/agenda/', meetings('neuf', {**desk('n1'), 'unavailability_calendars': [
        {'nom': 'x'}]}))
    assert (status, answer['errors']) == (400, {'desks.0.unavailability_calendars': [
        'Expected unavailability calendar slugs (or objects with a "slug").']})
    assert export() == before


# ---- import and export -------------------------------------------------------------------------------

def test_the_export_lists_the_calendars_and_reimporting_it_changes_nothing(api, shared, export):
    status, answer = api.patch('/api/unavailability-calendar/fermetures/', {'exceptions_sources': [
        {'ics_filename': 'feries.ics', 'ics_file': HOLIDAYS},
        {'ics_url': 'https://mairie.example.org/feries.ics', 'enabled': False}]})
    assert status == 200, answer
    exported = export()
    assert exported['unavailability_calendars'] == [{
        'label': 'Fermetures', 'slug': 'fermetures', 'permissions': {'view': None, 'edit': None},
        'exceptions': [FERMETURE],
        'exceptions_sources': [
            {'ics_filename': 'feries.ics', 'ics_file': b64(HOLIDAYS.strip()), 'ics_url': None, 'enabled': True},
            {'ics_filename': None, 'ics_file': None, 'ics_url': 'https://mairie.example.org/feries.ics',
             'enabled': False, 'last_fetch': None, 'last_attempt': None, 'last_error': None}]}]
    assert [(a['slug'], d['slug'], d['unavailability_calendars']) for a in exported['agendas'] for d in a['desks']] \
        == [('autre', 'a1', ['fermetures']), ('rdv', 'g1', ['fermetures']), ('rdv', 'g2', [])]
    assert api.post('/api/import/', exported) == (200, {'err': 0, 'data': {'created': [], 'updated': []}})
    assert export() == exported

    changed = copy.deepcopy(exported)
    changed['unavailability_calendars'][0]['exceptions'] = []
    assert api.post('/api/import/', changed) == (200, {'err': 0, 'data': {
        'created': [], 'updated': [], 'unavailability_calendars': {'created': [], 'updated': ['fermetures']}}})
    assert times(api, 'autre') == {'rdv:2030-03-04-0900': False, 'rdv:2030-03-04-0930': False}  # 11th: holiday


def test_a_bad_calendar_refuses_the_whole_import(api, shared, export):
    before = export()
    doc = document(calendar(label='Fermetures modifiées'), {'slug': 'neuf', 'exceptions': 'x'},
                   calendar(label='Doublon'))
    doc['agendas'][0]['label'] = 'Changed'
    status, answer = api.post('/api/import/', doc)
    assert (status, set(answer) - ERROR_KEYS) == (400, {'errors'})
    assert answer['errors'] == {'unavailability_calendars.1.label': [REQUIRED],
                                'unavailability_calendars.1.exceptions': ['Expected a list of items.'],
                                'unavailability_calendars.2.slug': ['Duplicate unavailability calendar slug '
                                                                    '"fermetures".']}
    assert export() == before
