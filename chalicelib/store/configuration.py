"""Agendas, their configuration and events: reads, guarded writes, import plans."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.domain.closures import ExceptionSpec, ExceptionsSourceSpec, exception_order, utc_text
from chalicelib.domain.event_rules import EventRecord, is_recurring_primary
from chalicelib.domain.holds import HeldPlaces
from chalicelib.domain.promotion_rules import MANUAL
from chalicelib.domain.reminder_rules import ReminderSettings
from chalicelib.domain.specs import AgendaSpec, DeskSpec, EventSpec, ExcludedPeriodSpec, MeetingTypeSpec, TimePeriodSpec
from chalicelib.store import decision_cache
from chalicelib.store.models import (
    AGENDA_PREFIX,
    AGENDAS_PARTITION,
    CONFIG_PREFIX,
    EVENT_PREFIX,
    RECURRING_PREFIX,
    RESOURCES_PARTITION,
    Agenda,
    ByGsi3,
    Desk,
    Event,
    MeetingType,
    Resource,
    TableItem,
    TimePeriod,
    TimePeriodException,
    agenda_pk,
)
from chalicelib.store.tables import (
    MAX_TRANSACTION_ITEMS,
    _bind,
    _utc,
    _utc_key,
    conditional,
    put_new,
    query_items,
    with_transaction,
)

log = logging.getLogger(__name__)


def new_version() -> int:
    """An agenda item's `version`: random, 53 bits (two writes drawing the same one: one in 2**53)."""
    return secrets.randbits(53) or 1


MAX_TRANSACTION_BYTES = 3_000_000


# ---- agendas ------------------------------------------------------------------------------

AGENDA_FIELDS = (
    'category',
    'category_label',
    'minimal_booking_delay',
    'minimal_booking_delay_in_working_days',
    'maximal_booking_delay',
    'minimal_cancellation_delay',
    'minimal_cancellation_delay_in_working_days',
    'anonymize_delay',
    'admin_role',
    'edit_role',
    'view_role',
    'events_type',
    'booking_form_url',
    'partial_bookings',
    'free_range',
)


def _agenda_item(spec: AgendaSpec) -> Agenda:
    """The agenda's item, with a new `version`: every write of it moves the version on (a put of this item,
    an import's undo too), whoever writes it, without reading the one it replaces."""
    return Agenda(
        version=new_version(),
        pk=agenda_pk(spec.slug),
        sk=f'{CONFIG_PREFIX}agenda',
        gsi1pk=AGENDAS_PARTITION,
        gsi1sk=spec.slug,
        slug=spec.slug,
        label=spec.label,
        kind=spec.kind,
        minimal_booking_time=spec.minimal_booking_time.strftime('%H:%M:%S') if spec.minimal_booking_time else None,
        absence_reasons=[list(r) for r in spec.absence_reasons] or None,
        resources=list(spec.resources) or None,
        real_agendas=list(spec.real_agendas) or None,
        excluded_timeperiods=[p.export() for p in spec.excluded_timeperiods] or None,
        past_lock_steps=list(spec.past_lock_steps) or None,
        reminder_settings=spec.reminder_settings.export() if spec.reminder_settings else None,
        waiting_list_promotion=spec.waiting_list_promotion if spec.waiting_list_promotion != MANUAL else None,
        **{name: getattr(spec, name) for name in AGENDA_FIELDS},
    )


def _number(value: Any) -> int | None:
    return int(value) if value is not None else None


def _agenda_spec(item: Agenda) -> AgendaSpec:
    values = {name: getattr(item, name) for name in AGENDA_FIELDS}
    for name in ('minimal_booking_delay', 'maximal_booking_delay', 'minimal_cancellation_delay', 'anonymize_delay'):
        values[name] = _number(values[name])
    return AgendaSpec(
        slug=item.slug,
        label=item.label,
        kind=item.kind,
        minimal_booking_time=time.fromisoformat(item.minimal_booking_time) if item.minimal_booking_time else None,
        absence_reasons=tuple(tuple(r) for r in item.absence_reasons or ()),
        resources=tuple(item.resources or ()),
        real_agendas=tuple(item.real_agendas or ()),
        excluded_timeperiods=tuple(
            ExcludedPeriodSpec(
                weekday=p['weekday'],
                start_time=time.fromisoformat(p['start_time']),
                end_time=time.fromisoformat(p['end_time']),
            )
            for p in item.excluded_timeperiods or ()
        ),
        past_lock_steps=tuple(int(step) for step in item.past_lock_steps or ()),
        reminder_settings=_reminder_settings(item.reminder_settings),
        waiting_list_promotion=item.waiting_list_promotion or MANUAL,
        **values,
    )


