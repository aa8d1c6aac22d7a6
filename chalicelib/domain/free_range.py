"""Free-range agendas (spec chrono-api.md §5.6, §6.6): a meetings agenda booked as time ranges of any length
between its limits, as w.c.s.'s time-range field offers them. No I/O here.

The field (w.c.s. `TimeRangeWidget`) lists days, each with `opening_hours` entries `{hour, status}` one step
apart; it offers as start hours the `free` entries and as end hours the entry that follows a run of `free`
ones, so a day's entries end with the boundary where its last opening closes (`closed`). A range is booked on
one desk, free for its whole length (its lock cells, as a meeting's), and on the requested resource.

Choices (the payload is not documented, §6.6): the step is the agenda's grid (the GCD of its meeting type
durations); the shortest and the longest meeting types give `minimal_booking_slots` and
`maximal_booking_slots` (without meeting types: 30 minutes, 1 to 16 steps). A step is `free` when a desk is
open for it, holds nothing then and the resource (if any) is free, `booked` when desks are open but none is
free, `closed` when no desk opens or it is outside the booking window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.meeting_slots import Intervals, base_step, desk_slots, longest, opens_on
from chalicelib.domain.specs import AgendaSpec, MeetingTypeSpec
from chalicelib.domain.window import Window
from chalicelib.errors import InvalidPayload

FREE_RANGE = 'free-range'  # the meeting type a free-range booking's leg names
DEFAULT_STEP, DEFAULT_MAXIMAL = 30, 16
FREE, BOOKED, CLOSED = 'free', 'booked', 'closed'
DAY_NAMES = ('Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday')
MONTH_NAMES = (
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
)


@dataclass(frozen=True)
class Limits:
    """A free-range agenda's step (minutes) and the number of steps a booking may take."""

    step: int
    minimal: int
    maximal: int

    @property
    def longest(self) -> timedelta:
        return timedelta(minutes=self.step * self.maximal)


def limits(agenda: AgendaSpec) -> Limits:
    durations = [mt.duration for mt in agenda.meetingtypes]
    if not durations:
        return Limits(DEFAULT_STEP, 1, DEFAULT_MAXIMAL)
    step = base_step(durations)
    return Limits(step, min(durations) // step, max(durations) // step)


def reach(agenda: AgendaSpec) -> timedelta:
    """How long before a time a booking of the agenda may have started and still overlap it: its longest
    meeting, or on a free-range agenda its longest range."""
    return max(longest(agenda), limits(agenda).longest) if agenda.free_range else longest(agenda)


def range_type(agenda: AgendaSpec, start: datetime, end: datetime) -> MeetingTypeSpec:
    """A range as the meeting type of its booking (its length), or 400 when the agenda's limits refuse it."""
    bounds = limits(agenda)
    minutes, rest = divmod(int((end - start).total_seconds()), 60)
    if end <= start:
        raise InvalidPayload({'end_datetime': ['Must be after start_datetime.']})
    if rest or minutes % bounds.step or not bounds.minimal <= minutes // bounds.step <= bounds.maximal:
        raise InvalidPayload(
            {
                'end_datetime': [
                    f'The range must last {bounds.minimal} to {bounds.maximal} steps of {bounds.step} minutes.'
                ]
            }
        )
    return MeetingTypeSpec(FREE_RANGE, 'Free range', minutes)


@dataclass(frozen=True)
class Hour:
    hour: str  # HH:MM, local
    status: str


@dataclass(frozen=True)
class Day:
    day: date
    hours: tuple[Hour, ...]

    @property
    def disabled(self) -> bool:
        return not any(h.status == FREE for h in self.hours)

    @property
    def text(self) -> str:
        """`Fri 27 Jun 2025` (English, as w.c.s.'s own example: no locale on a Lambda)."""
        return self._label(3)

    @property
    def verbose_label(self) -> str:
        return self._label(None)

    def _label(self, cut: int | None) -> str:
        weekday, month = DAY_NAMES[self.day.weekday()], MONTH_NAMES[self.day.month - 1]
        return f'{weekday[:cut]} {self.day.day} {month[:cut]} {self.day.year}'


def opening_day(
    agenda: AgendaSpec,
    day: date,
    tz: ZoneInfo,
    busy: dict[str, Intervals],
    taken: Intervals,
    window: Window,
) -> Day | None:
    """A local day's steps, from the opening hours of the agenda's desks (None: no desk opens): each step
    `free` on a desk that is open for it (no closure) and holds nothing then (`busy`, by desk) while the
    resource is free (`taken`), `booked` when no open desk is free, `closed` when no desk is open for it or
    it starts outside `window`; each opening's end is a `closed` boundary."""
    step = limits(agenda).step
    length = timedelta(minutes=step)
    open_steps: dict[datetime, list[str]] = {}  # UTC start -> the desks open for that step
    boundaries: set[datetime] = set()  # local wall times where an opening ends
    for desk in agenda.desks:
        for slot in desk_slots(desk, step, step, day, day, tz):
            open_steps.setdefault(slot.start, []).append(desk.slug)
        boundaries.update(datetime.combine(day, p.end_time) for p in desk.timeperiods if opens_on(p, day))
    if not open_steps and not boundaries:
        return None
    # Local wall time -> the step starting then (None: only a boundary, where an opening ends).
    walls: dict[time, datetime | None] = {start.astimezone(tz).time(): start for start in open_steps}
    for wall in boundaries:
        if wall.time() not in walls and wall.time() != time(0):  # an opening until midnight ends the day
            walls[wall.time()] = None
    nothing = Intervals(())
    hours = []
    for wall_time in sorted(walls):
        start = walls[wall_time]
        if start is None or not window.contains(start):
            status = CLOSED
        elif taken.overlap(start, start + length) or all(
            busy.get(desk, nothing).overlap(start, start + length) for desk in open_steps[start]
        ):
            status = BOOKED
        else:
            status = FREE
        hours.append(Hour(wall_time.strftime('%H:%M'), status))
    return Day(day, tuple(hours))
