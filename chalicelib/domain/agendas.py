"""Agendas and their configuration: validation of what the admin API and imports send,
and rendering to Chrono's export shape (spec chrono-api.md §2, §11.1).

Every agenda document is read into frozen dataclasses; equality of two specs is what
"re-importing an export changes nothing" means.
"""
from __future__ import annotations

import base64
import re
import unicodedata
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chalicelib.errors import InvalidPayload
from chalicelib.parsing import Payload

if TYPE_CHECKING:
    from chalicelib.domain.ics import Budget

KINDS = ('events', 'meetings', 'virtual')
LOCAL_FORMAT = '%Y-%m-%d %H:%M:%S'
MAX_PLACES = 100_000
MAX_DURATION = 7 * 24 * 60
MAX_DELAY = 3650
# Lists kept inside the agenda item: capped so that it stays far below DynamoDB's 400 KB per item.
MAX_AGENDA_LIST = 200
# Closures from ICS files (domain/ics.py): sources per desk, closures they give a desk (each is an
# item the import writes), compressed ICS text the desk item keeps (DynamoDB: 400 KB per item).
MAX_SOURCES = 20
MAX_SOURCE_CLOSURES = 2_000
MAX_PACKED_ICS = 300_000
URL_RE = re.compile(r'\Ahttps?://[^\s]+\Z', re.IGNORECASE)


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode('ascii')
    return re.sub(r'[^a-z0-9]+', '-', ascii_text.lower()).strip('-')[:160]


def local_text(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).strftime(LOCAL_FORMAT) if moment else None


def time_text(value: time) -> str:
    return value.strftime('%H:%M:%S')


@dataclass(frozen=True)
class EventSpec:
    slug: str
    start: datetime  # aware, UTC
    places: int
    label: str | None = None
    duration: int | None = None
    waiting_list_places: int = 0
    publication_datetime: datetime | None = None
    description: str | None = None
    pricing: str | None = None
    url: str | None = None
    cancelled: bool = False
    recurrence_days: tuple[int, ...] | None = None
    recurrence_week_interval: int | None = None
    recurrence_end_date: str | None = None
    primary_event: str | None = None

    def export(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            'slug': self.slug,
            'label': self.label,
            'start_datetime': local_text(self.start, tz),
            'duration': self.duration,
            'places': self.places,
            'waiting_list_places': self.waiting_list_places,
            'publication_datetime': local_text(self.publication_datetime, tz),
            'description': self.description,
            'pricing': self.pricing,
            'url': self.url,
            'cancelled': self.cancelled,
            'recurrence_days': list(self.recurrence_days) if self.recurrence_days is not None else None,
            'recurrence_week_interval': self.recurrence_week_interval,
            'recurrence_end_date': self.recurrence_end_date,
            'primary_event': self.primary_event,
        }


@dataclass(frozen=True)
class MeetingTypeSpec:
    slug: str
    label: str
    duration: int

    def export(self) -> dict[str, Any]:
        return {'label': self.label, 'slug': self.slug, 'duration': self.duration}


@dataclass(frozen=True)
class TimePeriodSpec:
    start_time: time
    end_time: time
    weekday: int | None = None
    weekday_indexes: tuple[int, ...] | None = None
    date: str | None = None

    def export(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            'weekday': self.weekday,
            'weekday_indexes': list(self.weekday_indexes) if self.weekday_indexes else None,
            'start_time': time_text(self.start_time),
            'end_time': time_text(self.end_time),
        }
        if self.date is not None:
            data['date'] = self.date
        return data


@dataclass(frozen=True)
class ExceptionSpec:
    """A closure of a desk: entered by hand (`source` None) or read from the desk's
    `exceptions_sources[source]` ICS file, for the 600 days that followed its import."""

    start: datetime
    end: datetime
    label: str | None = None
    source: int | None = None

    def export(self, tz: ZoneInfo) -> dict[str, Any]:
        return {'label': self.label, 'start_datetime': local_text(self.start, tz),
                'end_datetime': local_text(self.end, tz)}


def exception_order(exception: ExceptionSpec) -> tuple:
    """The order of a desk's closures, the same when read from a document and from the table."""
    return (exception.start, exception.end, -1 if exception.source is None else exception.source,
            exception.label or '')


