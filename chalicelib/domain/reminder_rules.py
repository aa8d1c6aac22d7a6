"""Reminders and promotion notices: the messages the service sends to the people who booked, by e-mail
and SMS (spec chrono-api.md §9.12; issue 19). An agenda's `reminder_settings` say which channels remind
how many days before, at which local hour, with which extra text, and whether a promotion from the
waiting list is told too. No I/O here: the service gives the clock, the time zone and which channels
the deployment configured (CHRONO_REMINDER_FROM, CHRONO_SMS_URL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.parsing import Payload

EMAIL, SMS = 'email', 'sms'
CHANNELS = (EMAIL, SMS)
REMINDER_EMAIL, REMINDER_SMS = 'reminder-email', 'reminder-sms'
PROMOTION_EMAIL, PROMOTION_SMS = 'promotion-email', 'promotion-sms'
REMINDER_KINDS = {EMAIL: REMINDER_EMAIL, SMS: REMINDER_SMS}
PROMOTION_KINDS = {EMAIL: PROMOTION_EMAIL, SMS: PROMOTION_SMS}
# What the outbox holds besides the forms' callbacks: messages to people, in the same failed list.
MESSAGE_KINDS = (REMINDER_EMAIL, REMINDER_SMS, PROMOTION_EMAIL, PROMOTION_SMS)
MAX_DAYS_BEFORE = 30
DEFAULT_HOUR = 9
MAX_EXTRA_INFO = 1000
MAX_EMAIL_RECIPIENTS = 50  # Amazon SES takes at most 50 recipients a message
MAX_SMS_RECIPIENTS = 50
# Plausible, not validated: w.c.s. sends "nothing" when a form has no e-mail; SES refuses a whole message
# for one malformed address, so such values are left out (the booking keeps them as given).
EMAIL_RE = re.compile(r'\A[^@\s,;<>"()\[\]\\]+@[^@\s,;<>"()\[\]\\]+\.[^@\s,;<>"()\[\]\\.]+\Z')
PHONE_RE = re.compile(r'\A\+?[0-9 .()-]{6,30}\Z')


@dataclass(frozen=True)
class ReminderSettings:
    """An agenda's reminders (Chrono's `reminder_settings`, plus the hour they go out and promotion
    notices): `days_before_email`/`days_before_sms` None means no reminder on that channel."""

    days_before_email: int | None = None
    days_before_sms: int | None = None
    hour: int = DEFAULT_HOUR  # local hour of the day the reminders go out
    email_extra_info: str = ''
    sms_extra_info: str = ''
    notify_promotion: bool = False  # a booking moved off the waiting list is told on the channels above

    def days_before(self, channel: str) -> int | None:
        return self.days_before_email if channel == EMAIL else self.days_before_sms

    @property
    def days_by_channel(self) -> dict[str, int]:
        """The channels it reminds on, each with its days before the booking."""
        return {c: days for c in CHANNELS if (days := self.days_before(c)) is not None}

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.days_by_channel)

    def export(self) -> dict[str, Any]:
        return {
            'days_before_email': self.days_before_email,
            'days_before_sms': self.days_before_sms,
            'hour': self.hour,
            'email_extra_info': self.email_extra_info,
            'sms_extra_info': self.sms_extra_info,
            'notify_promotion': self.notify_promotion,
        }


def read_reminder_settings(agenda: Payload) -> ReminderSettings | None:
    """`reminder_settings` of an agenda document: an object, or null/absent (no reminders). Errors go
    under `reminder_settings.<key>`."""
    agenda.read.add('reminder_settings')
    data = agenda.data.get('reminder_settings')
    if data in (None, '', {}):
        return None
    if not isinstance(data, dict):
        agenda.error('reminder_settings', 'Expected a JSON object.')
        return None
    p = Payload(data)
    settings = ReminderSettings(
        days_before_email=p.int('days_before_email', minimum=1, maximum=MAX_DAYS_BEFORE),
        days_before_sms=p.int('days_before_sms', minimum=1, maximum=MAX_DAYS_BEFORE),
        hour=p.int('hour', default=DEFAULT_HOUR, minimum=0, maximum=23),
        email_extra_info=p.str('email_extra_info', max_length=MAX_EXTRA_INFO) or '',
        sms_extra_info=p.str('sms_extra_info', max_length=MAX_EXTRA_INFO) or '',
        notify_promotion=p.bool('notify_promotion'),
    )
    for name in p.unread():
        p.error(name, 'Unknown setting.')
    for name, messages in p.errors.items():
        agenda.errors.setdefault(f'reminder_settings.{name}', []).extend(messages)
    return None if p.errors else settings


# ---- who gets a message, and when --------------------------------------------------------------


def email_recipients(fields: Mapping[str, Any]) -> list[str]:
    """`user_email` then `extra_emails`, the plausible ones, each once (any case), at most 50."""
    return _recipients([fields.get('user_email'), *(fields.get('extra_emails') or ())], EMAIL_RE, True)[
        :MAX_EMAIL_RECIPIENTS
    ]


def phone_recipients(fields: Mapping[str, Any]) -> list[str]:
    """`user_phone_number` then `extra_phone_numbers`, as given (the gateway normalises them)."""
    return _recipients([fields.get('user_phone_number'), *(fields.get('extra_phone_numbers') or ())], PHONE_RE, False)[
        :MAX_SMS_RECIPIENTS
    ]


def recipients(channel: str, fields: Mapping[str, Any]) -> list[str]:
    return email_recipients(fields) if channel == EMAIL else phone_recipients(fields)


def _recipients(values: Iterable[Any], pattern: re.Pattern, fold_case: bool) -> list[str]:
    found: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str):
            continue
        text = value.strip()
        if pattern.match(text):
            found.setdefault(text.lower() if fold_case else text, text)
    return list(found.values())


def due_time(start: datetime, days_before: int, hour: int, tz: ZoneInfo) -> datetime:
    """When a reminder goes out: `hour` o'clock, local time, `days_before` days before the start's
    local day (a DST day's missing hour is read as zoneinfo reads it: no error)."""
    day = start.astimezone(tz).date() - timedelta(days=days_before)
    return datetime.combine(day, time(hour), tzinfo=tz)


@dataclass(frozen=True)
class ReminderPlan:
    """A reminder to write with a booking: its kind (`reminder-email`, `reminder-sms`), the leg it
    reminds of (its index in the booking), when it goes out."""

    leg: int
    kind: str
    due: datetime


def plan_reminders(
    settings: ReminderSettings | None,
    starts: Iterable[tuple[int, datetime]],
    fields: Mapping[str, Any],
    configured: Iterable[str],
    tz: ZoneInfo,
    now: datetime,
) -> list[ReminderPlan]:
    """One reminder per leg and channel: the agenda reminds on it, the deployment configured it, the
    booking names someone to reach on it, and its time is still to come (a booking made after its
    reminder's time gets none: the person has just booked)."""
    if settings is None:
        return []
    channels = [c for c in settings.channels if c in set(configured) and recipients(c, fields)]
    plans = []
    for leg, start in starts:
        for channel in channels:
            due = due_time(start, settings.days_by_channel[channel], settings.hour, tz)
            if due > now:
                plans.append(ReminderPlan(leg, REMINDER_KINDS[channel], due))
    return plans


def reminder_dues(settings: ReminderSettings | None, start: datetime, tz: ZoneInfo) -> dict[str, datetime]:
    """The reminders' times of a leg starting at `start`, by kind (an event moved: its legs follow)."""
    if settings is None:
        return {}
    return {REMINDER_KINDS[c]: due_time(start, days, settings.hour, tz) for c, days in settings.days_by_channel.items()}


def notice_kinds(settings: ReminderSettings | None, fields: Mapping[str, Any], configured: Iterable[str]) -> list[str]:
    """The promotion notices a booking moved off the waiting list gets: on each channel the agenda
    reminds on, when it asks for notices, configured, with someone to reach."""
    if settings is None or not settings.notify_promotion:
        return []
    wanted = set(configured)
    return [PROMOTION_KINDS[c] for c in settings.channels if c in wanted and recipients(c, fields)]


def channel_of(kind: str) -> str:
    return SMS if kind.endswith('-sms') else EMAIL


# ---- what they say -----------------------------------------------------------------------------

WEEKDAYS = ('lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi', 'dimanche')
MONTHS = (
    'janvier',
    'février',
    'mars',
    'avril',
    'mai',
    'juin',
    'juillet',
    'août',
    'septembre',
    'octobre',
    'novembre',
    'décembre',
)


def french_day(day: date) -> str:
    return f'{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}'


@dataclass(frozen=True)
class Appointment:
    """What a message says of a booked leg: what (an event's label, a meeting type), where (the
    agenda, a desk), when (aware), and the form to change or cancel it."""

    what: str
    place: str
    start: datetime
    form_url: str | None = None


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


def _when(appointment: Appointment, tz: ZoneInfo) -> str:
    local = appointment.start.astimezone(tz)
    return f'{french_day(local.date())} à {local:%H:%M}'


def compose(kind: str, appointment: Appointment, settings: ReminderSettings | None, tz: ZoneInfo) -> Message:
    """The e-mail (subject and text) or the SMS (text) of a reminder or a promotion notice, in French
    as Publik sites write to their users; the e-mail links to the form ("Modifier ou annuler le
    rendez-vous", spec §9.12)."""
    extra = ''
    if settings is not None:
        extra = (settings.sms_extra_info if channel_of(kind) == SMS else settings.email_extra_info).strip()
    when = _when(appointment, tz)
    if kind in (PROMOTION_EMAIL, PROMOTION_SMS):
        subject = f'Votre réservation est confirmée : {appointment.what}'
        lead = (
            f"Une place s'est libérée : votre réservation « {appointment.what} » du {when} "
            "passe de la liste d'attente à la liste principale."
        )
    else:
        subject = f'Rappel : {appointment.what}, {when}'
        lead = f'Rappel : vous avez rendez-vous « {appointment.what} » le {when}.'
    if channel_of(kind) == SMS:
        text = f'{lead} Lieu : {appointment.place}.'
        return Message(subject, f'{text} {extra}'.strip())
    lines = [lead, '', f'Lieu : {appointment.place}']
    if extra:
        lines += ['', extra]
    if appointment.form_url:
        lines += ['', f'Modifier ou annuler le rendez-vous : {appointment.form_url}']
    return Message(subject, '\n'.join(lines) + '\n')
