"""Use cases of the admin API that move whole agendas (design.md §3.4, spec chrono-api.md §11.1): an
import replaces each agenda (and unavailability calendar) of the document, all or nothing, never
losing a booked place; an export gives the same document back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain import closures
from chalicelib.domain.agenda_reader import (
    keep_fetched_calendar,
    keep_fetched_sources,
    keep_stored_instants,
    read_agenda,
    read_calendar,
)
from chalicelib.domain.closures import UnavailabilityCalendarSpec
from chalicelib.domain.event_rules import EventRecord, shrink_problem
from chalicelib.domain.meeting_slots import longest, past_lock_steps
from chalicelib.domain.specs import AgendaSpec
from chalicelib.domain.window import LAST_INSTANT
from chalicelib.errors import BusinessError, InvalidPayload
from chalicelib.parsing import SLUG_RE, Payload
from chalicelib.services import promotion, reminders, subscriptions
from chalicelib.services.agendas import check_references, with_occurrences


def _named_items(data: dict[str, Any], name: str, errors: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """The top-level `categories` or `resources` of an export: `{slug: {"label", "description"}}`."""
    raw = data.get(name) or []
    if not isinstance(raw, list):
        errors[name] = ['Expected a list of items.']
        return {}
    items = {}
    for index, item in enumerate(raw):
        if (
            isinstance(item, dict)
            and isinstance(item.get('slug'), str)
            and SLUG_RE.match(item['slug'])
            and isinstance(item.get('label'), str)
            and item['label'].strip()
        ):
            description = item.get('description')
            items[item['slug']] = {
                'label': item['label'][:250],
                'description': description if isinstance(description, str) else None,
            }
        else:
            errors[f'{name}.{index}'] = ['Expected an object with a slug and a label.']
    return items


@dataclass
class Document:
    agendas: list[AgendaSpec]
    resources: dict[str, dict]
    calendars: list[UnavailabilityCalendarSpec]


def _read_calendars(
    data: dict[str, Any], tz: ZoneInfo, now: datetime, budget: closures.Budget, errors: dict[str, list[str]]
) -> list[UnavailabilityCalendarSpec]:
    """The top-level `unavailability_calendars` of an export (spec §11.1)."""
    raw = data.get('unavailability_calendars')
    if raw in (None, ''):
        return []
    if not isinstance(raw, list):
        errors['unavailability_calendars'] = ['Expected a list of items.']
        return []
    calendars: list[tuple[int, UnavailabilityCalendarSpec]] = []
    for index, item in enumerate(raw):
        try:
            calendars.append(
                (index, read_calendar(item, tz, path=f'unavailability_calendars.{index}', now=now, budget=budget))
            )
        except InvalidPayload as exc:
            errors.update(exc.errors or {})
    seen: set[str] = set()
    for index, calendar in calendars:
        if calendar.slug in seen:
            errors.setdefault(f'unavailability_calendars.{index}.slug', []).append(
                f'Duplicate unavailability calendar slug "{calendar.slug}".'
            )
        seen.add(calendar.slug)
    return [calendar for _, calendar in calendars]


def _read_document(data: dict[str, Any], tz: ZoneInfo, now: datetime) -> Document:
    errors: dict[str, list[str]] = {}
    budget = closures.Budget()  # one for the whole document
    categories = {slug: value['label'] for slug, value in _named_items(data, 'categories', errors).items()}
    resources = _named_items(data, 'resources', errors)
    calendars = _read_calendars(data, tz, now, budget, errors)
    raw_agendas = data.get('agendas')
    if not isinstance(raw_agendas, list):
        errors['agendas'] = ['Expected a list of agendas.']
        raw_agendas = []
    agendas: list[tuple[int, AgendaSpec]] = []  # with their position in the document, for error keys
    for index, item in enumerate(raw_agendas):
        try:
            agendas.append(
                (index, read_agenda(item, tz, path=f'agendas.{index}', categories=categories, now=now, budget=budget))
            )
        except InvalidPayload as exc:
            errors.update(exc.errors or {})
    seen: set[str] = set()
    for index, agenda in agendas:
        if agenda.slug in seen:
            errors.setdefault(f'agendas.{index}.slug', []).append(f'Duplicate agenda slug "{agenda.slug}".')
        seen.add(agenda.slug)
    if errors:
        raise InvalidPayload(errors)
    return Document([agenda for _, agenda in agendas], resources, calendars)


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

    Each agenda (and unavailability calendar) of the document replaces the stored one; one whose
    content is the same is left untouched and listed in neither `created` nor `updated`. Closures
    read from ICS files cover the 600 days from `now` (the request's clock), so the same document
    imported on another day may update them; a URL source given without its file keeps its last
    good fetch.
    """
    now = now or datetime.now(timezone.utc)
    document = _read_document(body.data, tz, now)
    agendas, resources = document.agendas, document.resources
    check_references(
        [(f'agendas.{i}.', a) for i, a in enumerate(agendas)], resources, tz, [c.slug for c in document.calendars]
    )
    operations = store.plan_resources(resources)
    calendars: dict[str, list[str]] = {'created': [], 'updated': []}
    for calendar in document.calendars:
        stored = store.load_calendar(calendar.slug)
        if stored is not None:
            calendar = keep_fetched_calendar(calendar, stored.spec, tz, now)
            if calendar == stored.spec:
                continue
        operations.extend(store.plan_calendar(calendar, stored))
        calendars['updated' if stored else 'created'].append(calendar.slug)
    subscribed = subscriptions.plan_import(body.data.get('agendas'), agendas)
    created: list[str] = []
    updated: list[str] = []
    problems: list[str] = []
    moved: list[tuple[str, EventRecord]] = []  # booked events whose time changes: their bookings follow
    promoting: list[tuple[str, str]] = []  # events where waiting bookings may move up once imported
    specs: dict[str, AgendaSpec] = {}
    for index, agenda in enumerate(agendas):
        current = store.load_agenda(agenda.slug)
        if current is not None:
            agenda = keep_fetched_sources(keep_stored_instants(agenda, current.spec, tz), current.spec, tz, now)
        agenda = with_occurrences(agenda, current, tz, now, f'agendas.{index}.')
        if current is not None and current.spec == agenda:
            continue
        specs[agenda.slug] = agenda
        if current is not None:
            agenda = replace(agenda, past_lock_steps=past_lock_steps(agenda, current.spec, tz))
            problems.extend(_removal_problems(agenda, current, now))
            new_events = {e.slug: e for e in agenda.events}
            turned = agenda.waiting_list_promotion != current.spec.waiting_list_promotion
            promoting.extend(
                (agenda.slug, r.slug)
                for r in current.events
                if r.waiting_list_reserved
                and r.slug in new_events
                and (turned or promotion.raised_places(agenda, r.spec, new_events[r.slug]))
            )
            moved.extend(
                (agenda.slug, EventRecord(agenda.slug, new_events[r.slug]))
                for r in current.events
                if r.has_bookings
                and r.slug in new_events
                and (new_events[r.slug].start, new_events[r.slug].duration) != (r.spec.start, r.spec.duration)
            )
        operations.extend(store.plan_agenda(agenda, current))
        (updated if current else created).append(agenda.slug)
    if problems:
        raise BusinessError('import refused', '; '.join(problems))
    try:
        store.apply_operations(operations)
    except store.Refused:
        raise BusinessError(
            'import refused',
            'bookings or unavailability calendars changed during the import: nothing was imported, try again',
        ) from None
    for agenda_slug, record in moved:
        store.follow_event(agenda_slug, record, reminders.dues(specs.get(agenda_slug), record.spec.start, tz), now)
    subscriptions.apply_import(subscribed)
    # Not in the import's transactions (an import may take several, and undo them): right after them.
    promotion.promote_events(promoting, now)
    answer: dict[str, Any] = {'created': created, 'updated': updated}
    if calendars['created'] or calendars['updated']:  # absent otherwise: the answer stays Chrono's
        answer['unavailability_calendars'] = calendars
    return answer


def export_document(tz: ZoneInfo) -> dict[str, Any]:
    agendas = []
    categories: dict[str, str] = {}
    for summary in sorted(store.list_agendas(), key=lambda a: a.slug):
        loaded = store.load_agenda(summary.slug)
        if loaded is None:
            continue
        agendas.append(loaded.spec.export(tz))
        listed = subscriptions.export_agenda(summary.slug) if loaded.spec.kind == 'events' else []
        if listed:  # personal data: only where there is some
            agendas[-1]['subscriptions'] = listed
        if loaded.spec.category:
            categories[loaded.spec.category] = loaded.spec.category_label or loaded.spec.category
    resources = store.list_resources()
    calendars = (store.load_calendar(slug) for slug in store.list_calendars())
    return {
        'agendas': agendas,
        'categories': [{'slug': s, 'label': label} for s, label in sorted(categories.items())],
        'resources': [{'slug': s, **resources[s]} for s in sorted(resources)],
        'unavailability_calendars': [c.spec.export(tz) for c in calendars if c is not None],
    }
