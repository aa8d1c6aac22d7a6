"""Recurring events (spec chrono-api.md §2.2, §6.5, §9.10): a primary event carries the rule
(`recurrence_days`, 0 = Monday; `recurrence_week_interval`; `recurrence_end_date`, excluded) and
its occurrences are stored as events of their own, with `primary_event` set and the slug
`<primary>--YYYY-MM-DD-HHMM`. Stored, they are listed, booked, cancelled and checked as any
event, and each keeps its own counters: one occurrence's place decision is a condition on
that occurrence's item only.

Which occurrences exist: every date of the rule from the primary's start (or from the time it
was saved, if later) up to `recurrence_end_date`; a primary without an end date gets those of the
next HORIZON_DAYS (the daily `extend_recurrences` job moves that horizon). At most MAX_OCCURRENCES
to come at any time. When the primary changes, its
occurrences to come are derived again (keeping their own `cancelled` flag); past ones stay as
they were. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.rrule import WEEKLY, rrule

from chalicelib.domain.event_rules import is_recurring_primary
from chalicelib.domain.specs import EventSpec
from chalicelib.domain.window import LAST_DAY

HORIZON_DAYS = 372  # open-ended rules: a year of occurrences ahead, and a week of slack for the daily job
MAX_OCCURRENCES = 1000
OCCURRENCE_SUFFIX = len('--2030-01-01-0000')
OCCURRENCE_ID_RE = re.compile(r'\A(?P<primary>[A-Za-z0-9_-]{1,143}):(?P<date>\d{4}-\d{2}-\d{2}-\d{4})\Z')
# Weekday names as Chrono shows them (French instance).
WEEKDAYS = ('Lundi', 'Mardi', 'Mercredi', 'Jeudi', 'Vendredi', 'Samedi', 'Dimanche')


def occurrence_slug(primary: str, local_start: datetime) -> str:
    return f'{primary}--{local_start:%Y-%m-%d-%H%M}'


def slug_of_occurrence_id(slot: str) -> str | None:
    """`<primary>:<YYYY-MM-DD-HHMM>` (spec §9.10, the form fillslot accepts) as the occurrence's slug."""
    match = OCCURRENCE_ID_RE.match(slot)
    return f'{match["primary"]}--{match["date"]}' if match else None


def rule_problem(event: EventSpec) -> str | None:
    """Why this primary's rule cannot be stored, if it cannot."""
    if len(event.slug) > 160 - OCCURRENCE_SUFFIX:
        return (
            f'The slug of a recurring event has at most {160 - OCCURRENCE_SUFFIX} characters '
            '(its occurrences add the date to it).'
        )
    if event.recurrence_end_date and date.fromisoformat(event.recurrence_end_date) <= event.start.date():
        return 'The recurrence end date must come after the start of the event.'
    return None


def occurrence_starts(primary: EventSpec, tz: ZoneInfo, now: datetime) -> list[datetime]:
    """The starts (aware, UTC) of the occurrences to come, at the primary's local time of day on
    each date of the rule; at most MAX_OCCURRENCES + 1 (the caller refuses more). The weeks of
    `recurrence_week_interval` count from the primary's start."""
    local = primary.start.astimezone(tz)
    if primary.recurrence_end_date:
        until = date.fromisoformat(primary.recurrence_end_date)
    else:
        until = max(now.astimezone(tz).date(), local.date()) + timedelta(days=HORIZON_DAYS)
    until = min(until, LAST_DAY - timedelta(days=1))  # nothing is stored from the year 3000 on
    rule = rrule(
        WEEKLY,
        dtstart=local.replace(tzinfo=None),
        interval=primary.recurrence_week_interval or 1,
        byweekday=primary.recurrence_days,
        until=datetime.combine(until, time(0, 0)) - timedelta(seconds=1),
    )
    starts = (moment.replace(tzinfo=tz).astimezone(timezone.utc) for moment in rule)
    return list(islice((start for start in starts if start >= now), MAX_OCCURRENCES + 1))


def occurrence(primary: EventSpec, start: datetime, tz: ZoneInfo, cancelled: bool = False) -> EventSpec:
    return replace(
        primary,
        slug=occurrence_slug(primary.slug, start.astimezone(tz)),
        start=start,
        cancelled=cancelled,
        recurrence_days=None,
        recurrence_week_interval=None,
        recurrence_end_date=None,
        primary_event=primary.slug,
    )


def too_many(primary: EventSpec, tz: ZoneInfo, now: datetime) -> bool:
    return len(occurrence_starts(primary, tz, now)) > MAX_OCCURRENCES


def derive_occurrences(
    primary: EventSpec, stored: list[EventSpec], tz: ZoneInfo, now: datetime, cancelled: bool | None = None
) -> list[EventSpec]:
    """The primary's occurrences as they must be stored: past ones as stored, the ones to come
    derived from the rule, each keeping its stored `cancelled` flag (or all taking `cancelled`,
    when the primary itself was just cancelled or restored)."""
    stored_by_slug = {e.slug: e for e in stored if e.primary_event == primary.slug}
    events = {slug: e for slug, e in stored_by_slug.items() if e.start < now}
    if is_recurring_primary(primary):
        for start in occurrence_starts(primary, tz, now)[:MAX_OCCURRENCES]:
            if start < now:
                continue
            slug = occurrence_slug(primary.slug, start.astimezone(tz))
            kept = stored_by_slug.get(slug)
            events[slug] = occurrence(
                primary, start, tz, cancelled=bool(kept and kept.cancelled) if cancelled is None else cancelled
            )
    return sorted(events.values(), key=lambda e: (e.start, e.slug))


def with_occurrences(events: list[EventSpec], stored: list[EventSpec], tz: ZoneInfo, now: datetime) -> list[EventSpec]:
    """An agenda's events as a document lists them, completed with the occurrences of its
    primaries: an event the document lists itself wins over the derived one."""
    listed = {e.slug: e for e in events}
    result = dict(listed)
    for primary in events:
        if is_recurring_primary(primary):
            for event in derive_occurrences(primary, stored, tz, now):
                result.setdefault(event.slug, event)
    return sorted(result.values(), key=lambda e: (e.start, e.slug))


# ---- recurring slots (spec §6.5) -----------------------------------------------------------


@dataclass(frozen=True)
class RecurringSlot:
    agenda: str
    event: str
    weekday: int

    @property
    def id(self) -> str:
        return f'{self.agenda}@{self.event}:{self.weekday}'


RECURRING_SLOT_RE = re.compile(r'\A(?P<agenda>[A-Za-z0-9_-]{1,160})@(?P<event>[A-Za-z0-9_-]{1,160}):(?P<day>[0-6])\Z')


def read_recurring_slot(value: str) -> RecurringSlot | None:
    match = RECURRING_SLOT_RE.match(value)
    return RecurringSlot(match['agenda'], match['event'], int(match['day'])) if match else None


def occurrence_weekday(event: EventSpec, tz: ZoneInfo) -> int:
    return event.start.astimezone(tz).weekday()