def _reminder_settings(value: dict[str, Any] | None) -> ReminderSettings | None:
    if value is None:
        return None
    return ReminderSettings(**{name: value[name] for name in ReminderSettings.__dataclass_fields__ if name in value})


def get_agenda(slug: str) -> AgendaSpec | None:
    _bind()
    try:
        return _agenda_spec(Agenda.get(agenda_pk(slug), f'{CONFIG_PREFIX}agenda'))
    except Agenda.DoesNotExist:
        return None


def list_agendas() -> list[AgendaSpec]:
    _bind()
    return [_agenda_spec(item) for item in Agenda.by_gsi1.query(AGENDAS_PARTITION)]


# ---- events -------------------------------------------------------------------------------

EVENT_CONFIG = (
    'label',
    'duration',
    'places',
    'waiting_list_places',
    'publication_datetime',
    'description',
    'pricing',
    'url',
    'cancelled',
    'recurrence_week_interval',
    'recurrence_end_date',
    'primary_event',
)


def listing_key(agenda: str, spec: EventSpec) -> str:
    """Where the listings' index (gsi3) files an event: under its agenda, a recurring primary apart."""
    return f'{RECURRING_PREFIX}{agenda}' if is_recurring_primary(spec) else agenda


def _event_values(agenda: str, spec: EventSpec) -> dict[str, Any]:
    values = {name: getattr(spec, name) for name in EVENT_CONFIG}
    values['start'] = _utc(spec.start)
    values['publication_datetime'] = _utc(spec.publication_datetime)
    values['recurrence_days'] = list(spec.recurrence_days) if spec.recurrence_days is not None else None
    values['gsi3pk'] = listing_key(agenda, spec)
    return values


def _event_item(agenda: str, spec: EventSpec) -> Event:
    return Event(
        pk=agenda_pk(agenda),
        sk=f'{EVENT_PREFIX}{spec.slug}',
        reserved=0,
        waiting_list_reserved=0,
        **_event_values(agenda, spec),
    )


def _event_record(item: Event) -> EventRecord:
    spec = EventSpec(
        slug=item.sk[len(EVENT_PREFIX) :],
        start=item.start,
        places=int(item.places),
        label=item.label,
        duration=_number(item.duration),
        waiting_list_places=int(item.waiting_list_places or 0),
        publication_datetime=item.publication_datetime,
        description=item.description,
        pricing=item.pricing,
        url=item.url,
        cancelled=bool(item.cancelled),
        recurrence_days=tuple(int(d) for d in item.recurrence_days) if item.recurrence_days is not None else None,
        recurrence_week_interval=_number(item.recurrence_week_interval),
        recurrence_end_date=item.recurrence_end_date,
        primary_event=item.primary_event,
    )
    return EventRecord(
        agenda=item.pk[len(AGENDA_PREFIX) :],
        spec=spec,
        reserved=int(item.reserved or 0),
        waiting_list_reserved=int(item.waiting_list_reserved or 0),
        checked=bool(item.checked),
        check_locked=bool(item.check_locked),
        invoiced=bool(item.invoiced),
        counters_version=int(item.counters_version or 0),
        holds=_held_places(item),
        holds_map=item.holds is not None,
    )


def _held_places(item: Event) -> tuple[HeldPlaces, ...]:
    """The event's map of holds (models.Event.holds), by key."""
    entries = item.holds.as_dict() if item.holds is not None else {}
    return tuple(
        _held(key, value['count'], value.get('waiting'), value['until']) for key, value in sorted(entries.items())
    )


def _held(key: str, count: Any, waiting: Any, until: Any) -> HeldPlaces:
    """One entry of an event's `holds`: `until` in epoch seconds."""
    return HeldPlaces(key, int(count), bool(waiting), datetime.fromtimestamp(int(until), timezone.utc))


def _text(value: dict[str, Any] | None) -> str | None:
    return value['S'] if value else None


