"""Unavailability calendars: a calendar item and its closures in the calendar's own partition
(docs/table-design.md). Writes are planned as an import's (`Operation`s, applied all or nothing by
configuration.apply_operations); the calendar item goes first, conditioned on the version read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.domain.closures import ExceptionSpec, UnavailabilityCalendarSpec, exception_order
from chalicelib.store.configuration import Operation, _delete, _numbered, _put, _size, source_spec, source_value
from chalicelib.store.models import (
    CALENDARS_PARTITION,
    CONFIG_PREFIX,
    CalendarException,
    TableItem,
    UnavailabilityCalendar,
    calendar_pk,
)
from chalicelib.store.tables import _bind, _utc, _utc_key

CALENDAR_SK = f'{CONFIG_PREFIX}calendar'
EXCEPTION_PREFIX = f'{CONFIG_PREFIX}exception#'


def _calendar_item(spec: UnavailabilityCalendarSpec, version: int) -> UnavailabilityCalendar:
    return UnavailabilityCalendar(
        pk=calendar_pk(spec.slug),
        sk=CALENDAR_SK,
        gsi1pk=CALENDARS_PARTITION,
        gsi1sk=spec.slug,
        slug=spec.slug,
        label=spec.label,
        view_role=spec.view_role,
        edit_role=spec.edit_role,
        exceptions_sources=[source_value(s) for s in spec.exceptions_sources] or None,
        version=version,
    )


def _exception_items(spec: UnavailabilityCalendarSpec) -> list[CalendarException]:
    """Closures numbered as a desk's (configuration._numbered): a refresh that moves the 600 days
    rewrites only what changed."""
    items = []
    for exception, position, suffix in _numbered(spec.exceptions):
        items.append(
            CalendarException(
                pk=calendar_pk(spec.slug),
                sk=f'{EXCEPTION_PREFIX}{_utc_key(exception.start)}#{suffix}',
                position=position,
                label=exception.label,
                start=_utc(exception.start),
                end=_utc(exception.end),
                source=exception.source,
            )
        )
    return items


def _exception_spec(item: CalendarException) -> ExceptionSpec:
    source = int(item.source) if item.source is not None else None
    return ExceptionSpec(start=item.start, end=item.end, label=item.label, source=source)


def _calendar_spec(
    item: UnavailabilityCalendar, exceptions: Iterable[ExceptionSpec] = ()
) -> UnavailabilityCalendarSpec:
    return UnavailabilityCalendarSpec(
        slug=item.slug,
        label=item.label,
        view_role=item.view_role,
        edit_role=item.edit_role,
        exceptions=tuple(sorted(exceptions, key=exception_order)),
        exceptions_sources=tuple(source_spec(s) for s in item.exceptions_sources or ()),
        version=int(item.version or 0),
    )


@dataclass
class LoadedCalendar:
    """A calendar with its closures, and the keys of its items (to delete what a new version drops)."""

    spec: UnavailabilityCalendarSpec
    keys: set[str] = field(default_factory=set)


def load_calendar(slug: str) -> LoadedCalendar | None:
    """One Query, consistent: the calendar and its closures."""
    _bind()
    items = list(TableItem.query(calendar_pk(slug), consistent_read=True))
    calendar = next((i for i in items if isinstance(i, UnavailabilityCalendar)), None)
    if calendar is None:
        return None
    exceptions = [_exception_spec(i) for i in items if isinstance(i, CalendarException)]
    return LoadedCalendar(_calendar_spec(calendar, exceptions), {i.sk for i in items if i.sk != CALENDAR_SK})


def list_calendars() -> list[str]:
    """The slugs of every calendar (the gsi1 index: eventually consistent), in order."""
    _bind()
    return sorted(item.slug for item in UnavailabilityCalendar.by_gsi1.query(CALENDARS_PARTITION))


def calendar_closures(slugs: Iterable[str]) -> dict[str, tuple[ExceptionSpec, ...]]:
    """The closures of each calendar named (one Query each, without the calendar item); a calendar
    that does not exist (any more) closes nothing."""
    _bind()
    found = {}
    for slug in dict.fromkeys(slugs):
        items = CalendarException.query(calendar_pk(slug), CalendarException.sk.startswith(EXCEPTION_PREFIX))
        found[slug] = tuple(sorted((_exception_spec(i) for i in items), key=exception_order))
    return found


def plan_calendar(new: UnavailabilityCalendarSpec | None, current: LoadedCalendar | None) -> list[Operation]:
    """The writes that turn `current` into `new` (None: delete it). The calendar item comes first,
    conditioned on the version read (or on not existing yet): a change made meanwhile refuses the
    whole plan (Refused), nothing of it written."""
    ops: list[Operation] = []
    version = current.spec.version if current is not None else 0
    old_item = _calendar_item(current.spec, version) if current is not None else None
    guard = UnavailabilityCalendar.version == version if current else UnavailabilityCalendar.pk.does_not_exist()
    new_items: dict[str, TableItem] = {}
    if new is not None:
        item = _calendar_item(new, version + 1)
        undo = _put(old_item) if old_item is not None else _delete(item)
        ops.append(Operation(_put(item, guard), undo, _size(item, old_item)))
        new_items = {i.sk: i for i in _exception_items(new)}
    elif old_item is not None:
        ops.append(Operation(_delete(old_item, guard), _put(old_item), _size(old_item)))
    old_items: dict[str, TableItem] = {i.sk: i for i in _exception_items(current.spec)} if current else {}
    for sk, new_item in new_items.items():
        old = old_items.get(sk)
        if old is None or old.serialize() != new_item.serialize():
            undo = _put(old) if old is not None else _delete(new_item)
            ops.append(Operation(_put(new_item), undo, _size(new_item, old)))
    pk = old_item.pk if old_item is not None else ''
    for sk in (current.keys if current else set()) - set(new_items):
        stale = old_items.get(sk) or TableItem(pk, sk)
        ops.append(Operation(_delete(stale), _put(stale) if sk in old_items else None, _size(stale)))
    return ops


def existing_calendars(slugs: Iterable[str]) -> set[str]:
    """Which of these calendars exist: a consistent BatchGetItem of their keys alone (a calendar
    item may hold large ICS files)."""
    _bind()
    keys = [(calendar_pk(slug), CALENDAR_SK) for slug in dict.fromkeys(slugs)]
    if not keys:
        return set()
    found = UnavailabilityCalendar.batch_get(keys, consistent_read=True, attributes_to_get=['pk', 'sk', 'type', 'slug'])
    return {item.slug for item in found}
