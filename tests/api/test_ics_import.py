"""Closures of desks imported from ICS files (`exceptions_sources`, spec §2.3) through the API:
they close meeting times, the export gives back the files (not the closures), re-importing is a no-op."""
from __future__ import annotations

import base64
import copy
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from chalicelib.domain.agenda_reader import read_agenda
from chalicelib.domain.closures import ExceptionSpec
from tests.api.conftest import ERROR_KEYS

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)  # a Friday
NOTHING = {'err': 0, 'data': {'created': [], 'updated': []}}
CLOSURES = ('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mairie//Fermetures//FR\r\n'
            'BEGIN:VEVENT\r\nUID:fermeture@mairie\r\nSUMMARY:Fermeture exceptionnelle\r\n'
            'DTSTART;VALUE=DATE:20300304\r\nEND:VEVENT\r\n'
            'BEGIN:VEVENT\r\nUID:mai@mairie\r\nSUMMARY:Fête du travail\r\n'
            'DTSTART;VALUE=DATE:20200501\r\nRRULE:FREQ=YEARLY\r\nEND:VEVENT\r\n'
            'END:VCALENDAR\r\n')


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def agenda(ics_file=CLOSURES, **source) -> dict:
    return {
        'slug': 'mairie', 'label': 'Mairie', 'kind': 'meetings', 'minimal_booking_delay': 1,
        'maximal_booking_delay': 14, 'meetingtypes': [{'slug': 'court', 'label': 'Court', 'duration': 30}],
        'desks': [
            {'slug': 'g1', 'label': 'G1', 'timeperiods': [{'weekday': 0, 'start_time': '09:00', 'end_time': '10:30'}],
             'exceptions': [{'label': 'Réunion', 'start_datetime': '2030-03-11 10:00',
                             'end_datetime': '2030-03-11 10:30'}],
             'exceptions_sources': [{'ics_filename': 'fermetures.ics', 'ics_file': ics_file, **source}]},
            {'slug': 'g2', 'label': 'G2', 'timeperiods': [{'weekday': 0, 'start_time': '14:00', 'end_time': '15:00'}]},
        ]}


# Without the ICS closures: G1 on Mondays 4th and 11th (but 10:00 on the 11th, closed by hand), G2.
OPEN = ['court:2030-03-04-0900', 'court:2030-03-04-0930', 'court:2030-03-04-1000',
        'court:2030-03-04-1400', 'court:2030-03-04-1430',
        'court:2030-03-11-0900', 'court:2030-03-11-0930', 'court:2030-03-11-1400', 'court:2030-03-11-1430']


def times(api) -> list[str]:
    status, answer = api.get('/api/agenda/mairie/meetings/court/datetimes/')
    assert status == 200
    return [item['id'] for item in answer['data']]


@pytest.fixture
def imported(api, clock):
    clock(NOW)
    assert api.post('/api/import/', {'agendas': [agenda()]}) == (
        200, {'err': 0, 'data': {'created': ['mairie'], 'updated': []}})


def test_the_closures_of_a_source_remove_the_times_of_its_desk(api, imported):
    # G1 is closed all Monday 4th (the ICS file) and on the 11th from 10:00 (by hand); G2 is open.
    assert times(api) == OPEN[3:]
    desk = store.load_agenda('mairie').spec.desks[0]
    assert desk.exceptions == (
        ExceptionSpec(utc(2030, 3, 3, 23), utc(2030, 3, 4, 23), 'Fermeture exceptionnelle', source=0),
        ExceptionSpec(utc(2030, 3, 11, 9), utc(2030, 3, 11, 9, 30), 'Réunion'),
        ExceptionSpec(utc(2030, 4, 30, 22), utc(2030, 5, 1, 22), 'Fête du travail', source=0),
        ExceptionSpec(utc(2031, 4, 30, 22), utc(2031, 5, 1, 22), 'Fête du travail', source=0))


def test_the_export_gives_the_source_and_a_reimport_changes_nothing(api, imported, export):
    exported = export()
    (desk, other) = exported['agendas'][0]['desks']
    assert desk['exceptions'] == [
        {'label': 'Réunion', 'start_datetime': '2030-03-11 10:00:00', 'end_datetime': '2030-03-11 10:30:00'}]
    assert desk['exceptions_sources'] == [{'ics_filename': 'fermetures.ics', 'ics_file': b64(CLOSURES.strip()),
                                           'ics_url': None, 'enabled': True}]
    assert (other['exceptions'], other['exceptions_sources']) == ([], [])
    assert api.post('/api/import/', exported) == (200, NOTHING)
    assert api.post('/api/import/', {'agendas': [agenda(b64(CLOSURES))]}) == (200, NOTHING)  # base64, as Chrono
    assert api.post('/api/import/', {'agendas': [agenda()]}) == (200, NOTHING)
    assert export() == exported
    assert times(api) == OPEN[3:]