def _count(value: dict[str, Any] | None) -> int | None:
    return int(value['N']) if value else None


def _flag(value: dict[str, Any] | None) -> bool:
    return bool(value and value['BOOL'])


def _listed_record(agenda: str, item: dict[str, Any]) -> EventRecord:
    """An event as the listings' index (gsi3) holds it, read without a model (thousands per listing): all of
    the event but `counters_version` (left at its default: read the event itself, `get_events`, for a
    decision on it)."""
    get = item.get
    holds = get('holds')
    entries = sorted(holds['M'].items()) if holds else []
    days = get('recurrence_days')
    published = get('publication_datetime')
    spec = EventSpec(
        slug=item['sk']['S'][len(EVENT_PREFIX) :],
        start=datetime.fromisoformat(item['start']['S']),  # UTCDateTimeAttribute's text, in UTC
        places=int(item['places']['N']),
        label=_text(get('label')),
        duration=_count(get('duration')),
        waiting_list_places=_count(get('waiting_list_places')) or 0,
        publication_datetime=datetime.fromisoformat(published['S']) if published else None,
        description=_text(get('description')),
        pricing=_text(get('pricing')),
        url=_text(get('url')),
        cancelled=_flag(get('cancelled')),
        recurrence_days=tuple(int(day['N']) for day in days['L']) if days else None,
        recurrence_week_interval=_count(get('recurrence_week_interval')),
        recurrence_end_date=_text(get('recurrence_end_date')),
        primary_event=_text(get('primary_event')),
    )
    return EventRecord(
        agenda=agenda,
        spec=spec,
        reserved=_count(get('reserved')) or 0,
        waiting_list_reserved=_count(get('waiting_list_reserved')) or 0,
        checked=_flag(get('checked')),
        check_locked=_flag(get('check_locked')),
        invoiced=_flag(get('invoiced')),
        holds=tuple(
            _held(key, e['M']['count']['N'], e['M'].get('waiting', {}).get('BOOL'), e['M']['until']['N'])
            for key, e in entries
        ),
        holds_map=holds is not None,
    )


def listed_events(agenda: str, start: datetime | None, end: datetime | None) -> list[EventRecord]:
    """The events (not the recurring primaries) of an agenda starting in [start, end), by start: one Query
    of the listings' index (gsi3, eventually consistent), one page for 5,000 events."""
    if start is not None and end is not None and start >= end:
        return []
    _bind()
    condition: Condition | None
    if start is not None and end is not None:
        condition = Event.start.between(_utc(start), _utc(end))
    elif start is not None:
        condition = Event.start >= _utc(start)
    elif end is not None:
        condition = Event.start < _utc(end)
    else:
        condition = None
    items = query_items(agenda, condition, index=ByGsi3.Meta.index_name)
    records = [_listed_record(agenda, item) for item in items]
    found = [r for r in records if end is None or r.spec.start < end]  # BETWEEN holds its upper bound
    return sorted(found, key=lambda r: (r.spec.start, r.slug))


def list_primaries(agenda: str) -> list[EventRecord]:
    """The recurring events' primaries of an agenda, by start: one small Query of the listings' index (gsi3,
    eventually consistent)."""
    _bind()
    items = query_items(f'{RECURRING_PREFIX}{agenda}', index=ByGsi3.Meta.index_name)
    return [_listed_record(agenda, item) for item in items]


def occurrences(agenda: str, primary: str) -> list[EventRecord]:
    """The stored occurrences of a recurring event, read consistently: one Query of the agenda's partition
    on the slug prefix they all share (`<primary>--`, domain/recurrence.py), not the whole partition."""
    _bind()
    items = Event.query(agenda_pk(agenda), Event.sk.startswith(f'{EVENT_PREFIX}{primary}--'), consistent_read=True)
    found = (_event_record(i) for i in items if isinstance(i, Event) and i.primary_event == primary)
    return sorted(found, key=lambda r: (r.spec.start, r.slug))


def get_event(agenda: str, slug: str) -> EventRecord | None:
    _bind()
    try:
        return _event_record(Event.get(agenda_pk(agenda), f'{EVENT_PREFIX}{slug}', consistent_read=True))
    except Event.DoesNotExist:
        return None


