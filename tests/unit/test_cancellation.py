"""Cancellation deadlines (domain/cancellation.py): `minimal_cancellation_delay` mirrors the lower bound of
the booking window, counted from the event's start, in calendar or working days."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.cancellation import (
    NOT_CANCELLABLE,
    booking_deadline,
    cancellation_deadline,
    check_cancellable,
    is_cancellable,
)
from chalicelib.domain.specs import AgendaSpec
from chalicelib.domain.window import booking_window
from chalicelib.errors import BusinessError

PARIS = ZoneInfo('Europe/Paris')


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def agenda(delay, working=False) -> AgendaSpec:
    return AgendaSpec('a', 'A', 'events', minimal_cancellation_delay=delay,
                      minimal_cancellation_delay_in_working_days=working)


@pytest.mark.parametrize('delay, working, start, deadline', [
    (None, False, paris(2030, 3, 5, 10), None),                    # no delay: no deadline
    (0, False, paris(2030, 3, 5, 10), paris(2030, 3, 5, 10)),      # until the start
    (1, False, paris(2030, 3, 5, 10), paris(2030, 3, 5, 0)),       # Tuesday 10:00: until Monday evening
    (2, False, paris(2030, 3, 5, 10), paris(2030, 3, 4, 0)),
    (2, False, paris(2030, 3, 5, 0), paris(2030, 3, 4, 0)),        # a start at midnight is that day's
    (1, True, paris(2030, 3, 11, 10), paris(2030, 3, 11, 0)),      # Monday: Sunday still counts it 1 working day ahead
    (2, True, paris(2030, 3, 11, 10), paris(2030, 3, 8, 0)),       # Monday, 2 working days: until Thursday evening
    (1, True, paris(2030, 3, 9, 10), paris(2030, 3, 8, 0)),        # a Saturday event: until Thursday evening
    (2, True, paris(2030, 5, 2, 10), paris(2030, 4, 30, 0)),       # Thursday after May Day (a holiday)
    (3, False, paris(2030, 3, 31, 10), paris(2030, 3, 29, 0)),     # DST day: local midnights
])
def test_deadline(delay, working, start, deadline):
    assert cancellation_deadline(agenda(delay, working), start, PARIS) == deadline


@pytest.mark.parametrize('working', [False, True])
@pytest.mark.parametrize('delay', [1, 2, 5])
def test_the_deadline_is_the_first_moment_the_event_leaves_the_booking_window_of_that_delay(delay, working):
    """Cancellable exactly while the event could still be booked with minimal_booking_delay = the delay."""
    start = paris(2030, 3, 11, 10)
    deadline = cancellation_deadline(agenda(delay, working), start, PARIS)
    window = AgendaSpec('a', 'A', 'events', minimal_booking_delay=delay,
                        minimal_booking_delay_in_working_days=working, maximal_booking_delay=None,
                        minimal_booking_time=None)
    for day in range(1, 12):
        for hour in (0, 12, 23):
            now = paris(2030, 3, day, hour)
            assert (now < deadline) == booking_window(window, now, PARIS).contains(start), now


def test_a_booking_is_cancellable_until_its_earliest_event_deadline():
    spec = agenda(1)
    starts = [paris(2030, 3, 7, 10), paris(2030, 3, 5, 10), paris(2030, 3, 9, 10)]
    assert booking_deadline(spec, starts, PARIS) == paris(2030, 3, 5, 0)
    assert booking_deadline(agenda(None), starts, PARIS) is None
    assert booking_deadline(None, starts, PARIS) is None


def test_check_refuses_from_the_deadline_on_with_its_class():
    spec = agenda(1)
    starts = [paris(2030, 3, 5, 10)]
    check_cancellable(spec, 12, starts, paris(2030, 3, 4, 23, 59, 59), PARIS)
    with pytest.raises(BusinessError) as caught:
        check_cancellable(spec, 12, starts, paris(2030, 3, 5, 0), PARIS)
    assert caught.value.body() == {
        'err': 1, 'err_class': NOT_CANCELLABLE,
        'err_desc': 'booking 12 can not be cancelled from 2030-03-05 00:00:00 on (minimal cancellation delay '
                    'of the agenda)'}
    with pytest.raises(BusinessError) as caught:
        check_cancellable(spec, 12, starts, paris(2030, 3, 6), PARIS, prefix='cancel booking: ')
    assert caught.value.err_class == 'cancel booking: booking can not be cancelled'
    assert is_cancellable(spec, starts[0], paris(2030, 3, 4, 12), PARIS)
    assert not is_cancellable(spec, starts[0], paris(2030, 3, 5, 9), PARIS)
    assert is_cancellable(agenda(None), starts[0], paris(2031, 1, 1), PARIS)
