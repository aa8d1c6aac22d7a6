"""Reading an agenda document (Chrono's export shape, or the body of `POST /api/agenda/`) into specs,
with every error under its dotted path (`agendas.0.desks.1.timeperiods.2.end_time`), so that a whole
import is refused at once with all its problems (spec chrono-api.md §11.1, design.md §3.4).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain import closures
from chalicelib.domain.closures import (
    MAX_CALENDAR_EXCEPTIONS,
    MAX_CALENDARS,
    MAX_PACKED_ICS,
    MAX_SOURCE_CLOSURES,
    MAX_SOURCES,
    ExceptionSpec,
    ExceptionsSourceSpec,
    UnavailabilityCalendarSpec,
    exception_order,
    keep_fetched,
    pack_ics,
)
from chalicelib.domain.promotion_rules import AUTOMATIC, MANUAL, MODES
from chalicelib.domain.reminder_rules import read_reminder_settings
from chalicelib.domain.specs import (
    KINDS,
    MAX_AGENDA_LIST,
    MAX_DELAY,
    MAX_DURATION,
    MAX_PLACES,
    AgendaSpec,
    DeskSpec,
    EventSpec,
    ExcludedPeriodSpec,
    MeetingTypeSpec,
    TimePeriodSpec,
    local_text,
    slugify,
)
from chalicelib.errors import InvalidPayload
from chalicelib.parsing import SLUG_RE, Payload

URL_RE = re.compile(r'\Ahttps?://[^\s]+\Z', re.IGNORECASE)


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


def read_event(
    p: Payload, tz: ZoneInfo, current: EventSpec | None = None, slug_required: bool = True
) -> EventSpec | None:
    """An event from a payload; with `current`, absent fields keep their current value (PATCH)."""
    partial = current is not None
    slug: str | None
    if current is not None:
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
    if current is not None:
        if start is not None:
            values['start'] = start
        if places is not None:
            values['places'] = places
        return replace(current, **values)
    return EventSpec(slug=slug or '', start=p.checked(start), places=p.checked(places), **values)


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
            weekday_indexes = tuple(
                sorted({int(i) for i in (indexes if isinstance(indexes, list) else str(indexes).split(','))})
            )
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
    return TimePeriodSpec(
        start_time=p.checked(start),
        end_time=p.checked(end),
        weekday=None if single_date else weekday,
        weekday_indexes=None if single_date else weekday_indexes,
        date=single_date.isoformat() if single_date else None,
    )


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
    return None if p.errors else ExceptionSpec(start=p.checked(start), end=p.checked(end), label=label)


def _read_sources(
    r: Reader, data: Any, path: str, tz: ZoneInfo, now: datetime, budget: closures.Budget | None
) -> tuple[tuple[ExceptionsSourceSpec, ...], list[ExceptionSpec]]:
    """A desk's `exceptions_sources`, and the closures their ICS files give for the next 600 days."""
    sources: list[ExceptionsSourceSpec] = []
    found: list[ExceptionSpec] = []
    for index, item in enumerate(r.items(data, path, MAX_SOURCES)):
        source_path = f'{path}.{index}'
        source = r.payload(item, source_path)
        if source is None:
            continue
        filename = source.str('ics_filename', max_length=256)
        url = source.str('ics_url', max_length=500)
        if url and not URL_RE.match(url):
            source.error('ics_url', 'Enter a valid URL (http or https).')
        enabled = source.bool('enabled', default=True)
        # A fetched source's status, as an export gives it back (closures.ExceptionsSourceSpec).
        last_fetch, last_attempt = source.datetime('last_fetch', tz), source.datetime('last_attempt', tz)
        last_error = source.str('last_error', max_length=closures.MAX_ERROR)
        text = None
        if 'ics_file' in source:
            try:
                text = closures.decode_content(source.data['ics_file'])
            except closures.IcsError as exc:
                source.errors.setdefault('ics_file', []).extend(exc.messages)
        source.read.add('ics_file')
        if text is None and url is None and not source.errors:
            source.error('ics_file', 'Give the content of an ICS file (ics_file) or its URL (ics_url).')
        if text is not None and enabled and not source.errors:
            # A disabled source is kept as it is: Chrono exports may hold a broken one.
            try:
                read = closures.closures(text, tz, now, budget)
            except closures.IcsError as exc:
                source.errors.setdefault('ics_file', []).extend(exc.messages)
            else:
                found.extend(replace(c, source=index) for c in read)
        r.merge(source, source_path)
        if not source.errors:
            sources.append(
                ExceptionsSourceSpec(
                    ics_filename=filename,
                    ics_packed=pack_ics(text) if text else None,
                    ics_url=url,
                    enabled=enabled,
                    last_fetch=last_fetch if url else None,
                    last_attempt=last_attempt if url else None,
                    last_error=last_error if url else None,
                )
            )
    packed = sum(len(s.ics_packed or '') for s in sources)
    if packed > MAX_PACKED_ICS:
        r.error(path, f'These ICS files take {packed} bytes once compressed; a desk keeps at most {MAX_PACKED_ICS}.')
    if len(found) > MAX_SOURCE_CLOSURES:
        r.error(
            path,
            f'These ICS files give {len(found)} closures in the next {closures.WINDOW.days} days; '
            f'a desk keeps at most {MAX_SOURCE_CLOSURES}.',
        )
    return tuple(sources), found


