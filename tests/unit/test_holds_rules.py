"""Holds and free ranges as pure rules (domain/holds.py, domain/free_range.py): which holds count as free, to
whom, and what a free-range day lists."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.booking_rules import BookingRequest, place
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.free_range import Limits, limits, opening_day, range_type, reach
from chalicelib.domain.holds import HeldPlaces, as_seen, hold_key, releasable
from chalicelib.domain.meeting_slots import Intervals
from chalicelib.domain.specs import AgendaSpec, DeskSpec, EventSpec, MeetingTypeSpec, TimePeriodSpec
from chalicelib.domain.window import Window
from chalicelib.errors import BusinessError, InvalidPayload

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)
AGENDA = AgendaSpec('a', 'A', 'events', minimal_booking_delay=0)


def event(places=2, waiting=0, reserved=0, waiting_reserved=0, holds=()):
    spec = EventSpec('e', datetime(2030, 3, 5, 9, tzinfo=timezone.utc), places, waiting_list_places=waiting)
    return EventRecord('a', spec, reserved, waiting_reserved, holds=tuple(holds), holds_map=bool(holds))


def held(key, count=1, minutes=5, waiting=False):
    return HeldPlaces(key, count, waiting, NOW + timedelta(minutes=minutes))


def test_the_digest_of_a_lock_code_is_fixed_and_hides_it():
    assert hold_key('abc') == hold_key('abc') != hold_key('abd')
    assert len(hold_key('x' * 10_000)) == 32 and 'abc' not in hold_key('abc')


def test_expired_and_own_holds_are_free_live_others_are_taken():
    record = event(places=3, reserved=3, holds=[held('mine'), held('gone', minutes=-1), held('other')])
    assert [h.key for h in releasable(record, NOW)] == ['gone']
    assert [h.key for h in releasable(record, NOW, own='mine')] == ['mine', 'gone']
    assert as_seen(record, NOW).places.available == 1
    assert as_seen(record, NOW, 'mine').places.available == 2
    assert as_seen(record, NOW + timedelta(minutes=5)).places.available == 3  # `until` itself is expired
    assert releasable(record, NOW, limit=0) == ()


def test_a_booking_counts_expired_holds_free_and_releases_them():
    record = event(places=1, reserved=1, holds=[held('gone', minutes=-1)])
    placement = place(AGENDA, record, BookingRequest(), NOW, PARIS)
    assert ([h.key for h in placement.released], placement.event.reserved, placement.in_waiting_list) == (
        ['gone'], 0, False)
    with pytest.raises(BusinessError):
        place(AGENDA, event(places=1, reserved=1, holds=[held('live')]), BookingRequest(), NOW, PARIS)


def test_a_confirmation_keeps_the_list_its_hold_was_in():
    key = hold_key('L')
    record = event(places=2, waiting=3, reserved=2, waiting_reserved=1, holds=[held(key)])
    confirm = BookingRequest(lock_code='L', confirm_after_lock=True)
    placement = place(AGENDA, record, confirm, NOW, PARIS)
    assert (placement.in_waiting_list, placement.kept) == (False, True)  # somebody waits: the holder came first
    bigger = place(AGENDA, record, BookingRequest(count=2, lock_code='L', confirm_after_lock=True), NOW, PARIS)
    assert (bigger.in_waiting_list, bigger.kept) == (True, False)  # more places: a fresh decision


def salle(*types, periods=(TimePeriodSpec(time(9), time(10, 30), weekday=0),)):
    return AgendaSpec('s', 'S', 'meetings', free_range=True,
                      meetingtypes=tuple(MeetingTypeSpec(f't{d}', 'T', d) for d in types),
                      desks=(DeskSpec('d1', 'D1', timeperiods=periods),))


def test_free_range_limits_come_from_the_meeting_types():
    assert limits(salle(60, 90, 300)) == Limits(30, 2, 10)
    assert limits(salle()) == Limits(30, 1, 16)
    assert reach(salle(60, 90, 300)) == timedelta(hours=5)
    assert reach(salle()) == timedelta(hours=8)


@pytest.mark.parametrize('minutes, ok', [(60, True), (300, True), (30, False), (330, False), (75, False)])
def test_a_range_is_a_whole_number_of_steps_within_the_limits(minutes, ok):
    start = datetime(2030, 3, 4, 8, tzinfo=timezone.utc)
    if ok:
        assert range_type(salle(60, 90, 300), start, start + timedelta(minutes=minutes)).duration == minutes
    else:
        with pytest.raises(InvalidPayload):
            range_type(salle(60, 90, 300), start, start + timedelta(minutes=minutes))


def test_a_day_lists_each_step_and_the_closing_boundary():
    agenda = salle(60, 90, 300)
    monday = date(2030, 3, 4)
    window = Window(NOW, None)
    nothing = Intervals(())
    day = opening_day(agenda, monday, PARIS, {}, nothing, window)
    assert [(h.hour, h.status) for h in day.hours] == [('09:00', 'free'), ('09:30', 'free'), ('10:00', 'free'),
                                                       ('10:30', 'closed')]
    assert (day.text, day.verbose_label, day.disabled) == ('Mon 4 Mar 2030', 'Monday 4 March 2030', False)
    nine_thirty = datetime(2030, 3, 4, 8, 30, tzinfo=timezone.utc)
    busy = {'d1': Intervals([(nine_thirty, nine_thirty + timedelta(minutes=30))])}
    assert [h.status for h in opening_day(agenda, monday, PARIS, busy, nothing, window).hours] == [
        'free', 'booked', 'free', 'closed']
    assert opening_day(agenda, monday + timedelta(days=1), PARIS, {}, nothing, window) is None
    late = Window(datetime(2030, 3, 4, 8, 45, tzinfo=timezone.utc), None)
    assert [h.status for h in opening_day(agenda, monday, PARIS, {}, nothing, late).hours] == [
        'closed', 'closed', 'free', 'closed']
