"""Agendas and their configuration as the domain holds them: frozen dataclasses, and their form in
Chrono's export document (spec chrono-api.md §2, §11.1). Equality of two specs is what "re-importing
an export changes nothing" means. Reading documents into specs is agenda_reader.py; closures
(a desk's exceptions and their ICS sources) are closures.py.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import TYPE_CHECKING, Any, overload
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from chalicelib.domain.closures import ExceptionSpec, ExceptionsSourceSpec
    from chalicelib.domain.reminder_rules import ReminderSettings

KINDS = ('events', 'meetings', 'virtual')
LOCAL_FORMAT = '%Y-%m-%d %H:%M:%S'
MAX_PLACES = 100_000
MAX_DURATION = 7 * 24 * 60
MAX_DELAY = 3650
# Lists kept inside the agenda item: capped so that it stays far below DynamoDB's 400 KB per item.
MAX_AGENDA_LIST = 200


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode('ascii')
    return re.sub(r'[^a-z0-9]+', '-', ascii_text.lower()).strip('-')[:160]


@overload
def local_text(moment: datetime, tz: ZoneInfo) -> str: ...


@overload
def local_text(moment: datetime | None, tz: ZoneInfo) -> str | None: ...


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
class DeskSpec:
    slug: str
    label: str
    timeperiods: tuple[TimePeriodSpec, ...] = ()
    exceptions: tuple[ExceptionSpec, ...] = ()  # entered by hand and read from the sources
    unavailability_calendars: tuple[str, ...] = ()
    exceptions_sources: tuple[ExceptionsSourceSpec, ...] = ()
    # The closures of its unavailability calendars, when a use case read them (services/unavailability.py):
    # not part of the desk's content.
    shared_closures: tuple[ExceptionSpec, ...] = field(default=(), compare=False)

    @property
    def closures(self) -> tuple[ExceptionSpec, ...]:
        """Every time the desk is closed: its own closures and those of its calendars."""
        return (*self.exceptions, *self.shared_closures)

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
        return {'weekday': self.weekday, 'start_time': time_text(self.start_time), 'end_time': time_text(self.end_time)}


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
    reminder_settings: ReminderSettings | None = None  # e-mail and SMS reminders (domain/reminder_rules.py)
    waiting_list_promotion: str = 'manual'  # events: 'automatic' promotes (domain/promotion_rules.py)
    events: tuple[EventSpec, ...] = field(default=(), compare=True)
    meetingtypes: tuple[MeetingTypeSpec, ...] = ()
    desks: tuple[DeskSpec, ...] = ()
    # Meetings: the lock grids (seconds) the agenda had before its configuration last changed,
    # newest first; bookings made then hold cells of those sizes. Not part of its content.
    past_lock_steps: tuple[int, ...] = field(default=(), compare=False)

    def settings_only(self) -> AgendaSpec:
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
        # Only when set: an export without them reads back as "none", the default.
        if self.reminder_settings is not None:
            data['reminder_settings'] = self.reminder_settings.export()
        if self.waiting_list_promotion != 'manual':
            data['waiting_list_promotion'] = self.waiting_list_promotion
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