def _unique(r: Reader, slugs: list[tuple[int, str]], path: str) -> None:
    """Duplicate slugs, reported at their position in the document."""
    seen = set()
    for index, slug in slugs:
        if slug in seen:
            r.error(f'{path}.{index}.slug', f'Duplicate slug "{slug}".')
        seen.add(slug)


def _slug_or_derived(p: Payload, label: str | None) -> str | None:
    """The `slug` given, or one derived from the label (an error when none can be)."""
    slug = p.slug('slug') or (slugify(label) if label else None)
    if label and not slug and 'slug' not in p.errors:
        p.error('slug', 'A slug cannot be derived from this label; give one.')
    return slug


def read_agenda(
    data: Any,
    tz: ZoneInfo,
    path: str = '',
    categories: dict[str, str] | None = None,
    *,
    now: datetime,
    budget: closures.Budget | None = None,
) -> AgendaSpec:
    """A whole agenda document (export shape, or the body of `POST /api/agenda/`).

    `now` (the request's clock) starts the 600-day window of the closures read from ICS files;
    `budget` bounds their expansion across a whole request (closures.py)."""
    r = Reader()
    agenda = r.payload(data, path)
    if agenda is None:
        raise InvalidPayload(r.errors)
    label = agenda.str('label', required=True, max_length=250)
    slug = agenda.slug('slug') or (slugify(label) if label else None)
    if label and not slug:
        agenda.error('slug', 'A slug cannot be derived from this label; give one.')
    kind = agenda.choice('kind', KINDS, default='events')
    category = agenda.slug('category')
    category_label = agenda.str('category_label', max_length=250)
    if category and not category_label:
        category_label = (categories or {}).get(category, category)
    settings = _read_settings(agenda)
    settings.update(_read_messages_and_promotion(agenda, kind))
    roles = _read_roles(agenda)
    reasons = _read_absence_reasons(r, agenda, path)
    prefix = f'{path}.' if path else ''
    content: dict[str, Any] = {}
    if kind == 'events' and not agenda.errors.get('kind'):
        content = _read_events(r, agenda, prefix, tz)
    elif kind == 'meetings':
        content = _read_meetings(r, agenda, prefix, tz, now, budget)
    elif kind == 'virtual':
        content = _read_virtual(r, agenda, prefix)
    r.merge(agenda, path)
    r.check()
    return AgendaSpec(
        slug=agenda.checked(slug),
        label=agenda.checked(label),
        kind=kind,
        category=category,
        category_label=category_label,
        absence_reasons=reasons,
        **settings,
        **roles,
        **content,
    )


def _read_settings(agenda: Payload) -> dict[str, Any]:
    """Delays and flags; an absent delay takes Chrono's default, an explicit blank one none."""
    return dict(
        minimal_booking_delay=agenda.int(
            'minimal_booking_delay',
            default=1 if 'minimal_booking_delay' not in agenda.data else None,
            minimum=0,
            maximum=MAX_DELAY,
        ),
        minimal_booking_delay_in_working_days=agenda.bool('minimal_booking_delay_in_working_days'),
        maximal_booking_delay=agenda.int(
            'maximal_booking_delay',
            default=56 if 'maximal_booking_delay' not in agenda.data else None,
            minimum=0,
            maximum=MAX_DELAY,
        ),
        minimal_booking_time=agenda.time(
            'minimal_booking_time', default=time(0, 0) if 'minimal_booking_time' not in agenda.data else None
        ),
        minimal_cancellation_delay=agenda.int('minimal_cancellation_delay', minimum=0, maximum=MAX_DELAY),
        minimal_cancellation_delay_in_working_days=agenda.bool('minimal_cancellation_delay_in_working_days'),
        anonymize_delay=agenda.int('anonymize_delay', minimum=1, maximum=MAX_DELAY),
        events_type=agenda.slug('events_type'),
        booking_form_url=agenda.str('booking_form_url', max_length=2000),
        partial_bookings=agenda.bool('partial_bookings'),
        free_range=agenda.bool('free_range'),
    )


