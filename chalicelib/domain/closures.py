"""Closures of desks and of unavailability calendars, and how they are read from an iCalendar file
(spec chrono-api.md §2.3, §9.5).

Pure: ICS text in, `ExceptionSpec` items out, for the window [now, now + 600 days). The
import document may carry the file itself (`exceptions_sources[].ics_file`, raw text or base64
as Chrono exports it); a source with `ics_url` is fetched by services/ics_sources.py, and its
last good text is kept as a file would be.

Rules, where RFC 5545 leaves room or admins' files stray from it:
- a DATE is local midnight in the agenda's time zone and DTEND is exclusive; a DATE without
  DTEND or DURATION closes that one day; a DATE-TIME without them closes until the end of its
  day (a zero-length closure would close nothing);
- a floating time, or a TZID that neither the IANA database nor a VTIMEZONE of the file
  defines, is a wall-clock time in the agenda's time zone;
- RRULE, RDATE and EXDATE are expanded in wall-clock time of DTSTART's zone (a wall time of
  the spring gap moves forward by the gap, as RFC 5545 says); DTSTART is always an
  occurrence; an occurrence that a VEVENT with the same UID and a RECURRENCE-ID overrides is
  replaced by that VEVENT; STATUS:CANCELLED events close nothing (TRANSP is ignored: holiday
  calendars mark their days "transparent");
- an occurrence is kept when it overlaps the window: one that started before `now` and ends
  after it is kept whole.

Bounds, so that no file can take the Lambda down: the decoded file is at most 1 MB, a file
gives at most 5,000 closures in the window, and recurrence expansion is metered (`Budget`).
Going past any of them is a validation error, never a silently truncated import.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du

from chalicelib.domain.specs import local_text

# Closures from ICS files: sources per desk, closures they give a desk (each is an item the import
# writes), compressed ICS text the desk item keeps (DynamoDB: 400 KB per item).
MAX_SOURCES = 20
MAX_SOURCE_CLOSURES = 2_000
MAX_PACKED_ICS = 300_000


@dataclass(frozen=True)
class ExceptionSpec:
    """A closure of a desk: entered by hand (`source` None) or read from the desk's
    `exceptions_sources[source]` ICS file, for the 600 days that followed its import."""

    start: datetime
    end: datetime
    label: str | None = None
    source: int | None = None

    def export(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            'label': self.label,
            'start_datetime': local_text(self.start, tz),
            'end_datetime': local_text(self.end, tz),
        }


def exception_order(exception: ExceptionSpec) -> tuple:
    """The order of a desk's closures, the same when read from a document and from the table."""
    return (exception.start, exception.end, -1 if exception.source is None else exception.source, exception.label or '')


def pack_ics(text: str) -> str:
    """ICS text as a desk keeps it: zlib, then base64 (a 1 MB file of closures packs to ~50 KB)."""
    return base64.b64encode(zlib.compress(text.encode('utf-8'), 9)).decode('ascii')


