"""Meetings agendas: meeting types, desks and how they are listed (spec chrono-api.md §5.3-5.5,
§9.6). No I/O here."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import reduce
from itertools import accumulate, pairwise
from math import gcd
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.specs import AgendaSpec, DeskSpec, MeetingTypeSpec, TimePeriodSpec
from chalicelib.errors import BadRequest, BusinessError
from chalicelib.parsing import localize


def common_meeting_types(real_agendas: list[AgendaSpec]) -> tuple[MeetingTypeSpec, ...]:
    """A virtual agenda offers the meeting types that every real agenda has, with the same slug,
    label and duration, in the order of the first real agenda."""
    if not real_agendas:
        return ()
    shared = set(real_agendas[0].meetingtypes)
    for agenda in real_agendas[1:]:
        shared &= set(agenda.meetingtypes)
    return tuple(mt for mt in real_agendas[0].meetingtypes if mt in shared)


# ---- slot computation (spec §9.5) -----------------------------------------------------------

SLOT_ID_FORMAT = '%Y-%m-%d-%H%M'


def base_step(durations: Iterable[int]) -> int:
    """The grid of start times: the GCD of the agenda's meeting type durations (minutes)."""
    return reduce(gcd, durations, 0) or 1


def grid_step(agenda: AgendaSpec) -> int:
    """The grid of a real agenda's start times (minutes). A virtual agenda lists each real
    agenda's times on that agenda's own grid, so that its `agendas[].fillslot_url` and its
    lock cells agree; spec §9.5 takes the GCD over all real agendas, the same grid when they
    share their meeting types (as Chrono requires of a virtual agenda's members)."""
    return base_step(mt.duration for mt in agenda.meetingtypes)


def longest(agenda: AgendaSpec) -> timedelta:
    """How long before a time a booking of the agenda may have started and still overlap it."""
    return timedelta(minutes=max((mt.duration for mt in agenda.meetingtypes), default=0))


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


class Intervals:
    """[start, end) intervals that answer "does [start, end) overlap one of you?" in log time
    (a listing asks it for every candidate slot: thousands of slots, hundreds of bookings)."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        ordered = sorted(intervals)
        self._starts = [start for start, _ in ordered]
        self._reach = list(accumulate((end for _, end in ordered), max))  # furthest end so far

    def overlap(self, start: datetime, end: datetime) -> bool:
        before_end = bisect_left(self._starts, end)  # the intervals that start before `end`
        return before_end > 0 and self._reach[before_end - 1] > start


def _to_utc(day: date, tz: ZoneInfo) -> Callable[[datetime], datetime | None]:
    """Wall time of `day` -> UTC instant, None for a wall time that does not exist (spring gap);
    an ambiguous one (autumn) is its first occurrence. A day with no offset change converts by
    subtraction (a listing converts tens of thousands of wall times)."""
    midnight = datetime.combine(day, time(0), tzinfo=tz).utcoffset()  # never None with a ZoneInfo
    if midnight is not None and midnight == datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).utcoffset():
        return lambda wall: (wall - midnight).replace(tzinfo=timezone.utc)

    def convert(wall: datetime) -> datetime | None:
        try:
            return localize(wall, tz).astimezone(timezone.utc)
        except ValueError:
            return None

    return convert


def _closing(day: date, end_time: time, tz: ZoneInfo) -> datetime:
    """The instant a period closes: the earliest its wall time can mean (a closing time in the
    spring gap or the repeated autumn hour never lets a meeting run past it)."""
    naive = datetime.combine(day, end_time)
    return min(naive.replace(tzinfo=tz, fold=fold).astimezone(timezone.utc) for fold in (0, 1))


def desk_slots(desk: DeskSpec, duration: int, step: int, first_day: date, last_day: date, tz: ZoneInfo) -> list[Slot]:
    """Candidate starts of a desk, from its opening hours, on local days [first_day, last_day]:
    `start_time`, then every `step` minutes while the meeting (real elapsed time, across a DST
    change too) ends by `end_time`. A wall time that does not exist (spring gap) is no slot;
    minus the desk's closures, its own and its unavailability calendars' (when read)."""
    length, every = timedelta(minutes=duration), timedelta(minutes=step)
    closures = Intervals((e.start, e.end) for e in desk.closures)
    slots = []
    day = first_day
    while day <= last_day:
        periods = [period for period in desk.timeperiods if opens_on(period, day)]
        if periods:
            to_utc = _to_utc(day, tz)
            for period in periods:
                closing = _closing(day, period.end_time, tz)
                wall, last = datetime.combine(day, period.start_time), datetime.combine(day, period.end_time)
                while wall < last:
                    start = to_utc(wall)
                    if start is not None and start + length <= closing and not closures.overlap(start, start + length):
                        slots.append(Slot(desk.slug, start, start + length))
                    wall += every
        day += timedelta(days=1)
    return slots


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
    except (ValueError, OverflowError):  # OverflowError: before year 1 in UTC
        raise BusinessError(f'bad datetime format: {moment[:200]}') from None


@dataclass(frozen=True)
class MeetingTime:
    """A start time offered for a meeting type, with the desks free then (in desk order)."""

    start: datetime
    end: datetime
    free_desks: tuple[str, ...]


def meeting_times(
    slots: list[Slot],
    busy: dict[str, list[tuple[datetime, datetime]]],
    unavailable: list[tuple[datetime, datetime]],
    desk_order: list[str],
) -> list[MeetingTime]:
    """Group the desks' candidate slots by start time: a desk is free when no booking of its own
    overlaps; a time the excluded user (or a requested resource) is busy frees no desk. Times no
    desk opens are absent."""
    by_start: dict[datetime, list[Slot]] = {}
    for slot in slots:
        by_start.setdefault(slot.start, []).append(slot)
    taken = Intervals(unavailable)
    booked = {desk: Intervals(intervals) for desk, intervals in busy.items()}
    nothing = Intervals(())
    times = []
    for start in sorted(by_start):
        candidates = by_start[start]
        end = candidates[0].end
        free = (
            []
            if taken.overlap(start, end)
            else [s.desk for s in candidates if not booked.get(s.desk, nothing).overlap(start, end)]
        )
        times.append(MeetingTime(start, end, tuple(sorted(set(free), key=desk_order.index))))
    return times


def excluded(agenda: AgendaSpec, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """A virtual agenda's `excluded_timeperiods` (weekly local hours) remove the times they overlap."""
    if not agenda.excluded_timeperiods:
        return False
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    for period in agenda.excluded_timeperiods:
        if local_start.weekday() != period.weekday:
            continue
        day = local_start.date()
        if overlaps(
            local_start.replace(tzinfo=None),
            local_end.replace(tzinfo=None),
            datetime.combine(day, period.start_time),
            datetime.combine(day, period.end_time),
        ):
            return True
    return False