def list_events(agenda: str) -> list[EventRecord]:
    _bind()
    items = Event.query(agenda_pk(agenda), Event.sk.startswith(EVENT_PREFIX))
    return sorted((_event_record(i) for i in items), key=lambda r: (r.spec.start, r.slug))


def _event_update_actions(agenda: str, spec: EventSpec) -> list:
    actions = []
    for name, value in _event_values(agenda, spec).items():
        attribute = getattr(Event, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def _fits_bookings(spec: EventSpec):
    """The condition that keeps an update from shrinking an event below its bookings."""
    return (Event.reserved <= spec.places) & (Event.waiting_list_reserved <= spec.waiting_list_places)


def _has_no_bookings():
    return (Event.reserved == 0) & (Event.waiting_list_reserved == 0)


def create_event(agenda: str, spec: EventSpec) -> bool:
    """Create an event; False if its slug is taken in the agenda."""
    return put_new(_event_item(agenda, spec))


def mark_event(agenda: str, slug: str, unlocked: bool = False, **flags: bool) -> bool:
    """Set `checked` or `cancelled` on an event that exists (agent actions); with `unlocked`, only while
    its attendance is not locked (check-lock). False when the condition failed."""
    decision_cache.forget(agenda, [slug])
    _bind()
    condition = Event.pk.exists()
    if unlocked:
        condition &= Event.check_locked.does_not_exist() | (Event.check_locked == False)  # noqa: E712
    return conditional(
        lambda: Event(agenda_pk(agenda), f'{EVENT_PREFIX}{slug}').update(
            actions=[getattr(Event, name).set(value) for name, value in flags.items()], condition=condition
        )
    )


def update_event(agenda: str, spec: EventSpec) -> None:
    """Replace an event's configuration, never its counters; Refused if bookings no longer fit."""
    decision_cache.forget(agenda, [spec.slug])
    with_transaction(
        lambda tx: tx.update(
            Event(agenda_pk(agenda), f'{EVENT_PREFIX}{spec.slug}'),
            actions=_event_update_actions(agenda, spec),
            condition=Event.pk.exists() & _fits_bookings(spec),
        )
    )


def delete_event(agenda: str, slug: str) -> None:
    """Delete an event that has no booking; Refused otherwise."""
    decision_cache.forget(agenda, [slug])
    with_transaction(
        lambda tx: tx.delete(
            Event(agenda_pk(agenda), f'{EVENT_PREFIX}{slug}'), condition=Event.pk.exists() & _has_no_bookings()
        )
    )


# ---- meetings configuration -----------------------------------------------------------------


def _config_items(spec: AgendaSpec) -> list[TableItem]:
    """Every configuration item of an agenda but the agenda item itself."""
    pk = agenda_pk(spec.slug)
    items: list[TableItem] = []
    for position, mt in enumerate(spec.meetingtypes):
        items.append(
            MeetingType(
                pk=pk,
                sk=f'{CONFIG_PREFIX}meetingtype#{mt.slug}',
                agenda=spec.slug,
                slug=mt.slug,
                label=mt.label,
                duration=mt.duration,
                position=position,
            )
        )
    for position, desk in enumerate(spec.desks):
        desk_sk = f'{CONFIG_PREFIX}desk#{desk.slug}'
        items.append(
            Desk(
                pk=pk,
                sk=desk_sk,
                agenda=spec.slug,
                slug=desk.slug,
                label=desk.label,
                position=position,
                unavailability_calendars=list(desk.unavailability_calendars) or None,
                exceptions_sources=[source_value(s) for s in desk.exceptions_sources] or None,
            )
        )
        for index, period in enumerate(desk.timeperiods):
            items.append(
                TimePeriod(
                    pk=pk,
                    sk=f'{desk_sk}#period#{index:04d}',
                    agenda=spec.slug,
                    desk=desk.slug,
                    position=index,
                    weekday=period.weekday,
                    weekday_indexes=list(period.weekday_indexes or ()) or None,
                    date=period.date,
                    start_time=period.start_time.strftime('%H:%M:%S'),
                    end_time=period.end_time.strftime('%H:%M:%S'),
                )
            )
        for exception, position, suffix in _numbered(desk.exceptions):
            items.append(
                TimePeriodException(
                    pk=pk,
                    sk=f'{desk_sk}#exception#{_utc_key(exception.start)}#{suffix}',
                    agenda=spec.slug,
                    desk=desk.slug,
                    position=position,
                    label=exception.label,
                    start=_utc(exception.start),
                    end=_utc(exception.end),
                    source=exception.source,
                )
            )
    return items


def _numbered(exceptions: Iterable[ExceptionSpec]) -> Iterator[tuple[ExceptionSpec, int, str]]:
    """Each closure with its position and the suffix of its sort key (a desk's or a calendar's). Entered by
    hand: numbered in order. From an ICS file: numbered among the closures of that file with the same start,
    so that an import that moves the 600 days rewrites only what changed."""
    positions: dict[Any, int] = {}
    for exception in exceptions:
        counter = None if exception.source is None else (exception.source, exception.start)
        position = positions[counter] = positions.get(counter, -1) + 1
        yield exception, position, f'{position:04d}' if counter is None else f's{exception.source:02d}-{position:04d}'


def source_value(source: ExceptionsSourceSpec) -> dict[str, Any]:
    """A source as a desk (or calendar) item's `exceptions_sources` keeps it (the ICS text compressed);
    a fetched source's status only when it has one, so that file sources stay as they were stored."""
    value: dict[str, Any] = {
        'ics_filename': source.ics_filename,
        'ics_file_zlib': source.ics_packed,
        'ics_url': source.ics_url,
        'enabled': source.enabled,
    }
    status = {
        'last_fetch': utc_text(source.last_fetch),
        'last_attempt': utc_text(source.last_attempt),
        'last_error': source.last_error,
    }
    value.update({name: text for name, text in status.items() if text is not None})
    return value


def _instant(text: str | None) -> datetime | None:
    return datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=timezone.utc) if text else None


