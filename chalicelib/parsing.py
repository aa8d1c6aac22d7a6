"""Lenient reading of what Publik clients send (spec chrono-api.md §1.3).

w.c.s. renders templates into JSON, so numbers and booleans arrive as strings ("2", "True"),
empty values as "" and lists as comma-joined strings. `Payload` reads them all, collects every
problem per field, and raises one `InvalidPayload` (HTTP 400) listing them.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timezone
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from chalicelib.errors import InvalidPayload

TRUE = frozenset({'true', '1', 'on', 'yes', 't', 'y'})
FALSE = frozenset({'false', '0', 'off', 'no', 'f', 'n'})
MAX_INT = 2**31 - 1
MAX_STRING = 10_000
SLUG_RE = re.compile(r'\A[A-Za-z0-9_-]{1,160}\Z')
DATETIME_RE = re.compile(
    r'\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(?P<offset>[+-](?P<hours>\d{2}):?(?P<minutes>\d{2}))?'
)
# Nothing is stored outside these years, read as written, in UTC or in the service's time zone (domain/window.py).
FIRST_YEAR, LAST_YEAR = 1900, 2999
# Any space or control character (C0, DEL, C1, Unicode blanks and line separators): never in a URL.
URL_FORBIDDEN_RE = re.compile(r'[\x00-\x20\x7f-\x9f]|\s')
URL_SCHEMES = ('http', 'https')
T = TypeVar('T')
D = TypeVar('D')  # a getter's default


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in a JSON value (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            current = list(current.values())
        if isinstance(current, list):
            deepest = max(deepest, depth + 1)
            stack.extend((item, depth + 1) for item in current)
    return deepest


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == '')


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
    raise ValueError('Must be a valid boolean.')


def to_int(value: Any, minimum: int | None = None, maximum: int = MAX_INT) -> int:
    if isinstance(value, bool):
        raise ValueError('A valid integer is required.')
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError('A valid integer is required.')
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r'\s*[+-]?\d{1,19}\s*', value):
        number = int(value)
    else:
        raise ValueError('A valid integer is required.')
    if minimum is not None and number < minimum:
        raise ValueError(f'Ensure this value is greater than or equal to {minimum}.')
    if number > maximum:
        raise ValueError(f'Ensure this value is less than or equal to {maximum}.')
    return number


def to_list(value: Any) -> list[str]:
    """A JSON list of scalars, or a comma-joined string (w.c.s. `|join:","`)."""
    if isinstance(value, str):
        items: Iterable[Any] = value.split(',')
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError('Expected a list of items or a comma-separated string.')
    result = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ValueError('Expected a list of strings.')
        text = str(item).strip()
        if text:
            result.append(text)
    return result


def to_date(value: Any) -> date:
    if isinstance(value, str) and re.fullmatch(r'\d{4}-\d{2}-\d{2}', value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError('Date has wrong format. Use one of these formats instead: YYYY-MM-DD.')


def to_time(value: Any) -> time:
    if isinstance(value, str) and re.fullmatch(r'\d{2}:\d{2}(:\d{2})?', value.strip()):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError('Time has wrong format. Use one of these formats instead: hh:mm[:ss].')


def to_datetime(value: Any, tz: ZoneInfo) -> datetime:
    """An aware datetime. Naive values are wall-clock times in `tz`.

    A wall-clock time that does not exist (spring DST gap) is refused; an ambiguous one
    (autumn) is the first occurrence, as in summer time. An offset is at most 23:59 either way.
    """
    if isinstance(value, str):
        text = value.strip().replace('T', ' ')
        if text.endswith('Z'):
            text = text[:-1] + '+00:00'
        match = DATETIME_RE.fullmatch(text)
        if match:
            if match['offset'] and (int(match['hours']) > 23 or int(match['minutes']) > 59):
                # fromisoformat reads -00:60 as -01:00 and +00:99 as +01:39.
                raise ValueError('UTC offset out of range: use +HH:MM or -HH:MM, hours 00 to 23, minutes 00 to 59.')
            try:
                # Whole seconds, as exported: a re-import must give the same instant.
                parsed = datetime.fromisoformat(text).replace(microsecond=0)
            except ValueError:
                parsed = None
            if parsed is not None:
                return _instant_in_range(parsed, tz)
    raise ValueError('Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD HH:MM[:SS].')


def _instant_in_range(parsed: datetime, tz: ZoneInfo) -> datetime:
    """The instant in UTC, if it falls in the years 1900 to 2999 read as written, in UTC (what is
    stored) and in `tz` (what listings and exports write: an export must import again)."""
    if FIRST_YEAR <= parsed.year <= LAST_YEAR:  # first: year 1 or 9999 moved by an offset overflows datetime
        # UTC: an instant in the repeated autumn hour compares unequal to everything otherwise.
        instant = (parsed if parsed.tzinfo is not None else localize(parsed, tz)).astimezone(timezone.utc)
        if FIRST_YEAR <= instant.year <= LAST_YEAR and FIRST_YEAR <= instant.astimezone(tz).year <= LAST_YEAR:
            return instant
    raise ValueError(f'Datetime out of range: years {FIRST_YEAR} to {LAST_YEAR}, as written, in UTC and in {tz.key}.')


def to_url(value: Any, max_length: int = MAX_STRING) -> str:
    """An absolute http or https URL with a host, as w.c.s. sends them (already percent-encoded).

    Only the form is checked, never the host (design.md §3.6: callbacks may name any host). Blanks
    around it are trimmed, as a Django URL field does; a space or a control character left inside
    refuses it (a line break stored here once made every iCalendar answer of its user fail).
    """
    if not isinstance(value, str):
        raise ValueError('Enter a valid URL.')
    url = value.strip()
    if len(url) > max_length:
        raise ValueError(f'Ensure this field has no more than {max_length} characters.')
    # Checked before urlsplit, which silently drops tabs and line breaks.
    if URL_FORBIDDEN_RE.search(url):
        raise ValueError('Enter a valid URL: no spaces or control characters.')
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise ValueError('Enter a valid URL.') from None
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        raise ValueError('Enter a valid URL: http or https, with a host.')
    return url


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    aware = naive.replace(tzinfo=tz, fold=0)
    # A non-existent wall time does not survive the round trip through UTC.
    if aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(f'{naive:%Y-%m-%d %H:%M} does not exist in {tz.key} (daylight saving time change).')
    return aware


class Payload:
    """Typed, lenient access to a request body or query, collecting errors per field.

    Its getters are named after the types they return (`str`, `bool`, `int`...), which hides those
    builtins in this class: its annotations name them `builtins.str`... A getter returns its
    `default` when the field is blank or wrong, so a getter with a default never returns None, and
    one with `required=True` returns None only after recording an error (`checked`).
    """

    def __init__(self, data: dict[builtins.str, Any]) -> None:
        self.data = data
        self.errors: dict[builtins.str, builtins.list[builtins.str]] = {}
        self.read: set[builtins.str] = set()

    def __contains__(self, name: builtins.str) -> builtins.bool:
        return name in self.data and not is_blank(self.data[name])

    def error(self, name: builtins.str, message: builtins.str) -> None:
        self.errors.setdefault(name, []).append(message)

    def _get(self, name: builtins.str, required: builtins.bool) -> Any:
        self.read.add(name)
        value = self.data.get(name)
        if is_blank(value):
            if required:
                self.error(name, 'This field is required.')
            return None
        return value

    def _convert(self, name: builtins.str, required: builtins.bool, default: D, convert: Callable[[Any], T]) -> T | D:
        value = self._get(name, required)
        if value is None:
            return default
        try:
            return convert(value)
        except ValueError as exc:
            self.error(name, str(exc))
            return default

    def str(
        self,
        name: builtins.str,
        required: builtins.bool = False,
        default: builtins.str | None = None,
        max_length: builtins.int = MAX_STRING,
    ) -> builtins.str | None:
        def convert(value: Any) -> builtins.str:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ValueError('Not a valid string.')
            text = str(value)
            if len(text) > max_length:
                raise ValueError(f'Ensure this field has no more than {max_length} characters.')
            return text

        return self._convert(name, required, default, convert)

    def url(
        self, name: builtins.str, required: builtins.bool = False, max_length: builtins.int = MAX_STRING
    ) -> builtins.str | None:
        return self._convert(name, required, None, lambda v: to_url(v, max_length))

    def slug(
        self, name: builtins.str, required: builtins.bool = False, default: builtins.str | None = None
    ) -> builtins.str | None:
        def convert(value: Any) -> builtins.str:
            if not isinstance(value, str) or not SLUG_RE.match(value):
                raise ValueError('Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.')
            return value

        return self._convert(name, required, default, convert)

    def bool(
        self, name: builtins.str, required: builtins.bool = False, default: builtins.bool = False
    ) -> builtins.bool:
        return self._convert(name, required, default, to_bool)

    @overload
    def int(
        self,
        name: builtins.str,
        required: builtins.bool = False,
        *,
        default: builtins.int,
        minimum: builtins.int | None = None,
        maximum: builtins.int = MAX_INT,
    ) -> builtins.int: ...

    @overload
    def int(
        self,
        name: builtins.str,
        required: builtins.bool = False,
        default: builtins.int | None = None,
        minimum: builtins.int | None = None,
        maximum: builtins.int = MAX_INT,
    ) -> builtins.int | None: ...

    def int(
        self,
        name: builtins.str,
        required: builtins.bool = False,
        default: builtins.int | None = None,
        minimum: builtins.int | None = None,
        maximum: builtins.int = MAX_INT,
    ) -> builtins.int | None:
        return self._convert(name, required, default, lambda v: to_int(v, minimum, maximum))

    def list(
        self, name: builtins.str, required: builtins.bool = False, default: builtins.list[builtins.str] | None = None
    ) -> builtins.list[builtins.str] | None:
        return self._convert(name, required, default, to_list)

    def date(self, name: builtins.str, required: builtins.bool = False) -> date | None:
        return self._convert(name, required, None, to_date)

    def time(self, name: builtins.str, required: builtins.bool = False, default: time | None = None) -> time | None:
        return self._convert(name, required, default, to_time)

    def datetime(self, name: builtins.str, tz: ZoneInfo, required: builtins.bool = False) -> datetime | None:
        return self._convert(name, required, None, lambda v: to_datetime(v, tz))

    @overload
    def choice(
        self,
        name: builtins.str,
        choices: Iterable[builtins.str],
        required: builtins.bool = False,
        *,
        default: builtins.str,
    ) -> builtins.str: ...

    @overload
    def choice(
        self,
        name: builtins.str,
        choices: Iterable[builtins.str],
        required: builtins.bool = False,
        default: builtins.str | None = None,
    ) -> builtins.str | None: ...

    def choice(
        self,
        name: builtins.str,
        choices: Iterable[builtins.str],
        required: builtins.bool = False,
        default: builtins.str | None = None,
    ) -> builtins.str | None:
        allowed = tuple(choices)

        def convert(value: Any) -> builtins.str:
            if not isinstance(value, str) or value not in allowed:
                # Never echo a non-string: its repr can be huge or deeper than the recursion limit.
                shown = f'"{value}"' if isinstance(value, str) and len(value) <= 100 else 'This value'
                raise ValueError(f'{shown} is not a valid choice.')
            return value

        return self._convert(name, required, default, convert)

    def unread(self) -> dict[builtins.str, Any]:
        """Keys no getter asked for (fillslot stores them in `extra_data`)."""
        return {k: v for k, v in self.data.items() if k not in self.read}

    def check(self) -> None:
        if self.errors:
            raise InvalidPayload(self.errors)

    def checked(self, value: T | None) -> T:
        """`value` once this payload is checked (raises `InvalidPayload` with every error so far): what
        a getter with `required=True`, or a reader that returns None only after recording an error, gave."""
        self.check()
        if value is None:
            raise AssertionError('a required value is missing, but no error was recorded for it')
        return value
