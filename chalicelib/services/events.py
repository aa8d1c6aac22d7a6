"""Use cases of the admin API on events (design.md §3.4, spec chrono-api.md §7.4): create, read,
update, delete an event; a recurring event's occurrences follow its rule (domain/recurrence.py)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.agenda_reader import read_event
from chalicelib.domain.event_rules import EventRecord, is_recurring_primary, shrink_problem
from chalicelib.domain.holds import MAX_RELEASED, as_seen, releasable
from chalicelib.domain.recurrence import MAX_OCCURRENCES, derive_occurrences, rule_problem, too_many
from chalicelib.domain.specs import AgendaSpec, EventSpec, slugify
from chalicelib.errors import BusinessError, InvalidPayload, invalid
from chalicelib.parsing import Payload
from chalicelib.services import promotion, reminders
from chalicelib.services.lookup import event_or_404, events_agenda_or_404

log = logging.getLogger(__name__)
RECURRENCE_FIELDS = ('recurrence_days', 'recurrence_week_interval', 'recurrence_end_date')


def create_event(agenda_slug: str, body: Payload, tz: ZoneInfo, now: datetime) -> tuple[AgendaSpec, EventRecord]:
    agenda = events_agenda_or_404(agenda_slug)
    spec = body.checked(read_event(body, tz, slug_required=False))
    _check_recurrence_fields(body, None)
    if not spec.slug:
        base = slugify(spec.label or '') or f'{agenda.slug}-{spec.start.astimezone(tz):%Y-%m-%d-%H%M}'
        candidates = [base] + [f'{base}-{n}' for n in range(2, 50)]
    else:
        candidates = [spec.slug]
    for slug in candidates:
        created = replace(spec, slug=slug)
        if is_recurring_primary(created):
            check_rule(created, tz, now)
            try:  # the primary and its occurrences, all or nothing
                store.apply_operations(
                    store.plan_events(agenda.slug, [created, *derive_occurrences(created, [], tz, now)], [])
                )
            except store.Refused:
                continue
        elif not store.create_event(agenda.slug, created):
            continue
        return agenda, EventRecord(agenda.slug, created)
    raise invalid('slug', f'An event with the slug "{spec.slug or candidates[0]}" already exists.')


def check_rule(event: EventSpec, tz: ZoneInfo, now: datetime, events_path: str | None = None) -> None:
    """A recurring event's rule fits (domain/recurrence.py); errors under the field, or under
    `events_path` with the event's slug (imports)."""
    field, problem = 'slug', rule_problem(event)
    if problem is None and too_many(event, tz, now):
        problem = f'A recurring event has at most {MAX_OCCURRENCES} occurrences: choose an earlier end date.'
    if problem and 'end date' in problem:
        field = 'recurrence_end_date'
    if problem:
        raise InvalidPayload({events_path: [f'Event "{event.slug}": {problem}']} if events_path else {field: [problem]})


def _sync_recurrence(agenda: str, old: EventRecord, new: EventSpec | None, tz: ZoneInfo, now: datetime) -> None:
    """Write a primary event (`new`; None deletes it) and its occurrences as derived from it, in
    as few transactions as fit; an occurrence with bookings is never removed nor shrunk."""
    stored = store.occurrences(agenda, old.slug)
    cancelled = new.cancelled if new and new.cancelled != old.spec.cancelled else None
    wanted = derive_occurrences(new, [r.spec for r in stored], tz, now, cancelled) if new else []
    kept = {e.slug for e in wanted}
    booked = [r.slug for r in stored if r.has_bookings and r.slug not in kept]
    if booked:
        raise BusinessError('event has bookings', f'occurrences with bookings would be deleted: {", ".join(booked)}')
    try:
        store.apply_operations(store.plan_events(agenda, ([new] if new else []) + wanted, [old, *stored]))
    except store.Refused:
        raise BusinessError(
            'event has bookings',
            f"event {old.slug} or its occurrences have more bookings than that, or an occurrence's slug is taken",
        ) from None
    derived = {e.slug: e for e in wanted}
    settings = store.get_agenda(agenda)
    for record in stored:  # a booked occurrence whose time changed: its bookings follow
        spec = derived.get(record.slug)
        moved = EventRecord(agenda, spec) if spec else None
        if record.has_bookings and moved and (moved.spec.start, moved.end) != (record.spec.start, record.end):
            store.follow_event(agenda, moved, reminders.dues(settings, moved.spec.start, tz), now)
    if settings is not None:  # occurrences with more places: waiting bookings move up (in transactions of their own)
        promotion.promote_events(
            [
                (agenda, r.slug)
                for r in stored
                if r.waiting_list_reserved
                and r.slug in derived
                and promotion.raised_places(settings, r.spec, derived[r.slug])
            ],
            now,
        )


def get_event(agenda_slug: str, event_slug: str, now: datetime) -> tuple[AgendaSpec, EventRecord]:
    """An event as its places are at `now` (an expired hold's are free)."""
    agenda = events_agenda_or_404(agenda_slug)
    return agenda, as_seen(event_or_404(agenda.slug, event_slug), now)