def source_spec(value: dict[str, Any]) -> ExceptionsSourceSpec:
    return ExceptionsSourceSpec(
        ics_filename=value.get('ics_filename'),
        ics_packed=value.get('ics_file_zlib'),
        ics_url=value.get('ics_url'),
        enabled=bool(value.get('enabled', True)),
        last_fetch=_instant(value.get('last_fetch')),
        last_attempt=_instant(value.get('last_attempt')),
        last_error=value.get('last_error'),
    )


def _assemble(agenda: Agenda, items: Iterable[TableItem]) -> AgendaSpec:
    spec = _agenda_spec(agenda)
    types: list[tuple[float, MeetingTypeSpec]] = []
    desks: list[Desk] = []
    periods: dict[str, list[tuple[float, TimePeriodSpec]]] = {}
    exceptions: dict[str, list[ExceptionSpec]] = {}
    for item in items:
        if isinstance(item, MeetingType):
            types.append(
                (item.position, MeetingTypeSpec(slug=item.slug, label=item.label, duration=int(item.duration)))
            )
        elif isinstance(item, Desk):
            desks.append(item)
        elif isinstance(item, TimePeriod):
            periods.setdefault(item.desk, []).append(
                (
                    item.position,
                    TimePeriodSpec(
                        start_time=time.fromisoformat(item.start_time),
                        end_time=time.fromisoformat(item.end_time),
                        weekday=_number(item.weekday),
                        weekday_indexes=tuple(int(i) for i in item.weekday_indexes) if item.weekday_indexes else None,
                        date=item.date,
                    ),
                )
            )
        elif isinstance(item, TimePeriodException):
            exceptions.setdefault(item.desk, []).append(
                ExceptionSpec(start=item.start, end=item.end, label=item.label, source=_number(item.source))
            )
    desk_specs = tuple(
        DeskSpec(
            slug=d.slug,
            label=d.label,
            timeperiods=tuple(p for _, p in sorted(periods.get(d.slug, []), key=lambda x: x[0])),
            exceptions=tuple(sorted(exceptions.get(d.slug, []), key=exception_order)),
            unavailability_calendars=tuple(d.unavailability_calendars or ()),
            exceptions_sources=tuple(source_spec(s) for s in d.exceptions_sources or ()),
        )
        for d in sorted(desks, key=lambda d: (d.position, d.slug))
    )
    return AgendaSpec(
        **{**spec.__dict__, 'meetingtypes': tuple(t for _, t in sorted(types, key=lambda x: x[0])), 'desks': desk_specs}
    )


