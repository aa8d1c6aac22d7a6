"""Meetings agendas: meeting types, desks and how they are listed (spec chrono-api.md §5.3-5.5,
§9.6). No I/O here."""
from __future__ import annotations

from typing import Any

from .agendas import AgendaSpec, MeetingTypeSpec


def meeting_type_item(agenda: str, meeting_type: MeetingTypeSpec, base_url: str) -> dict[str, Any]:
    return {
        'id': meeting_type.slug,
        'slug': meeting_type.slug,
        'text': meeting_type.label,
        'duration': meeting_type.duration,
        'api': {'datetimes_url': f'{base_url}/api/agenda/{agenda}/meetings/{meeting_type.slug}/datetimes/'},
    }


def common_meeting_types(real_agendas: list[AgendaSpec]) -> tuple[MeetingTypeSpec, ...]:
    """A virtual agenda offers the meeting types that every real agenda has, with the same slug,
    label and duration, in the order of the first real agenda."""
    if not real_agendas:
        return ()
    shared = set(real_agendas[0].meetingtypes)
    for agenda in real_agendas[1:]:
        shared &= set(agenda.meetingtypes)
    return tuple(mt for mt in real_agendas[0].meetingtypes if mt in shared)


def desk_items(agenda: AgendaSpec) -> list[dict[str, Any]]:
    return [{'id': desk.slug, 'text': desk.label} for desk in agenda.desks]