def pack_ics(text: str) -> str:
    """ICS text as a desk keeps it: zlib, then base64 (a 1 MB file of closures packs to ~50 KB)."""
    return base64.b64encode(zlib.compress(text.encode('utf-8'), 9)).decode('ascii')


def unpack_ics(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode('utf-8')


@dataclass(frozen=True)
class ExceptionsSourceSpec:
    """Where closures of a desk come from (Chrono's TimePeriodExceptionSource): an ICS file, read
    at import time. `ics_url` is kept and exported but never fetched."""

    ics_filename: str | None = None
    ics_packed: str | None = None  # the file's text, as pack_ics keeps it
    ics_url: str | None = None
    enabled: bool = True

    @property
    def ics_text(self) -> str | None:
        return unpack_ics(self.ics_packed) if self.ics_packed else None

    def export(self) -> dict[str, Any]:
        text = self.ics_text
        return {
            'ics_filename': self.ics_filename,
            # base64, as Chrono exports it
            'ics_file': base64.b64encode(text.encode('utf-8')).decode('ascii') if text is not None else None,
            'ics_url': self.ics_url,
            'enabled': self.enabled,
        }


@dataclass(frozen=True)
class DeskSpec:
    slug: str
    label: str
    timeperiods: tuple[TimePeriodSpec, ...] = ()
    exceptions: tuple[ExceptionSpec, ...] = ()  # entered by hand and read from the sources
    unavailability_calendars: tuple[str, ...] = ()
    exceptions_sources: tuple[ExceptionsSourceSpec, ...] = ()

    def export(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            'label': self.label,
            'slug': self.slug,
            'timeperiods': [p.export() for p in self.timeperiods],
            # The closures read from the sources are not exported: the sources are.
            'exceptions': [e.export(tz) for e in self.exceptions if e.source is None],
            'exceptions_sources': [s.export() for s in self.exceptions_sources],
            'unavailability_calendars': list(self.unavailability_calendars),
        }


@dataclass(frozen=True)
class ExcludedPeriodSpec:
    weekday: int
    start_time: time
    end_time: time

    def export(self) -> dict[str, Any]:
        return {'weekday': self.weekday, 'start_time': time_text(self.start_time),
                'end_time': time_text(self.end_time)}


@dataclass(frozen=True)
class AgendaSpec:
    slug: str
    label: str
    kind: str
    category: str | None = None
    category_label: str | None = None
    minimal_booking_delay: int | None = 1
    minimal_booking_delay_in_working_days: bool = False
    maximal_booking_delay: int | None = 56
    minimal_booking_time: time | None = time(0, 0)
    minimal_cancellation_delay: int | None = None
    minimal_cancellation_delay_in_working_days: bool = False
    anonymize_delay: int | None = None
    admin_role: str | None = None
    edit_role: str | None = None
    view_role: str | None = None
    events_type: str | None = None
    booking_form_url: str | None = None
    partial_bookings: bool = False
    free_range: bool = False
    absence_reasons: tuple[tuple[str, str], ...] = ()  # (slug, label)
    resources: tuple[str, ...] = ()
    real_agendas: tuple[str, ...] = ()
    excluded_timeperiods: tuple[ExcludedPeriodSpec, ...] = ()
    events: tuple[EventSpec, ...] = field(default=(), compare=True)
    meetingtypes: tuple[MeetingTypeSpec, ...] = ()
    desks: tuple[DeskSpec, ...] = ()
    # Meetings: the lock grids (seconds) the agenda had before its configuration last changed,
    # newest first; bookings made then hold cells of those sizes. Not part of its content.
    past_lock_steps: tuple[int, ...] = field(default=(), compare=False)

    def settings_only(self) -> 'AgendaSpec':
        return replace(self, events=(), meetingtypes=(), desks=())

    def export(self, tz: ZoneInfo) -> dict[str, Any]:
        data: dict[str, Any] = {
            'label': self.label,
            'slug': self.slug,
            'kind': self.kind,
            'category': self.category,
            # Kept per agenda: agendas sharing a category may carry different labels.
            'category_label': self.category_label if self.category else None,
            'minimal_booking_delay': self.minimal_booking_delay,
            'minimal_booking_delay_in_working_days': self.minimal_booking_delay_in_working_days,
            'maximal_booking_delay': self.maximal_booking_delay,
            'minimal_booking_time': time_text(self.minimal_booking_time) if self.minimal_booking_time else None,
            'minimal_cancellation_delay': self.minimal_cancellation_delay,
            'minimal_cancellation_delay_in_working_days': self.minimal_cancellation_delay_in_working_days,
            'anonymize_delay': self.anonymize_delay,
            'permissions': {'view': self.view_role, 'edit': self.edit_role, 'admin': self.admin_role},
            'events_type': self.events_type,
            'booking_form_url': self.booking_form_url,
            'absence_reasons': [{'slug': s, 'label': label} for s, label in self.absence_reasons],
        }
        if self.kind == 'events':
            data['partial_bookings'] = self.partial_bookings
            data['events'] = [e.export(tz) for e in self.events]
        elif self.kind == 'meetings':
            data['free_range'] = self.free_range
            data['resources'] = list(self.resources)
            data['meetingtypes'] = [m.export() for m in self.meetingtypes]
            data['desks'] = [d.export(tz) for d in self.desks]
        else:
            data['real_agendas'] = [{'slug': slug, 'kind': 'meetings'} for slug in self.real_agendas]
            data['excluded_timeperiods'] = [p.export() for p in self.excluded_timeperiods]
        return data


# ---- reading documents -------------------------------------------------------------------

class Reader:
    """Collects errors of a nested document under dotted paths (`agendas.0.events.2.places`)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def payload(self, data: Any, path: str) -> Payload | None:
        if not isinstance(data, dict):
            self.errors.setdefault(path or 'non_field_errors', []).append('Expected a JSON object.')
            return None
        return Payload(data)

    def merge(self, payload: Payload, path: str) -> None:
        for name, messages in payload.errors.items():
            self.errors.setdefault(f'{path}.{name}' if path else name, []).extend(messages)

    def items(self, data: Any, path: str, limit: int | None = None) -> list[Any]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.errors.setdefault(path, []).append('Expected a list of items.')
            return []
        if limit is not None and len(data) > limit:
            self.errors.setdefault(path, []).append(f'Ensure this list has no more than {limit} items.')
            return []
        return data

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def check(self) -> None:
        if self.errors:
            raise InvalidPayload(self.errors)


def _weekdays(p: Payload, name: str) -> tuple[int, ...] | None:
    values = p.list(name) if not isinstance(p.data.get(name), list) else [str(v) for v in p.data[name]]
    if values is None:
        return None
    try:
        days = tuple(sorted({int(v) for v in values}))
    except ValueError:
        p.error(name, 'Expected weekday numbers from 0 (Monday) to 6.')
        return None
    if any(d < 0 or d > 6 for d in days):
        p.error(name, 'Expected weekday numbers from 0 (Monday) to 6.')
        return None
    return days


def read_event(p: Payload, tz: ZoneInfo, current: EventSpec | None = None,
               slug_required: bool = True) -> EventSpec | None:
    """An event from a payload; with `current`, absent fields keep their current value (PATCH)."""
    partial = current is not None
    if partial:
        slug = current.slug
    else:
        slug = p.slug('slug', required=slug_required)
    start = p.datetime('start_datetime', tz, required=not partial)
    places = p.int('places', required=not partial, minimum=1, maximum=MAX_PLACES)
    values: dict[str, Any] = {}
    if 'label' in p.data:
        values['label'] = p.str('label', max_length=250)
    if 'duration' in p.data:
        values['duration'] = p.int('duration', minimum=1, maximum=MAX_DURATION)
    if 'waiting_list_places' in p.data:
        values['waiting_list_places'] = p.int('waiting_list_places', default=0, minimum=0, maximum=MAX_PLACES)
    if 'publication_datetime' in p.data:
        values['publication_datetime'] = p.datetime('publication_datetime', tz)
    for name in ('description', 'pricing', 'url'):
        if name in p.data:
            values[name] = p.str(name)
    if 'cancelled' in p.data:
        values['cancelled'] = p.bool('cancelled')
    if 'recurrence_days' in p.data:
        values['recurrence_days'] = _weekdays(p, 'recurrence_days')
        p.read.add('recurrence_days')
    if 'recurrence_week_interval' in p.data:
        values['recurrence_week_interval'] = p.int('recurrence_week_interval', minimum=1, maximum=52)
    if 'recurrence_end_date' in p.data:
        end_date = p.date('recurrence_end_date')
        values['recurrence_end_date'] = end_date.isoformat() if end_date else None
    if 'primary_event' in p.data:
        values['primary_event'] = p.slug('primary_event')
    if p.errors:
        return None
    if partial:
        if start is not None:
            values['start'] = start
        if places is not None:
            values['places'] = places
        return replace(current, **values)
    return EventSpec(slug=slug or '', start=start, places=places, **values)


def _read_timeperiod(r: Reader, data: Any, path: str) -> TimePeriodSpec | None:
    p = r.payload(data, path)
    if p is None:
        return None
    start, end = p.time('start_time', required=True), p.time('end_time', required=True)
    weekday = p.int('weekday', minimum=0, maximum=6)
    indexes = p.data.get('weekday_indexes')
    weekday_indexes = None
    if indexes not in (None, '', []):
        try:
            weekday_indexes = tuple(sorted({int(i) for i in (indexes if isinstance(indexes, list)
                                                             else str(indexes).split(','))}))
            if any(i < 1 or i > 5 for i in weekday_indexes):
                raise ValueError
        except (TypeError, ValueError):
            p.error('weekday_indexes', 'Expected week numbers in the month, from 1 to 5.')
    p.read.add('weekday_indexes')
    single_date = p.date('date')
    if weekday is None and single_date is None and 'weekday' not in p.errors and 'date' not in p.errors:
        p.error('weekday', 'A weekday or a date is required.')
    if start and end and start >= end:
        p.error('end_time', 'End time must be after start time.')
    r.merge(p, path)
    if p.errors:
        return None
    return TimePeriodSpec(start_time=start, end_time=end, weekday=None if single_date else weekday,
                          weekday_indexes=None if single_date else weekday_indexes,
                          date=single_date.isoformat() if single_date else None)


def _read_exception(r: Reader, data: Any, path: str, tz: ZoneInfo) -> ExceptionSpec | None:
    p = r.payload(data, path)
    if p is None:
        return None
    label = p.str('label', max_length=250)
    start = p.datetime('start_datetime', tz, required=True)
    end = p.datetime('end_datetime', tz, required=True)
    if start and end and start >= end:
        p.error('end_datetime', 'End must be after start.')
    r.merge(p, path)
    return None if p.errors else ExceptionSpec(start=start, end=end, label=label)


def _read_sources(r: Reader, data: Any, path: str, tz: ZoneInfo, now: datetime,
                  budget: Budget | None) -> tuple[tuple[ExceptionsSourceSpec, ...], list[ExceptionSpec]]:
    """A desk's `exceptions_sources`, and the closures their ICS files give for the next 600 days."""
    from chalicelib.domain import ics  # here: ics builds ExceptionSpec items of this module

    sources, closures = [], []
    for index, item in enumerate(r.items(data, path, MAX_SOURCES)):
        spath = f'{path}.{index}'
        sp = r.payload(item, spath)
        if sp is None:
            continue
        filename = sp.str('ics_filename', max_length=256)
        url = sp.str('ics_url', max_length=500)
        if url and not URL_RE.match(url):
            sp.error('ics_url', 'Enter a valid URL (http or https).')
        enabled = sp.bool('enabled', default=True)
        text = None
        if 'ics_file' in sp:
            try:
                text = ics.decode_content(sp.data['ics_file'])
            except ics.IcsError as exc:
                sp.errors.setdefault('ics_file', []).extend(exc.messages)
        sp.read.add('ics_file')
        if text is None and url is None and not sp.errors:
            sp.error('ics_file', 'Give the content of an ICS file (ics_file) or its URL (ics_url).')
        if text is not None and enabled and not sp.errors:
            # A disabled source is kept as it is: Chrono exports may hold a broken one.
            try:
                found = ics.closures(text, tz, now, budget)
            except ics.IcsError as exc:
                sp.errors.setdefault('ics_file', []).extend(exc.messages)
            else:
                closures.extend(replace(c, source=index) for c in found)
        r.merge(sp, spath)
        if not sp.errors:
            sources.append(ExceptionsSourceSpec(ics_filename=filename, ics_packed=pack_ics(text) if text else None,
                                                ics_url=url, enabled=enabled))
    packed = sum(len(s.ics_packed or '') for s in sources)
    if packed > MAX_PACKED_ICS:
        r.error(path, f'These ICS files take {packed} bytes once compressed; a desk keeps at most {MAX_PACKED_ICS}.')
    if len(closures) > MAX_SOURCE_CLOSURES:
        r.error(path, f'These ICS files give {len(closures)} closures in the next {ics.WINDOW.days} days; '
                      f'a desk keeps at most {MAX_SOURCE_CLOSURES}.')
    return tuple(sources), closures


def _unique(r: Reader, slugs: list[tuple[int, str]], path: str) -> None:
    """Duplicate slugs, reported at their position in the document."""
    seen = set()
    for index, slug in slugs:
        if slug in seen:
            r.error(f'{path}.{index}.slug', f'Duplicate slug "{slug}".')
        seen.add(slug)


def read_agenda(data: Any, tz: ZoneInfo, path: str = '', categories: dict[str, str] | None = None,
                with_children: bool = True, now: datetime | None = None, budget: Budget | None = None) -> AgendaSpec:
    """A whole agenda document (export shape, or the body of `POST /api/agenda/`).

    `now` starts the 600-day window of the closures read from ICS files (default: the system
    clock); `budget` bounds their expansion across a whole request (domain/ics.py)."""
    r = Reader()
    p = r.payload(data, path)
    if p is None:
        r.check()
    label = p.str('label', required=True, max_length=250)
    slug = p.slug('slug') or (slugify(label) if label else None)
    if label and not slug:
        p.error('slug', 'A slug cannot be derived from this label; give one.')
    kind = p.choice('kind', KINDS, default='events')
    category = p.slug('category')
    category_label = p.str('category_label', max_length=250)
    if category and not category_label:
        category_label = (categories or {}).get(category, category)
    permissions = p.data.get('permissions')
    p.read.add('permissions')
    roles = {}
    if isinstance(permissions, dict):
        perm = Payload(permissions)
        roles = {f'{k}_role': perm.str(k, max_length=250) for k in ('admin', 'edit', 'view')}
        for name, messages in perm.errors.items():
            p.errors.setdefault(f'permissions.{name}', []).extend(messages)
    elif permissions not in (None, ''):
        p.error('permissions', 'Expected a JSON object.')
    for role in ('admin_role', 'edit_role', 'view_role'):
        if role in p.data:
            roles[role] = p.str(role, max_length=250)
    settings = dict(
        minimal_booking_delay=p.int('minimal_booking_delay', default=1 if 'minimal_booking_delay' not in p.data
                                    else None, minimum=0, maximum=MAX_DELAY),
        minimal_booking_delay_in_working_days=p.bool('minimal_booking_delay_in_working_days'),
        maximal_booking_delay=p.int('maximal_booking_delay', default=56 if 'maximal_booking_delay' not in p.data
                                    else None, minimum=0, maximum=MAX_DELAY),
        minimal_booking_time=p.time('minimal_booking_time', default=time(0, 0)
                                    if 'minimal_booking_time' not in p.data else None),
        minimal_cancellation_delay=p.int('minimal_cancellation_delay', minimum=0, maximum=MAX_DELAY),
        minimal_cancellation_delay_in_working_days=p.bool('minimal_cancellation_delay_in_working_days'),
        anonymize_delay=p.int('anonymize_delay', minimum=1, maximum=MAX_DELAY),
        events_type=p.slug('events_type'),
        booking_form_url=p.str('booking_form_url', max_length=2000),
        partial_bookings=p.bool('partial_bookings'),
        free_range=p.bool('free_range'),
    )
    reasons = []
    for index, item in enumerate(r.items(p.data.get('absence_reasons'), f'{path}.absence_reasons'.lstrip('.'),
                                                 MAX_AGENDA_LIST)):
        rp = r.payload(item, f'{path}.absence_reasons.{index}'.lstrip('.'))
        if rp is not None:
            reason_label = rp.str('label', max_length=250) or rp.str('text', max_length=250)
            reason_slug = rp.slug('slug') or (slugify(reason_label) if reason_label else None)
            if not reason_slug:
                rp.error('label', 'This field is required.')
            r.merge(rp, f'{path}.absence_reasons.{index}'.lstrip('.'))
            if not rp.errors:
                reasons.append((reason_slug, reason_label or reason_slug))
    p.read.add('absence_reasons')
    children: dict[str, Any] = {}
    prefix = f'{path}.' if path else ''
    if with_children and kind == 'events' and not p.errors.get('kind'):
        events = []
        for index, item in enumerate(r.items(p.data.get('events'), f'{prefix}events')):
            ep = r.payload(item, f'{prefix}events.{index}')
            if ep is not None:
                event = read_event(ep, tz)
                r.merge(ep, f'{prefix}events.{index}')
                if event:
                    events.append((index, event))
        _unique(r, [(i, e.slug) for i, e in events], f'{prefix}events')
        events = [e for _, e in events]
        children['events'] = tuple(sorted(events, key=lambda e: (e.start, e.slug)))
    elif with_children and kind == 'meetings':
        types = []
        for index, item in enumerate(r.items(p.data.get('meetingtypes'), f'{prefix}meetingtypes')):
            mp = r.payload(item, f'{prefix}meetingtypes.{index}')
            if mp is not None:
                mt_label = mp.str('label', required=True, max_length=250)
                mt_slug = mp.slug('slug') or (slugify(mt_label) if mt_label else None)
                if mt_label and not mt_slug and 'slug' not in mp.errors:
                    mp.error('slug', 'A slug cannot be derived from this label; give one.')
                duration = mp.int('duration', required=True, minimum=1, maximum=MAX_DURATION)
                r.merge(mp, f'{prefix}meetingtypes.{index}')
                if not mp.errors:
                    types.append((index, MeetingTypeSpec(slug=mt_slug, label=mt_label, duration=duration)))
        _unique(r, [(i, m.slug) for i, m in types], f'{prefix}meetingtypes')
        types = [m for _, m in types]
        desks = []
        for index, item in enumerate(r.items(p.data.get('desks'), f'{prefix}desks')):
            dpath = f'{prefix}desks.{index}'
            dp = r.payload(item, dpath)
            if dp is None:
                continue
            desk_label = dp.str('label', required=True, max_length=250)
            desk_slug = dp.slug('slug') or (slugify(desk_label) if desk_label else None)
            if desk_label and not desk_slug and 'slug' not in dp.errors:
                dp.error('slug', 'A slug cannot be derived from this label; give one.')
            calendars = dp.list('unavailability_calendars', default=[])
            r.merge(dp, dpath)
            periods = [_read_timeperiod(r, tp, f'{dpath}.timeperiods.{i}')
                       for i, tp in enumerate(r.items(dp.data.get('timeperiods'), f'{dpath}.timeperiods'))]
            exceptions = [_read_exception(r, ex, f'{dpath}.exceptions.{i}', tz)
                          for i, ex in enumerate(r.items(dp.data.get('exceptions'), f'{dpath}.exceptions'))]
            sources, closures = _read_sources(r, dp.data.get('exceptions_sources'), f'{dpath}.exceptions_sources',
                                              tz, now or datetime.now(timezone.utc), budget)
            if not dp.errors:
                desks.append((index, DeskSpec(
                    slug=desk_slug, label=desk_label,
                    timeperiods=tuple(x for x in periods if x),
                    exceptions=tuple(sorted([x for x in exceptions if x] + closures, key=exception_order)),
                    unavailability_calendars=tuple(calendars or ()),
                    exceptions_sources=sources)))
        _unique(r, [(i, d.slug) for i, d in desks], f'{prefix}desks')
        desks = [d for _, d in desks]
        resources = p.list('resources', default=[]) or []
        if len(resources) > MAX_AGENDA_LIST:
            p.error('resources', f'Ensure this list has no more than {MAX_AGENDA_LIST} items.')
        children.update(meetingtypes=tuple(types), desks=tuple(desks), resources=tuple(resources))
    elif with_children and kind == 'virtual':
        real = []
        for index, item in enumerate(r.items(p.data.get('real_agendas'), f'{prefix}real_agendas', MAX_AGENDA_LIST)):
            real_slug = item.get('slug') if isinstance(item, dict) else item
            if not isinstance(real_slug, str) or not re.fullmatch(r'[A-Za-z0-9_-]{1,160}', real_slug):
                r.error(f'{prefix}real_agendas.{index}', 'Expected a meetings agenda slug.')
            else:
                real.append(real_slug)
        excluded = []
        for index, item in enumerate(r.items(p.data.get('excluded_timeperiods'), f'{prefix}excluded_timeperiods',
                                                 MAX_AGENDA_LIST)):
            xp = r.payload(item, f'{prefix}excluded_timeperiods.{index}')
            if xp is not None:
                weekday = xp.int('weekday', required=True, minimum=0, maximum=6)
                start, end = xp.time('start_time', required=True), xp.time('end_time', required=True)
                if start and end and start >= end:
                    xp.error('end_time', 'End time must be after start time.')
                r.merge(xp, f'{prefix}excluded_timeperiods.{index}')
                if not xp.errors:
                    excluded.append(ExcludedPeriodSpec(weekday=weekday, start_time=start, end_time=end))
        children.update(real_agendas=tuple(dict.fromkeys(real)), excluded_timeperiods=tuple(excluded))
    r.merge(p, path)
    r.check()
    return AgendaSpec(slug=slug, label=label, kind=kind, category=category, category_label=category_label,
                      absence_reasons=tuple(reasons), **settings, **roles, **children)


def keep_stored_instants(new: AgendaSpec, current: AgendaSpec, tz: ZoneInfo) -> AgendaSpec:
    """An export writes wall-clock times without offset, so the two occurrences of the repeated
    autumn hour read the same; on import, an event start that reads as the stored one keeps the
    stored instant instead of moving to the first occurrence."""
    stored = {e.slug: e.start for e in current.events}
    events = []
    for event in new.events:
        old = stored.get(event.slug)
        if old is not None and old != event.start and local_text(old, tz) == local_text(event.start, tz):
            event = replace(event, start=old)
        events.append(event)
    return replace(new, events=tuple(sorted(events, key=lambda e: (e.start, e.slug))))


# ---- rendering for the API ---------------------------------------------------------------

def resource_items(agenda: AgendaSpec, resources: dict[str, dict]) -> list[dict[str, Any]]:
    """The resources a meetings agenda uses (spec §5.5), in its order; a vanished one keeps its slug."""
    return [{'id': slug, 'text': resources.get(slug, {}).get('label', slug),
             'description': resources.get(slug, {}).get('description')} for slug in agenda.resources]


def agenda_item(agenda: AgendaSpec, base_url: str, resources: dict[str, dict] | None = None) -> dict[str, Any]:
    """An item of `GET /api/agenda/` (spec §4.1): every key clients index is always present."""
    url = f'{base_url}/api/agenda/{agenda.slug}'
    item: dict[str, Any] = {
        'id': agenda.slug,
        'slug': agenda.slug,
        'text': agenda.label,
        'kind': agenda.kind,
        'category': agenda.category,
        'category_label': agenda.category_label if agenda.category else None,
        'minimal_booking_delay': agenda.minimal_booking_delay,
        'minimal_booking_delay_in_working_days': agenda.minimal_booking_delay_in_working_days,
        'maximal_booking_delay': agenda.maximal_booking_delay,
        'minimal_booking_time': time_text(agenda.minimal_booking_time) if agenda.minimal_booking_time else None,
        'admin_role': agenda.admin_role,
        'edit_role': agenda.edit_role,
        'view_role': agenda.view_role,
        'events_type': agenda.events_type,
        'booking_form_url': agenda.booking_form_url,
    }
    if agenda.kind == 'events':
        item.update(
            minimal_cancellation_delay=agenda.minimal_cancellation_delay,
            minimal_cancellation_delay_in_working_days=agenda.minimal_cancellation_delay_in_working_days,
            partial_bookings=agenda.partial_bookings,
            absence_reasons=[{'id': s, 'slug': s, 'text': label, 'label': label}
                             for s, label in agenda.absence_reasons],
            api={'datetimes_url': f'{url}/datetimes/', 'fillslots_url': f'{url}/fillslots/'},
        )
    else:
        shared = resource_items(agenda, resources or {})
        item.update(
            free_range=agenda.free_range if agenda.kind == 'meetings' else False,
            resources=shared,
            shared_resources=shared,
            api={
                'meetings_url': f'{url}/meetings/',
                'desks_url': f'{url}/desks/',
                'resources_url': f'{url}/resources/',
                'shared_resources_url': f'{url}/shared-resources/',
                'fillslots_url': f'{url}/fillslots/',
            },
        )
        if agenda.free_range:
            # w.c.s. reads `api.datetimes_url` of every free-range agenda (spec §4.1).
            item['api']['datetimes_url'] = f'{url}/free-range/datetimes/'
        if agenda.kind == 'virtual':
            item['real_agendas'] = list(agenda.real_agendas)
    return item