@dataclass
class LoadedAgenda:
    """An agenda with everything below it, and the raw keys of its items (for imports)."""

    spec: AgendaSpec
    events: list[EventRecord] = field(default_factory=list)
    config_keys: set[str] = field(default_factory=set)


def load_agenda(slug: str, with_events: bool = True) -> LoadedAgenda | None:
    """The whole agenda: one Query for its configuration, one for its events."""
    _bind()
    items = list(TableItem.query(agenda_pk(slug), TableItem.sk.startswith(CONFIG_PREFIX), consistent_read=True))
    agenda = next((i for i in items if isinstance(i, Agenda)), None)
    if agenda is None:
        return None
    spec = _assemble(agenda, items)
    events = list_events(slug) if with_events and spec.kind == 'events' else []
    if events:
        spec = AgendaSpec(**{**spec.__dict__, 'events': tuple(r.spec for r in events)})
    return LoadedAgenda(spec=spec, events=events, config_keys={i.sk for i in items if not isinstance(i, Agenda)})


# ---- resources ----------------------------------------------------------------------------


def list_resources() -> dict[str, dict[str, Any]]:
    _bind()
    return {r.slug: {'label': r.label, 'description': r.description} for r in Resource.query(RESOURCES_PARTITION)}


# ---- imports --------------------------------------------------------------------------------


@dataclass
class Operation:
    """One write of an import, with the write that undoes it, and about how many bytes either sends."""

    apply: Callable[[TransactWrite], None]
    undo: Callable[[TransactWrite], None] | None = None
    size: int = 0


def _size(*items: TableItem | None) -> int:
    """About the size DynamoDB counts for the largest of these items (desks may carry ICS files)."""
    return max(len(json.dumps(item.serialize())) for item in items if item is not None)


def _put(item: TableItem, condition=None) -> Callable[[TransactWrite], None]:
    return lambda tx: tx.save(item, condition=condition)


def _delete(item: TableItem, condition=None) -> Callable[[TransactWrite], None]:
    return lambda tx: tx.delete(item, condition=condition)


def _update(agenda: str, event: Event, spec: EventSpec) -> Callable[[TransactWrite], None]:
    """The event item becomes `spec`, if its bookings still fit."""
    return lambda tx: tx.update(event, actions=_event_update_actions(agenda, spec), condition=_fits_bookings(spec))


def _writes(ops: list[Operation], undo: bool = False) -> Callable[[TransactWrite], None]:
    """One transaction of operations: each one's write, or each one's undo (none: nothing to undo)."""

    def build(tx: TransactWrite) -> None:
        for op in ops:
            write = op.undo if undo else op.apply
            if write is not None:
                write(tx)

    return build


def plan_agenda(new: AgendaSpec, current: LoadedAgenda | None) -> list[Operation]:
    """The writes that turn `current` into `new`; each event write guarded by its bookings."""
    ops: list[Operation] = []
    agenda_item = _agenda_item(new)
    below = plan_events(new.slug, list(new.events) if new.kind == 'events' else [], current.events if current else [])
    below += _plan_config(new, current)
    if current is None:
        ops.append(Operation(_put(agenda_item, Agenda.pk.does_not_exist()), _delete(agenda_item), _size(agenda_item)))
    elif (
        below
        or current.spec.settings_only() != new.settings_only()
        or current.spec.past_lock_steps != new.past_lock_steps
    ):
        # Any change of the agenda's configuration (its events, meeting types, desks too) moves its version on.
        old_item = _agenda_item(current.spec)
        ops.append(Operation(_put(agenda_item), _put(old_item), _size(agenda_item, old_item)))
    return ops + below


def _plan_config(new: AgendaSpec, current: LoadedAgenda | None, guard_desks: bool = False) -> list[Operation]:
    """The writes of an agenda's configuration items. `guard_desks`: a desk item is written only if
    its ICS sources are still as read (a refresh of the sources must not undo an import made meanwhile)."""
    ops = []
    pk = agenda_pk(new.slug)
    new_config = {i.sk: i for i in _config_items(new)}
    old_config = {i.sk: i for i in _config_items(current.spec)} if current else {}
    for sk, item in new_config.items():
        old = old_config.get(sk)
        if old is None or old.serialize() != item.serialize():
            condition = None
            if guard_desks and isinstance(item, Desk):
                sources = getattr(old, 'exceptions_sources', None)
                condition = Desk.exceptions_sources == sources if sources else Desk.exceptions_sources.does_not_exist()
            ops.append(
                Operation(_put(item, condition), _put(old) if old is not None else _delete(item), _size(item, old))
            )
    for sk in (current.config_keys if current else set()) - set(new_config):
        old = old_config.get(sk) or TableItem(pk, sk)
        ops.append(Operation(_delete(old), _put(old) if sk in old_config else None, _size(old)))
    return ops


