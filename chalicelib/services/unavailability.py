"""Use cases of unavailability calendars (spec chrono-api.md §2.3; docs/api.md "Closures"): named sets of
closures that desks of any agenda name by slug. Their admin API (create, read, update, delete), the check
that what a desk names exists, and the closures they add to the desks a listing or a booking reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain import closures
from chalicelib.domain.agenda_reader import keep_fetched_calendar, read_calendar
from chalicelib.domain.closures import UnavailabilityCalendarSpec
from chalicelib.domain.specs import AgendaSpec
from chalicelib.errors import BusinessError, Busy, NotFound, invalid
from chalicelib.parsing import SLUG_RE, Payload

SHOWN = 200
ATTEMPTS = 3


def unknown_calendar(slug: str) -> NotFound:
    return NotFound('unknown unavailability calendar', f'unavailability calendar {slug[:SHOWN]} does not exist')


def calendar_or_404(slug: str) -> store.LoadedCalendar:
    loaded = store.load_calendar(slug) if SLUG_RE.match(slug) else None
    if loaded is None:
        raise unknown_calendar(slug)
    return loaded


# ---- the admin API ----------------------------------------------------------------------------------


def list_calendars() -> list[UnavailabilityCalendarSpec]:
    """`GET /api/unavailability-calendar/`: every calendar, by slug."""
    loaded = (store.load_calendar(slug) for slug in store.list_calendars())
    return [calendar.spec for calendar in loaded if calendar is not None]


def get_calendar(slug: str) -> UnavailabilityCalendarSpec:
    return calendar_or_404(slug).spec


def create_calendar(body: Payload, tz: ZoneInfo, now: datetime) -> UnavailabilityCalendarSpec:
    """`POST /api/unavailability-calendar/`: `label` (the slug derived from it if absent), `permissions`,
    `exceptions`, `exceptions_sources` (ICS files read now; URLs fetched by the next refresh)."""
    spec = read_calendar(body.data, tz, now=now, budget=closures.Budget())
    taken = invalid('slug', f'An unavailability calendar with the slug "{spec.slug}" already exists.')
    if store.load_calendar(spec.slug) is not None:
        raise taken
    try:
        store.apply_operations(store.plan_calendar(spec, None))
    except store.Refused:
        raise taken from None  # created meanwhile by a concurrent call
    return spec


def update_calendar(slug: str, body: Payload, tz: ZoneInfo, now: datetime) -> UnavailabilityCalendarSpec:
    """`PATCH /api/unavailability-calendar/<slug>/`: the keys given replace their value; a URL source
    given again without its file keeps its last good fetch. Decided on the calendar as read and
    written only if it did not change meanwhile (else decided again)."""
    for _ in range(ATTEMPTS):
        current = calendar_or_404(slug)
        spec = read_calendar(body.data, tz, now=now, budget=closures.Budget(), current=current.spec)
        spec = keep_fetched_calendar(spec, current.spec, tz, now)
        if spec == current.spec:
            return current.spec
        try:
            store.apply_operations(store.plan_calendar(spec, current))
        except store.Refused:
            continue  # changed (or deleted) since the read: decide again on what is there now
        return replace(spec, version=current.spec.version + 1)
    raise Busy('busy', 'the unavailability calendar keeps changing: try again')


def delete_calendar(slug: str) -> dict[str, object]:
    """`DELETE /api/unavailability-calendar/<slug>/`: refused while a desk names it (a desk would
    silently lose its closures); the calendar and all its closures otherwise."""
    current = calendar_or_404(slug)
    users = desks_naming(current.spec.slug)
    if users:
        named = ', '.join(f'{agenda}/{desk}' for agenda, desk in users[:20])
        raise BusinessError('unavailability calendar in use', f'desks name it: {named}')
    try:
        store.apply_operations(store.plan_calendar(None, current))
    except store.Refused:
        raise Busy('busy', 'the unavailability calendar changed meanwhile: try again') from None
    return {}


def desks_naming(slug: str) -> list[tuple[str, str]]:
    """(agenda, desk) of every desk that names the calendar."""
    found = []
    for agenda in store.list_agendas():
        if agenda.kind != 'meetings':
            continue
        loaded = store.load_agenda(agenda.slug, with_events=False)
        if loaded is not None:
            found += [(agenda.slug, d.slug) for d in loaded.spec.desks if slug in d.unavailability_calendars]
    return found


# ---- what desks name ----------------------------------------------------------------------------------


def reference_problems(agendas: list[tuple[str, AgendaSpec]], known: Iterable[str] = ()) -> dict[str, list[str]]:
    """Calendars that desks name and that neither the document (`known`) nor the table holds, under
    each desk's path (`agendas.0.desks.1.unavailability_calendars`)."""
    named = {slug for _, agenda in agendas for desk in agenda.desks for slug in desk.unavailability_calendars}
    missing = named - set(known)
    missing -= store.existing_calendars(sorted(missing)) if missing else set()
    errors: dict[str, list[str]] = {}
    for path, agenda in agendas:
        for index, desk in enumerate(agenda.desks):
            for slug in desk.unavailability_calendars:
                if slug in missing:
                    errors.setdefault(f'{path}desks.{index}.unavailability_calendars', []).append(
                        f'The unavailability calendar "{slug}" does not exist.'
                    )
    return errors


def with_shared_closures(agendas: list[AgendaSpec]) -> list[AgendaSpec]:
    """The agendas with, on each desk, the closures of the calendars it names (each calendar read
    once: one Query); desks that name none cost nothing."""
    named = [slug for agenda in agendas for desk in agenda.desks for slug in desk.unavailability_calendars]
    if not named:
        return agendas
    found = store.calendar_closures(named)
    return [
        replace(
            agenda,
            desks=tuple(
                replace(desk, shared_closures=tuple(c for slug in desk.unavailability_calendars for c in found[slug]))
                if desk.unavailability_calendars
                else desk
                for desk in agenda.desks
            ),
        )
        for agenda in agendas
    ]
