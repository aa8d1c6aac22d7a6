"""The bookable window of an agenda (spec chrono-api.md §9.1), in the agenda's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from chalicelib.domain.specs import AgendaSpec

# Nothing is stored outside these years (parsing.to_datetime): listings clamp to them, bookings stop there.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(3000, 1, 1)
LAST_INSTANT = datetime(3000, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=64)
def french_holidays(year: int) -> frozenset[date]:
    """Public holidays of metropolitan France (Chrono's working-days calendar)."""
    # Anonymous Gregorian algorithm for Easter Sunday.
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    easter = date(year, month, day + 1)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [easter + timedelta(days=1), easter + timedelta(days=39), easter + timedelta(days=50)]
    return frozenset([date(year, mo, dy) for mo, dy in fixed] + movable)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in french_holidays(day.year)


def add_days(start: date, days: int, working_days: bool) -> date:
    if not working_days:
        return start + timedelta(days=days)
    current = start
    while days > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            days -= 1
    return current


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


@dataclass(frozen=True)
class Window:
    start: datetime  # aware; first bookable instant
    end: datetime | None  # aware; excluded; None = no upper bound

    def contains(self, moment: datetime) -> bool:
        return moment >= self.start and (self.end is None or moment < self.end)


def booking_window(agenda: AgendaSpec, now: datetime, tz: ZoneInfo) -> Window:
    """Lower bound: local midnight of today + minimal_booking_delay (working days if asked),
    or now when the delay is 0; upper bound: local midnight of today + maximal_booking_delay.

    Before `minimal_booking_time`, "today" is still yesterday: the window moves forward at
    that time of day rather than at midnight.
    """
    local_now = now.astimezone(tz)
    today = local_now.date()
    if agenda.minimal_booking_time and local_now.time() < agenda.minimal_booking_time:
        today -= timedelta(days=1)
    min_delay = agenda.minimal_booking_delay or 0
    if min_delay:
        start = max(now, local_midnight(add_days(today, min_delay, agenda.minimal_booking_delay_in_working_days), tz))
    else:
        start = now
    end = None
    if agenda.maximal_booking_delay is not None:
        end = local_midnight(today + timedelta(days=agenda.maximal_booking_delay), tz)
    return Window(start=start, end=end)
