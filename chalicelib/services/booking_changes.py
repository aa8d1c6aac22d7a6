"""Use cases on a booking once made (spec chrono-api.md §8.1-8.2, §8.4, §8.9-8.11): PATCH (attendance,
extra data), resize, anonymize, its iCalendar file, and a user's bookings (JSON and iCalendar).
Each applies to every leg of the booking (a fillslots group) in one transaction whose conditions
say that what was read still holds; when it no longer does, the booking is read and decided again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import store
from chalicelib.domain.booking_rules import Leg, require_live
from chalicelib.domain.change_rules import (
    check_attendance,
    check_extra_data_size,
    check_growth,
    check_resizable,
    read_count,
    read_patch,
)
from chalicelib.domain.holds import MAX_RELEASED, HeldPlaces, releasable, without
from chalicelib.domain.partial_bookings import CHECK_HOURS
from chalicelib.parsing import Payload
from chalicelib.services import promotion
from chalicelib.services.lookup import booking_or_404, unknown_event
from chalicelib.services.retry import DECISIONS, on_booking
from chalicelib.store import outbox


def patch_booking(booking_id: str, body: Payload) -> dict[str, Any]:
    """`PATCH /api/booking/<id>/` (spec §8.4): attendance and extra data, on every leg."""
    legs = require_live(booking_or_404(booking_id))
    needs_agenda = ('user_absence_reason', *CHECK_HOURS)  # its absence reasons; partial bookings or not
    agenda = store.get_agenda(legs[0].agenda) if any(name in body.data for name in needs_agenda) else None
    patch = read_patch(body, agenda)

    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        legs = require_live(legs)
        events = [(leg.agenda, leg.event) for leg in legs if leg.event] if patch.attendance else []
        if patch.attendance:
            check_attendance(legs, store.get_events(events) if events else {})
        if patch.extra_data:  # merged into each leg's extra data as read now: no concurrent key is lost
            check_extra_data_size(legs, patch.extra_data)
        answer = {'booking_id': legs[0].booking_id}
        # Attendance holds only while the events are not locked (check-lock): a condition, not this read.
        store.update_legs(legs, patch.values, patch.extra_data, answer=answer, unlocked=events)
        return answer

    return on_booking(booking_id, decide)


def resize_booking(booking_id: str, body: Payload, now: datetime) -> dict[str, Any]:
    """`POST /api/booking/<id>/resize/` (spec §8.9): every leg to `count` places, in its list; the places of
    expired holds (spec §9.9) are free to grow into (the write gives them back); places given back
    promote from the waiting list where the agenda does it automatically."""
    legs = booking_or_404(booking_id)
    count = read_count(body)
    check_resizable(require_live(legs))
    events = store.get_events((leg.agenda, leg.event_slug) for leg in legs)
    planner = promotion.Planner(now)

    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        if isinstance(stale, store.EventsChanged):  # decide again on the counters as the transaction found them
            for slug, record in stale.events.items():
                if record is None:
                    raise unknown_event(legs[0].agenda, slug)
                events[(record.agenda, slug)] = record
        legs = require_live(legs)
        seen, released = {}, {}
        for leg in legs:
            slug = leg.event_slug
            if (leg.agenda, slug) not in events:
                raise unknown_event(leg.agenda, slug)
            record = events[(leg.agenda, slug)]
            freed: tuple[HeldPlaces, ...] = releasable(record, now, None, MAX_RELEASED)
            seen[slug], released[slug] = without(record, freed), freed
            check_growth(leg, seen[slug], count)
        answer = {'booking_id': legs[0].booking_id}
        planner.begin(stale)
        promotions = planner.after([(leg, count) for leg in legs])
        store.resize(legs, count, seen, answer=answer, released=released, promotions=promotions, now=now)
        return answer

    answer = on_booking(booking_id, decide, DECISIONS, 'places')
    planner.settle()
    return answer


def anonymize_booking(booking_id: str, now: datetime) -> dict[str, Any]:
    """`POST /api/booking/<id>/anonymize/` (spec §8.10, §9.12): personal fields blanked on every
    leg, live or cancelled; counts kept; a second call answers the same and writes nothing."""

    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        answer = {'booking_id': legs[0].booking_id}
        store.anonymize(legs, now, answer=answer)
        outbox.anonymize(legs[0].booking_id)  # its callbacks keep no URL either
        return answer

    return on_booking(booking_id, decide)
