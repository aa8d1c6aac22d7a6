"""Use cases that read a meetings or virtual agenda's configuration: meeting types, desks,
resources (spec chrono-api.md §5.3-5.5). design.md §3.6: none of these may fail for an agenda
that `GET /api/agenda/` lists (w.c.s. then refreshes none of its data sources)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import store
from .domain.agendas import AgendaSpec, resource_items
from .domain.meetings import common_meeting_types, desk_items, meeting_type_item
from .errors import NotFound
from .lookup import unknown_agenda
from .parsing import SLUG_RE


def _meetings_agenda_or_404(slug: str) -> AgendaSpec:
    """The agenda with its configuration; a virtual one with the meeting types of its real agendas
    (a real agenda deleted since is left out rather than failing)."""
    loaded = store.load_agenda(slug, with_events=False) if SLUG_RE.match(slug) else None
    if loaded is None:
        raise unknown_agenda(slug)
    spec = loaded.spec
    if spec.kind == 'events':
        raise NotFound('not a meetings agenda', f'agenda {slug} is an events agenda')
    if spec.kind == 'virtual':
        real = [r.spec for r in (store.load_agenda(s, with_events=False) for s in spec.real_agendas)
                if r is not None and r.spec.kind == 'meetings']
        spec = replace(spec, meetingtypes=common_meeting_types(real))
    return spec


def meeting_types(agenda_slug: str, base_url: str) -> list[dict[str, Any]]:
    agenda = _meetings_agenda_or_404(agenda_slug)
    return [meeting_type_item(agenda.slug, mt, base_url) for mt in agenda.meetingtypes]


def meeting_type(agenda_slug: str, type_slug: str, base_url: str) -> dict[str, Any]:
    agenda = _meetings_agenda_or_404(agenda_slug)
    for mt in agenda.meetingtypes:
        if mt.slug == type_slug:
            return meeting_type_item(agenda.slug, mt, base_url)
    raise NotFound('unknown meeting type', f'meeting type {type_slug} does not exist in agenda {agenda.slug}')


def desks(agenda_slug: str) -> list[dict[str, Any]]:
    return desk_items(_meetings_agenda_or_404(agenda_slug))


def resources(agenda_slug: str) -> list[dict[str, Any]]:
    agenda = _meetings_agenda_or_404(agenda_slug)
    return resource_items(agenda, store.list_resources() if agenda.resources else {})
