"""Closures read from iCalendar files (chalicelib/domain/ics.py) and desks' `exceptions_sources`."""
from __future__ import annotations

import base64
import random
import time as clock
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import closures as ics
from chalicelib.domain.agenda_reader import read_agenda
from chalicelib.domain.closures import ExceptionSpec, ExceptionsSourceSpec, pack_ics, unpack_ics
from chalicelib.domain.specs import DeskSpec
from chalicelib.errors import InvalidPayload
from chalicelib.store.configuration import Operation, batches

PARIS = ZoneInfo('Europe/Paris')
# The window is [2030-03-01 08:00 UTC, 2031-10-22 08:00 UTC): 600 days.
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def calendar(*events: str, head: str = '') -> str:
    body = ''.join(f'BEGIN:VEVENT\n{event.strip()}\nEND:VEVENT\n' for event in events)
    return f'BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//\n{head}{body}END:VCALENDAR\n'.replace('\n', '\r\n')


def closures(*events: str, head: str = '', now: datetime = NOW, budget=None) -> list[tuple]:
    found = ics.closures(calendar(*events, head=head), PARIS, now, budget)
    return [(c.start, c.end, c.label) for c in found]


def problems(*events: str, text: str | None = None, budget=None) -> list[str]:
    with pytest.raises(ics.IcsError) as info:
        ics.closures(text if text is not None else calendar(*events), PARIS, NOW, budget)
    return info.value.messages


# ---- one event -------------------------------------------------------------------------------

def test_an_all_day_event_closes_local_midnight_to_local_midnight():
    assert closures('UID:1\nSUMMARY:Fête du travail\nDTSTART;VALUE=DATE:20300501\nDTEND;VALUE=DATE:20300502') == [
        (utc(2030, 4, 30, 22), utc(2030, 5, 1, 22), 'Fête du travail')]
    # Without DTEND, a DATE is that one day (here in winter time: UTC+1).
    assert closures('UID:1\nSUMMARY:Férié\nDTSTART;VALUE=DATE:20301111') == [
        (utc(2030, 11, 10, 23), utc(2030, 11, 11, 23), 'Férié')]


def test_a_multi_day_event_across_the_dst_change():
    assert closures('UID:1\nSUMMARY:Vacances\nDTSTART;VALUE=DATE:20301019\nDTEND;VALUE=DATE:20301104') == [
        (utc(2030, 10, 18, 22), utc(2030, 11, 3, 23), 'Vacances')]


def test_a_timed_event_in_utc():
    assert closures('UID:1\nSUMMARY:Travaux\nDTSTART:20300610T120000Z\nDTEND:20300610T153000Z') == [
        (utc(2030, 6, 10, 12), utc(2030, 6, 10, 15, 30), 'Travaux')]


def test_a_timed_event_with_a_tzid():
    assert closures('UID:1\nSUMMARY:Visio\nDTSTART;TZID=America/New_York:20300610T090000\n'
                    'DTEND;TZID=America/New_York:20300610T100000') == [
        (utc(2030, 6, 10, 13), utc(2030, 6, 10, 14), 'Visio')]


def test_a_tzid_defined_by_a_vtimezone_of_the_file():
    zone = ('BEGIN:VTIMEZONE\nTZID:Heure de Nouméa\nBEGIN:STANDARD\nDTSTART:19700101T000000\n'
            'TZOFFSETFROM:+1100\nTZOFFSETTO:+1100\nEND:STANDARD\nEND:VTIMEZONE\n')
    assert closures('UID:1\nDTSTART;TZID=Heure de Nouméa:20300610T090000\nDTEND;TZID=Heure de Nouméa:'
                    '20300610T100000', head=zone) == [(utc(2030, 6, 9, 22), utc(2030, 6, 9, 23), None)]


@pytest.mark.parametrize('start', ['DTSTART:20300610T090000', 'DTSTART;TZID=Nowhere/Land:20300610T090000'],
                         ids=['floating', 'unknown-tzid'])