def test_changing_or_disabling_the_source_replaces_its_closures(api, imported, export):
    moved = CLOSURES.replace('20300304', '20300311')
    assert api.post('/api/import/', {'agendas': [agenda(moved)]}) == (
        200, {'err': 0, 'data': {'created': [], 'updated': ['mairie']}})
    assert times(api) == OPEN[:5] + OPEN[7:]
    assert api.post('/api/import/', {'agendas': [agenda(moved, enabled=False)]})[1]['data']['updated'] == ['mairie']
    assert [e.label for e in store.load_agenda('mairie').spec.desks[0].exceptions] == ['Réunion']
    assert export()['agendas'][0]['desks'][0]['exceptions_sources'] == [
        {'ics_filename': 'fermetures.ics', 'ics_file': b64(moved.strip()), 'ics_url': None, 'enabled': False}]
    assert times(api) == OPEN


def test_a_url_is_kept_and_exported_with_its_status_and_not_fetched_by_the_import(api, clock, export):
    """The import fetches nothing (tests/api/test_closures.py: the refresh does)."""
    clock(NOW)
    document = agenda(None, ics_filename=None, ics_url='https://mairie.example.org/fermetures.ics')
    assert api.post('/api/agenda/', document)[0] == 200
    assert export()['agendas'][0]['desks'][0]['exceptions_sources'] == [
        {'ics_filename': None, 'ics_file': None, 'ics_url': 'https://mairie.example.org/fermetures.ics',
         'enabled': True, 'last_fetch': None, 'last_attempt': None, 'last_error': None}]
    assert times(api) == OPEN  # only the closure entered by hand


def test_the_same_document_on_another_day_moves_the_600_days(api, imported, clock):
    a_year_later = datetime(2031, 3, 1, 9, 0, tzinfo=PARIS)
    # Only what changed is written: 2030-03-04 and 2030-05-01 go, 2032-05-01 comes, 2031-05-01 stays.
    spec = read_agenda(agenda(), PARIS, now=a_year_later)
    # ... and the agenda item, whose version every change of the configuration moves on (store/decision_cache.py).
    assert len(store.plan_agenda(spec, store.load_agenda('mairie'))) == 4
    clock(a_year_later)
    assert api.post('/api/import/', {'agendas': [agenda()]}) == (
        200, {'err': 0, 'data': {'created': [], 'updated': ['mairie']}})
    assert [(e.start, e.source) for e in store.load_agenda('mairie').spec.desks[0].exceptions] == [
        (utc(2030, 3, 11, 9), None), (utc(2031, 4, 30, 22), 0), (utc(2032, 4, 30, 22), 0)]


BAD = CLOSURES.replace('DTSTART;VALUE=DATE:20300304', 'DTSTART;VALUE=DATE:2030-03-04')
BAD_ERRORS = ['Event "Fermeture exceptionnelle": its DTSTART cannot be read '
              "(Expected datetime, date, or time. Got: '2030-03-04').",
              'Expected the content of an iCalendar file (BEGIN:VCALENDAR), as text or base64-encoded.']


def test_a_bad_ics_file_is_refused_with_its_path_and_nothing_is_written(api, clock, export):
    clock(NOW)
    other = copy.deepcopy(agenda())
    other.update(slug='annexe', label='Annexe')
    document = {'agendas': [other, agenda(BAD)]}
    document['agendas'][1]['desks'][1]['exceptions_sources'] = [{'ics_file': 'pas un calendrier'}]
    status, answer = api.post('/api/import/', document)
    assert (status, set(answer) - ERROR_KEYS, answer['err_class']) == (400, {'errors'}, 'invalid payload')
    assert answer['errors'] == {'agendas.1.desks.0.exceptions_sources.0.ics_file': BAD_ERRORS[:1],
                                'agendas.1.desks.1.exceptions_sources.0.ics_file': BAD_ERRORS[1:]}
    status, answer = api.post('/api/agenda/', agenda(b64(BAD)))
    assert (status, answer['errors']) == (400, {'desks.0.exceptions_sources.0.ics_file': BAD_ERRORS[:1]})
    assert export() == {'agendas': [], 'categories': [], 'resources': [], 'unavailability_calendars': []}