def update_event(
    agenda_slug: str, event_slug: str, body: Payload, tz: ZoneInfo, now: datetime
) -> tuple[AgendaSpec, EventRecord]:
    """`PATCH`: absent fields keep their value; a change that no longer fits the bookings is refused."""
    agenda = events_agenda_or_404(agenda_slug)
    record = _without_expired_holds(agenda.slug, event_or_404(agenda.slug, event_slug), now)
    if 'slug' in body and body.data.get('slug') != record.slug:
        raise invalid('slug', 'The slug of an event cannot change.')
    body.read.add('slug')
    spec = body.checked(read_event(body, tz, current=record.spec))
    _check_recurrence_fields(body, record.spec)
    problem = shrink_problem(record, spec)
    if problem:
        raise BusinessError('event has bookings', problem)
    if is_recurring_primary(spec) or is_recurring_primary(record.spec):
        if is_recurring_primary(spec):
            check_rule(spec, tz, now)
        _sync_recurrence(agenda.slug, record, spec, tz, now)
        return agenda, store.get_event(agenda.slug, record.slug) or record
    try:
        if not record.spec.cancelled and promotion.raised_places(agenda, record.spec, spec):
            # Waiting bookings move up in the transaction that raises the places (services/promotion.py).
            updated = promotion.update_event(agenda, record.slug, spec, now, lambda read: _still_fits(read, spec))
        else:
            store.update_event(agenda.slug, spec)
            updated = store.get_event(agenda.slug, record.slug)
    except store.Refused:
        raise BusinessError('event has bookings', f'event {record.slug} has more bookings than that') from None
    updated = updated or record
    if updated.has_bookings and (updated.spec.start, updated.end) != (record.spec.start, record.end):
        store.follow_event(agenda.slug, updated, reminders.dues(agenda, updated.spec.start, tz), now)
    return agenda, updated


def _still_fits(record: EventRecord, spec: EventSpec) -> None:
    problem = shrink_problem(record, spec)
    if problem:
        raise BusinessError('event has bookings', problem)


def _check_recurrence_fields(body: Payload, current: EventSpec | None) -> None:
    """`primary_event` is the rule's to set (and an import's, which lists what an export wrote); an
    occurrence does not recur itself."""
    if 'primary_event' in body.data and (body.data['primary_event'] or None) != (
        current.primary_event if current else None
    ):
        raise invalid('primary_event', 'Set by the recurring event that has this event as an occurrence.')
    if (
        current is not None
        and current.primary_event
        and any(body.data.get(name) not in (None, '', []) for name in RECURRENCE_FIELDS)
    ):
        raise invalid(
            'recurrence_days',
            f'An occurrence of the recurring event {current.primary_event} cannot recur itself: change that event.',
        )


def _without_expired_holds(agenda: str, record: EventRecord, now: datetime) -> EventRecord:
    """The event once its expired holds (spec §9.9) are given back: their places must not refuse a change
    (a live hold still counts: it keeps its places until it ends)."""
    expired = releasable(record, now, None, MAX_RELEASED)
    if not expired:
        return record
    store.release_holds(agenda, record, expired)  # one changed meanwhile: the read below sees it
    return event_or_404(agenda, record.slug)


def delete_event(agenda_slug: str, event_slug: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    agenda = events_agenda_or_404(agenda_slug)
    record = _without_expired_holds(agenda.slug, event_or_404(agenda.slug, event_slug), now)
    if record.spec.primary_event and store.get_event(agenda.slug, record.spec.primary_event):
        raise BusinessError(
            'event is an occurrence',
            f'event {record.slug} is an occurrence of the recurring event '
            f'{record.spec.primary_event}: cancel it rather than delete it '
            '(it would come back), or change that event',
        )
    if record.has_bookings:
        raise BusinessError('event has bookings', f'event {record.slug} has bookings: cancel them first')
    if is_recurring_primary(record.spec):  # with its occurrences
        _sync_recurrence(agenda.slug, record, None, tz, now)
        return {}
    try:
        store.delete_event(agenda.slug, record.slug)
    except store.Refused:
        raise BusinessError('event has bookings', f'event {record.slug} has bookings: cancel them first') from None
    return {}


def extend_recurrences(tz: ZoneInfo, now: datetime) -> int:
    """The daily job: each open-ended recurring event gets its occurrences for the year ahead.
    Returns how many were created."""
    created = 0
    for summary in store.list_agendas():
        if summary.kind != 'events':
            continue
        records = store.list_events(summary.slug)
        for primary in (r for r in records if is_recurring_primary(r.spec) and not r.spec.recurrence_end_date):
            stored = [r for r in records if r.spec.primary_event == primary.slug]
            wanted = derive_occurrences(primary.spec, [r.spec for r in stored], tz, now)
            taken = {r.slug for r in records}  # an occurrence's slug given to another event: that day is skipped
            ops = store.plan_events(summary.slug, [e for e in wanted if e.slug not in taken], [])
            try:
                store.apply_operations(ops)
            except Exception:  # noqa: BLE001 - one event's trouble must not stop the others' year
                log.exception('occurrences of %s/%s not extended', summary.slug, primary.slug)
                continue
            created += len(ops)
    return created
