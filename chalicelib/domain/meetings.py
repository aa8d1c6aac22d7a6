"""Meetings agendas: meeting types, desks and how they are listed (spec chrono-api.md §5.3-5.5,
§9.6). No I/O here."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import reduce
from math import gcd
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from ..errors import BusinessError
from ..parsing import localize
from .agendas import AgendaSpec, DeskSpec, MeetingTypeSpec, TimePeriodSpec


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


# ---- slot computation (spec §9.5) -----------------------------------------------------------

SLOT_ID_FORMAT = '%Y-%m-%d-%H%M'


def base_step(durations: Iterable[int]) -> int:
    """The grid of start times: the GCD of the agenda's meeting type durations (minutes)."""
    return reduce(gcd, durations, 0) or 1


def opens_on(period: TimePeriodSpec, day: date) -> bool:
    """A weekly period on its weekday (only the n-th ones of the month with `weekday_indexes`),
    or a single-date period on its date."""
    if period.date is not None:
        return period.date == day.isoformat()
    if period.weekday != day.weekday():
        return False
    return not period.weekday_indexes or (day.day - 1) // 7 + 1 in period.weekday_indexes


@dataclass(frozen=True)
class Slot:
    """A start time on one desk for one meeting type: [start, end) in UTC."""

    desk: str
    start: datetime
    end: datetime


def desk_slots(desk: DeskSpec, duration: int, step: int, first_day: date, last_day: date,
               tz: ZoneInfo) -> list[Slot]:
    """Candidate starts of a desk, from its opening hours, on local days [first_day, last_day]:
    `start_time`, then every `step` minutes while the meeting ends by `end_time`. A wall time
    that does not exist (spring DST gap) is no slot; minus the desk's closures."""
    slots = []
    day = first_day
    while day <= last_day:
        for period in desk.timeperiods:
            if not opens_on(period, day):
                continue
            opening = datetime.combine(day, period.start_time)
            closing = datetime.combine(day, period.end_time)
            wall = opening
            while wall + timedelta(minutes=duration) <= closing:
                try:
                    start = localize(wall, tz).astimezone(timezone.utc)
                except ValueError:
                    start = None
                if start is not None:
                    slots.append(Slot(desk.slug, start, start + timedelta(minutes=duration)))
                wall += timedelta(minutes=step)
        day += timedelta(days=1)
    return [s for s in slots if not any(overlaps(s.start, s.end, e.start, e.end) for e in desk.exceptions)]


def overlaps(start: datetime, end: datetime, other_start: datetime, other_end: datetime) -> bool:
    return start < other_end and other_start < end


def slot_id(meeting_type: str, start: datetime, tz: ZoneInfo) -> str:
    return f'{meeting_type}:{start.astimezone(tz).strftime(SLOT_ID_FORMAT)}'


def parse_slot_id(slot: str, tz: ZoneInfo) -> tuple[str, datetime]:
    """`<meeting type>:<YYYY-MM-DD-HHMM>` to (type, UTC start); the spec's errors otherwise."""
    meeting_type, sep, moment = slot.rpartition(':')
    if not sep or not meeting_type:
        raise BusinessError(f'invalid slot: {slot[:200]}')
    try:
        wall = datetime.strptime(moment, SLOT_ID_FORMAT)
        return meeting_type, localize(wall, tz).astimezone(timezone.utc)
    except ValueError:
        raise BusinessError(f'bad datetime format: {moment[:200]}') from None


@dataclass(frozen=True)
class MeetingTime:
    """A start time offered for a meeting type, with the desks free then (in desk order)."""

    start: datetime
    end: datetime
    free_desks: tuple[str, ...]


def meeting_times(slots: list[Slot], busy: dict[str, list[tuple[datetime, datetime]]],
                  user_busy: list[tuple[datetime, datetime]], desk_order: list[str]) -> list[MeetingTime]:
    """Group the desks' candidate slots by start time: a desk is free when no booking of its own
    overlaps; a time the excluded user is busy frees no desk. Times no desk opens are absent."""
    by_start: dict[datetime, list[Slot]] = {}
    for slot in slots:
        by_start.setdefault(slot.start, []).append(slot)
    times = []
    for start in sorted(by_start):
        candidates = by_start[start]
        end = candidates[0].end
        user_taken = any(overlaps(start, end, b, e) for b, e in user_busy)
        free = [] if user_taken else [
            s.desk for s in candidates if not any(overlaps(start, end, b, e) for b, e in busy.get(s.desk, ()))]
        times.append(MeetingTime(start, end, tuple(sorted(set(free), key=desk_order.index))))
    return times


def excluded(agenda: AgendaSpec, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """A virtual agenda's `excluded_timeperiods` (weekly local hours) remove the times they overlap."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    for period in agenda.excluded_timeperiods:
        if local_start.weekday() != period.weekday:
            continue
        day = local_start.date()
        if overlaps(local_start.replace(tzinfo=None), local_end.replace(tzinfo=None),
                    datetime.combine(day, period.start_time), datetime.combine(day, period.end_time)):
            return True
    return False
