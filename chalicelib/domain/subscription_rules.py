"""Subscriptions ("inscriptions", spec chrono-api.md §2.5): a user subscribed to an events agenda from
`date_start` to `date_end` (excluded). Lingo finds the users to bill through them; family portals list
and book "my children's activities" with `subscribed=`. No I/O here.

A user's subscriptions to one agenda never overlap (docs/api.md, "Billing and subscriptions").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.booking_rules import MAX_EXTRA_DATA, MAX_EXTRA_DEPTH, MAX_TEXT, MAX_USER_ID
from chalicelib.domain.window import FIRST_DAY, LAST_DAY, local_midnight
from chalicelib.errors import InvalidPayload
from chalicelib.parsing import Payload, nesting_depth

PERSON = ('user_first_name', 'user_last_name', 'user_email', 'user_phone_number')
FIELDS = ('user_external_id', *PERSON, 'date_start', 'date_end', 'extra_data')


@dataclass(frozen=True)
class SubscriptionSpec:
    agenda: str
    user_external_id: str
    date_start: date
    date_end: date  # excluded
    user_first_name: str | None = None
    user_last_name: str | None = None
    user_email: str | None = None
    user_phone_number: str | None = None
    extra_data: dict[str, Any] | None = None
    id: int | None = None  # given when stored
    version: int = 0  # moved on by every write of it

    @property
    def stored_id(self) -> int:
        """The id of a subscription read from the store (every stored one has one)."""
        if self.id is None:
            raise ValueError('a subscription not stored yet has no id')
        return self.id

    ending: bool = field(default=False, compare=False)  # being deleted

    def export(self) -> dict[str, Any]:
        """Its item in the API and in an export document."""
        return {
            'id': self.id,
            'user_external_id': self.user_external_id,
            **{name: getattr(self, name) for name in PERSON},
            'date_start': self.date_start.isoformat(),
            'date_end': self.date_end.isoformat(),
            'extra_data': self.extra_data,
        }

    def overlaps(self, start: date | None, end: date | None) -> bool:
        """It shares a day with [start, end) (an open bound is no bound)."""
        return (end is None or self.date_start < end) and (start is None or self.date_end > start)

    def span(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Its days as instants: from local midnight of `date_start` to that of `date_end` (excluded)."""
        return local_midnight(self.date_start, tz), local_midnight(self.date_end, tz)


@dataclass(frozen=True)
class UserPeriods:
    """The periods of a user's subscriptions to one agenda, as read (consistently) with their version
    (None: never written)."""

    user: str
    agenda: str
    version: int | None
    periods: dict[int, tuple[date, date]]

    def overlapping(self, start: date, end: date, other_than: int | None = None) -> list[int]:
        return sorted(ident for ident, (s, e) in self.periods.items() if ident != other_than and s < end and e > start)

    def spans(self, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        return sorted((local_midnight(s, tz), local_midnight(e, tz)) for s, e in self.periods.values())

    def with_period(self, ident: int, start: date, end: date) -> dict[int, tuple[date, date]]:
        return {**self.periods, ident: (start, end)}

    def without(self, ident: int) -> dict[int, tuple[date, date]]:
        return {key: value for key, value in self.periods.items() if key != ident}


def _clamped(value: date) -> date:
    return min(max(value, FIRST_DAY), LAST_DAY)


def read_subscription(p: Payload, agenda: str, current: SubscriptionSpec | None = None) -> SubscriptionSpec:
    """A subscription from a POST body (`user_external_id`, `date_start`, `date_end` required) or the
    changes of a PATCH to `current` (absent keys kept). `extra_data` is a JSON object; any other key is
    merged into it (as fillslot's extra keys). 400 `invalid payload` listing every problem."""
    values: dict[str, Any] = {}
    if current is None or 'user_external_id' in p.data:
        user = p.str('user_external_id', required=True, max_length=MAX_USER_ID)
        if current is not None and user is not None and user != current.user_external_id:
            p.error('user_external_id', 'The user of a subscription cannot change: delete it and subscribe the other.')
        values['user_external_id'] = user
    for name in PERSON:
        if current is None or name in p.data:
            values[name] = p.str(name, max_length=MAX_TEXT)
    for name in ('date_start', 'date_end'):
        if current is None or name in p.data:
            value = p.date(name, required=True)
            values[name] = _clamped(value) if value else None
    extra = p.data.get('extra_data')
    p.read.add('extra_data')
    if extra is not None and not isinstance(extra, dict):
        p.error('extra_data', 'Expected a JSON object.')
        extra = None
    extra = {**(extra or {}), **p.unread()}
    if nesting_depth(extra) > MAX_EXTRA_DEPTH + 1:
        p.error('extra_data', f'Nests deeper than {MAX_EXTRA_DEPTH} levels.')
    p.check()
    if current is None:
        spec = SubscriptionSpec(agenda=agenda, **values, extra_data=extra or None)
    else:
        merged = {**(current.extra_data or {}), **extra} if extra else current.extra_data
        spec = replace(current, **{k: v for k, v in values.items() if v is not None or k in PERSON}, extra_data=merged)
    errors: dict[str, list[str]] = {}
    if spec.date_end <= spec.date_start:
        errors['date_end'] = ['Must be after date_start (the end is excluded).']
    if spec.extra_data and len(json.dumps(spec.extra_data, ensure_ascii=False).encode('utf-8')) > MAX_EXTRA_DATA:
        errors['extra_data'] = [f'Exceeds {MAX_EXTRA_DATA} bytes.']
    if errors:
        raise InvalidPayload(errors)
    return spec


def read_filters(p: Payload) -> tuple[str | None, date | None, date | None]:
    """The list's filters: `user_external_id`, and the subscriptions sharing a day with
    [`date_start`, `date_end`) (what Lingo asks for a campaign's period)."""
    user = p.str('user_external_id', max_length=MAX_USER_ID)
    start, end = p.date('date_start'), p.date('date_end')
    p.check()
    return user, start, end