def test_a_floating_time_is_in_the_agendas_time_zone(start):
    assert closures(f'UID:1\nSUMMARY:Réunion\n{start}\nDTEND:20300610T100000') == [
        (utc(2030, 6, 10, 7), utc(2030, 6, 10, 8), 'Réunion')]


def test_duration_and_missing_ends():
    assert closures('UID:1\nDTSTART:20300610T090000Z\nDURATION:PT1H30M') == [
        (utc(2030, 6, 10, 9), utc(2030, 6, 10, 10, 30), None)]
    assert closures('UID:1\nDTSTART;VALUE=DATE:20300610\nDURATION:P2D') == [
        (utc(2030, 6, 9, 22), utc(2030, 6, 11, 22), None)]
    # A date-time without end nor duration closes until the end of its (local) day.
    assert closures('UID:1\nDTSTART;TZID=Europe/Paris:20300610T143000') == [
        (utc(2030, 6, 10, 12, 30), utc(2030, 6, 10, 22), None)]
    # Zero length: closes nothing. Cancelled: closes nothing.
    assert closures('UID:1\nDTSTART:20300610T090000Z\nDTEND:20300610T090000Z') == []
    assert closures('UID:1\nSTATUS:CANCELLED\nDTSTART;VALUE=DATE:20300610') == []


def test_the_window_keeps_what_overlaps_it():
    assert closures(
        'UID:before\nDTSTART;VALUE=DATE:20300227\nDTEND;VALUE=DATE:20300301',  # ended 2030-02-28 23:00 UTC
        'UID:overlapping\nSUMMARY:En cours\nDTSTART:20300228T120000Z\nDTEND:20300301T120000Z',
        'UID:ends-at-now\nDTSTART:20300301T070000Z\nDTEND:20300301T080000Z',
        'UID:last\nSUMMARY:Dernier\nDTSTART:20311022T075900Z\nDTEND:20311022T090000Z',
        'UID:starts-at-the-end\nDTSTART:20311022T080000Z\nDTEND:20311022T090000Z',
        'UID:after\nDTSTART;VALUE=DATE:20320101') == [
        (utc(2030, 2, 28, 12), utc(2030, 3, 1, 12), 'En cours'),
        (utc(2031, 10, 22, 7, 59), utc(2031, 10, 22, 9), 'Dernier')]


# ---- recurrences ---------------------------------------------------------------------------

def test_a_yearly_holiday_is_expanded_over_the_600_days_only():
    found = closures('UID:mai\nSUMMARY:Fête du travail\nDTSTART;VALUE=DATE:20200501\nRRULE:FREQ=YEARLY',
                     'UID:noel\nSUMMARY:Noël\nDTSTART;VALUE=DATE:20201225\nRRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25')
    assert found == [(utc(2030, 4, 30, 22), utc(2030, 5, 1, 22), 'Fête du travail'),
                     (utc(2030, 12, 24, 23), utc(2030, 12, 25, 23), 'Noël'),
                     (utc(2031, 4, 30, 22), utc(2031, 5, 1, 22), 'Fête du travail')]


def test_exdate_rdate_count_and_until():
    weekly = 'UID:w\nSUMMARY:Permanence\nDTSTART;TZID=Europe/Paris:20300304T090000\nDURATION:PT1H\n'
    assert closures(weekly + 'RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE;TZID=Europe/Paris:20300311T090000\n'
                             'RDATE;TZID=Europe/Paris:20300401T100000') == [
        (utc(2030, 3, 4, 8), utc(2030, 3, 4, 9), 'Permanence'),
        (utc(2030, 3, 18, 8), utc(2030, 3, 18, 9), 'Permanence'),
        (utc(2030, 3, 25, 8), utc(2030, 3, 25, 9), 'Permanence'),
        (utc(2030, 4, 1, 8), utc(2030, 4, 1, 9), 'Permanence')]  # summer time from March 31st: 09:00 local
    # UNTIL in UTC; an EXDATE given as a DATE removes that day's occurrence.
    assert closures(weekly + 'RRULE:FREQ=WEEKLY;UNTIL=20300318T080000Z\nEXDATE;VALUE=DATE:20300311') == [
        (utc(2030, 3, 4, 8), utc(2030, 3, 4, 9), 'Permanence'),
        (utc(2030, 3, 18, 8), utc(2030, 3, 18, 9), 'Permanence')]
    # An all-day series with an EXDATE.
    assert closures('UID:d\nDTSTART;VALUE=DATE:20300302\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;VALUE=DATE:20300303') == [
        (utc(2030, 3, 1, 23), utc(2030, 3, 2, 23), None), (utc(2030, 3, 3, 23), utc(2030, 3, 4, 23), None)]


