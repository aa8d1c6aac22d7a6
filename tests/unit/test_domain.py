"""Domain rules without I/O: places (chrono-api.md §7.1), the booking window (§9.1), French
holidays, agenda documents (§2, §11.1), agenda and event items (§4.1, §7.1), shrink checks (§7.4)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.agenda_reader import read_agenda
from chalicelib.domain.closures import ExceptionSpec
from chalicelib.domain.specs import AgendaSpec, DeskSpec, EventSpec, ExcludedPeriodSpec, MeetingTypeSpec, slugify, TimePeriodSpec
from chalicelib.domain.event_rules import EventRecord, is_bookable, shrink_problem
from chalicelib.web.render import agenda_item, event_item
from chalicelib.domain.places import Places
from chalicelib.domain.window import Window, add_days, booking_window, french_holidays, is_working_day
from chalicelib.errors import InvalidPayload
from chalicelib.web.api import status_of  # the edge gives each kind of error its HTTP status

PARIS = ZoneInfo('Europe/Paris')
UTC = timezone.utc
BASE = 'https://agendas.example.org'


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def agenda(**kw) -> AgendaSpec:
    return AgendaSpec(**{'slug': 'piscine', 'label': 'Piscine', 'kind': 'events', **kw})


# ---- Places (§7.1) ------------------------------------------------------------------------------

@pytest.mark.parametrize('places, expected', [
    (Places(10, 3), {'total': 10, 'reserved': 3, 'available': 7, 'full': False, 'has_waiting_list': False}),
    (Places(3, 3), {'total': 3, 'reserved': 3, 'available': 0, 'full': True, 'has_waiting_list': False}),
    (Places(3, 5), {'total': 3, 'reserved': 5, 'available': 0, 'full': True, 'has_waiting_list': False}),
    (Places(3, 0), {'total': 3, 'reserved': 0, 'available': 3, 'full': False, 'has_waiting_list': False}),
    # Main list has room, nobody waiting: the next booking goes to the main list.
    (Places(30, 5, 10, 0), {'total': 30, 'reserved': 5, 'available': 25, 'full': False, 'has_waiting_list': True,
                            'waiting_list_total': 10, 'waiting_list_reserved': 0, 'waiting_list_available': 10,
                            'waiting_list_activated': False}),
    # Someone is already waiting: the waiting list is activated even with free main places.
    (Places(30, 5, 10, 2), {'total': 30, 'reserved': 5, 'available': 25, 'full': False, 'has_waiting_list': True,
                            'waiting_list_total': 10, 'waiting_list_reserved': 2, 'waiting_list_available': 8,
                            'waiting_list_activated': True}),
    # Main list full, waiting list empty: activated, not full.
    (Places(3, 3, 2, 0), {'total': 3, 'reserved': 3, 'available': 0, 'full': False, 'has_waiting_list': True,
                          'waiting_list_total': 2, 'waiting_list_reserved': 0, 'waiting_list_available': 2,
                          'waiting_list_activated': True}),
    # Both lists full.
    (Places(3, 3, 2, 2), {'total': 3, 'reserved': 3, 'available': 0, 'full': True, 'has_waiting_list': True,
                          'waiting_list_total': 2, 'waiting_list_reserved': 2, 'waiting_list_available': 0,
                          'waiting_list_activated': True}),
    # Over-booked waiting list (places reduced by hand): never negative.
    (Places(3, 3, 2, 4), {'total': 3, 'reserved': 3, 'available': 0, 'full': True, 'has_waiting_list': True,
                          'waiting_list_total': 2, 'waiting_list_reserved': 4, 'waiting_list_available': 0,
                          'waiting_list_activated': True}),
    # Waiting list full while main list has room (people waiting): not full, activated.
    (Places(5, 2, 1, 1), {'total': 5, 'reserved': 2, 'available': 3, 'full': False, 'has_waiting_list': True,
                          'waiting_list_total': 1, 'waiting_list_reserved': 1, 'waiting_list_available': 0,
                          'waiting_list_activated': True}),
])
def test_places_as_dict(places, expected):
    assert places.as_dict() == expected
    assert places.available == expected['available']
    assert places.full is expected['full']
    assert places.has_waiting_list is expected['has_waiting_list']


def test_places_without_waiting_list_properties():
    places = Places(10, 4)
    assert (places.waiting_list_available, places.waiting_list_activated) == (0, False)
    assert Places(0, 0).full is True
    assert Places(0, 0, 0, 0).as_dict() == {'total': 0, 'reserved': 0, 'available': 0, 'full': True,
                                            'has_waiting_list': False}


# ---- French holidays and working days ----------------------------------------------------------

def test_french_holidays_2026():
    assert french_holidays(2026) == frozenset({
        date(2026, 1, 1), date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 8), date(2026, 5, 14),
        date(2026, 5, 25), date(2026, 7, 14), date(2026, 8, 15), date(2026, 11, 1), date(2026, 11, 11),
        date(2026, 12, 25)})
    assert len(french_holidays(2026)) == 11


@pytest.mark.parametrize('year, easter_monday, ascension, whit_monday', [
    (2024, date(2024, 4, 1), date(2024, 5, 9), date(2024, 5, 20)),
    (2025, date(2025, 4, 21), date(2025, 5, 29), date(2025, 6, 9)),
    (2027, date(2027, 3, 29), date(2027, 5, 6), date(2027, 5, 17)),
    (2038, date(2038, 4, 26), date(2038, 6, 3), date(2038, 6, 14)),
])
def test_movable_holidays(year, easter_monday, ascension, whit_monday):
    movable = french_holidays(year) - {date(year, m, d) for m, d in
                                       [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]}
    assert movable == {easter_monday, ascension, whit_monday}


def test_working_days():
    assert [is_working_day(date(2026, 6, d)) for d in range(12, 16)] == [True, False, False, True]
    assert is_working_day(date(2026, 5, 14)) is False  # Ascension, a Thursday
    assert is_working_day(date(2026, 7, 14)) is False
    assert add_days(date(2026, 6, 12), 1, working_days=True) == date(2026, 6, 15)
    assert add_days(date(2026, 6, 12), 1, working_days=False) == date(2026, 6, 13)
    assert add_days(date(2026, 6, 13), 1, working_days=True) == date(2026, 6, 15)  # from a Saturday
    assert add_days(date(2026, 5, 22), 1, working_days=True) == date(2026, 5, 26)  # weekend + Whit Monday
    assert add_days(date(2026, 12, 31), 1, working_days=True) == date(2027, 1, 4)  # New Year, then weekend
    assert add_days(date(2026, 6, 12), 0, working_days=True) == date(2026, 6, 12)


# ---- booking window (§9.1) ---------------------------------------------------------------------

NOW = utc(2026, 6, 10, 8, 0)  # Wednesday 10:00 in Paris


def test_window_minimal_delay_zero_starts_now():
    window = booking_window(agenda(minimal_booking_delay=0), NOW, PARIS)
    assert window == Window(start=NOW, end=utc(2026, 8, 4, 22, 0))
    assert booking_window(agenda(minimal_booking_delay=None), NOW, PARIS).start == NOW


def test_window_minimal_delay_one_starts_at_local_midnight_tomorrow():
    window = booking_window(agenda(), NOW, PARIS)
    assert window.start == utc(2026, 6, 10, 22, 0)
    assert window.start.astimezone(PARIS).replace(tzinfo=None) == datetime(2026, 6, 11, 0, 0)
    assert window.end == utc(2026, 8, 4, 22, 0)  # today + 56 days, local midnight
    assert window.contains(utc(2026, 6, 10, 22, 0)) is True
    assert window.contains(utc(2026, 6, 10, 21, 59)) is False
    assert window.contains(utc(2026, 8, 4, 21, 59)) is True
    assert window.contains(utc(2026, 8, 4, 22, 0)) is False


@pytest.mark.parametrize('now, delay, working, start', [
    (utc(2026, 6, 12, 8, 0), 1, False, paris(2026, 6, 13)),  # Friday → Saturday
    (utc(2026, 6, 12, 8, 0), 1, True, paris(2026, 6, 15)),  # Friday → Monday
    (utc(2026, 6, 12, 8, 0), 2, True, paris(2026, 6, 16)),
    (utc(2026, 6, 13, 8, 0), 1, True, paris(2026, 6, 15)),  # Saturday → Monday
    (utc(2026, 5, 22, 8, 0), 1, True, paris(2026, 5, 26)),  # Friday, weekend, Whit Monday → Tuesday
    (utc(2026, 5, 22, 8, 0), 1, False, paris(2026, 5, 23)),
    (utc(2026, 5, 13, 8, 0), 1, True, paris(2026, 5, 15)),  # Wednesday, Ascension Thursday → Friday
    (utc(2026, 12, 24, 8, 0), 1, True, paris(2026, 12, 28)),  # Christmas Friday, weekend → Monday (winter time)
])
def test_window_minimal_delay_in_working_days(now, delay, working, start):
    window = booking_window(agenda(minimal_booking_delay=delay, minimal_booking_delay_in_working_days=working,
                                   maximal_booking_delay=None), now, PARIS)
    assert window == Window(start=start, end=None)


def test_window_christmas_start_is_in_winter_time():
    window = booking_window(agenda(minimal_booking_delay_in_working_days=True), utc(2026, 12, 24, 8, 0), PARIS)
    assert window.start == utc(2026, 12, 27, 23, 0)


@pytest.mark.parametrize('maximal, end', [
    (7, utc(2026, 6, 16, 22, 0)),
    (1, utc(2026, 6, 10, 22, 0)),
    (0, utc(2026, 6, 9, 22, 0)),
    (None, None),
])
def test_window_maximal_delay(maximal, end):
    window = booking_window(agenda(minimal_booking_delay=0, maximal_booking_delay=maximal), NOW, PARIS)
    assert window == Window(start=NOW, end=end)


def test_window_maximal_delay_counts_calendar_days_even_with_working_days():
    window = booking_window(agenda(minimal_booking_delay=1, minimal_booking_delay_in_working_days=True,
                                   maximal_booking_delay=3), utc(2026, 6, 12, 8, 0), PARIS)
    assert window == Window(start=paris(2026, 6, 15), end=paris(2026, 6, 15))
    assert window.contains(paris(2026, 6, 15, 10)) is False


@pytest.mark.parametrize('local_now, start, end', [
    # Before 08:00, "today" is still yesterday (June 9).
    (paris(2026, 6, 10, 7, 30), paris(2026, 6, 11), paris(2026, 6, 16)),
    (paris(2026, 6, 10, 7, 59, 59), paris(2026, 6, 11), paris(2026, 6, 16)),
    # From 08:00, today is June 10.
    (paris(2026, 6, 10, 8, 0), paris(2026, 6, 12), paris(2026, 6, 17)),
    (paris(2026, 6, 10, 8, 30), paris(2026, 6, 12), paris(2026, 6, 17)),
])
def test_window_minimal_booking_time_shifts_the_day(local_now, start, end):
    spec = agenda(minimal_booking_delay=2, maximal_booking_delay=7, minimal_booking_time=time(8, 0))
    assert booking_window(spec, local_now.astimezone(UTC), PARIS) == Window(start=start, end=end)


def test_window_minimal_booking_time_never_starts_before_now():
    spec = agenda(minimal_booking_delay=1, maximal_booking_delay=7, minimal_booking_time=time(8, 0))
    now = paris(2026, 6, 10, 7, 30).astimezone(UTC)
    assert booking_window(spec, now, PARIS) == Window(start=now, end=paris(2026, 6, 16))


def test_window_without_minimal_booking_time_moves_at_midnight():
    spec = agenda(minimal_booking_delay=2, maximal_booking_delay=7, minimal_booking_time=None)
    now = paris(2026, 6, 10, 0, 30).astimezone(UTC)
    assert booking_window(spec, now, PARIS) == Window(start=paris(2026, 6, 12), end=paris(2026, 6, 17))


def test_window_across_the_spring_dst_change():
    now = paris(2026, 3, 28, 12, 0).astimezone(UTC)  # Saturday, the night before the change
    assert now == utc(2026, 3, 28, 11, 0)
    window = booking_window(agenda(minimal_booking_delay=1, maximal_booking_delay=2), now, PARIS)
    assert window.start == utc(2026, 3, 28, 23, 0)  # Sunday 00:00, still +01:00
    assert window.end == utc(2026, 3, 29, 22, 0)  # Monday 00:00, already +02:00
    assert window.start.utcoffset() == timedelta(hours=1)
    assert window.end.utcoffset() == timedelta(hours=2)
    assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=23)
    assert window.contains(utc(2026, 3, 29, 1, 30)) is True  # 03:30 summer time
    assert window.contains(utc(2026, 3, 29, 21, 59)) is True
    assert window.contains(utc(2026, 3, 29, 22, 0)) is False
    assert window.contains(utc(2026, 3, 28, 22, 59)) is False


def test_window_delay_counted_over_the_spring_dst_change():
    now = paris(2026, 3, 27, 12, 0).astimezone(UTC)  # Friday, winter time
    window = booking_window(agenda(minimal_booking_delay=3, maximal_booking_delay=10), now, PARIS)
    assert window.start == utc(2026, 3, 29, 22, 0)  # Monday 30 00:00 +02:00
    assert window.end == utc(2026, 4, 5, 22, 0)


# ---- agenda documents --------------------------------------------------------------------------

EVENTS_DOC = {
    'label': 'Piscine municipale', 'kind': 'events', 'category': 'sport',
    'minimal_booking_delay': '2', 'minimal_booking_delay_in_working_days': 'True', 'maximal_booking_delay': '30',
    'minimal_booking_time': '08:00', 'minimal_cancellation_delay': '', 'anonymize_delay': None,
    'permissions': {'view': 'Lecteurs', 'edit': 'Agents', 'admin': None}, 'partial_bookings': 'off',
    'absence_reasons': [{'label': 'Malade'}, {'slug': 'autre', 'text': 'Autre raison'}],
    'events': [
        {'slug': 'natation-2', 'start_datetime': '2026-07-02 10:00', 'places': '10', 'waiting_list_places': '',
         'label': 'Natation', 'duration': '45', 'cancelled': 'false'},
        {'slug': 'natation-1', 'start_datetime': '2026-07-01T08:00:00Z', 'places': 5,
         'recurrence_days': '0,2', 'recurrence_week_interval': '1', 'recurrence_end_date': '2026-08-31',
         'publication_datetime': '2026-06-01 00:00', 'description': 'Bassin', 'pricing': '3 €'},
    ],
}


def test_read_events_agenda():
    spec = read_agenda(EVENTS_DOC, PARIS, categories={'sport': 'Sport'}, now=NOW)
    assert spec == AgendaSpec(
        slug='piscine-municipale', label='Piscine municipale', kind='events', category='sport',
        category_label='Sport', minimal_booking_delay=2, minimal_booking_delay_in_working_days=True,
        maximal_booking_delay=30, minimal_booking_time=time(8, 0), minimal_cancellation_delay=None,
        anonymize_delay=None, admin_role=None, edit_role='Agents', view_role='Lecteurs', partial_bookings=False,
        absence_reasons=(('malade', 'Malade'), ('autre', 'Autre raison')),
        events=(
            EventSpec(slug='natation-1', start=utc(2026, 7, 1, 8, 0), places=5, waiting_list_places=0,
                      recurrence_days=(0, 2), recurrence_week_interval=1, recurrence_end_date='2026-08-31',
                      publication_datetime=utc(2026, 5, 31, 22, 0), description='Bassin', pricing='3 €'),
            EventSpec(slug='natation-2', start=utc(2026, 7, 2, 8, 0), places=10, waiting_list_places=0,
                      label='Natation', duration=45, cancelled=False),
        ))


def test_read_agenda_defaults():
    spec = read_agenda({'label': 'Été à la piscine !'}, PARIS, now=NOW)
    assert spec == AgendaSpec(slug='ete-a-la-piscine', label='Été à la piscine !', kind='events',
                              minimal_booking_delay=1, maximal_booking_delay=56, minimal_booking_time=time(0, 0))
    assert read_agenda({'label': 'X', 'category': 'sport'}, PARIS, now=NOW).category_label == 'sport'
    assert read_agenda({'label': 'X', 'category': 'sport', 'category_label': 'Sports'}, PARIS,
                       categories={'sport': 'Sport'}, now=NOW).category_label == 'Sports'


def test_read_agenda_explicit_nulls_keep_null_delays():
    spec = read_agenda({'label': 'X', 'minimal_booking_delay': None, 'maximal_booking_delay': '',
                        'minimal_booking_time': None}, PARIS, now=NOW)
    assert (spec.minimal_booking_delay, spec.maximal_booking_delay, spec.minimal_booking_time) == (None, None, None)


MEETINGS_DOC = {
    'label': 'Rendez-vous passeport', 'slug': 'rdv-passeport', 'kind': 'meetings', 'free_range': 'true',
    'resources': 'salle-a,salle-b',
    'meetingtypes': [{'label': 'Dépôt', 'duration': '15'}, {'slug': 'retrait', 'label': 'Retrait', 'duration': 10}],
    'desks': [{
        'label': 'Guichet 1', 'unavailability_calendars': ['conges'],
        'timeperiods': [{'weekday': '0', 'start_time': '09:00', 'end_time': '12:00:00'},
                        {'weekday': 2, 'weekday_indexes': '3,1', 'start_time': '14:00', 'end_time': '17:00'},
                        {'date': '2026-07-01', 'start_time': '09:00', 'end_time': '10:00'}],
        'exceptions': [{'label': 'Férié', 'start_datetime': '2026-07-14 00:00', 'end_datetime': '2026-07-15 00:00'},
                       {'start_datetime': '2026-05-01 00:00', 'end_datetime': '2026-05-01 23:59'}],
    }],
}


def test_read_meetings_agenda():
    spec = read_agenda(MEETINGS_DOC, PARIS, now=NOW)
    assert spec == AgendaSpec(
        slug='rdv-passeport', label='Rendez-vous passeport', kind='meetings', free_range=True,
        resources=('salle-a', 'salle-b'),
        meetingtypes=(MeetingTypeSpec('depot', 'Dépôt', 15), MeetingTypeSpec('retrait', 'Retrait', 10)),
        desks=(DeskSpec(
            slug='guichet-1', label='Guichet 1', unavailability_calendars=('conges',),
            timeperiods=(TimePeriodSpec(time(9), time(12), weekday=0),
                         TimePeriodSpec(time(14), time(17), weekday=2, weekday_indexes=(1, 3)),
                         TimePeriodSpec(time(9), time(10), date='2026-07-01')),
            exceptions=(ExceptionSpec(utc(2026, 4, 30, 22, 0), utc(2026, 5, 1, 21, 59)),
                        ExceptionSpec(utc(2026, 7, 13, 22, 0), utc(2026, 7, 14, 22, 0), label='Férié'))),))


def test_read_virtual_agenda():
    spec = read_agenda({'label': 'Tous les guichets', 'kind': 'virtual',
                        'real_agendas': [{'slug': 'mairie-a', 'kind': 'meetings'}, 'mairie-b', 'mairie-a'],
                        'excluded_timeperiods': [{'weekday': '0', 'start_time': '12:00', 'end_time': '14:00'}]},
                       PARIS, now=NOW)
    assert spec == AgendaSpec(slug='tous-les-guichets', label='Tous les guichets', kind='virtual',
                              real_agendas=('mairie-a', 'mairie-b'),
                              excluded_timeperiods=(ExcludedPeriodSpec(0, time(12), time(14)),))


def errors_of(data, **kw) -> dict[str, list[str]]:
    with pytest.raises(InvalidPayload) as info:
        read_agenda(data, PARIS, **kw, now=NOW)
    assert status_of(info.value) == 400
    assert info.value.body()['errors'] == info.value.errors
    return info.value.errors


def test_invalid_events_agenda_errors_use_dotted_paths():
    assert errors_of({'label': 'Piscine', 'kind': 'events', 'events': [
        {'start_datetime': '2026-05-01 10:00', 'places': '0', 'slug': 'a'},
        {'slug': 'b', 'places': 2},
        'x',
        {'slug': 'c', 'places': 'deux', 'start_datetime': '2026-03-29 02:30', 'recurrence_days': '1,9'},
    ]}) == {
        'events.0.places': ['Ensure this value is greater than or equal to 1.'],
        'events.1.start_datetime': ['This field is required.'],
        'events.2': ['Expected a JSON object.'],
        'events.3.start_datetime': ['2026-03-29 02:30 does not exist in Europe/Paris (daylight saving time change).'],
        'events.3.places': ['A valid integer is required.'],
        'events.3.recurrence_days': ['Expected weekday numbers from 0 (Monday) to 6.'],
    }


def test_invalid_agenda_settings():
    assert errors_of({'label': '', 'kind': 'foo', 'minimal_booking_delay': 'x', 'maximal_booking_delay': -1,
                      'permissions': {'view': []}, 'events': 'nope'}) == {
        'label': ['This field is required.'],
        'kind': ['"foo" is not a valid choice.'],
        'permissions.view': ['Not a valid string.'],
        'minimal_booking_delay': ['A valid integer is required.'],
        'maximal_booking_delay': ['Ensure this value is greater than or equal to 0.'],
    }
    assert errors_of({'label': 'x', 'events': 'nope'}) == {'events': ['Expected a list of items.']}
    assert errors_of({'label': '!!!'}) == {'slug': ['A slug cannot be derived from this label; give one.']}
    assert errors_of('x') == {'non_field_errors': ['Expected a JSON object.']}
    assert errors_of([], path='agendas.0') == {'agendas.0': ['Expected a JSON object.']}
    assert errors_of({'label': 'x', 'permissions': 'admin'}) == {'permissions': ['Expected a JSON object.']}
    assert errors_of({'label': 'x', 'absence_reasons': [{'text': 'Malade'}, {'label': '!!'}, 'x']}) == {
        'absence_reasons.1.label': ['This field is required.'],
        'absence_reasons.2': ['Expected a JSON object.'],
    }


def test_invalid_agenda_nested_in_an_import_document():
    assert errors_of({'label': 'P', 'events': [{'slug': 'e', 'places': 1}]}, path='agendas.3') == {
        'agendas.3.events.0.start_datetime': ['This field is required.']}


def test_duplicate_event_slugs():
    assert errors_of({'label': 'P', 'events': [
        {'slug': 'a', 'places': 1, 'start_datetime': '2026-05-01 10:00'},
        {'slug': 'a', 'places': 1, 'start_datetime': '2026-05-02 10:00'}]}) == {
        'events.1.slug': ['Duplicate slug "a".']}


def test_duplicate_slug_error_points_at_the_duplicate_after_an_invalid_item():
    """The duplicate is events.2; the path is computed from the list of *valid* events, so it says events.1."""
    assert errors_of({'label': 'P', 'events': [
        {'slug': 'x', 'places': 0, 'start_datetime': '2026-05-01 10:00'},
        {'slug': 'a', 'places': 1, 'start_datetime': '2026-05-01 10:00'},
        {'slug': 'a', 'places': 1, 'start_datetime': '2026-05-02 10:00'}]}) == {
        'events.0.places': ['Ensure this value is greater than or equal to 1.'],
        'events.2.slug': ['Duplicate slug "a".'],
    }


def test_invalid_meetings_agenda():
    assert errors_of({'label': 'R', 'kind': 'meetings',
                      'meetingtypes': [{'label': 'A', 'duration': 'x'}, {'duration': 10}],
                      'desks': [{'label': 'D',
                                 'timeperiods': [{'start_time': '10:00', 'end_time': '09:00'},
                                                 {'weekday': 7, 'start_time': '10:00', 'end_time': '11:00',
                                                  'weekday_indexes': [0]}],
                                 'exceptions': [{'start_datetime': '2026-03-29 02:30',
                                                 'end_datetime': '2026-03-29 05:00'},
                                                {'start_datetime': '2026-05-02 10:00',
                                                 'end_datetime': '2026-05-02 09:00'}]},
                                {'label': 'D'}]}) == {
        'meetingtypes.0.duration': ['A valid integer is required.'],
        'meetingtypes.1.label': ['This field is required.'],
        'desks.0.timeperiods.0.weekday': ['A weekday or a date is required.'],
        'desks.0.timeperiods.0.end_time': ['End time must be after start time.'],
        'desks.0.timeperiods.1.weekday': ['Ensure this value is less than or equal to 6.'],
        'desks.0.timeperiods.1.weekday_indexes': ['Expected week numbers in the month, from 1 to 5.'],
        'desks.0.exceptions.0.start_datetime': [
            '2026-03-29 02:30 does not exist in Europe/Paris (daylight saving time change).'],
        'desks.0.exceptions.1.end_datetime': ['End must be after start.'],
        'desks.1.slug': ['Duplicate slug "d".'],
    }


def test_meeting_type_or_desk_without_a_usable_slug_is_refused_not_dropped():
    """A label that slugifies to nothing, with no slug: the agenda itself gets an error, a meeting
    type or a desk is silently left out of the spec (the import "succeeds" without them)."""
    errors = errors_of({'label': 'R', 'kind': 'meetings', 'meetingtypes': [{'label': '!!!', 'duration': 30}],
                        'desks': [{'label': '???'}]})
    assert set(errors) == {'meetingtypes.0.slug', 'desks.0.slug'}


def test_invalid_virtual_agenda():
    assert errors_of({'label': 'V', 'kind': 'virtual', 'real_agendas': [{'slug': 'a b'}, 'ok', 3],
                      'excluded_timeperiods': [{'weekday': 7, 'start_time': '12:00', 'end_time': '13:00'},
                                               {'weekday': 1, 'start_time': '14:00', 'end_time': '13:00'}]}) == {
        'real_agendas.0': ['Expected a meetings agenda slug.'],
        'real_agendas.2': ['Expected a meetings agenda slug.'],
        'excluded_timeperiods.0.weekday': ['Ensure this value is less than or equal to 6.'],
        'excluded_timeperiods.1.end_time': ['End time must be after start time.'],
    }


# ---- export → read round trip --------------------------------------------------------------------

FULL_EVENTS = AgendaSpec(
    slug='piscine', label='Piscine', kind='events', category='sport', category_label='Sport',
    minimal_booking_delay=2, minimal_booking_delay_in_working_days=True, maximal_booking_delay=30,
    minimal_booking_time=time(8, 0), minimal_cancellation_delay=1, minimal_cancellation_delay_in_working_days=True,
    anonymize_delay=90, admin_role='Admins', edit_role='Agents', view_role='Lecteurs', events_type='cours',
    booking_form_url='https://wcs.example.org/reserver/', partial_bookings=True,
    absence_reasons=(('malade', 'Malade'), ('absent', 'Absent')),
    events=(
        EventSpec(slug='hiver', start=utc(2026, 1, 15, 9, 0), places=10),
        EventSpec(slug='primaire', start=utc(2026, 3, 29, 1, 0), places=5, waiting_list_places=2,
                  recurrence_days=(1, 3), recurrence_week_interval=2, recurrence_end_date='2026-06-30'),
        EventSpec(slug='ete', start=utc(2026, 7, 1, 8, 0), places=20, label='Été', duration=90,
                  waiting_list_places=5, publication_datetime=utc(2026, 6, 1, 6, 30, 15), description='Bassin',
                  pricing='3 €', url='https://example.org/ete', cancelled=True, recurrence_days=(),
                  primary_event='primaire'),
    ))
FULL_MEETINGS = AgendaSpec(
    slug='rdv', label='Rendez-vous', kind='meetings', minimal_booking_delay=0, maximal_booking_delay=None,
    minimal_booking_time=None, free_range=True, resources=('salle-a',),
    meetingtypes=(MeetingTypeSpec('rdv-30', 'RDV 30 min', 30), MeetingTypeSpec('rdv-15', 'RDV 15 min', 15)),
    desks=(DeskSpec('guichet-1', 'Guichet 1',
                    timeperiods=(TimePeriodSpec(time(9), time(12), weekday=0),
                                 TimePeriodSpec(time(14), time(17, 30), weekday=2, weekday_indexes=(1, 3)),
                                 TimePeriodSpec(time(9), time(10), date='2026-07-01')),
                    exceptions=(ExceptionSpec(utc(2026, 5, 1, 6, 0), utc(2026, 5, 1, 16, 0)),
                                ExceptionSpec(utc(2026, 7, 13, 22, 0), utc(2026, 7, 14, 22, 0), label='Férié')),
                    unavailability_calendars=('conges', 'feries')),
           DeskSpec('guichet-2', 'Guichet 2')))
FULL_VIRTUAL = AgendaSpec(
    slug='tous', label='Tous', kind='virtual', real_agendas=('rdv', 'rdv-bis'),
    excluded_timeperiods=(ExcludedPeriodSpec(0, time(12), time(14)), ExcludedPeriodSpec(4, time(16), time(18))))


@pytest.mark.parametrize('spec', [FULL_EVENTS, FULL_MEETINGS, FULL_VIRTUAL, agenda()],
                         ids=['events', 'meetings', 'virtual', 'defaults'])
def test_export_then_read_is_the_same_spec(spec):
    exported = spec.export(PARIS)
    again = read_agenda(exported, PARIS, categories={'sport': 'Sport'}, now=NOW)
    assert again == spec
    assert again.export(PARIS) == exported


def test_export_shape_of_an_event():
    assert FULL_EVENTS.export(PARIS)['events'][2] == {
        'slug': 'ete', 'label': 'Été', 'start_datetime': '2026-07-01 10:00:00', 'duration': 90, 'places': 20,
        'waiting_list_places': 5, 'publication_datetime': '2026-06-01 08:30:15', 'description': 'Bassin',
        'pricing': '3 €', 'url': 'https://example.org/ete', 'cancelled': True, 'recurrence_days': [],
        'recurrence_week_interval': None, 'recurrence_end_date': None, 'primary_event': 'primaire'}
    assert FULL_EVENTS.export(PARIS)['events'][1]['start_datetime'] == '2026-03-29 03:00:00'


def test_export_keys_per_kind():
    common = {'label', 'slug', 'kind', 'category', 'category_label', 'minimal_booking_delay',
              'minimal_booking_delay_in_working_days',
              'maximal_booking_delay', 'minimal_booking_time', 'minimal_cancellation_delay',
              'minimal_cancellation_delay_in_working_days', 'anonymize_delay', 'permissions', 'events_type',
              'booking_form_url', 'absence_reasons'}
    assert set(FULL_EVENTS.export(PARIS)) == common | {'partial_bookings', 'events'}
    assert set(FULL_MEETINGS.export(PARIS)) == common | {'free_range', 'resources', 'meetingtypes', 'desks'}
    assert set(FULL_VIRTUAL.export(PARIS)) == common | {'real_agendas', 'excluded_timeperiods'}
    assert FULL_VIRTUAL.export(PARIS)['real_agendas'] == [{'slug': 'rdv', 'kind': 'meetings'},
                                                          {'slug': 'rdv-bis', 'kind': 'meetings'}]
    assert FULL_EVENTS.export(PARIS)['permissions'] == {'view': 'Lecteurs', 'edit': 'Agents', 'admin': 'Admins'}


def test_round_trip_of_an_event_in_the_autumn_ambiguous_hour():
    """02:30 on 2026-10-25 (first occurrence, 00:30 UTC) exports as "2026-10-25 02:30:00" and reads
    back as the same instant, but the re-read spec is != the stored one (see test_parsing), so a
    re-import of an unchanged export counts the agenda as updated."""
    spec = agenda(events=(EventSpec(slug='nuit', start=utc(2026, 10, 25, 0, 30), places=1),))
    exported = spec.export(PARIS)
    assert exported['events'][0]['start_datetime'] == '2026-10-25 02:30:00'
    again = read_agenda(exported, PARIS, now=NOW)
    assert again.events[0].start.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert again == spec


def test_slugify():
    assert slugify('Été à la piscine !') == 'ete-a-la-piscine'
    assert slugify('  RDV  Passeport / CNI ') == 'rdv-passeport-cni'
    assert slugify('!!!') == ''
    assert len(slugify('a' * 300)) == 160


# ---- agenda items (§4.1, §12) -------------------------------------------------------------------

def api_urls(item) -> list[str]:
    return list(item['api'].values())


def check_urls(item, slug):
    for url in api_urls(item):
        assert url.startswith(f'{BASE}/api/agenda/{slug}/')
        assert url.endswith('/')
        assert '[' not in url and ']' not in url
        assert '//' not in url[len('https://'):]


def test_events_agenda_item():
    item = agenda_item(FULL_EVENTS, BASE)
    assert item == {
        'id': 'piscine', 'slug': 'piscine', 'text': 'Piscine', 'kind': 'events',
        'category': 'sport', 'category_label': 'Sport',
        'minimal_booking_delay': 2, 'minimal_booking_delay_in_working_days': True, 'maximal_booking_delay': 30,
        'minimal_booking_time': '08:00:00', 'admin_role': 'Admins', 'edit_role': 'Agents', 'view_role': 'Lecteurs',
        'events_type': 'cours', 'booking_form_url': 'https://wcs.example.org/reserver/',
        'minimal_cancellation_delay': 1, 'minimal_cancellation_delay_in_working_days': True,
        'partial_bookings': True,
        'absence_reasons': [{'id': 'malade', 'slug': 'malade', 'text': 'Malade', 'label': 'Malade'},
                            {'id': 'absent', 'slug': 'absent', 'text': 'Absent', 'label': 'Absent'}],
        'api': {'datetimes_url': f'{BASE}/api/agenda/piscine/datetimes/',
                'fillslots_url': f'{BASE}/api/agenda/piscine/fillslots/'},
    }
    check_urls(item, 'piscine')


def test_category_keys_are_always_present():
    item = agenda_item(agenda(), BASE)
    assert (item['category'], item['category_label']) == (None, None)
    assert agenda_item(agenda(category_label='orphan'), BASE)['category_label'] is None
    for kind in ('meetings', 'virtual'):
        item = agenda_item(agenda(kind=kind), BASE)
        assert (item['category'], item['category_label']) == (None, None)


def test_meetings_agenda_item():
    item = agenda_item(FULL_MEETINGS, BASE, {'salle-a': {'label': 'Salle A', 'description': 'Grande salle'}})
    # `api.datetimes_url` of free-range agendas is checked on its own below.
    assert {k: v for k, v in item.items() if k != 'api'} == {
        'id': 'rdv', 'slug': 'rdv', 'text': 'Rendez-vous', 'kind': 'meetings', 'category': None,
        'category_label': None, 'minimal_booking_delay': 0, 'minimal_booking_delay_in_working_days': False,
        'maximal_booking_delay': None, 'minimal_booking_time': None, 'admin_role': None, 'edit_role': None,
        'view_role': None, 'events_type': None, 'booking_form_url': None, 'free_range': True,
        'resources': [{'id': 'salle-a', 'text': 'Salle A', 'description': 'Grande salle'}],
        'shared_resources': [{'id': 'salle-a', 'text': 'Salle A', 'description': 'Grande salle'}],
    }
    assert {k: v for k, v in item['api'].items() if k != 'datetimes_url'} == {
        'meetings_url': f'{BASE}/api/agenda/rdv/meetings/', 'desks_url': f'{BASE}/api/agenda/rdv/desks/',
        'resources_url': f'{BASE}/api/agenda/rdv/resources/',
        'shared_resources_url': f'{BASE}/api/agenda/rdv/shared-resources/',
        'fillslots_url': f'{BASE}/api/agenda/rdv/fillslots/'}
    check_urls(item, 'rdv')


def test_plain_meetings_agenda_item_has_free_range_false():
    spec = replace(FULL_MEETINGS, free_range=False)
    item = agenda_item(spec, BASE)
    assert item['free_range'] is False
    assert item['resources'] == [{'id': 'salle-a', 'text': 'salle-a', 'description': None}]
    assert item['api'] == {
        'meetings_url': f'{BASE}/api/agenda/rdv/meetings/', 'desks_url': f'{BASE}/api/agenda/rdv/desks/',
        'resources_url': f'{BASE}/api/agenda/rdv/resources/',
        'shared_resources_url': f'{BASE}/api/agenda/rdv/shared-resources/',
        'fillslots_url': f'{BASE}/api/agenda/rdv/fillslots/'}
    check_urls(item, 'rdv')


def test_free_range_meetings_item_has_a_datetimes_url():
    """§4.1: free-range agendas have `api.datetimes_url` = …/free-range/datetimes/; §12: w.c.s. reads
    `agenda['api']['datetimes_url']` for every free-range meetings agenda in its hourly refresh."""
    item = agenda_item(FULL_MEETINGS, BASE)
    assert item['api'].get('datetimes_url') == f'{BASE}/api/agenda/rdv/free-range/datetimes/'


def test_virtual_agenda_item():
    item = agenda_item(FULL_VIRTUAL, BASE)
    assert item['free_range'] is False
    assert item['real_agendas'] == ['rdv', 'rdv-bis']
    assert item['resources'] == [] and item['shared_resources'] == []
    assert set(item['api']) == {'meetings_url', 'desks_url', 'resources_url', 'shared_resources_url',
                                'fillslots_url'}
    assert item['api']['meetings_url'] == f'{BASE}/api/agenda/tous/meetings/'
    check_urls(item, 'tous')
    assert set(item) == {'id', 'slug', 'text', 'kind', 'category', 'category_label', 'minimal_booking_delay',
                         'minimal_booking_delay_in_working_days', 'maximal_booking_delay', 'minimal_booking_time',
                         'admin_role', 'edit_role', 'view_role', 'events_type', 'booking_form_url', 'free_range',
                         'resources', 'shared_resources', 'api', 'real_agendas'}


# ---- events: bookability and items (§5.2, §7.1, §9.1) ----------------------------------------

AGENDA = agenda()  # delay 1 day, 56 days ahead; window from 2026-06-11 00:00 to 2026-08-05 00:00 Paris
IN_WINDOW = EventSpec(slug='e-window', start=utc(2026, 6, 15, 8, 0), places=10)
LATER_TODAY = EventSpec(slug='e-today', start=utc(2026, 6, 10, 14, 0), places=10)
TOO_FAR = EventSpec(slug='e-far', start=utc(2026, 8, 5, 8, 0), places=10)
PAST = EventSpec(slug='e-past', start=utc(2026, 6, 9, 8, 0), places=10)


def bookable(event, **kw) -> bool:
    return is_bookable(AGENDA, event, NOW, PARIS, **kw)


@pytest.mark.parametrize('event, future, past, all_, bypass', [
    (IN_WINDOW, True, False, True, True),
    (LATER_TODAY, False, False, False, True),
    (TOO_FAR, False, False, False, True),
    (PAST, False, True, True, False),
    (replace(IN_WINDOW, start=utc(2026, 6, 10, 22, 0)), True, False, True, True),  # window start, included
    (replace(IN_WINDOW, start=utc(2026, 8, 4, 22, 0)), False, False, False, True),  # window end, excluded
    (replace(IN_WINDOW, start=NOW), False, False, False, True),  # starting now is not past
])
def test_is_bookable_by_period(event, future, past, all_, bypass):
    assert bookable(event) is future
    assert bookable(event, events='future') is future
    assert bookable(event, events='past') is past
    assert bookable(event, events='all') is all_
    assert bookable(event, bypass_delays=True) is bypass


@pytest.mark.parametrize('events', ['future', 'past', 'all'])
@pytest.mark.parametrize('bypass', [False, True])
def test_cancelled_and_recurring_primary_are_never_bookable(events, bypass):
    for event in (IN_WINDOW, PAST, LATER_TODAY):
        assert bookable(replace(event, cancelled=True), events=events, bypass_delays=bypass) is False
        assert bookable(replace(event, recurrence_days=(0, 2)), events=events, bypass_delays=bypass) is False


def test_publication_datetime():
    assert bookable(replace(IN_WINDOW, publication_datetime=utc(2026, 6, 12, 0, 0))) is False
    assert bookable(replace(IN_WINDOW, publication_datetime=utc(2026, 6, 12, 0, 0)), bypass_delays=True) is False
    assert bookable(replace(IN_WINDOW, publication_datetime=NOW)) is True
    assert bookable(replace(IN_WINDOW, publication_datetime=utc(2026, 6, 1, 0, 0))) is True
    assert bookable(replace(PAST, publication_datetime=utc(2026, 6, 12)), events='past') is False
    assert bookable(replace(IN_WINDOW, recurrence_days=())) is True


def test_event_item_shape():
    spec = EventSpec(slug='natation', start=utc(2026, 6, 15, 8, 0), places=10, label='Natation', duration=45,
                     description='Bassin', pricing='3 €', url='https://example.org/n')
    record = EventRecord('piscine', spec, reserved=3)
    assert event_item(AGENDA, record, BASE, PARIS, NOW) == {
        'id': 'natation', 'slug': 'natation', 'text': 'Natation', 'label': 'Natation',
        'date': '2026-06-15', 'datetime': '2026-06-15 10:00:00', 'end_datetime': '2026-06-15 10:45:00',
        'description': 'Bassin', 'pricing': '3 €', 'url': 'https://example.org/n',
        'disabled': False, 'checked': False, 'check_locked': False, 'invoiced': False, 'cancelled': False,
        'places': {'total': 10, 'reserved': 3, 'available': 7, 'full': False, 'has_waiting_list': False},
        'api': {'bookings_url': f'{BASE}/api/agenda/piscine/bookings/natation/',
                'fillslot_url': f'{BASE}/api/agenda/piscine/fillslot/natation/',
                'status_url': f'{BASE}/api/agenda/piscine/status/natation/',
                'check_url': f'{BASE}/api/agenda/piscine/check/natation/'},
    }


def test_event_item_without_label_or_duration():
    item = event_item(AGENDA, EventRecord('piscine', replace(IN_WINDOW, start=utc(2026, 12, 31, 23, 30)),
                                          checked=True), BASE, PARIS, NOW)
    assert (item['text'], item['label'], item['date'], item['datetime'], item['end_datetime']) == (
        '2027-01-01 00:30:00', '', '2027-01-01', '2027-01-01 00:30:00', '')
    assert (item['disabled'], item['checked']) == (True, True)  # beyond the 56 days


@pytest.mark.parametrize('record, disabled', [
    (EventRecord('piscine', IN_WINDOW, reserved=10), True),  # full
    (EventRecord('piscine', replace(IN_WINDOW, waiting_list_places=2), reserved=10), False),
    (EventRecord('piscine', replace(IN_WINDOW, waiting_list_places=2), reserved=10, waiting_list_reserved=2), True),
    (EventRecord('piscine', replace(IN_WINDOW, cancelled=True)), True),
    (EventRecord('piscine', LATER_TODAY), True),
    (EventRecord('piscine', PAST), True),
    (EventRecord('piscine', IN_WINDOW, reserved=9), False),
])
def test_event_item_disabled(record, disabled):
    item = event_item(AGENDA, record, BASE, PARIS, NOW)
    assert item['disabled'] is disabled
    assert item['cancelled'] is record.spec.cancelled


def test_event_record_properties():
    record = EventRecord('piscine', replace(IN_WINDOW, duration=30, waiting_list_places=3), reserved=2,
                         waiting_list_reserved=1)
    assert record.places == Places(10, 2, 3, 1)
    assert record.end == utc(2026, 6, 15, 8, 30)
    assert record.has_bookings is True
    assert EventRecord('piscine', IN_WINDOW).has_bookings is False
    assert EventRecord('piscine', IN_WINDOW).end is None


# ---- shrink_problem (§7.4) ----------------------------------------------------------------------

BOOKED = EventRecord('piscine', EventSpec(slug='e1', start=utc(2026, 7, 1, 8), places=10, waiting_list_places=5),
                     reserved=4, waiting_list_reserved=2)


@pytest.mark.parametrize('new, problem', [
    (replace(BOOKED.spec, places=3), 'event e1 has 4 booked places, more than 3'),
    (replace(BOOKED.spec, places=4), None),
    (replace(BOOKED.spec, waiting_list_places=1),
     'event e1 has 2 places booked in the waiting list, more than 1'),
    (replace(BOOKED.spec, waiting_list_places=2), None),
    (replace(BOOKED.spec, places=1, waiting_list_places=0), 'event e1 has 4 booked places, more than 1'),
    (replace(BOOKED.spec, recurrence_days=(0,)), 'event e1 has bookings: its recurrence cannot change'),
    (replace(BOOKED.spec, recurrence_days=()), None),
    (replace(BOOKED.spec, places=50, label='Autre', start=utc(2026, 7, 2, 8)), None),
])
def test_shrink_problem(new, problem):
    assert shrink_problem(BOOKED, new) == problem


def test_shrink_problem_without_bookings():
    record = EventRecord('piscine', replace(BOOKED.spec, recurrence_days=(1,)))
    assert shrink_problem(record, replace(record.spec, recurrence_days=(2, 3), places=1,
                                          waiting_list_places=0)) is None
    only_waiting = EventRecord('piscine', replace(BOOKED.spec, recurrence_days=(1,)), waiting_list_reserved=1)
    assert shrink_problem(only_waiting, replace(only_waiting.spec, recurrence_days=None)) == \
        'event e1 has bookings: its recurrence cannot change'