def _read_messages_and_promotion(agenda: Payload, kind: str | None) -> dict[str, Any]:
    """`reminder_settings` (domain/reminder_rules.py) and `waiting_list_promotion` ("manual", the default, or
    "automatic": domain/promotion_rules.py), which only an events agenda has (meetings have no waiting list)."""
    promotion = agenda.choice('waiting_list_promotion', MODES, default=MANUAL)
    if promotion == AUTOMATIC and kind != 'events':
        agenda.error('waiting_list_promotion', 'Only an events agenda has a waiting list.')
    return {'reminder_settings': read_reminder_settings(agenda), 'waiting_list_promotion': promotion or MANUAL}


def _read_roles(agenda: Payload) -> dict[str, Any]:
    """`permissions: {"admin", "edit", "view"}` (the export), or `admin_role`... at the top level."""
    permissions = agenda.data.get('permissions')
    agenda.read.add('permissions')
    roles: dict[str, Any] = {}  # AgendaSpec's `*_role` arguments
    if isinstance(permissions, dict):
        given = Payload(permissions)
        roles = {f'{k}_role': given.str(k, max_length=250) for k in ('admin', 'edit', 'view')}
        for name, messages in given.errors.items():
            agenda.errors.setdefault(f'permissions.{name}', []).extend(messages)
    elif permissions not in (None, ''):
        agenda.error('permissions', 'Expected a JSON object.')
    for role in ('admin_role', 'edit_role', 'view_role'):
        if role in agenda.data:
            roles[role] = agenda.str(role, max_length=250)
    return roles


def _read_absence_reasons(r: Reader, agenda: Payload, path: str) -> tuple[tuple[str, str], ...]:
    reasons: list[tuple[str, str]] = []
    for index, item in enumerate(
        r.items(agenda.data.get('absence_reasons'), f'{path}.absence_reasons'.lstrip('.'), MAX_AGENDA_LIST)
    ):
        reason_path = f'{path}.absence_reasons.{index}'.lstrip('.')
        reason = r.payload(item, reason_path)
        if reason is not None:
            reason_label = reason.str('label', max_length=250) or reason.str('text', max_length=250)
            reason_slug = reason.slug('slug') or (slugify(reason_label) if reason_label else None)
            if not reason_slug:
                reason.error('label', 'This field is required.')
            r.merge(reason, reason_path)
            if reason_slug and not reason.errors:
                reasons.append((reason_slug, reason_label or reason_slug))
    agenda.read.add('absence_reasons')
    return tuple(reasons)


def _read_events(r: Reader, agenda: Payload, prefix: str, tz: ZoneInfo) -> dict[str, Any]:
    events = []
    for index, item in enumerate(r.items(agenda.data.get('events'), f'{prefix}events')):
        event_payload = r.payload(item, f'{prefix}events.{index}')
        if event_payload is not None:
            event = read_event(event_payload, tz)
            r.merge(event_payload, f'{prefix}events.{index}')
            if event:
                events.append((index, event))
    _unique(r, [(i, e.slug) for i, e in events], f'{prefix}events')
    return {'events': tuple(sorted((e for _, e in events), key=lambda e: (e.start, e.slug)))}