def plan_desk_sources(new: AgendaSpec, current: LoadedAgenda) -> list[Operation]:
    """The writes of a refresh of desks' ICS sources (their status and closures), each desk item
    conditioned on its sources as read: an import or another refresh meanwhile refuses it (Refused)."""
    return _plan_config(new, current, guard_desks=True)


def plan_events(agenda: str, new: list[EventSpec], current: list[EventRecord]) -> list[Operation]:
    """The writes that turn the events `current` into `new`: an update never shrinks an event
    below its bookings, a delete never takes an event with bookings (conditions, not reads)."""
    ops: list[Operation] = []
    pk = agenda_pk(agenda)
    old_events = {r.slug: r for r in current}
    new_events = {e.slug: e for e in new}
    for slug, spec in new_events.items():
        record = old_events.get(slug)
        # An undo is guarded too: a booking made meanwhile keeps the new state that takes it.
        if record is None:
            item = _event_item(agenda, spec)
            ops.append(Operation(_put(item, Event.pk.does_not_exist()), _delete(item, _has_no_bookings()), _size(item)))
        elif record.spec != spec:
            target = Event(pk, f'{EVENT_PREFIX}{slug}')
            ops.append(
                Operation(
                    _update(agenda, target, spec),
                    _update(agenda, target, record.spec),
                    _size(_event_item(agenda, spec), _event_item(agenda, record.spec)),
                )
            )
    for slug, record in old_events.items():
        if slug not in new_events:
            item = _event_item(agenda, record.spec)
            ops.append(Operation(_delete(item, _has_no_bookings()), _put(item), _size(item)))
    return ops


def batches(ops: list[Operation]) -> list[list[Operation]]:
    """Consecutive operations grouped into transactions: at most 100 items, and at most
    MAX_TRANSACTION_BYTES (DynamoDB refuses a transaction over 4 MB)."""
    groups: list[list[Operation]] = []
    size = 0
    for op in ops:
        if not groups or len(groups[-1]) == MAX_TRANSACTION_ITEMS or size + op.size > MAX_TRANSACTION_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(op)
        size += op.size
    return groups


def apply_operations(ops: list[Operation]) -> None:
    """Apply an import's writes: one transaction when it fits (up to 100 items and 3 MB),
    otherwise several, each failed step undoing the steps already applied."""
    applied: list[list[Operation]] = []
    for chunk in batches(ops):
        try:
            with_transaction(_writes(chunk))
        except Exception:
            for done in reversed(applied):
                for undo in batches([op for op in done if op.undo is not None]):
                    try:
                        with_transaction(_writes(undo, undo=True))
                    except Exception:  # noqa: BLE001 - one at a time then: an undo a booking refuses stays done
                        _undo_each(undo)
            raise
        applied.append(chunk)


def _undo_each(ops: list[Operation]) -> None:
    for op in ops:
        try:
            with_transaction(_writes([op], undo=True))
        except Exception:  # noqa: BLE001 - keep undoing the rest, then report
            log.exception('rollback step not undone (a booking holds the new state, or an outage)')


def plan_resources(resources: dict[str, dict[str, Any]]) -> list[Operation]:
    ops = []
    current = list_resources()
    for slug, value in resources.items():
        if current.get(slug) != value:
            item = Resource(
                pk=RESOURCES_PARTITION, sk=slug, slug=slug, label=value['label'], description=value.get('description')
            )
            old = current.get(slug)
            undo = (
                _put(
                    Resource(
                        pk=RESOURCES_PARTITION,
                        sk=slug,
                        slug=slug,
                        label=old['label'],
                        description=old.get('description'),
                    )
                )
                if old
                else _delete(item)
            )
            ops.append(Operation(_put(item), undo))
    return ops