def test_a_recurrence_id_replaces_its_occurrence():
    assert closures(
        'UID:r\nSUMMARY:Comité\nDTSTART:20300304T090000Z\nDTEND:20300304T100000Z\nRRULE:FREQ=WEEKLY;COUNT=3',
        'UID:r\nSUMMARY:Comité déplacé\nRECURRENCE-ID:20300311T090000Z\nDTSTART:20300312T140000Z\n'
        'DTEND:20300312T150000Z',
        'UID:r\nRECURRENCE-ID:20300318T090000Z\nSTATUS:CANCELLED\nDTSTART:20300318T090000Z\n'
        'DTEND:20300318T100000Z') == [
        (utc(2030, 3, 4, 9), utc(2030, 3, 4, 10), 'Comité'),
        (utc(2030, 3, 12, 14), utc(2030, 3, 12, 15), 'Comité déplacé')]


def test_too_many_occurrences_is_an_error_not_a_truncation():
    assert problems('UID:m\nSUMMARY:Chaque minute\nDTSTART:20300301T080000Z\nRRULE:FREQ=MINUTELY') == [
        'This file gives more than 5000 closures in the next 600 days.']
    # 599 days from March 2nd 2030 to October 21st 2031, at 09:00, 10:00... UTC.
    daily = [f'UID:{h}\nDTSTART:20300302T{h:02d}0000Z\nDURATION:PT30M\nRRULE:FREQ=DAILY' for h in range(9, 18)]
    assert len(closures(*daily[:8])) == 8 * 599
    assert problems(*daily) == ['This file gives more than 5000 closures in the next 600 days.']


