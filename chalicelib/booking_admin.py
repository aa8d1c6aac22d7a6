"""Use cases on a booking once made (spec chrono-api.md §8.1-8.2, §8.4, §8.9-8.11): PATCH (attendance,
extra data), resize, anonymize, its iCalendar file, and a user's bookings (JSON and iCalendar).
Each applies to every leg of the booking (a fillslots group) in one transaction whose conditions
say that what was read still holds; when it no longer does, the booking is read and decided again.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalice import Response

from chalicelib import store
from chalicelib.domain.booking_changes import (
    check_attendance,
    check_growth,
    check_resizable,
    listed_booking,
    merged_extra_data,
    read_count,
    read_patch,
)
from chalicelib.domain.bookings import MAX_USER_ID, Leg, require_live
from chalicelib.domain.calendar import CONTENT_TYPE, calendar
from chalicelib.domain.window import FIRST_DAY, LAST_DAY, local_midnight
from chalicelib.lookup import booking_or_404, unknown_event
from chalicelib.parsing import Payload
from chalicelib.retry import DECISIONS, on_booking
from chalicelib.store import callbacks as outbox


def patch_booking(booking_id: str, body: Payload) -> dict[str, Any]:
    """`PATCH /api/booking/<id>/` (spec §8.4): attendance and extra data, on every leg."""
    legs = require_live(booking_or_404(booking_id))
    agenda = store.get_agenda(legs[0].agenda) if 'user_absence_reason' in body.data else None
    patch = read_patch(body, agenda)

    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        legs = require_live(legs)
        if patch.attendance:
            events = [(leg.agenda, leg.event) for leg in legs if leg.event]
            check_attendance(legs, store.get_events(events) if events else {})
        if patch.extra_data:  # merged into each leg's extra data as read now: no concurrent key is lost
            merged_extra_data(legs, patch.extra_data)
        answer = {'booking_id': legs[0].booking_id}
        store.update_legs(legs, patch.values, patch.extra_data, answer=answer)
        return answer
    return on_booking(booking_id, decide)


def resize_booking(booking_id: str, body: Payload) -> dict[str, Any]:
    """`POST /api/booking/<id>/resize/` (spec §8.9): every leg to `count` places, in its list."""
    legs = booking_or_404(booking_id)
    count = read_count(body)
    check_resizable(require_live(legs))
    events = store.get_events((leg.agenda, leg.event) for leg in legs)

    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        if isinstance(stale, store.EventsChanged):  # decide again on the counters as the transaction found them
            for slug, record in stale.events.items():
                if record is None:
                    raise unknown_event(legs[0].agenda, slug)
                events[(record.agenda, slug)] = record
        legs = require_live(legs)
        for leg in legs:
            if (leg.agenda, leg.event) not in events:
                raise unknown_event(leg.agenda, leg.event)
            check_growth(leg, events[(leg.agenda, leg.event)], count)
        answer = {'booking_id': legs[0].booking_id}
        store.resize(legs, count, {leg.event: events[(leg.agenda, leg.event)] for leg in legs}, answer=answer)
        return answer
    return on_booking(booking_id, decide, DECISIONS, 'places')


def anonymize_booking(booking_id: str, now: datetime) -> dict[str, Any]:
    """`POST /api/booking/<id>/anonymize/` (spec §8.10, §9.12): personal fields blanked on every
    leg, live or cancelled; counts kept; a second call answers the same and writes nothing."""
    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        answer = {'booking_id': legs[0].booking_id}
        store.anonymize(legs, now, answer=answer)
        outbox.anonymize(legs[0].booking_id)  # its callbacks keep no URL either
        return answer
    return on_booking(booking_id, decide)


# ---- reading: a user's bookings, iCalendar (spec §8.1-8.2, §8.11) ----------------------------------

def _agendas(legs: list[Leg]) -> dict[str, Any]:
    agendas = {}
    for slug in dict.fromkeys(leg.agenda for leg in legs):
        agendas[slug] = store.get_agenda(slug)
    return agendas


def _ics(legs: list[Leg], tz: ZoneInfo, now: datetime) -> Response:
    labels = {slug: agenda.label for slug, agenda in _agendas(legs).items() if agenda}
    return Response(body=calendar(legs, labels, tz, now), status_code=200, headers={'Content-Type': CONTENT_TYPE})


def booking_ics(booking_id: str, tz: ZoneInfo, now: datetime) -> Response:
    """`GET /api/booking/<id>/ics/` (spec §8.11): one VEVENT per leg; a cancelled booking is refused
    as by `GET /api/booking/<id>/`."""
    return _ics(require_live(booking_or_404(booking_id)), tz, now)


def _user_legs(query: Payload, tz: ZoneInfo) -> list[Leg]:
    """The live legs of `user_external_id` starting in [date_start, date_end) (local days; the end
    excluded), of agenda `agenda` and of agendas of category `category`, by start time."""
    user = query.str('user_external_id', required=True, max_length=MAX_USER_ID)
    agenda = query.slug('agenda')
    category = query.slug('category')
    date_start, date_end = query.date('date_start'), query.date('date_end')
    query.check()
    # Nothing is stored outside these years: clamp (year 1 in Paris is before year 1 in UTC).
    start = local_midnight(min(max(date_start, FIRST_DAY), LAST_DAY), tz) if date_start else None
    end = local_midnight(min(max(date_end, FIRST_DAY), LAST_DAY), tz) if date_end else None
    legs = [leg for leg in store.user_legs(user, start, end)
            if not leg.cancelled and (agenda is None or leg.agenda == agenda)]
    if category is not None:
        agendas = _agendas(legs)
        legs = [leg for leg in legs if agendas[leg.agenda] and agendas[leg.agenda].category == category]
    return legs


def user_bookings(query: Payload, base_url: str, tz: ZoneInfo) -> dict[str, Any]:
    """`GET /api/bookings/?user_external_id=` (spec §8.1): one item per booked event."""
    legs = _user_legs(query, tz)
    agendas = _agendas(legs)
    events = store.get_events((leg.agenda, leg.event) for leg in legs if leg.event)
    return {'data': [listed_booking(leg, events.get((leg.agenda, leg.event)), agendas[leg.agenda], tz, base_url)
                     for leg in legs]}


def user_bookings_ics(query: Payload, tz: ZoneInfo, now: datetime) -> Response:
    """`GET /api/bookings/ics/?user_external_id=` (spec §8.2): the same bookings as an iCalendar file."""
    return _ics(_user_legs(query, tz), tz, now)