# ---- booking a meeting (spec §6.1-6.2, §9.5) ---------------------------------------------------

NO_DESK = 'no more desk available'
# Cells of one desk's time a booking may hold, with its legs (a transaction holds at most 100 writes,
# and a booking it replaces takes as many).
MAX_BOOKING_WRITES = 48


def lock_step(agenda: AgendaSpec, tz: ZoneInfo) -> int:
    """Seconds of the cells a desk's time is locked by: the GCD of the agenda's meeting type
    durations, of its opening times and of the time zone's offsets, so that every slot starts
    and ends on a cell boundary (cells count from the Unix epoch, in UTC). Two bookings that
    overlap then share a cell; two that only touch share none."""
    values = [mt.duration * 60 for mt in agenda.meetingtypes]
    values += [
        p.start_time.hour * 3600 + p.start_time.minute * 60 + p.start_time.second
        for desk in agenda.desks
        for p in desk.timeperiods
    ]
    # A ZoneInfo has an offset at every datetime (typeshed's Optional is for utcoffset(None)).
    offsets = (tz.utcoffset(datetime(2000, month, 1)) for month in (1, 7))
    values += [int(offset.total_seconds()) for offset in offsets if offset is not None]
    return reduce(gcd, values, 24 * 3600)


MAX_PAST_STEPS = 3


def past_lock_steps(new: AgendaSpec, current: AgendaSpec, tz: ZoneInfo) -> tuple[int, ...]:
    """The lock grids bookings of `current` may hold once `new` replaces it, newest first:
    a booking on the new grid also checks their cells, so that a booking made just before the
    change (which the eventually consistent read may miss) still keeps its desk. Three are
    kept: older bookings are long visible to that read."""
    if current.kind != 'meetings' or new.kind != 'meetings':
        return ()
    step = lock_step(new, tz)
    history = (lock_step(current, tz), *current.past_lock_steps)
    return tuple(past for past in dict.fromkeys(history) if past != step)[:MAX_PAST_STEPS]