def _read_meetings(
    r: Reader, agenda: Payload, prefix: str, tz: ZoneInfo, now: datetime, budget: closures.Budget | None
) -> dict[str, Any]:
    meeting_types = []
    for index, item in enumerate(r.items(agenda.data.get('meetingtypes'), f'{prefix}meetingtypes')):
        meeting_type = _read_meeting_type(r, item, f'{prefix}meetingtypes.{index}')
        if meeting_type is not None:
            meeting_types.append((index, meeting_type))
    _unique(r, [(i, m.slug) for i, m in meeting_types], f'{prefix}meetingtypes')
    desks = []
    for index, item in enumerate(r.items(agenda.data.get('desks'), f'{prefix}desks')):
        desk = _read_desk(r, item, f'{prefix}desks.{index}', tz, now, budget)
        if desk is not None:
            desks.append((index, desk))
    _unique(r, [(i, d.slug) for i, d in desks], f'{prefix}desks')
    resources = agenda.list('resources', default=[]) or []
    if len(resources) > MAX_AGENDA_LIST:
        agenda.error('resources', f'Ensure this list has no more than {MAX_AGENDA_LIST} items.')
    return {
        'meetingtypes': tuple(m for _, m in meeting_types),
        'desks': tuple(d for _, d in desks),
        'resources': tuple(resources),
    }


def _read_meeting_type(r: Reader, data: Any, path: str) -> MeetingTypeSpec | None:
    meeting_type = r.payload(data, path)
    if meeting_type is None:
        return None
    label = meeting_type.str('label', required=True, max_length=250)
    slug = _slug_or_derived(meeting_type, label)
    duration = meeting_type.int('duration', required=True, minimum=1, maximum=MAX_DURATION)
    r.merge(meeting_type, path)
    if meeting_type.errors:
        return None
    return MeetingTypeSpec(
        slug=meeting_type.checked(slug), label=meeting_type.checked(label), duration=meeting_type.checked(duration)
    )


def _read_desk(
    r: Reader, data: Any, path: str, tz: ZoneInfo, now: datetime, budget: closures.Budget | None
) -> DeskSpec | None:
    desk = r.payload(data, path)
    if desk is None:
        return None
    label = desk.str('label', required=True, max_length=250)
    slug = _slug_or_derived(desk, label)
    calendars = _calendar_slugs(desk)
    r.merge(desk, path)
    periods = [
        _read_timeperiod(r, item, f'{path}.timeperiods.{i}')
        for i, item in enumerate(r.items(desk.data.get('timeperiods'), f'{path}.timeperiods'))
    ]
    exceptions = [
        _read_exception(r, item, f'{path}.exceptions.{i}', tz)
        for i, item in enumerate(r.items(desk.data.get('exceptions'), f'{path}.exceptions'))
    ]
    sources, from_sources = _read_sources(
        r, desk.data.get('exceptions_sources'), f'{path}.exceptions_sources', tz, now, budget
    )
    if desk.errors:
        return None
    return DeskSpec(
        slug=desk.checked(slug),
        label=desk.checked(label),
        timeperiods=tuple(x for x in periods if x),
        exceptions=tuple(sorted([x for x in exceptions if x] + from_sources, key=exception_order)),
        unavailability_calendars=calendars,
        exceptions_sources=sources,
    )


def _calendar_slugs(desk: Payload) -> tuple[str, ...]:
    """A desk's `unavailability_calendars`: slugs, or `{"slug": ...}` objects (both spellings of an
    export are read), at most MAX_CALENDARS, each once."""
    name = 'unavailability_calendars'
    value = desk.data.get(name)
    desk.read.add(name)
    if value in (None, '', []):
        return ()
    items = value if isinstance(value, list) else desk.list(name) or []
    slugs = []
    for item in items:
        slug = item.get('slug') if isinstance(item, dict) else item
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            desk.error(name, 'Expected unavailability calendar slugs (or objects with a "slug").')
            return ()
        slugs.append(slug)
    slugs = list(dict.fromkeys(slugs))
    if len(slugs) > MAX_CALENDARS:
        desk.error(name, f'Ensure this list has no more than {MAX_CALENDARS} items.')
        return ()
    return tuple(slugs)


def _read_virtual(r: Reader, agenda: Payload, prefix: str) -> dict[str, Any]:
    real = []
    for index, item in enumerate(r.items(agenda.data.get('real_agendas'), f'{prefix}real_agendas', MAX_AGENDA_LIST)):
        real_slug = item.get('slug') if isinstance(item, dict) else item
        if not isinstance(real_slug, str) or not re.fullmatch(r'[A-Za-z0-9_-]{1,160}', real_slug):
            r.error(f'{prefix}real_agendas.{index}', 'Expected a meetings agenda slug.')
        else:
            real.append(real_slug)
    excluded = []
    for index, item in enumerate(
        r.items(agenda.data.get('excluded_timeperiods'), f'{prefix}excluded_timeperiods', MAX_AGENDA_LIST)
    ):
        period_path = f'{prefix}excluded_timeperiods.{index}'
        period = r.payload(item, period_path)
        if period is not None:
            weekday = period.int('weekday', required=True, minimum=0, maximum=6)
            start, end = period.time('start_time', required=True), period.time('end_time', required=True)
            if start and end and start >= end:
                period.error('end_time', 'End time must be after start time.')
            r.merge(period, period_path)
            if not period.errors:
                excluded.append(
                    ExcludedPeriodSpec(
                        weekday=period.checked(weekday),
                        start_time=period.checked(start),
                        end_time=period.checked(end),
                    )
                )
    return {'real_agendas': tuple(dict.fromkeys(real)), 'excluded_timeperiods': tuple(excluded)}


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


