"""Use cases of booking events: fillslot, fillslots, and a booking's lifecycle (read, cancel,
accept, suspend). Each decision is taken by the domain on what one read returned, then
written as one transaction whose conditions say the decision still holds; when they no
longer do, the transaction hands back the fresh counters and the decision is taken again.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import store
from .domain.bookings import (
    BookingRequest,
    Leg,
    already_booked,
    booking_detail,
    check_replaceable,
    fillslot_answer,
    invalid_slots,
    place,
    read_booking_request,
    read_slots,
    require_events_booking,
    require_live,
)
from .domain.events import EventRecord
from .errors import BadRequest, BusinessError, Busy
from .lookup import booking_or_404, unknown_agenda, unknown_event
from .parsing import Payload

# A fillslots group is one transaction of at most 100 writes: per event a booking leg, the counters and
# the user's count, and as many for each leg of a replaced booking (16 * 3 * 2 = 96).
MAX_GROUP_EVENTS = 16
MAX_DECISIONS = 25


def fillslot(agenda_slug: str, slot: str, body: Payload, base_url: str, tz: ZoneInfo,
             now: datetime) -> dict[str, Any]:
    """`POST /api/agenda/<agenda>/fillslot/<event>/` (the seed document)."""
    return _book(agenda_slug, [slot], read_booking_request(body), base_url, tz, now, group=False)


def fillslots(agenda_slug: str, body: Payload, base_url: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """`POST /api/agenda/<agenda>/fillslots/` (spec §6.2): one booking over several events,
    all or nothing; the first refusal, in the order of `slots`, is the answer."""
    slots = read_slots(body, MAX_GROUP_EVENTS)
    return _book(agenda_slug, slots, read_booking_request(body), base_url, tz, now, group=True)


def _book(agenda_slug: str, slots: list[str], request: BookingRequest, base_url: str, tz: ZoneInfo,
          now: datetime, group: bool) -> dict[str, Any]:
    snapshot = store.read_for_booking(agenda_slug, slots, request.user_external_id, request.cancel_booking_id)
    agenda = snapshot.agenda
    if agenda is None:
        raise unknown_agenda(agenda_slug)
    if agenda.kind != 'events':
        raise BadRequest(f'invalid slot: {slots[0]}', 'meetings agendas are not bookable yet')
    unknown = [slug for slug in slots if slug not in snapshot.events]
    if unknown:
        raise invalid_slots(unknown) if group else unknown_event(agenda.slug, unknown[0])
    if request.cancel_booking_id is not None:
        check_replaceable(snapshot.replaced, request.count)
    events = [snapshot.events[slug] for slug in slots]
    for _ in range(MAX_DECISIONS):
        # The first refusal in the order of `slots` is the answer.
        placements = [place(agenda, event, request, now, tz, snapshot.user_bookings.get(event.slug, 0) > 0)
                      for event in events]
        try:
            booking_id = store.book(agenda.slug, placements, request, snapshot.replaced, now)
        except store.EventsChanged as changed:
            events = [_fresh(agenda.slug, event, changed.events) for event in events]
            continue
        except store.AlreadyBookedByUser as exc:
            raise already_booked(exc.event) from None
        except store.BookingChanged:
            raise BusinessError('cancel booking: booking already cancelled') from None
        return fillslot_answer(agenda, booking_id, placements, base_url, tz, snapshot.replaced)
    raise Busy('busy', 'too many simultaneous bookings on this event: try again')


def _fresh(agenda: str, event: EventRecord, changed: dict[str, EventRecord | None]) -> EventRecord:
    if event.slug not in changed:
        return event
    fresh = changed[event.slug]
    if fresh is None:
        raise unknown_event(agenda, event.slug)
    return fresh


# ---- lifecycle (spec §8.3, §8.5-8.8) ------------------------------------------------------------

ATTEMPTS = 3


def get_booking(booking_id: str, base_url: str, tz: ZoneInfo) -> dict[str, Any]:
    """The booking under `data` and, as some clients read them, at the top level too."""
    legs = booking_or_404(booking_id)
    require_live(legs)
    detail = booking_detail(legs, tz, base_url)
    return {**detail, 'data': detail}


def cancel_booking(booking_id: str, now: datetime) -> dict[str, Any]:
    """The client's own cancellation: frees the places; no cancel callback (spec §9.8)."""
    legs = booking_or_404(booking_id)
    for _ in range(ATTEMPTS):
        require_live(legs, 'already cancelled')
        try:
            store.cancel(legs, now)
            return {'booking_id': legs[0].booking_id}
        except store.BookingChanged:  # cancelled, accepted or suspended meanwhile: look again
            legs = booking_or_404(booking_id)
    raise Busy('busy', 'the booking keeps changing: try again')


def accept_booking(booking_id: str) -> dict[str, Any]:
    """Waiting list to main list, even beyond the places (spec §8.7)."""
    return _move(booking_id, to_waiting_list=False)


def suspend_booking(booking_id: str) -> dict[str, Any]:
    """Main list to waiting list (spec §8.8)."""
    return _move(booking_id, to_waiting_list=True)


def _move(booking_id: str, to_waiting_list: bool) -> dict[str, Any]:
    legs = booking_or_404(booking_id)
    require_events_booking(legs)
    for _ in range(ATTEMPTS):
        _check_movable(legs, to_waiting_list)
        try:
            events = store.move(legs, to_waiting_list)
        except store.BookingChanged:
            legs = booking_or_404(booking_id)
            continue
        answer: dict[str, Any] = {'booking_id': legs[0].booking_id}
        if not to_waiting_list:
            answer['overbooked_places'] = sum(max(0, e.reserved - e.spec.places) for e in events)
        return answer
    raise Busy('busy', 'the booking keeps changing: try again')


def _check_movable(legs: list[Leg], to_waiting_list: bool) -> None:
    require_live(legs)
    if to_waiting_list and all(leg.in_waiting_list for leg in legs):
        raise BusinessError('booking is already in waiting list', err=3)
    if not to_waiting_list and not any(leg.in_waiting_list for leg in legs):
        raise BusinessError('booking is not in waiting list', err=3)
