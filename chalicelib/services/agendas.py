"""Use cases of the admin API on agendas (design.md §3.4, spec chrono-api.md §4, §5.3-5.5): list,
read and create agendas, and read a meetings agenda's meeting types, desks and resources.
design.md §3.6: none of the reads may fail for an agenda that `GET /api/agenda/` lists (w.c.s. then
refreshes none of its data sources)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain import closures
from chalicelib.domain.agenda_reader import read_agenda
from chalicelib.domain.event_rules import is_bookable, is_recurring_primary
from chalicelib.domain.holds import as_seen
from chalicelib.domain.meeting_slots import grid_problems
from chalicelib.domain.places import can_take
from chalicelib.domain.recurrence import with_occurrences as derived_occurrences
from chalicelib.domain.specs import AgendaSpec, MeetingTypeSpec
from chalicelib.domain.window import booking_window
from chalicelib.errors import InvalidPayload, invalid
from chalicelib.parsing import Payload
from chalicelib.services.events import check_rule
from chalicelib.services.lookup import agenda_or_404, meeting_type_or_404, meetings_agenda_or_404
from chalicelib.services.unavailability import reference_problems


def list_agendas(query: Payload, tz: ZoneInfo, now: datetime) -> tuple[list[AgendaSpec], dict[str, dict]]:
    """`GET /api/agenda/`: `q` is a substring of the slug, `category` and `kind` exact;
    `with_open_events=true` keeps the events agendas where a booking could be made now. With the
    resources they name (read only when one names some)."""
    q = query.str('q', max_length=200)
    category = query.str('category', max_length=200)
    kind = query.str('kind', max_length=20)
    with_open_events = query.bool('with_open_events')
    query.check()
    resources: dict[str, dict] = {}
    listed = []
    for agenda in sorted(store.list_agendas(), key=lambda a: (a.label.lower(), a.slug)):
        if q and q not in agenda.slug:
            continue
        if category and agenda.category != category:
            continue
        if kind and agenda.kind != kind:
            continue
        if with_open_events and not has_open_events(agenda, tz, now):
            continue
        if agenda.resources and not resources:
            resources = store.list_resources()
        listed.append(agenda)
    return listed, resources


def has_open_events(agenda: AgendaSpec, tz: ZoneInfo, now: datetime) -> bool:
    """An events agenda with an event, in its booking window, that would take one more place."""
    if agenda.kind != 'events':
        return False
    window = booking_window(agenda, now, tz)
    return any(
        is_bookable(agenda, r.spec, now, tz) and can_take(as_seen(r, now).places, 1)
        for r in store.events_between(agenda.slug, window.start, window.end)
    )


def get_agenda(slug: str) -> tuple[AgendaSpec, dict[str, dict]]:
    agenda = agenda_or_404(slug)
    return agenda, store.list_resources() if agenda.resources else {}


def create_agenda(body: Payload, tz: ZoneInfo, now: datetime | None = None) -> tuple[AgendaSpec, dict[str, dict]]:
    """`POST /api/agenda/`: an agenda with its settings (and, like an import, its content).

    `now` (the request's clock) starts the 600 days of closures read from ICS files."""
    now = now or datetime.now(timezone.utc)
    spec = with_occurrences(read_agenda(body.data, tz, now=now, budget=closures.Budget()), None, tz, now)
    check_references([('', spec)], tz=tz)
    taken = invalid('slug', f'An agenda with the slug "{spec.slug}" already exists.')
    if store.get_agenda(spec.slug) is not None:
        raise taken
    try:
        store.apply_operations(store.plan_agenda(spec, None))
    except store.Refused:
        raise taken from None  # created meanwhile by a concurrent call
    return spec, store.list_resources() if spec.resources else {}


def check_references(
    agendas: list[tuple[str, AgendaSpec]],
    resources: dict[str, dict] | None = None,
    tz: ZoneInfo | None = None,
    calendars: Iterable[str] = (),
) -> None:
    """Virtual agendas group meetings agendas; meetings agendas use known resources and meeting
    types short enough to book on their lock grid; desks name unavailability calendars that exist
    (in the table, or `calendars` of the same document).

    `agendas` pairs each agenda with its path in the request (`agendas.0.`, or '' for one agenda).
    """
    errors: dict[str, list[str]] = reference_problems(agendas, calendars)
    in_document = {a.slug: a.kind for _, a in agendas}
    known_resources = None
    for path, agenda in agendas:
        if tz is not None:
            for name, messages in grid_problems(agenda, tz).items():
                errors.setdefault(f'{path}{name}', []).extend(messages)
        for real in agenda.real_agendas:
            kind = in_document.get(real) or getattr(store.get_agenda(real), 'kind', None)
            if kind != 'meetings':
                errors.setdefault(f'{path}real_agendas', []).append(f'"{real}" is not a meetings agenda.')
        if agenda.resources:
            if known_resources is None:
                known_resources = {**store.list_resources(), **(resources or {})}
            for slug in agenda.resources:
                if slug not in known_resources:
                    errors.setdefault(f'{path}resources', []).append(f'Unknown resource "{slug}".')
    if errors:
        raise InvalidPayload(errors)


def with_occurrences(
    agenda: AgendaSpec, current: store.LoadedAgenda | None, tz: ZoneInfo, now: datetime, path: str = ''
) -> AgendaSpec:
    """An agenda document with the occurrences of its recurring events (domain/recurrence.py)."""
    if agenda.kind != 'events' or not any(is_recurring_primary(e) for e in agenda.events):
        return agenda
    for event in agenda.events:
        if is_recurring_primary(event):
            check_rule(event, tz, now, f'{path}events')
    stored = [r.spec for r in current.events] if current else []
    return replace(agenda, events=tuple(derived_occurrences(list(agenda.events), stored, tz, now)))


# ---- a meetings agenda's configuration (spec §5.3-5.5) -------------------------------------


def meeting_types(agenda_slug: str) -> tuple[AgendaSpec, list[MeetingTypeSpec]]:
    agenda = meetings_agenda_or_404(agenda_slug)
    return agenda, list(agenda.meetingtypes)


def meeting_type(agenda_slug: str, type_slug: str) -> tuple[AgendaSpec, MeetingTypeSpec]:
    agenda = meetings_agenda_or_404(agenda_slug)
    return agenda, meeting_type_or_404(agenda, type_slug)


def desks(agenda_slug: str) -> AgendaSpec:
    return meetings_agenda_or_404(agenda_slug)


def resources(agenda_slug: str) -> tuple[AgendaSpec, dict[str, dict]]:
    agenda = meetings_agenda_or_404(agenda_slug)
    return agenda, store.list_resources() if agenda.resources else {}
