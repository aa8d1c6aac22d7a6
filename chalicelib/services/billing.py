"""Use cases of billing (Lingo, spec chrono-api.md §7.5): event details by `agenda@event`, locking the
attendance of a period's events and marking them invoiced, and a user's check status per event.

Lingo starts a campaign by locking the checks of its period and marks itself failed on any error;
it reads each user's status per event, and ends by marking the events invoiced. The flags are written
in batched transactions, all or nothing, and setting a flag again changes nothing (docs/api.md,
"Billing and subscriptions").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.billing_rules import CheckStatus, check_status
from chalicelib.domain.booking_rules import MAX_USER_ID, Leg, invalid_slots
from chalicelib.domain.event_rules import EventRecord, is_recurring_primary
from chalicelib.domain.recurrence import slug_of_occurrence_id
from chalicelib.domain.specs import AgendaSpec
from chalicelib.domain.window import FIRST_DAY, LAST_DAY, local_midnight
from chalicelib.errors import InvalidPayload
from chalicelib.parsing import SLUG_RE, Payload
from chalicelib.services.listings import MAX_AGENDAS, events_agendas
from chalicelib.services.retry import until_written
from chalicelib.store import billing_records

MAX_SLOTS = 1000  # events of one details call


# ---- event details (POST /api/agendas/events/) --------------------------------------------------------


def events_details(body: Payload) -> list[tuple[AgendaSpec, EventRecord]]:
    """`POST /api/agendas/events/` `{"slots": ["agenda@event", ...]}`: the events in the order asked (each
    once), read consistently. An occurrence of a recurring event may be named `<primary>--<date>` or
    `<primary>:<date>`; a primary is given as itself (Lingo prices it). Any unknown slot refuses the call
    (400 `invalid slugs: ...`, naming them as sent)."""
    slots = list(dict.fromkeys(body.list('slots', required=True) or []))
    if not slots and 'slots' not in body.errors:
        body.error('slots', 'This field is required.')
    if len(slots) > MAX_SLOTS:
        body.error('slots', f'Ensure this list has no more than {MAX_SLOTS} slots.')
    body.check()
    keys: dict[str, tuple[str, str]] = {}
    invalid = []
    for slot in slots:
        agenda, _, event = slot.partition('@')
        event = slug_of_occurrence_id(event) or event
        if SLUG_RE.match(agenda) and SLUG_RE.match(event):
            keys[slot] = (agenda, event)
        else:
            invalid.append(slot)
    agenda_slugs = sorted({agenda for agenda, _ in keys.values()})
    if len(agenda_slugs) > MAX_AGENDAS:
        raise InvalidPayload({'slots': [f'Ensure the slots name no more than {MAX_AGENDAS} agendas.']})
    agendas = {slug: store.get_agenda(slug) for slug in agenda_slugs}
    events = store.get_events(key for key in keys.values() if agendas.get(key[0]) is not None)
    known = {slug: agenda for slug, agenda in agendas.items() if agenda is not None and agenda.kind == 'events'}
    invalid += [slot for slot, key in keys.items() if key not in events or key[0] not in known]
    if invalid:
        raise invalid_slots([slot for slot in slots if slot in invalid])
    return [(known[key[0]], events[key]) for key in dict.fromkeys(keys.values())]


# ---- a period of several agendas (check-lock, invoiced, check-status) -------------------------------


def _read_period(body: Payload, tz: ZoneInfo) -> tuple[list[AgendaSpec], datetime, datetime]:
    """`agendas` (a list or comma-joined, events agendas), `date_start` and `date_end` (local days, the
    end excluded), all required; unknown agendas are a 400 naming them."""
    slugs = list(dict.fromkeys(body.list('agendas', required=True) or []))
    if not slugs and 'agendas' not in body.errors:
        body.error('agendas', 'This field is required.')
    if len(slugs) > MAX_AGENDAS:
        body.error('agendas', f'Ensure this list has no more than {MAX_AGENDAS} agendas.')
    read_start, read_end = body.date('date_start', required=True), body.date('date_end', required=True)
    if read_start and read_end and read_end <= read_start:
        body.error('date_end', 'Must be after date_start (the end is excluded).')
    date_start, date_end = body.checked(read_start), body.checked(read_end)
    agendas = events_agendas(slugs)
    start = local_midnight(min(max(date_start, FIRST_DAY), LAST_DAY), tz)
    end = local_midnight(min(max(date_end, FIRST_DAY), LAST_DAY), tz)
    return agendas, start, end


def _period_events(agendas: list[AgendaSpec], start: datetime, end: datetime) -> list[EventRecord]:
    """Every event of the agendas in the period, recurring primaries left out (their occurrences are
    the events that take place)."""
    return [
        record
        for agenda in agendas
        for record in billing_records.period_events(agenda.slug, start, end)
        if not is_recurring_primary(record.spec)
    ]


def _set_flag(body: Payload, tz: ZoneInfo, flag: str) -> dict[str, int]:
    value = body.bool(flag, required=True)
    agendas, start, end = _read_period(body, tz)

    def attempt(stale: store.Stale | None) -> dict[str, int]:
        events = _period_events(agendas, start, end)
        try:
            billing_records.set_flag(events, flag, value)
        except store.Refused:  # an event vanished since the read: every write was undone, read again
            raise store.Stale('an event of the period changed') from None
        return {}

    return until_written(attempt)


def check_lock(body: Payload, tz: ZoneInfo) -> dict[str, int]:
    """`POST /api/agendas/events/check-lock/` `{"check_locked", "agendas", "date_start", "date_end"}`: the
    attendance of every event of the period is locked (or unlocked); a locked event refuses PATCH
    attendance and `check/` with `event is locked` (err 6)."""
    return _set_flag(body, tz, 'check_locked')


def mark_invoiced(body: Payload, tz: ZoneInfo) -> dict[str, int]:
    """`POST /api/agendas/events/invoiced/` `{"invoiced", "agendas", "date_start", "date_end"}`: every event
    of the period shows `invoiced` (false takes it back)."""
    return _set_flag(body, tz, 'invoiced')


# ---- check status (POST /api/agendas/events/check-status/) -------------------------------------------


@dataclass(frozen=True)
class EventStatus:
    """One event of the period and the user's status there (rendered by web/render.py)."""

    agenda: AgendaSpec
    record: EventRecord
    status: CheckStatus
    booking: Leg | None


def check_statuses(body: Payload, tz: ZoneInfo) -> list[EventStatus]:
    """`POST /api/agendas/events/check-status/` `{"user_external_id", "agendas", "date_start",
    "date_end"}`: one item per event of the period (by start time, then agenda order), with the user's
    status there. Exact: the events, the flags and the user's bookings are read consistently (the user
    index only lists candidates, completed against the user's count items)."""
    user = body.str('user_external_id', required=True, max_length=MAX_USER_ID)
    agendas, start, end = _read_period(body, tz)
    user = body.checked(user)
    position = {agenda.slug: index for index, agenda in enumerate(agendas)}
    by_slug = {agenda.slug: agenda for agenda in agendas}
    events = sorted(_period_events(agendas, start, end), key=lambda r: (r.spec.start, position[r.agenda], r.slug))
    legs = billing_records.user_event_legs(user, events, start, end) if events else {}
    statuses = []
    for record in events:
        agenda = by_slug[record.agenda]
        status, booking = check_status(agenda, record, legs.get((record.agenda, record.slug), []))
        statuses.append(EventStatus(agenda, record, status, booking))
    return statuses
