"""Cancellation deadlines: `minimal_cancellation_delay` (spec chrono-api.md §2.1, open question 13.8).
No I/O here; the deadline is decided from an event's (a meeting's) start, and the write that follows
holds only while that start does (store/transaction_parts.py `_cancel_leg`).

The rule mirrors the lower bound of the booking window (§9.1): a user may cancel as long as the
event could still be booked with `minimal_booking_delay = minimal_cancellation_delay`, i.e. until
local midnight of the last day from which the event is at least that many days (working days with
`minimal_cancellation_delay_in_working_days`) ahead; with a delay of 0, until the start; with no
delay (null), whenever. `minimal_booking_time` does not move this boundary (it is a booking rule).
Agents (agent-cancel, an event cancelled) and calls with `bypass_delays` are not bound by it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.specs import AgendaSpec, local_text
from chalicelib.domain.window import is_working_day, local_midnight
from chalicelib.errors import BusinessError

NOT_CANCELLABLE = 'booking can not be cancelled'


def _last_day(day: date, delay: int, working_days: bool) -> date:
    """The last local day from which `day` is still `delay` (working) days ahead."""
    if not working_days:
        return day - timedelta(days=delay)
    # The delay-th working day counted back from `day` (itself included): from the day before it,
    # `day` is `delay` working days ahead; from that working day on, it is less.
    current, counted = day, 0
    while True:
        if is_working_day(current):
            counted += 1
            if counted == delay:
                return current - timedelta(days=1)
        current -= timedelta(days=1)


def cancellation_deadline(agenda: AgendaSpec | None, start: datetime, tz: ZoneInfo) -> datetime | None:
    """The instant from which a user may no longer cancel a booking of what starts at `start`
    (None: no deadline)."""
    if agenda is None or agenda.minimal_cancellation_delay is None:
        return None
    delay = agenda.minimal_cancellation_delay
    if delay <= 0:
        return start
    last = _last_day(start.astimezone(tz).date(), delay, agenda.minimal_cancellation_delay_in_working_days)
    return min(start, local_midnight(last + timedelta(days=1), tz))


def booking_deadline(agenda: AgendaSpec | None, starts: Iterable[datetime], tz: ZoneInfo) -> datetime | None:
    """A booking is cancelled whole: its deadline is its earliest event's."""
    deadlines = [d for d in (cancellation_deadline(agenda, start, tz) for start in starts) if d is not None]
    return min(deadlines) if deadlines else None


def check_cancellable(
    agenda: AgendaSpec | None,
    booking_id: int,
    starts: Iterable[datetime],
    now: datetime,
    tz: ZoneInfo,
    prefix: str = '',
) -> None:
    """Refuse a user's cancellation past the deadline (`prefix`: 'cancel booking: ' when the
    cancellation is the move of `cancel_booking_id`, as Chrono's other errors of that family)."""
    deadline = booking_deadline(agenda, starts, tz)
    if deadline is not None and now >= deadline:
        raise BusinessError(
            f'{prefix}{NOT_CANCELLABLE}',
            f'{prefix}booking {booking_id} can not be cancelled from {local_text(deadline, tz)} on '
            f'(minimal cancellation delay of the agenda)',
        )


def is_cancellable(agenda: AgendaSpec | None, start: datetime, now: datetime, tz: ZoneInfo) -> bool:
    deadline = cancellation_deadline(agenda, start, tz)
    return deadline is None or now < deadline