def grid_problems(agenda: AgendaSpec, tz: ZoneInfo) -> dict[str, list[str]]:
    """Meeting types too long to book on the agenda's lock grid: one slot and its cells must
    fit in MAX_BOOKING_WRITES items (paths relative to the agenda document)."""
    if agenda.kind != 'meetings':
        return {}
    step = lock_step(agenda, tz)
    cell = f'{step // 60} minutes' if step % 60 == 0 else f'{step} seconds'
    problems = {}
    for index, meeting_type in enumerate(agenda.meetingtypes):
        cells = -(-meeting_type.duration * 60 // step)
        if 1 + cells > MAX_BOOKING_WRITES:
            problems[f'meetingtypes.{index}.duration'] = [
                f"A meeting of {meeting_type.duration} minutes covers {cells} cells of {cell} on this agenda's "
                f'grid (the GCD of its durations and opening times); at most {MAX_BOOKING_WRITES - 1}: use '
                'rounder durations or opening times.'
            ]
    return problems


def utc_days(start: datetime, end: datetime) -> list[str]:
    """The UTC days (YYYY-MM-DD) that [start, end) touches: one or two for a meeting."""
    first = start.astimezone(timezone.utc).date()
    last = (end.astimezone(timezone.utc) - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def lock_cells(start: datetime, end: datetime, step: int) -> list[datetime]:
    """The cells [start, end) touches: exact on the agenda's grid, and safe off it (a cell too
    many can refuse a booking, a cell too few never lets two overlap)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    first = int((start - epoch).total_seconds()) // step * step
    last = int((end - epoch).total_seconds())
    return [epoch + timedelta(seconds=s) for s in range(first, last, step)]


def read_meeting_slots(slots: list[str], agenda: AgendaSpec, tz: ZoneInfo) -> tuple[MeetingTypeSpec, list[datetime]]:
    """The meeting type and UTC starts that fillslot ids name (spec §6.1 errors): one type for
    every slot; slots that overlap one another cannot share a desk."""
    parsed = [parse_slot_id(slot, tz) for slot in slots]
    type_slug = parsed[0][0]
    for other, _ in parsed[1:]:
        if other != type_slug:
            raise BusinessError(f'all slots must have the same meeting type id ({type_slug[:200]})')
    meeting_type = next((mt for mt in agenda.meetingtypes if mt.slug == type_slug), None)
    if meeting_type is None:
        raise BadRequest(f'invalid meeting type id: {type_slug[:200]}')
    starts = sorted({start for _, start in parsed})
    length = timedelta(minutes=meeting_type.duration)
    if any(later < earlier + length for earlier, later in pairwise(starts)):
        raise BusinessError(NO_DESK, 'the requested slots overlap one another')
    return meeting_type, starts


RESOURCE_CELL = 300


def resource_step(step: int) -> int:
    """Resources are shared by agendas whose grids differ: their cells are at most 5 minutes,
    a common divisor of every grid made of whole 5 minutes."""
    return gcd(step, RESOURCE_CELL)


def read_resources(requested: list[str] | None, agenda: AgendaSpec) -> tuple[str, ...]:
    """`resources` of a datetimes or fillslot call: resources of the agenda (a virtual agenda
    has none of its own); `invalid resource: <slugs>` otherwise (HTTP 400)."""
    wanted = tuple(dict.fromkeys(requested or ()))
    unknown = [slug for slug in wanted if agenda.kind != 'meetings' or slug not in agenda.resources]
    if unknown:
        raise BadRequest(f'invalid resource: {", ".join(sorted(unknown))[:200]}')
    return wanted


@dataclass(frozen=True)
class MeetingLeg:
    """One slot of a meeting booking, on the desk chosen for it, with the resources it takes."""

    agenda: str
    desk: str
    meeting_type: str
    start: datetime
    end: datetime
    lock_step: int
    resources: tuple[str, ...] = ()
    past_steps: tuple[int, ...] = ()  # the agenda's earlier lock grids: their cells are checked free

    @property
    def cells(self) -> list[datetime]:
        return lock_cells(self.start, self.end, self.lock_step)

    @property
    def past_cells(self) -> list[datetime]:
        """Cells of the earlier grids that this leg's own cells do not already cover: a booking
        made before the agenda's grid changed holds those (sorted, without repeats)."""
        own = set(self.cells)
        return sorted({cell for step in self.past_steps for cell in lock_cells(self.start, self.end, step)} - own)

    @property
    def writes(self) -> int:
        """Items the leg's transaction touches: itself, its desk cells (and the checks of earlier
        grids' cells), per resource a use and its cells."""
        resource_cells = len(lock_cells(self.start, self.end, resource_step(self.lock_step)))
        return 1 + len(self.cells) + len(self.past_cells) + len(self.resources) * (1 + resource_cells)


def busy_by_desk(legs: Iterable[Any]) -> dict[str, list[tuple[datetime, datetime]]]:
    """Desk -> the live meeting bookings holding it (legs with desk, start, end)."""
    busy: dict[str, list[tuple[datetime, datetime]]] = {}
    for leg in legs:
        if leg.desk and leg.end is not None:
            busy.setdefault(leg.desk, []).append((leg.start, leg.end))
    return busy


def desk_takes(
    desk: DeskSpec,
    duration: int,
    step: int,
    starts: list[datetime],
    tz: ZoneInfo,
    busy: list[tuple[datetime, datetime]],
) -> bool:
    """Every start is one of the desk's slots (opening hours on the grid, no closure) and none
    overlaps a booking of the desk."""
    length = timedelta(minutes=duration)
    for start in starts:
        day = start.astimezone(tz).date()
        if start not in {s.start for s in desk_slots(desk, duration, step, day, day, tz)}:
            return False
        if any(overlaps(start, start + length, b, e) for b, e in busy):
            return False
    return True


def bookings_on_day(legs: Iterable[Any], day: date, tz: ZoneInfo) -> int:
    """Live meeting legs that start on a local day: the load a virtual agenda balances."""
    return sum(1 for leg in legs if leg.start.astimezone(tz).date() == day)