@pytest.mark.serial  # a wall-clock bound
@pytest.mark.parametrize('start, rule', [
    ('20300304T090000', 'FREQ=SECONDLY;BYSETPOS=2'),  # one candidate per period: never a second one
    ('20300304T090000', 'FREQ=MINUTELY;BYSETPOS=2'),
    ('20300304T090000', 'FREQ=HOURLY;BYSETPOS=30'),
    ('20300304T090000', 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30'),  # no such date
    ('20300304T090000', 'FREQ=DAILY;INTERVAL=7;BYDAY=TU'),  # every 7 days from a Monday: never a Tuesday
    ('20300304T090000', 'FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=30'),
    ('20300304T090000', 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30'),
    ('20200106T090000', 'FREQ=MINUTELY'),  # ten years of minutes before the window
])
def test_a_rule_that_would_run_for_minutes_is_stopped(start, rule):
    began = clock.monotonic()
    assert problems(f'UID:1\nDTSTART:{start}\nRRULE:{rule}') == [
        'The recurrence rules of this file take too long to expand (more than 200000 steps): '
        'a rule that no date matches, or a very frequent one since long ago?']
    assert clock.monotonic() - began < 5  # dateutil alone: from seconds (DAILY) to days (SECONDLY)


@pytest.mark.parametrize('rule', ['FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'])
def test_an_empty_rule_that_ends_in_time_gives_dtstart_only(rule):
    # Up to the year 9999 fits in the budget for these frequencies: only DTSTART is closed.
    assert closures(f'UID:1\nDTSTART:20300304T090000Z\nDTEND:20300304T100000Z\nRRULE:{rule}') == [
        (utc(2030, 3, 4, 9), utc(2030, 3, 4, 10), None)]


def test_the_request_budget_is_shared_by_the_files():
    assert ics.Budget().left == 500_000
    budget = ics.Budget(2_500)
    # 1,001 hourly periods (the last one ends the count) and 4 reads of the masks: 2 to start, then
    # into April and into May.
    rule = 'UID:1\nDTSTART:20300330T000000Z\nDURATION:PT30M\nRRULE:FREQ=HOURLY;COUNT=1000'
    assert len(closures(rule, budget=budget)) == 1_000
    assert budget.left == 2_500 - 1_005
    assert len(closures(rule, budget=budget)) == 1_000
    assert problems(rule, budget=budget) == [
        'The recurrence rules of the ICS files of this request take too long to expand (more than 2500 steps in '
        'all): send fewer or simpler files.']


# ---- malformed files -----------------------------------------------------------------------

def test_malformed_files():
    assert problems(text='hello') == [
        "Not a valid iCalendar file: Content line could not be parsed into parts: 'hello': Invalid content line"]
    assert problems(text='BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20300101T000000Z\r\n') == [
        'Not a valid iCalendar file: no complete VCALENDAR (BEGIN:VCALENDAR ... END:VCALENDAR).']
    assert problems(text=calendar().replace('END:VCALENDAR', 'BEGIN:VTODO\r\nEND:VTODO\r\nEND:VCALENDAR')) == [
        'This iCalendar file has no event (VEVENT).']
    assert problems('UID:1\nSUMMARY:Sans date',
                    'UID:2\nSUMMARY:Mauvaise date\nDTSTART:2030-06-10',
                    'UID:3\nSUMMARY:A l\'envers\nDTSTART:20300610T100000Z\nDTEND:20300610T090000Z',
                    'UID:4\nDTSTART:20300610T100000Z\nRRULE:FREQ=SOMETIMES',
                    'UID:5\nSUMMARY:Heure\nDTSTART:20300610T100000Z\nRRULE:FREQ=DAILY;BYHOUR=99',
                    'UID:6\nDTSTART;VALUE=DATE:20300610\nRRULE:FREQ=MONTHLY;BYMONTH=5L',
                    'SUMMARY:Double\nDTSTART:20300610T100000Z\nDTSTART:20300611T100000Z',
                    'UID:8\nDTSTART:20300610T100000Z\nDTEND:20300610T110000Z\nDTSTAMP:yesterday') == [
        'Event "Sans date": it has no start (DTSTART).',
        'Event "Mauvaise date": its DTSTART cannot be read (Expected datetime, date, or time. Got: \'2030-06-10\').',
        'Event "A l\'envers": it ends before it starts.',
        'Event 4: its RRULE cannot be read (Expected frequency, got: SOMETIMES).',
        'Event "Heure": its recurrence rule (RRULE) is invalid: hour must be in 0..23',
        'Event 6: its recurrence rule (RRULE) has an unsupported BYMONTH.',
        'Event "Double": it has 2 DTSTART properties.']


# ---- the content of `ics_file` ---------------------------------------------------------------

def test_content_raw_or_base64():
    text = calendar('UID:1\nDTSTART;VALUE=DATE:20300610')
    assert ics.decode_content(f'\ufeff\n  {text}\n') == text.strip()
    assert ics.decode_content(base64.b64encode(text.encode()).decode()) == text.strip()
    wrapped = base64.encodebytes(('\ufeff' + text).encode()).decode()  # 76-character lines
    assert ics.decode_content(wrapped) == text.strip()
    accented = calendar('UID:1\nSUMMARY:Fermé\nDTSTART;VALUE=DATE:20300610')
    assert ics.decode_content(base64.b64encode(accented.encode('cp1252')).decode()) == accented.strip()
    for value in ('not base64!', base64.b64encode(b'hello').decode(), 12, None):
        with pytest.raises(ics.IcsError) as info:
            ics.decode_content(value)
        assert info.value.messages == [
            'Expected the content of an iCalendar file (BEGIN:VCALENDAR), as text or base64-encoded.']


def test_content_size_cap():
    event = 'UID:1\nDTSTART;VALUE=DATE:20300610\nDESCRIPTION:'
    head = calendar(event).strip()
    fitting = calendar(event + 'x' * (ics.MAX_ICS_BYTES - len(head.encode()))).strip()
    assert len(fitting.encode()) == 1_000_000
    assert ics.decode_content(fitting) == fitting
    over = calendar(event + 'x' * (ics.MAX_ICS_BYTES - len(head.encode()) + 1)).strip()
    for value in (over, base64.b64encode(over.encode()).decode(), 'x' * 2_000_001):
        with pytest.raises(ics.IcsError) as info:
            ics.decode_content(value)
        size = 2_000_001 if value.startswith('xxx') else 1_000_001
        assert info.value.messages == [f'The ICS file is too large: {size} bytes, at most 1000000.']


# ---- desks' exceptions_sources ---------------------------------------------------------------

HOLIDAYS = calendar('UID:mai\nSUMMARY:Fête du travail\nDTSTART;VALUE=DATE:20200501\nRRULE:FREQ=YEARLY',
                    'UID:vac\nSUMMARY:Vacances\nDTSTART;VALUE=DATE:20300414\nDTEND;VALUE=DATE:20300418')


def meetings(*sources, exceptions=()) -> dict:
    return {'label': 'Rdv', 'kind': 'meetings', 'desks': [
        {'label': 'G1', 'exceptions': list(exceptions), 'exceptions_sources': list(sources)}]}


def desk_of(document, **kw) -> DeskSpec:
    return read_agenda(document, PARIS, now=NOW, **kw).desks[0]


def test_a_desk_source_gives_closures_beside_those_entered_by_hand():
    desk = desk_of(meetings(
        {'ics_filename': 'feries.ics', 'ics_file': base64.b64encode(HOLIDAYS.encode()).decode()},
        {'ics_filename': 'distant.ics', 'ics_url': 'https://example.org/fermetures.ics', 'enabled': 'false'},
        {'ics_filename': 'vacances.ics', 'ics_file': HOLIDAYS, 'enabled': False},
        exceptions=[{'label': 'Férié', 'start_datetime': '2030-05-01 00:00', 'end_datetime': '2030-05-02 00:00'}]))
    assert desk.exceptions == (
        ExceptionSpec(utc(2030, 4, 13, 22), utc(2030, 4, 17, 22), 'Vacances', source=0),
        ExceptionSpec(utc(2030, 4, 30, 22), utc(2030, 5, 1, 22), 'Férié'),
        ExceptionSpec(utc(2030, 4, 30, 22), utc(2030, 5, 1, 22), 'Fête du travail', source=0),
        ExceptionSpec(utc(2031, 4, 30, 22), utc(2031, 5, 1, 22), 'Fête du travail', source=0))
    assert desk.exceptions_sources == (
        ExceptionsSourceSpec('feries.ics', pack_ics(HOLIDAYS.strip())),
        ExceptionsSourceSpec('distant.ics', None, 'https://example.org/fermetures.ics', enabled=False),
        ExceptionsSourceSpec('vacances.ics', pack_ics(HOLIDAYS.strip()), enabled=False))
    exported = desk.export(PARIS)
    assert exported['exceptions'] == [
        {'label': 'Férié', 'start_datetime': '2030-05-01 00:00:00', 'end_datetime': '2030-05-02 00:00:00'}]
    b64 = base64.b64encode(HOLIDAYS.strip().encode()).decode()
    assert exported['exceptions_sources'] == [
        {'ics_filename': 'feries.ics', 'ics_file': b64, 'ics_url': None, 'enabled': True},
        {'ics_filename': 'distant.ics', 'ics_file': None, 'ics_url': 'https://example.org/fermetures.ics',
         'enabled': False, 'last_fetch': None, 'last_attempt': None, 'last_error': None},  # a fetched source's status
        {'ics_filename': 'vacances.ics', 'ics_file': b64, 'ics_url': None, 'enabled': False}]
    assert desk_of({'label': 'Rdv', 'kind': 'meetings', 'desks': [exported]}) == desk
    assert unpack_ics(desk.exceptions_sources[0].ics_packed) == HOLIDAYS.strip()


def test_errors_of_sources_are_reported_at_their_path():
    with pytest.raises(InvalidPayload) as info:
        read_agenda(meetings({'ics_filename': 'a.ics', 'ics_file': calendar('UID:1\nSUMMARY:X\nDTEND:20300101')},
                             {'ics_url': 'ftp://example.org/a.ics'}, {'ics_filename': 'vide.ics'}, 'x',
                             {'ics_file': 'bm9wZQ=='}), PARIS, now=NOW)
    assert info.value.errors == {
        'desks.0.exceptions_sources.0.ics_file': ['Event "X": it has no start (DTSTART).'],
        'desks.0.exceptions_sources.1.ics_url': ['Enter a valid URL (http or https).'],
        'desks.0.exceptions_sources.2.ics_file': ['Give the content of an ICS file (ics_file) or its URL (ics_url).'],
        'desks.0.exceptions_sources.3': ['Expected a JSON object.'],
        'desks.0.exceptions_sources.4.ics_file': [
            'Expected the content of an iCalendar file (BEGIN:VCALENDAR), as text or base64-encoded.']}
    with pytest.raises(InvalidPayload) as info:
        read_agenda(meetings(*[{'ics_url': 'https://example.org/a.ics'}] * 21), PARIS, now=NOW)
    assert info.value.errors == {'desks.0.exceptions_sources': ['Ensure this list has no more than 20 items.']}


def test_a_desk_keeps_at_most_2000_closures_from_its_sources():
    hourly = calendar('UID:1\nDTSTART:20300302T120000Z\nDURATION:PT30M\nRRULE:FREQ=HOURLY;COUNT=1000')
    assert len(desk_of(meetings(*[{'ics_file': hourly}] * 2)).exceptions) == 2000
    with pytest.raises(InvalidPayload) as info:
        read_agenda(meetings(*[{'ics_file': hourly}] * 2, {'ics_file': calendar('UID:2\nDTSTART;VALUE=DATE:20300601')}),
                    PARIS, now=NOW)
    assert info.value.errors == {'desks.0.exceptions_sources': [
        'These ICS files give 2001 closures in the next 600 days; a desk keeps at most 2000.']}


# zlib at level 9, then base64, of the file below: random bytes in base64 do not shrink.
PACKED_NOISE = 161_764


def test_a_desk_keeps_at_most_300_kb_of_compressed_ics():
    noise = base64.b64encode(random.Random(0).randbytes(120_000)).decode()  # 160,000 characters that zlib cannot pack
    file = calendar(f'UID:1\nDTSTART;VALUE=DATE:20300601\nDESCRIPTION:{noise}')
    assert len(desk_of(meetings({'ics_file': file})).exceptions_sources[0].ics_packed) == PACKED_NOISE
    with pytest.raises(InvalidPayload) as info:
        read_agenda(meetings({'ics_file': file}, {'ics_file': file}), PARIS, now=NOW)
    assert info.value.errors == {'desks.0.exceptions_sources': [
        f'These ICS files take {2 * PACKED_NOISE} bytes once compressed; a desk keeps at most 300000.']}


def test_transactions_are_bounded_in_items_and_bytes():
    ops = [Operation(apply=None, size=size) for size in [10] * 150 + [1_500_000] * 3 + [10]]
    assert [len(group) for group in batches(ops)] == [100, 51, 2, 1]
    assert [sum(op.size for op in group) for group in batches(ops)] == [1000, 1_500_500, 3_000_000, 10]