def unpack_ics(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode('utf-8')


@dataclass(frozen=True)
class ExceptionsSourceSpec:
    """Where closures of a desk or of an unavailability calendar come from (Chrono's
    TimePeriodExceptionSource): an ICS file given with the document, or fetched from `ics_url`
    (services/ics_sources.py). `ics_packed` is the file's current text: the one given, or the last
    one fetched and read without error (a failed fetch keeps it). A source with `ics_url` shows its
    status: `last_fetch` (the last good fetch), `last_attempt` and `last_error` (None when the last
    attempt succeeded); they are part of the source, exported and imported, so that re-importing an
    export changes nothing."""

    ics_filename: str | None = None
    ics_packed: str | None = None  # the file's text, as pack_ics keeps it
    ics_url: str | None = None
    enabled: bool = True
    last_fetch: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None

    @property
    def ics_text(self) -> str | None:
        return unpack_ics(self.ics_packed) if self.ics_packed else None

    def export(self) -> dict[str, Any]:
        text = self.ics_text
        data: dict[str, Any] = {
            'ics_filename': self.ics_filename,
            # base64, as Chrono exports it
            'ics_file': base64.b64encode(text.encode('utf-8')).decode('ascii') if text is not None else None,
            'ics_url': self.ics_url,
            'enabled': self.enabled,
        }
        if self.ics_url:
            data.update(
                last_fetch=utc_text(self.last_fetch),
                last_attempt=utc_text(self.last_attempt),
                last_error=self.last_error,
            )
        return data


def utc_text(moment: datetime | None) -> str | None:
    """A status time, in UTC with its `Z`: unambiguous, and read back to the same instant."""
    return moment.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ') if moment else None


MAX_CALENDARS = 20  # unavailability calendars one desk names
MAX_CALENDAR_EXCEPTIONS = 2_000  # closures entered by hand in one calendar


@dataclass(frozen=True)
class UnavailabilityCalendarSpec:
    """A named set of closures shared by desks (Chrono's UnavailabilityCalendar): closing one closes
    every desk that names it, in every agenda. Its closures are entered by hand (`source` None) or
    read from its `exceptions_sources`, as a desk's. `version` moves on with every write (a write
    is conditioned on the version it read); it is not part of the content."""

    slug: str
    label: str
    view_role: str | None = None
    edit_role: str | None = None
    exceptions: tuple[ExceptionSpec, ...] = ()
    exceptions_sources: tuple[ExceptionsSourceSpec, ...] = ()
    version: int = field(default=0, compare=False)

    def export(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            'label': self.label,
            'slug': self.slug,
            'permissions': {'view': self.view_role, 'edit': self.edit_role},
            # The closures read from the sources are not exported: the sources are.
            'exceptions': [e.export(tz) for e in self.exceptions if e.source is None],
            'exceptions_sources': [s.export() for s in self.exceptions_sources],
        }


MAX_ICS_BYTES = 1_000_000
MAX_OCCURRENCES = 5_000
WINDOW = timedelta(days=600)
# Periods of recurrence rules walked through (see Budget): per file, and in all per request.
FILE_STEPS = 200_000
REQUEST_STEPS = 500_000
MAX_LABEL = 250
MAX_ERRORS = 10
# Properties whose damage changes which times are closed: a parse error on them is reported;
# one on any other property (DTSTAMP, DESCRIPTION, X-...) is ignored.
TIME_PROPERTIES = ('DTSTART', 'DTEND', 'DURATION', 'RRULE', 'RDATE', 'EXDATE', 'RECURRENCE-ID')
FREQUENCIES = {
    'YEARLY': du.YEARLY,
    'MONTHLY': du.MONTHLY,
    'WEEKLY': du.WEEKLY,
    'DAILY': du.DAILY,
    'HOURLY': du.HOURLY,
    'MINUTELY': du.MINUTELY,
    'SECONDLY': du.SECONDLY,
}
WEEKDAYS = ('MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU')
BYDAY_RE = re.compile(r'\A([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)\Z')
INT_PARTS = {
    'BYSETPOS': 'bysetpos',
    'BYMONTH': 'bymonth',
    'BYMONTHDAY': 'bymonthday',
    'BYYEARDAY': 'byyearday',
    'BYWEEKNO': 'byweekno',
    'BYHOUR': 'byhour',
    'BYMINUTE': 'byminute',
    'BYSECOND': 'bysecond',
}
# What a strange file may make icalendar or dateutil raise while one event is read.
READ_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError)


