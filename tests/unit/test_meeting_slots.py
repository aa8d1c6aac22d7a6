"""Meeting slot computation (spec §9.5), pure: grid, opening hours, closures, DST, grouping."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.closures import ExceptionSpec
from chalicelib.domain.specs import AgendaSpec, DeskSpec, ExcludedPeriodSpec, TimePeriodSpec
from chalicelib.domain.meeting_slots import (base_step, desk_slots, excluded, meeting_times, opens_on, parse_slot_id,
                                        slot_id)
from chalicelib.errors import BusinessError

PARIS = ZoneInfo('Europe/Paris')


def paris(*args):
    return datetime(*args, tzinfo=PARIS).astimezone(timezone.utc)


def local_starts(slots):
    return [s.start.astimezone(PARIS).strftime('%Y-%m-%d %H:%M') for s in slots]


def desk(*periods, exceptions=()):
    return DeskSpec(slug='g1', label='G1', timeperiods=tuple(periods), exceptions=tuple(exceptions))


def test_base_step_is_the_gcd_of_durations():
    assert (base_step([30, 45]), base_step([20]), base_step([]), base_step([60, 90, 40])) == (15, 20, 1, 10)


def test_starts_every_step_while_the_meeting_ends_by_closing_time():
    monday = TimePeriodSpec(start_time=time(9), end_time=time(10, 30), weekday=0)
    slots = desk_slots(desk(monday), 45, 15, date(2030, 3, 4), date(2030, 3, 5), PARIS)
    assert local_starts(slots) == ['2030-03-04 09:00', '2030-03-04 09:15', '2030-03-04 09:30', '2030-03-04 09:45']
    assert {s.end - s.start for s in slots} == {timedelta(minutes=45)}
    assert slots[-1].end == paris(2030, 3, 4, 10, 30)


def test_closures_remove_the_slots_they_overlap():
    monday = TimePeriodSpec(start_time=time(9), end_time=time(10), weekday=0)
    closure = ExceptionSpec(start=paris(2030, 3, 4, 9, 20), end=paris(2030, 3, 4, 9, 30))
    slots = desk_slots(desk(monday, exceptions=[closure]), 15, 15, date(2030, 3, 4), date(2030, 3, 4), PARIS)
    assert local_starts(slots) == ['2030-03-04 09:00', '2030-03-04 09:30', '2030-03-04 09:45']


@pytest.mark.parametrize('day, indexes, expected', [
    (date(2030, 3, 4), (1,), True), (date(2030, 3, 11), (1,), False), (date(2030, 3, 11), (2, 4), True),
    (date(2030, 3, 25), (2, 4), True), (date(2030, 3, 18), (2, 4), False), (date(2030, 3, 5), None, False),
])
def test_weekday_indexes_select_the_nth_weekdays_of_the_month(day, indexes, expected):
    assert opens_on(TimePeriodSpec(start_time=time(9), end_time=time(10), weekday=0, weekday_indexes=indexes),
                    day) is expected


def test_a_single_date_period_opens_that_day_only():
    period = TimePeriodSpec(start_time=time(9), end_time=time(10), date='2030-03-06')
    assert (opens_on(period, date(2030, 3, 6)), opens_on(period, date(2030, 3, 13))) == (True, False)


def test_no_slot_in_the_spring_gap_and_one_in_the_repeated_autumn_hour():
    sunday = TimePeriodSpec(start_time=time(1, 30), end_time=time(3, 30), weekday=6)
    spring = desk_slots(desk(sunday), 30, 30, date(2030, 3, 31), date(2030, 3, 31), PARIS)
    assert local_starts(spring) == ['2030-03-31 01:30', '2030-03-31 03:00']
    autumn = desk_slots(desk(sunday), 30, 30, date(2030, 10, 27), date(2030, 10, 27), PARIS)
    assert local_starts(autumn) == ['2030-10-27 01:30', '2030-10-27 02:00', '2030-10-27 02:30', '2030-10-27 03:00']
    assert autumn[1].start == datetime(2030, 10, 27, 0, 0, tzinfo=timezone.utc)  # the first 02:00 (summer time)


def test_times_group_desks_and_are_disabled_when_none_is_free():
    period = TimePeriodSpec(start_time=time(9), end_time=time(10), weekday=0)
    g1 = DeskSpec(slug='g1', label='G1', timeperiods=(period,))
    g2 = DeskSpec(slug='g2', label='G2', timeperiods=(period,))
    slots = [s for d in (g2, g1) for s in desk_slots(d, 30, 30, date(2030, 3, 4), date(2030, 3, 4), PARIS)]
    busy = {'g1': [(paris(2030, 3, 4, 9), paris(2030, 3, 4, 9, 30))],
            'g2': [(paris(2030, 3, 4, 9, 15), paris(2030, 3, 4, 9, 45))]}
    times = meeting_times(slots, busy, [], ['g1', 'g2'])
    assert [(t.start, t.free_desks) for t in times] == [(paris(2030, 3, 4, 9), ()),
                                                        (paris(2030, 3, 4, 9, 30), ('g1',))]
    user_busy = [(paris(2030, 3, 4, 9, 40), paris(2030, 3, 4, 9, 50))]
    assert [t.free_desks for t in meeting_times(slots, {}, user_busy, ['g1', 'g2'])] == [('g1', 'g2'), ()]


def test_excluded_periods_of_a_virtual_agenda():
    agenda = AgendaSpec(slug='v', label='V', kind='virtual', excluded_timeperiods=(
        ExcludedPeriodSpec(weekday=0, start_time=time(12), end_time=time(14)),))
    assert excluded(agenda, paris(2030, 3, 4, 11, 45), paris(2030, 3, 4, 12, 15), PARIS) is True
    assert excluded(agenda, paris(2030, 3, 4, 11, 30), paris(2030, 3, 4, 12, 0), PARIS) is False
    assert excluded(agenda, paris(2030, 3, 5, 12, 0), paris(2030, 3, 5, 12, 30), PARIS) is False


def test_slot_ids_round_trip_and_refuse_what_the_spec_refuses():
    start = paris(2030, 3, 4, 10, 0)
    assert slot_id('mt-1', start, PARIS) == 'mt-1:2030-03-04-1000'
    assert parse_slot_id('mt-1:2030-03-04-1000', PARIS) == ('mt-1', start)
    for slot, err_class in (('2030-03-04-1000', 'invalid slot: 2030-03-04-1000'),
                            ('mt-1:2030-03-04', 'bad datetime format: 2030-03-04'),
                            ('mt-1:2030-03-31-0230', 'bad datetime format: 2030-03-31-0230')):
        with pytest.raises(BusinessError) as refusal:
            parse_slot_id(slot, PARIS)
        assert refusal.value.err_class == err_class
