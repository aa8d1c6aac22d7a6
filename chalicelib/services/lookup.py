"""Finding what a path names, or answering Chrono's 404 (spec chrono-api.md §1.4)."""

from __future__ import annotations

from dataclasses import replace

from chalicelib import store
from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.meeting_slots import common_meeting_types
from chalicelib.domain.specs import AgendaSpec, MeetingTypeSpec
from chalicelib.errors import NotFound
from chalicelib.parsing import SLUG_RE
from chalicelib.services.unavailability import with_shared_closures

BOOKING_ID_MAX_DIGITS = 19
SHOWN = 200  # characters of a path segment echoed in a 404


def unknown_agenda(slug: str) -> NotFound:
    return NotFound('unknown agenda', f'agenda {slug[:SHOWN]} does not exist')


def unknown_event(agenda: str, slug: str) -> NotFound:
    return NotFound('unknown event', f'event {slug[:SHOWN]} does not exist in agenda {agenda[:SHOWN]}')


def agenda_or_404(slug: str) -> AgendaSpec:
    agenda = store.get_agenda(slug) if SLUG_RE.match(slug) else None
    if agenda is None:
        raise unknown_agenda(slug)
    return agenda


def events_agenda_or_404(slug: str) -> AgendaSpec:
    agenda = agenda_or_404(slug)
    if agenda.kind != 'events':
        raise NotFound('not an events agenda', f'agenda {slug[:SHOWN]} is not an events agenda')
    return agenda


def event_or_404(agenda: str, slug: str) -> EventRecord:
    record = store.get_event(agenda, slug) if SLUG_RE.match(slug) else None
    if record is None:
        raise unknown_event(agenda, slug)
    return record


def booking_or_404(booking_id: str) -> list[Leg]:
    """The legs of a booking named in a path; ids are integers."""
    text = booking_id.strip()
    legs = []
    if text.isascii() and text.isdigit() and len(text) <= BOOKING_ID_MAX_DIGITS:
        legs = store.get_legs(int(text))
    if not legs:
        raise NotFound('unknown booking', f'booking {booking_id[:SHOWN]} does not exist')
    return legs


def real_agendas(virtual: AgendaSpec) -> list[AgendaSpec]:
    """The meetings agendas a virtual agenda groups, with their configuration; one deleted since
    is left out rather than failing (design.md §3.6)."""
    loaded = (store.load_agenda(slug, with_events=False) for slug in virtual.real_agendas)
    return [r.spec for r in loaded if r is not None and r.spec.kind == 'meetings']


def configured_agenda_or_404(slug: str) -> AgendaSpec:
    """An agenda with its configuration (meeting types, desks...), without its events."""
    loaded = store.load_agenda(slug, with_events=False) if SLUG_RE.match(slug) else None
    if loaded is None:
        raise unknown_agenda(slug)
    return loaded.spec


def serving_agendas(spec: AgendaSpec, closures: bool = True) -> tuple[AgendaSpec, list[AgendaSpec]]:
    """A meetings or virtual agenda, and the agendas whose desks serve it (itself, or a virtual
    agenda's real agendas, each read once); a virtual one comes with the meeting types common
    to its real agendas. With `closures`, the serving desks carry their unavailability calendars'
    closures (what slots and the desk choice read: services/unavailability.py)."""
    if spec.kind != 'virtual':
        served = with_shared_closures([spec]) if closures else [spec]
        return served[0], served
    reals = real_agendas(spec)
    return replace(spec, meetingtypes=common_meeting_types(reals)), with_shared_closures(reals) if closures else reals


def serving_agendas_or_404(slug: str, closures: bool = True) -> tuple[AgendaSpec, list[AgendaSpec]]:
    spec = configured_agenda_or_404(slug)
    if spec.kind == 'events':
        raise NotFound('not a meetings agenda', f'agenda {slug[:SHOWN]} is an events agenda')
    return serving_agendas(spec, closures)


def meetings_agenda_or_404(slug: str) -> AgendaSpec:
    """The agenda's configuration, for the reads that list it (no closures needed)."""
    return serving_agendas_or_404(slug, closures=False)[0]


def meeting_type_or_404(agenda: AgendaSpec, slug: str) -> MeetingTypeSpec:
    for meeting_type in agenda.meetingtypes:
        if meeting_type.slug == slug:
            return meeting_type
    raise NotFound('unknown meeting type', f'meeting type {slug[:SHOWN]} does not exist in agenda {agenda.slug}')
