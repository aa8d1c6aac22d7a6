"""What an agent does and the forms must hear of (spec §7.3, §9.8; design.md §3.4): checking an
event (presence / absence callbacks), cancelling an event or one booking (cancel callbacks). A
client's own cancel (`api.cancel_url`) is booking.cancel_booking: it sends nothing.

Every callback is written to the outbox with the change it reports, then queued (callbacks.py).
An action interrupted half-way can be run again: what it did stays, and no callback is added twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import store
from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.callback_rules import attendance_body
from chalicelib.domain.change_rules import event_locked
from chalicelib.errors import BusinessError
from chalicelib.services import callbacks, promotion
from chalicelib.services.lookup import event_or_404, events_agenda_or_404, unknown_event
from chalicelib.services.retry import DECISIONS, on_booking
from chalicelib.store import outbox


def _complete_legs(agenda: str, event: str) -> list[Leg]:
    """Every live leg of the event, none missed although its list comes from an index that may lag."""
    found = store.live_event_legs(agenda, event)
    if found is None:
        raise unknown_event(agenda, event)
    return found[1]


def check_event(agenda_slug: str, event_slug: str, now: datetime, orig: str | None = None) -> dict[str, Any]:
    """`POST /api/agenda/<agenda>/check/<event>/`: the event is checked; each booking whose
    attendance is recorded and that gave the matching URL gets a presence or absence callback.
    Checking again sends only what was not sent (a booking marked since)."""
    agenda = events_agenda_or_404(agenda_slug)
    record = event_or_404(agenda.slug, event_slug)
    if record.check_locked:
        raise event_locked(record.slug)
    written = []
    for leg in _complete_legs(agenda.slug, record.slug):
        if leg.user_was_present is None or leg.in_waiting_list:  # the waiting list attended nothing
            continue
        kind = 'presence' if leg.user_was_present else 'absence'
        url = leg.fields.get(f'{kind}_callback_url')
        if not url:
            continue
        body = attendance_body(leg.user_was_present, leg.user_check_type_slug, leg.user_check_type_label)
        callback = outbox.new_callback(leg.booking_id, kind, leg.leg, url, body, now, orig, leg.fields.get('client'))
        if outbox.put_once(callback):
            written.append(callback)
    # Locked meanwhile (check-lock): the check is refused; the callbacks written report attendance
    # recorded before the lock (a PATCH is conditioned on it), and are sent.
    locked = not store.mark_event(agenda.slug, record.slug, unlocked=True, checked=True)
    callbacks.enqueue(outbox.records(written))
    if locked:
        raise (
            event_locked(record.slug)
            if store.get_event(agenda.slug, record.slug)
            else unknown_event(agenda.slug, record.slug)
        )
    return {'checked': True, 'callbacks': len(written)}


def cancel_event(agenda_slug: str, event_slug: str, now: datetime, orig: str | None = None) -> dict[str, Any]:
    """`POST /api/agenda/<agenda>/event/<event>/cancel/`: no more booking of the event (marked
    first: a booking's condition then refuses it), then every booking of it cancelled (its leg on
    this event), each with its cancel callback."""
    agenda = events_agenda_or_404(agenda_slug)
    record = event_or_404(agenda.slug, event_slug)
    store.mark_event(agenda.slug, record.slug, cancelled=True)
    cancelled = 0
    for leg in _complete_legs(agenda.slug, record.slug):
        if _cancel_as_agent(str(leg.booking_id), now, orig, only=leg.leg):
            cancelled += 1
    return {'cancelled_bookings': cancelled}


def cancel_booking(booking_id: str, now: datetime, orig: str | None = None) -> dict[str, Any]:
    """`POST /api/booking/<id>/agent-cancel/` (our design): an agent cancels a booking from a back
    office; unlike the client's own cancel, the form hears of it (cancel callback)."""
    legs = _cancel_as_agent(booking_id, now, orig)
    if not legs:
        raise BusinessError('already cancelled')
    return {'booking_id': legs[0].booking_id}


def cancel_leg(booking_id: int, leg: int, now: datetime, orig: str | None = None) -> bool:
    """An agent's cancellation of one event of a booking, with its cancel callback (a subscription
    deleted: services/subscriptions.py); False when it was cancelled already."""
    return bool(_cancel_as_agent(str(booking_id), now, orig, only=leg))


def _cancel_as_agent(booking_id: str, now: datetime, orig: str | None, only: int | None = None) -> list[Leg]:
    """Cancel the live legs of a booking (or only its leg `only`) with their callback; returns
    them, [] when already cancelled."""

    planner = promotion.Planner(now)

    def decide(legs: list[Leg], stale: store.Stale | None) -> list[Leg]:
        live = [leg for leg in legs if not leg.cancelled and (only is None or leg.leg == only)]
        if not live:
            return []
        planner.begin(stale)
        url = live[0].fields.get('cancel_callback_url')
        callback = (
            outbox.new_callback(
                live[0].booking_id, 'cancel', live[0].leg, url, None, now, orig, live[0].fields.get('client')
            )
            if url
            else None
        )
        answer = {'booking_id': live[0].booking_id} if only is None else None
        promotions = planner.after([(leg, 0) for leg in live])  # none on a cancelled event
        store.cancel(live, now, [callback] if callback else [], answer=answer, promotions=promotions)
        callbacks.enqueue(outbox.records([callback] if callback else []))
        return live

    cancelled = on_booking(booking_id, decide, DECISIONS)
    planner.settle()
    return cancelled
