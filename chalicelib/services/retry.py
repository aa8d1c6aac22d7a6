"""The one loop of every use case that writes: read, decide, write under conditions that say the
decision still holds (the store puts them there); when one fails, nothing was written, and the
decision is taken again from fresh state. Contention that outlasts the attempts answers `busy`
(HTTP 200, nothing written): the client may simply try again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from chalicelib import store
from chalicelib.domain.booking_rules import Leg
from chalicelib.errors import Busy
from chalicelib.services.lookup import booking_or_404

T = TypeVar('T')

ATTEMPTS = 3  # a booking's own operations: the other side of a race rarely changes it twice
DECISIONS = 25  # places: many clients may race for the same counters
BUSY = {
    'booking': 'the booking keeps changing: try again',
    'places': 'too many simultaneous bookings on this event: try again',
    'events': 'too many simultaneous bookings on these events: try again',
}


def until_written(attempt: Callable[[store.Stale | None], T], attempts: int = ATTEMPTS, busy: str = 'booking') -> T:
    """`attempt(stale)` reads what it needs, decides and writes; `stale` is None the first time,
    then the store's account of what changed under the previous decision (some carry the fresh
    state, as EventsChanged does: no read needed then)."""
    stale: store.Stale | None = None
    for _ in range(attempts):
        try:
            return attempt(stale)
        except store.Stale as exc:
            stale = exc
    raise Busy('busy', BUSY[busy])


def on_booking(
    booking_id: str,
    decide: Callable[[list[Leg], store.Stale | None], T],
    attempts: int = ATTEMPTS,
    busy: str = 'booking',
) -> T:
    """`until_written` for an operation on one booking: `decide(legs, stale)` gets its legs, read
    consistently (404 when there is no such booking), and read again after the booking changed."""
    legs = booking_or_404(booking_id)

    def attempt(stale: store.Stale | None) -> T:
        nonlocal legs
        if isinstance(stale, store.BookingChanged):
            legs = booking_or_404(booking_id)
        return decide(legs, stale)

    return until_written(attempt, attempts, busy)