class IcsError(Exception):
    """What is wrong with a file, in words for the admin who sent it (one message per problem)."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


class _EventProblem(Exception):
    """Something wrong with one event; `closures` names the event in the message."""


# ---- the content of `ics_file` -------------------------------------------------------------


def _too_large(size: int) -> IcsError:
    return IcsError(f'The ICS file is too large: {size} bytes, at most {MAX_ICS_BYTES}.')


def _is_ics(text: str) -> bool:
    return text[:15].upper() == 'BEGIN:VCALENDAR'


def decode_content(value: Any) -> str:
    """The ICS text of `ics_file`: raw text (starting with BEGIN:VCALENDAR) or base64 of it."""
    not_ics = IcsError('Expected the content of an iCalendar file (BEGIN:VCALENDAR), as text or base64-encoded.')
    if not isinstance(value, str):
        raise not_ics
    if len(value) > 2 * MAX_ICS_BYTES:  # a cheap bound before decoding anything
        raise _too_large(len(value))
    text = value.lstrip('\ufeff').strip()
    if not _is_ics(text):
        try:
            raw = base64.b64decode(''.join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise not_ics from None
        if len(raw) > MAX_ICS_BYTES:
            raise _too_large(len(raw))
        try:
            text = raw.decode('utf-8-sig')
        except UnicodeDecodeError:
            text = raw.decode('cp1252', errors='replace')  # Outlook's exports are not always UTF-8
        text = text.lstrip('\ufeff').strip()
        if not _is_ics(text):
            raise not_ics
    size = len(text.encode('utf-8'))
    if size > MAX_ICS_BYTES:
        raise _too_large(size)
    return text


# ---- metering dateutil ---------------------------------------------------------------------


class Budget:
    """The work recurrence expansion may do: one per request, and one per file inside it.

    dateutil walks a rule period by period and checks UNTIL and COUNT only on the dates it
    yields: a rule that no date matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30,
    FREQ=HOURLY;BYSETPOS=30) walks on to the year 9999, seconds to days of CPU. Each period
    walked costs a step (`_MeteredRule`).
    """

    def __init__(self, steps: int = REQUEST_STEPS, parent: Budget | None = None) -> None:
        self.steps = self.left = steps
        self.parent = parent

    def spend(self, steps: int) -> None:
        if self.parent is not None:
            self.parent.spend(steps)
        self.left -= steps
        if self.left < 0:
            if self.parent is None:
                raise IcsError(
                    f'The recurrence rules of the ICS files of this request take too long to expand '
                    f'(more than {self.steps} steps in all): send fewer or simpler files.'
                )
            raise IcsError(
                f'The recurrence rules of this file take too long to expand (more than {self.steps} '
                f'steps): a rule that no date matches, or a very frequent one since long ago?'
            )


class _Metered:
    """An attribute of `_MeteredRule` whose every read charges the rule's budget."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.key = f'_metered{name}'

    def __get__(self, rule: Any, owner: type | None = None) -> Any:
        if rule is None:
            return self
        budget = rule.__dict__.get('budget')  # absent while dateutil's __init__ runs
        if budget is not None:
            budget.spend(_MeteredRule.WEIGHTS[self.name][rule.__dict__['_freq']])
        return rule.__dict__[self.key]

    def __set__(self, rule: Any, value: Any) -> None:
        rule.__dict__[self.key] = value