def keep_fetched_sources(new: AgendaSpec, current: AgendaSpec, tz: ZoneInfo, now: datetime) -> AgendaSpec:
    """A desk's URL source that the document gives without its file keeps the stored one's last good
    fetch (closures.keep_fetched): importing a Chrono document again does not empty it."""
    stored = {desk.slug: desk for desk in current.desks}
    desks = []
    for desk in new.desks:
        old = stored.get(desk.slug)
        if old is not None:
            exceptions, sources = keep_fetched(
                (desk.exceptions, desk.exceptions_sources), (old.exceptions, old.exceptions_sources), tz, now
            )
            desk = replace(desk, exceptions=exceptions, exceptions_sources=sources)
        desks.append(desk)
    return replace(new, desks=tuple(desks))


# ---- unavailability calendars (spec §2.3; docs/api.md "Closures") ---------------------------------------


def read_calendar(
    data: Any,
    tz: ZoneInfo,
    path: str = '',
    *,
    now: datetime,
    budget: closures.Budget | None = None,
    current: UnavailabilityCalendarSpec | None = None,
) -> UnavailabilityCalendarSpec:
    """An unavailability calendar as an export gives it (`label`, `slug`, `permissions: {"view",
    "edit"}`, `exceptions`, `exceptions_sources`). With `current` (PATCH), absent keys keep their
    value: `exceptions` replaces the closures entered by hand, `exceptions_sources` the sources and
    the closures they give."""
    r = Reader()
    calendar = r.payload(data, path)
    if calendar is None:
        raise InvalidPayload(r.errors)
    prefix = f'{path}.' if path else ''
    label = calendar.str('label', required=current is None, max_length=250)
    slug = current.slug if current is not None else _slug_or_derived(calendar, label)
    roles = {name: role for name, role in _read_roles(calendar).items() if name != 'admin_role'}
    hand, from_sources = None, None
    sources: tuple[ExceptionsSourceSpec, ...] | None = None
    if current is None or 'exceptions' in calendar.data:
        items = r.items(calendar.data.get('exceptions'), f'{prefix}exceptions', MAX_CALENDAR_EXCEPTIONS)
        hand = [_read_exception(r, item, f'{prefix}exceptions.{i}', tz) for i, item in enumerate(items)]
    if current is None or 'exceptions_sources' in calendar.data:
        sources, from_sources = _read_sources(
            r, calendar.data.get('exceptions_sources'), f'{prefix}exceptions_sources', tz, now, budget
        )
    calendar.read.update(('exceptions', 'exceptions_sources'))
    r.merge(calendar, path)
    r.check()
    values: dict[str, Any] = dict(roles)
    if label is not None:
        values['label'] = label
    if hand is not None or from_sources is not None:
        old = current.exceptions if current is not None else ()
        kept_hand = [x for x in hand if x] if hand is not None else [e for e in old if e.source is None]
        kept_read = from_sources if from_sources is not None else [e for e in old if e.source is not None]
        values['exceptions'] = tuple(sorted(kept_hand + kept_read, key=exception_order))
    if sources is not None:
        values['exceptions_sources'] = sources
    if current is not None:
        return replace(current, **values)
    return UnavailabilityCalendarSpec(slug=slug or '', **values)


def keep_fetched_calendar(
    new: UnavailabilityCalendarSpec, current: UnavailabilityCalendarSpec, tz: ZoneInfo, now: datetime
) -> UnavailabilityCalendarSpec:
    """keep_fetched_sources for a calendar."""
    exceptions, sources = keep_fetched(
        (new.exceptions, new.exceptions_sources), (current.exceptions, current.exceptions_sources), tz, now
    )
    return replace(new, exceptions=exceptions, exceptions_sources=sources)
