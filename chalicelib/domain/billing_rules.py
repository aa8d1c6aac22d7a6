"""What billing reads of a user's bookings (Lingo, spec chrono-api.md §7.5): the check status of an event
for a user, and the durations of a partial booking (hourly billing). No I/O here.

Statuses, in the order they are decided (docs/api.md, "Billing and subscriptions"):
- `not-booked`: no booking of the user's in the main list, live or cancelled (a waiting list attended
  nothing);
- `cancelled`: no live booking, a cancelled one (the last cancelled is shown);
- `error` / `too-many-bookings-found`: more than one live booking of the user on the event;
- `error` / `event-not-checked`: one live booking, the event not checked yet;
- `error` / `booking-not-checked`: the event checked, the booking's attendance not recorded;
- `presence` / `absence` with `check_type`: the booking's `user_check_type_slug`.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.specs import AgendaSpec


@dataclass(frozen=True)
class CheckStatus:
    status: str  # not-booked | cancelled | presence | absence | error
    check_type: str | None = None
    error_reason: str | None = None  # event-not-checked | booking-not-checked | too-many-bookings-found


def check_status(agenda: AgendaSpec, event: EventRecord, legs: list[Leg]) -> tuple[CheckStatus, Leg | None]:
    """The user's status on `event` from the user's legs there (live and cancelled), and the booking shown."""
    main = [leg for leg in legs if not leg.in_waiting_list]
    live = [leg for leg in main if not leg.cancelled]
    if not live:
        cancelled = sorted((leg for leg in main if leg.cancelled), key=lambda leg: (leg.cancelled_at, leg.booking_id))
        return (CheckStatus('cancelled'), cancelled[-1]) if cancelled else (CheckStatus('not-booked'), None)
    if len(live) > 1:
        return CheckStatus('error', error_reason='too-many-bookings-found'), None
    leg = live[0]
    if not event.checked:
        return CheckStatus('error', error_reason='event-not-checked'), leg
    if leg.user_was_present is None:
        return CheckStatus('error', error_reason='booking-not-checked'), leg
    return CheckStatus('presence' if leg.user_was_present else 'absence', check_type=leg.user_check_type_slug), leg