class _MeteredRule(du.rrule):
    """dateutil's rrule, charging a `Budget` for the periods it walks through.

    Its iterator reads `_byeaster` each time it rebuilds its masks (every period of a yearly
    or monthly rule, every month of the others: a month is about 5 weekly or 31 daily
    periods) and `_tzinfo` for every period of an hourly, minutely or secondly rule. This
    leans on python-dateutil's internals (pinned in requirements.txt); tests/unit/test_ics.py
    checks that rules no date matches are stopped, for every frequency.
    """

    WEIGHTS = {
        '_byeaster': {
            du.YEARLY: 1,
            du.MONTHLY: 1,
            du.WEEKLY: 5,
            du.DAILY: 31,
            du.HOURLY: 1,
            du.MINUTELY: 1,
            du.SECONDLY: 1,
        },
        '_tzinfo': {
            du.YEARLY: 0,
            du.MONTHLY: 0,
            du.WEEKLY: 0,
            du.DAILY: 0,
            du.HOURLY: 1,
            du.MINUTELY: 1,
            du.SECONDLY: 1,
        },
    }
    _byeaster = _Metered()
    _tzinfo = _Metered()

    def __init__(self, budget: Budget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget


# ---- reading one event ---------------------------------------------------------------------


class _Zone:
    """The wall-clock space of one event: its DTSTART's zone, or the agenda's."""

    def __init__(self, start: Any, tz: ZoneInfo) -> None:
        if isinstance(start, datetime):
            self.tz, self.all_day = start.tzinfo or tz, False
        elif isinstance(start, date):
            self.tz, self.all_day = tz, True
        else:
            raise _EventProblem('its start (DTSTART) is not a date or a date-time.')

    def wall(self, value: date | datetime) -> datetime:
        """A naive wall-clock time of this zone (a DATE is its midnight)."""
        if isinstance(value, datetime):
            return value.astimezone(self.tz).replace(tzinfo=None) if value.tzinfo else value
        if isinstance(value, date):
            return datetime.combine(value, time())
        raise _EventProblem('one of its dates is not a date or a date-time.')

    def instant(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.tz, fold=0).astimezone(timezone.utc)


def _one(event: Any, name: str) -> Any:
    value = event.get(name)
    if isinstance(value, list):
        raise _EventProblem(f'it has {len(value)} {name} properties.')
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    text = str(value).strip() if value is not None else ''
    return text[:MAX_LABEL] or None


def _rule(recur: Any, zone: _Zone, dtstart: datetime, budget: Budget) -> tuple[_MeteredRule, datetime | None]:
    """A dateutil rule for one RRULE, and its UNTIL as a wall time when it also has a COUNT."""
    parts = {str(k).upper(): v for k, v in recur.items()}
    freq = str(parts.pop('FREQ', [''])[0]).upper()
    if freq not in FREQUENCIES:
        raise _EventProblem('its recurrence rule (RRULE) has no valid FREQ.')
    kwargs: dict[str, Any] = {'freq': FREQUENCIES[freq], 'dtstart': dtstart, 'cache': False}
    until = None
    for name, values in parts.items():
        first = str(values[0]).upper() if values else ''
        if name in ('INTERVAL', 'COUNT'):
            kwargs[name.lower()] = int(values[0])
        elif name == 'UNTIL':
            until = values[0]
        elif name == 'WKST' and first in WEEKDAYS:
            kwargs['wkst'] = WEEKDAYS.index(first)
        elif name == 'BYDAY':
            days = []
            for value in values:
                match = BYDAY_RE.match(str(value).upper())
                if not match:
                    raise _EventProblem(f'its recurrence rule (RRULE) has an invalid BYDAY "{str(value)[:20]}".')
                weekday = du.weekdays[WEEKDAYS.index(match.group(2))]
                days.append(weekday(int(match.group(1))) if match.group(1) else weekday)
            kwargs['byweekday'] = days
        elif name in INT_PARTS:
            try:
                kwargs[INT_PARTS[name]] = [int(str(v)) for v in values]
            except ValueError:  # a leap month of RFC 7529 ("5L")
                raise _EventProblem(f'its recurrence rule (RRULE) has an unsupported {name}.') from None
        elif not (name == 'RSCALE' and first == 'GREGORIAN'):
            raise _EventProblem(f'its recurrence rule (RRULE) has an unsupported {name[:20]}.')
    if kwargs.get('interval', 1) < 1 or kwargs.get('count', 0) < 0:
        raise _EventProblem('its recurrence rule (RRULE) has an invalid INTERVAL or COUNT.')
    if until is not None:
        if isinstance(until, datetime) or zone.all_day:
            until = zone.wall(until)
        else:  # a DATE bound on a timed event includes its whole day
            until = datetime.combine(until, time.max)
        if 'count' not in kwargs:
            kwargs['until'], until = until, None
        # else: COUNT and UNTIL together (RFC 5545 forbids it): the caller stops at UNTIL.
    try:
        return _MeteredRule(budget, **kwargs), until
    except (ValueError, TypeError, OverflowError) as exc:
        raise _EventProblem(f'its recurrence rule (RRULE) is invalid: {str(exc)[:200]}') from None


def _starts(
    event: Any, zone: _Zone, dtstart: datetime, limit: datetime, budget: Budget
) -> Iterator[tuple[datetime, datetime | None]]:
    """Wall starts of the occurrences, with an instant end for an RDATE period: DTSTART, the
    RDATEs, then each RRULE's occurrences until `limit` (a wall time). Duplicates may repeat."""
    yield dtstart, None
    for start, end in event.rdates:
        start = zone.wall(start)
        if isinstance(end, timedelta):
            yield start, zone.instant(start + end)
        else:
            yield start, zone.instant(zone.wall(end)) if end is not None else None
    for recur in event.rrules:
        rule, until = _rule(recur, zone, dtstart, budget)
        for start in rule:
            if start >= limit or (until is not None and start > until):
                break
            yield start, None


def _event_closures(
    event: Any, tz: ZoneInfo, now: datetime, overridden: set[datetime], budget: Budget
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) instants of an event's occurrences that overlap [now, now + 600 days)."""
    broken = [(name, message) for name, message in getattr(event, 'errors', ()) if name in TIME_PROPERTIES]
    if broken:
        raise _EventProblem(f'its {broken[0][0]} cannot be read ({str(broken[0][1])[:200]}).')
    start_prop = _one(event, 'DTSTART')
    if start_prop is None:
        raise _EventProblem('it has no start (DTSTART).')
    zone = _Zone(start_prop.dt, tz)
    dtstart = zone.wall(start_prop.dt)
    end_prop, duration_prop = _one(event, 'DTEND'), _one(event, 'DURATION')
    if end_prop is not None:
        duration = zone.wall(end_prop.dt) - dtstart
    elif duration_prop is not None:
        duration = duration_prop.dt
        if not isinstance(duration, timedelta):
            raise _EventProblem('its DURATION is not a duration.')
    elif zone.all_day:
        duration = timedelta(days=1)
    else:
        duration = datetime.combine(dtstart.date() + timedelta(days=1), time()) - dtstart
    if duration < timedelta(0):
        raise _EventProblem('it ends before it starts.')
    if str(_text(event.get('STATUS')) or '').upper() == 'CANCELLED':
        return
    window_end = now + WINDOW
    # Wall times and instants differ by hours at most: a day of margin, exact instants below.
    limit = zone.wall(window_end) + timedelta(days=1)
    ended = zone.wall(now) - timedelta(days=1)  # an occurrence ending before this wall time is skipped at once
    excluded, excluded_days = set(), set()
    for value in event.exdates:
        if isinstance(value, datetime) or zone.all_day:
            excluded.add(zone.wall(value))
        else:
            excluded_days.add(value)  # a DATE on a timed event: that day's occurrences
    seen = set()
    for wall, period_end in _starts(event, zone, dtstart, limit, budget):
        if (
            (period_end is None and wall + duration < ended)
            or wall in seen
            or wall in excluded
            or wall.date() in excluded_days
        ):
            continue
        seen.add(wall)
        start = zone.instant(wall)
        end = period_end or zone.instant(wall + duration)
        if start not in overridden and start < window_end and end > now and end > start:
            yield start, end


def _overridden(events: list[Any], tz: ZoneInfo) -> dict[str, set[datetime]]:
    """Per UID, the original starts (instants) of the occurrences that other VEVENTs override."""
    found: dict[str, set[datetime]] = {}
    for event in events:
        prop = event.get('RECURRENCE-ID')
        if prop is None or isinstance(prop, list) or not event.get('UID'):
            continue
        try:
            zone = _Zone(prop.dt, tz)
            found.setdefault(str(event['UID']), set()).add(zone.instant(zone.wall(prop.dt)))
        except (_EventProblem, *READ_ERRORS):
            continue  # reported with the event itself
    return found


def _name(event: Any, index: int) -> str:
    summary, uid = _text(event.get('SUMMARY')), _text(event.get('UID'))
    if summary:
        return f'Event "{summary[:80]}"'
    return f'Event {uid[:80]}' if uid else f'Event #{index + 1}'


def closures(text: str, tz: ZoneInfo, now: datetime, budget: Budget | None = None) -> tuple[ExceptionSpec, ...]:
    """The closures an ICS file gives for [now, now + 600 days), sorted, without duplicates.

    Raises IcsError with the problems found (at most 10)."""
    from icalendar import Calendar  # imported here: 130 ms that no booking request should pay at cold start

    file_budget = Budget(FILE_STEPS, parent=budget or Budget())
    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except READ_ERRORS as exc:
        raise IcsError(f'Not a valid iCalendar file: {str(exc)[:200]}') from None
    if not calendars:
        raise IcsError('Not a valid iCalendar file: no complete VCALENDAR (BEGIN:VCALENDAR ... END:VCALENDAR).')
    events = [event for calendar in calendars for event in calendar.walk('VEVENT')]
    if not events:
        raise IcsError('This iCalendar file has no event (VEVENT).')
    overridden = _overridden(events, tz)
    found: dict[tuple[datetime, datetime, str | None], None] = {}
    errors: list[str] = []
    for index, event in enumerate(events):
        label = _text(event.get('SUMMARY'))
        replaced = overridden.get(str(event.get('UID') or ''), set()) if event.get('RECURRENCE-ID') is None else set()
        try:
            for start, end in _event_closures(event, tz, now, replaced, file_budget):
                found[(start, end, label)] = None
                if len(found) > MAX_OCCURRENCES:
                    raise IcsError(
                        *errors, f'This file gives more than {MAX_OCCURRENCES} closures in the next {WINDOW.days} days.'
                    )
        except _EventProblem as exc:
            errors.append(f'{_name(event, index)}: {exc}')
        except READ_ERRORS as exc:
            errors.append(f'{_name(event, index)}: it cannot be read ({type(exc).__name__}: {str(exc)[:200]}).')
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise IcsError(*errors[:MAX_ERRORS])
    return tuple(
        ExceptionSpec(start=start, end=end, label=label)
        for start, end, label in sorted(found, key=lambda c: (c[0], c[1], c[2] or ''))
    )


# ---- a source's content, fetched or kept -------------------------------------------------------------

Closures = tuple[tuple[ExceptionSpec, ...], tuple[ExceptionsSourceSpec, ...]]  # a holder's closures and sources


def _bounded(exceptions: list[ExceptionSpec], sources: list[ExceptionsSourceSpec]) -> Closures:
    """Closures and sources within what one holder keeps (a desk or a calendar item: 400 KB)."""
    packed = sum(len(s.ics_packed or '') for s in sources)
    if packed > MAX_PACKED_ICS:
        raise IcsError(f'These ICS files take {packed} bytes once compressed; at most {MAX_PACKED_ICS} are kept.')
    read = sum(1 for e in exceptions if e.source is not None)
    if read > MAX_SOURCE_CLOSURES:
        raise IcsError(
            f'These ICS files give {read} closures in the next {WINDOW.days} days; '
            f'at most {MAX_SOURCE_CLOSURES} are kept.'
        )
    return tuple(sorted(exceptions, key=exception_order)), tuple(sources)


def with_fetched(
    exceptions: tuple[ExceptionSpec, ...],
    sources: tuple[ExceptionsSourceSpec, ...],
    index: int,
    text: str,
    tz: ZoneInfo,
    now: datetime,
) -> Closures:
    """The closures and sources once `sources[index]` was fetched at `now` and gave `text`: its
    closures are read again from it, its status says so. IcsError when the text cannot be read or
    would go past the bounds: the caller records the failure (`with_failure`) and keeps the rest."""
    read = [replace(c, source=index) for c in closures(text, tz, now)]
    kept = [e for e in exceptions if e.source != index]
    fetched = replace(sources[index], ics_packed=pack_ics(text), last_fetch=now, last_attempt=now, last_error=None)
    return _bounded(kept + read, [fetched if i == index else s for i, s in enumerate(sources)])


MAX_ERROR = 300


def with_failure(
    sources: tuple[ExceptionsSourceSpec, ...], index: int, reason: str, now: datetime
) -> tuple[ExceptionsSourceSpec, ...]:
    """The sources once a fetch of `sources[index]` failed at `now`: its text and closures stay (the
    last good version), its status tells why."""
    failed = replace(sources[index], last_attempt=now, last_error=reason[:MAX_ERROR])
    return tuple(failed if i == index else s for i, s in enumerate(sources))


def keep_fetched(
    new: Closures, current: Closures, tz: ZoneInfo, now: datetime, budget: Budget | None = None
) -> Closures:
    """A document (a Chrono export) gives a URL source without its file: the source keeps the text
    and status of the stored source with the same URL (the last good fetch), and its closures are
    read from that text as a file's would be; what would go past the bounds is not kept (the next
    refresh fetches it)."""
    exceptions, sources = list(new[0]), list(new[1])
    available = [s for s in current[1] if s.ics_url and s.ics_packed]
    for index, source in enumerate(sources):
        stored = next((s for s in available if s.ics_url == source.ics_url), None)
        if source.ics_packed or not source.ics_url or stored is None:
            continue
        available.remove(stored)
        kept = replace(
            source,
            ics_packed=stored.ics_packed,
            last_fetch=stored.last_fetch,
            last_attempt=stored.last_attempt,
            last_error=stored.last_error,
        )
        try:
            read = [replace(c, source=index) for c in closures(stored.ics_text or '', tz, now, budget)]
            _bounded(exceptions + (read if kept.enabled else []), [*sources[:index], kept, *sources[index + 1 :]])
        except IcsError:
            continue
        sources[index] = kept
        exceptions += read if kept.enabled else []
    return tuple(sorted(exceptions, key=exception_order)), tuple(sources)
