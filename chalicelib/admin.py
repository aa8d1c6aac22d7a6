"""Use cases of the admin API (design.md §3.4): agendas, events, import and export."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import http, store
from chalicelib.domain import ics
from chalicelib.domain.agendas import AgendaSpec, EventSpec, agenda_item, keep_stored_instants, read_agenda, read_event, slugify
from chalicelib.domain.places import can_take
from chalicelib.domain.events import EventRecord, event_detail, is_bookable, is_recurring_primary, shrink_problem
from chalicelib.domain.meetings import grid_problems, longest, past_lock_steps
from chalicelib.domain.recurrence import MAX_OCCURRENCES, derive_occurrences, rule_problem, too_many, with_occurrences
from chalicelib.domain.window import LAST_INSTANT, booking_window
from chalicelib.errors import BusinessError, InvalidPayload, invalid
from chalicelib.lookup import agenda_or_404, event_or_404, events_agenda_or_404
from chalicelib.parsing import SLUG_RE, Payload

log = logging.getLogger(__name__)
RECURRENCE_FIELDS = ('recurrence_days', 'recurrence_week_interval', 'recurrence_end_date')


# ---- agendas ------------------------------------------------------------------------------

def list_agendas(query: Payload, base_url: str, tz: ZoneInfo, now: datetime) -> list[dict[str, Any]]:
    """`GET /api/agenda/`: `q` is a substring of the slug, `category` and `kind` exact;
    `with_open_events=true` keeps the events agendas where a booking could be made now."""
    q = query.str('q', max_length=200)
    category = query.str('category', max_length=200)
    kind = query.str('kind', max_length=20)
    with_open_events = query.bool('with_open_events')
    query.check()
    resources = None
    items = []
    for agenda in sorted(store.list_agendas(), key=lambda a: (a.label.lower(), a.slug)):
        if q and q not in agenda.slug:
            continue
        if category and agenda.category != category:
            continue
        if kind and agenda.kind != kind:
            continue
        if with_open_events and not has_open_events(agenda, tz, now):
            continue
        if agenda.resources and resources is None:
            resources = store.list_resources()
        items.append(agenda_item(agenda, base_url, resources))
    return items


def has_open_events(agenda: AgendaSpec, tz: ZoneInfo, now: datetime) -> bool:
    """An events agenda with an event, in its booking window, that would take one more place."""
    if agenda.kind != 'events':
        return False
    window = booking_window(agenda, now, tz)
    return any(is_bookable(agenda, r.spec, now, tz) and can_take(r.places, 1)
               for r in store.events_between(agenda.slug, window.start, window.end))


def get_agenda(slug: str, base_url: str) -> dict[str, Any]:
    agenda = agenda_or_404(slug)
    return agenda_item(agenda, base_url, store.list_resources() if agenda.resources else None)


def create_agenda(body: Payload, base_url: str, tz: ZoneInfo, now: datetime | None = None) -> dict[str, Any]:
    """`POST /api/agenda/`: an agenda with its settings (and, like an import, its content).

    `now` (the request's clock) starts the 600 days of closures read from ICS files."""
    now = now or http.utcnow()
    spec = _with_occurrences(read_agenda(body.data, tz, now=now, budget=ics.Budget()), None, tz, now)
    _check_references([('', spec)], tz=tz)
    taken = invalid('slug', f'An agenda with the slug "{spec.slug}" already exists.')
    if store.get_agenda(spec.slug) is not None:
        raise taken
    try:
        store.apply_operations(store.plan_agenda(spec, None))
    except store.Refused:
        raise taken from None  # created meanwhile by a concurrent call
    return agenda_item(spec, base_url, store.list_resources() if spec.resources else None)


# ---- events -------------------------------------------------------------------------------

def create_event(agenda_slug: str, body: Payload, base_url: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    agenda = events_agenda_or_404(agenda_slug)
    spec = read_event(body, tz, slug_required=False)
    body.check()
    _check_recurrence_fields(body, None)
    if not spec.slug:
        base = slugify(spec.label or '') or f'{agenda.slug}-{spec.start.astimezone(tz):%Y-%m-%d-%H%M}'
        candidates = [base] + [f'{base}-{n}' for n in range(2, 50)]
    else:
        candidates = [spec.slug]
    for slug in candidates:
        created = replace(spec, slug=slug)
        if is_recurring_primary(created):
            _check_rule(created, tz, now)
            try:  # the primary and its occurrences, all or nothing
                store.apply_operations(store.plan_events(agenda.slug, [created, *derive_occurrences(
                    created, [], tz, now)], []))
            except store.Refused:
                continue
        elif not store.create_event(agenda.slug, created):
            continue
        return event_detail(agenda, EventRecord(agenda.slug, created), base_url, tz, now)
    raise invalid('slug', f'An event with the slug "{spec.slug or candidates[0]}" already exists.')


def _check_rule(event: EventSpec, tz: ZoneInfo, now: datetime, events_path: str | None = None) -> None:
    """A recurring event's rule fits (domain/recurrence.py); errors under the field, or under
    `events_path` with the event's slug (imports)."""
    field, problem = 'slug', rule_problem(event)
    if problem is None and too_many(event, tz, now):
        problem = f'A recurring event has at most {MAX_OCCURRENCES} occurrences: choose an earlier end date.'
    if problem and 'end date' in problem:
        field = 'recurrence_end_date'
    if problem:
        raise InvalidPayload({events_path: [f'Event "{event.slug}": {problem}']} if events_path else {field: [problem]})


def _occurrences_of(agenda: str, primary: str) -> list[EventRecord]:
    return [r for r in store.list_events(agenda) if r.spec.primary_event == primary]


def _sync_recurrence(agenda: str, old: EventRecord | None, new: EventSpec | None, tz: ZoneInfo,
                     now: datetime) -> None:
    """Write a primary event (`new`; None deletes it) and its occurrences as derived from it, in
    as few transactions as fit; an occurrence with bookings is never removed nor shrunk."""
    stored = _occurrences_of(agenda, (old or new).slug)
    cancelled = new.cancelled if new and old and new.cancelled != old.spec.cancelled else None
    wanted = derive_occurrences(new, [r.spec for r in stored], tz, now, cancelled) if new else []
    kept = {e.slug for e in wanted}
    booked = [r.slug for r in stored if r.has_bookings and r.slug not in kept]
    if booked:
        raise BusinessError('event has bookings', f'occurrences with bookings would be deleted: {", ".join(booked)}')
    try:
        store.apply_operations(store.plan_events(agenda, ([new] if new else []) + wanted,
                                                 ([old] if old else []) + stored))
    except store.Refused:
        raise BusinessError('event has bookings', f'event {(old or new).slug} or its occurrences have more bookings '
                                                  'than that, or an occurrence\'s slug is taken') from None
    derived = {e.slug: e for e in wanted}
    for record in stored:  # a booked occurrence whose time changed: its bookings follow
        spec = derived.get(record.slug)
        moved = EventRecord(agenda, spec) if spec else None
        if record.has_bookings and moved and (moved.spec.start, moved.end) != (record.spec.start, record.end):
            store.follow_event(agenda, moved)


def get_event(agenda_slug: str, event_slug: str, base_url: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    agenda = events_agenda_or_404(agenda_slug)
    return event_detail(agenda, event_or_404(agenda.slug, event_slug), base_url, tz, now)


def update_event(agenda_slug: str, event_slug: str, body: Payload, base_url: str, tz: ZoneInfo,
                 now: datetime) -> dict[str, Any]:
    """`PATCH`: absent fields keep their value; a change that no longer fits the bookings is refused."""
    agenda = events_agenda_or_404(agenda_slug)
    record = event_or_404(agenda.slug, event_slug)
    if 'slug' in body and body.data.get('slug') != record.slug:
        raise invalid('slug', 'The slug of an event cannot change.')
    body.read.add('slug')
    spec = read_event(body, tz, current=record.spec)
    body.check()
    _check_recurrence_fields(body, record.spec)
    problem = shrink_problem(record, spec)
    if problem:
        raise BusinessError('event has bookings', problem)
    if is_recurring_primary(spec) or is_recurring_primary(record.spec):
        if is_recurring_primary(spec):
            _check_rule(spec, tz, now)
        _sync_recurrence(agenda.slug, record, spec, tz, now)
        return event_detail(agenda, store.get_event(agenda.slug, record.slug) or record, base_url, tz, now)
    try:
        store.update_event(agenda.slug, spec)
    except store.Refused:
        raise BusinessError('event has bookings', f'event {record.slug} has more bookings than that') from None
    updated = store.get_event(agenda.slug, record.slug) or record
    if updated.has_bookings and (updated.spec.start, updated.end) != (record.spec.start, record.end):
        store.follow_event(agenda.slug, updated)
    return event_detail(agenda, updated, base_url, tz, now)


def _check_recurrence_fields(body: Payload, current: EventSpec | None) -> None:
    """`primary_event` is the rule's to set (and an import's, which lists what an export wrote); an
    occurrence does not recur itself."""
    if 'primary_event' in body.data and (body.data['primary_event'] or None) != (
            current.primary_event if current else None):
        raise invalid('primary_event', 'Set by the recurring event that has this event as an occurrence.')
    if current is not None and current.primary_event and any(
            body.data.get(name) not in (None, '', []) for name in RECURRENCE_FIELDS):
        raise invalid('recurrence_days', f'An occurrence of the recurring event {current.primary_event} cannot '
                                         'recur itself: change that event.')


def delete_event(agenda_slug: str, event_slug: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    agenda = events_agenda_or_404(agenda_slug)
    record = event_or_404(agenda.slug, event_slug)
    if record.spec.primary_event and store.get_event(agenda.slug, record.spec.primary_event):
        raise BusinessError('event is an occurrence', f'event {record.slug} is an occurrence of the recurring event '
                                                      f'{record.spec.primary_event}: cancel it rather than delete it '
                                                      '(it would come back), or change that event')
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


# ---- import and export ---------------------------------------------------------------------

def _named_items(data: dict[str, Any], name: str, errors: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """The top-level `categories` or `resources` of an export: `{slug: {"label", "description"}}`."""
    raw = data.get(name) or []
    if not isinstance(raw, list):
        errors[name] = ['Expected a list of items.']
        return {}
    items = {}
    for index, item in enumerate(raw):
        if (isinstance(item, dict) and isinstance(item.get('slug'), str) and SLUG_RE.match(item['slug'])
                and isinstance(item.get('label'), str) and item['label'].strip()):
            description = item.get('description')
            items[item['slug']] = {'label': item['label'][:250],
                                   'description': description if isinstance(description, str) else None}
        else:
            errors[f'{name}.{index}'] = ['Expected an object with a slug and a label.']
    return items


def _read_document(data: dict[str, Any], tz: ZoneInfo, now: datetime) -> tuple[list[AgendaSpec], dict[str, dict]]:
    errors: dict[str, list[str]] = {}
    budget = ics.Budget()  # one for the whole document
    categories = {slug: value['label'] for slug, value in _named_items(data, 'categories', errors).items()}
    resources = _named_items(data, 'resources', errors)
    raw_agendas = data.get('agendas')
    if not isinstance(raw_agendas, list):
        errors['agendas'] = ['Expected a list of agendas.']
        raw_agendas = []
    agendas: list[tuple[int, AgendaSpec]] = []  # with their position in the document, for error keys
    for index, item in enumerate(raw_agendas):
        try:
            agendas.append((index, read_agenda(item, tz, path=f'agendas.{index}', categories=categories, now=now,
                                               budget=budget)))
        except InvalidPayload as exc:
            errors.update(exc.errors or {})
    seen: set[str] = set()
    for index, agenda in agendas:
        if agenda.slug in seen:
            errors.setdefault(f'agendas.{index}.slug', []).append(f'Duplicate agenda slug "{agenda.slug}".')
        seen.add(agenda.slug)
    if errors:
        raise InvalidPayload(errors)
    return [agenda for _, agenda in agendas], resources


def _check_references(agendas: list[tuple[str, AgendaSpec]], resources: dict[str, dict] | None = None,
                      tz: ZoneInfo | None = None) -> None:
    """Virtual agendas group meetings agendas; meetings agendas use known resources and meeting
    types short enough to book on their lock grid.

    `agendas` pairs each agenda with its path in the request (`agendas.0.`, or '' for one agenda).
    """
    errors: dict[str, list[str]] = {}
    in_document = {a.slug: a.kind for _, a in agendas}
    known_resources = None
    for path, agenda in agendas:
        if tz is not None:
            for name, messages in grid_problems(agenda, tz).items():
                errors.setdefault(f'{path}{name}', []).extend(messages)
        for real in agenda.real_agendas:
            kind = in_document.get(real) or getattr(store.get_agenda(real), 'kind', None)
            if kind != 'meetings':
                errors.setdefault(f'{path}real_agendas', []).append(
                    f'"{real}" is not a meetings agenda.')
        if agenda.resources:
            if known_resources is None:
                known_resources = {**store.list_resources(), **(resources or {})}
            for slug in agenda.resources:
                if slug not in known_resources:
                    errors.setdefault(f'{path}resources', []).append(f'Unknown resource "{slug}".')
    if errors:
        raise InvalidPayload(errors)


def _with_occurrences(agenda: AgendaSpec, current: store.LoadedAgenda | None, tz: ZoneInfo, now: datetime,
                      path: str = '') -> AgendaSpec:
    """An agenda document with the occurrences of its recurring events (domain/recurrence.py)."""
    if agenda.kind != 'events' or not any(is_recurring_primary(e) for e in agenda.events):
        return agenda
    for event in agenda.events:
        if is_recurring_primary(event):
            _check_rule(event, tz, now, f'{path}events')
    stored = [r.spec for r in current.events] if current else []
    return replace(agenda, events=tuple(with_occurrences(list(agenda.events), stored, tz, now)))


def _removal_problems(new: AgendaSpec, current: store.LoadedAgenda, now: datetime) -> list[str]:
    problems = []
    if new.kind != current.spec.kind and any(r.has_bookings for r in current.events):
        problems.append(f'agenda {new.slug} has bookings: its kind cannot change')
    kept = {desk.slug for desk in new.desks} if new.kind == 'meetings' else set()
    removed = {desk.slug for desk in current.spec.desks} - kept
    if removed:  # a desk with meetings to come stays (read from the index)
        legs = store.meeting_legs(new.slug, now, LAST_INSTANT, longest(current.spec))
        for desk in sorted(removed & {leg.desk for leg in legs}):
            problems.append(f'desk {desk} of agenda {new.slug} has meetings to come and would be deleted')
    new_events = {e.slug: e for e in new.events} if new.kind == 'events' else {}
    for record in current.events:
        spec = new_events.get(record.slug)
        if spec is None:
            if record.has_bookings:
                problems.append(f'event {record.slug} of agenda {new.slug} has bookings and would be deleted')
        else:
            problem = shrink_problem(record, spec)
            if problem:
                problems.append(f'{problem} (agenda {new.slug})')
    return problems


def import_document(body: Payload, tz: ZoneInfo, now: datetime | None = None) -> dict[str, Any]:
    """All or nothing: validate everything, refuse any loss of booked places, then write.

    Each agenda of the document replaces the stored one; one whose content is the same is
    left untouched and listed in neither `created` nor `updated`. Closures read from ICS files
    cover the 600 days from `now` (the request's clock), so the same document imported on
    another day may update them.
    """
    now = now or http.utcnow()
    agendas, resources = _read_document(body.data, tz, now)
    _check_references([(f'agendas.{i}.', a) for i, a in enumerate(agendas)], resources, tz)
    operations = store.save_resources(resources)
    created, updated, problems = [], [], []
    moved: list[tuple[str, EventRecord]] = []  # booked events whose time changes: their bookings follow
    for index, agenda in enumerate(agendas):
        current = store.load_agenda(agenda.slug)
        if current is not None:
            agenda = keep_stored_instants(agenda, current.spec, tz)
        agenda = _with_occurrences(agenda, current, tz, now, f'agendas.{index}.')
        if current is not None and current.spec == agenda:
            continue
        if current is not None:
            agenda = replace(agenda, past_lock_steps=past_lock_steps(agenda, current.spec, tz))
            problems.extend(_removal_problems(agenda, current, now))
            new_events = {e.slug: e for e in agenda.events}
            moved.extend((agenda.slug, EventRecord(agenda.slug, new_events[r.slug])) for r in current.events
                         if r.has_bookings and r.slug in new_events
                         and (new_events[r.slug].start, new_events[r.slug].duration) != (r.spec.start, r.spec.duration))
        operations.extend(store.plan_agenda(agenda, current))
        (updated if current else created).append(agenda.slug)
    if problems:
        raise BusinessError('import refused', '; '.join(problems))
    try:
        store.apply_operations(operations)
    except store.Refused:
        raise BusinessError('import refused', 'bookings changed during the import: nothing was imported, '
                                              'try again') from None
    for agenda_slug, record in moved:
        store.follow_event(agenda_slug, record)
    return {'created': created, 'updated': updated}


def export_document(tz: ZoneInfo) -> dict[str, Any]:
    agendas = []
    categories: dict[str, str] = {}
    used_resources: set[str] = set()
    for summary in sorted(store.list_agendas(), key=lambda a: a.slug):
        loaded = store.load_agenda(summary.slug)
        if loaded is None:
            continue
        agendas.append(loaded.spec.export(tz))
        if loaded.spec.category:
            categories[loaded.spec.category] = loaded.spec.category_label or loaded.spec.category
        used_resources.update(loaded.spec.resources)
    resources = store.list_resources()
    return {
        'agendas': agendas,
        'categories': [{'slug': s, 'label': label} for s, label in sorted(categories.items())],
        'resources': [{'slug': s, **resources[s]} for s in sorted(resources)],
    }
