"""Use cases that read a meetings or virtual agenda's configuration: meeting types, desks,
resources (spec chrono-api.md §5.3-5.5). design.md §3.6: none of these may fail for an agenda
that `GET /api/agenda/` lists (w.c.s. then refreshes none of its data sources)."""
from __future__ import annotations

from typing import Any

from chalicelib import store
from chalicelib.domain.agendas import resource_items
from chalicelib.domain.meetings import desk_items, meeting_type_item
from chalicelib.lookup import meeting_type_or_404, meetings_agenda_or_404


def meeting_types(agenda_slug: str, base_url: str) -> list[dict[str, Any]]:
    agenda = meetings_agenda_or_404(agenda_slug)
    return [meeting_type_item(agenda.slug, mt, base_url) for mt in agenda.meetingtypes]


def meeting_type(agenda_slug: str, type_slug: str, base_url: str) -> dict[str, Any]:
    agenda = meetings_agenda_or_404(agenda_slug)
    return meeting_type_item(agenda.slug, meeting_type_or_404(agenda, type_slug), base_url)


def desks(agenda_slug: str) -> list[dict[str, Any]]:
    return desk_items(meetings_agenda_or_404(agenda_slug))


def resources(agenda_slug: str) -> list[dict[str, Any]]:
    agenda = meetings_agenda_or_404(agenda_slug)
    return resource_items(agenda, store.list_resources() if agenda.resources else {})
