"""Sending reminders and promotion notices (spec chrono-api.md §9.12; issue 19; domain/reminder_rules.py
says who gets what, and when).

A reminder is an outbox item written in its booking's transaction (store/transaction_parts.py
`_with_reminders`), deleted in its cancel's, moved with its event; a promotion notice is written by the
promotion's transaction. The scheduled `send_reminders` function (app.py, every minute) takes what is due
(`send_due`): it leases each message (one sender at a time), reads the booking again (a cancelled, anonymised
or waiting booking gets nothing), sends the e-mail through Amazon SES (sesv2 SendEmail, from
CHRONO_REMINDER_FROM) or the SMS through the SMS gateway (CHRONO_SMS_URL, Publik's SMS connector: a signed
POST of {"message", "from", "to"} through the callbacks' guarded HTTP client), and records the outcome as
callbacks do: sent, due again on CHRONO_CALLBACK_RETRY_DELAYS, or parked in the failed callbacks (kind
`reminder-email`, `reminder-sms`, `promotion-email`, `promotion-sms`), where an operator redrives it. Nothing
configured: no message is written, nothing is sent, nothing fails.
"""

from __future__ import annotations

import logging
import time as clock
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from chalicelib import aws, config, store
from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.callback_rules import (
    DEFAULT_PORTS,
    CallbackRecord,
    OwnedHost,
    TargetRefused,
    check_target,
    loggable_url,
    sendable_url,
)
from chalicelib.domain.reminder_rules import (
    EMAIL,
    PROMOTION_KINDS,
    SMS,
    Appointment,
    ReminderPlan,
    channel_of,
    compose,
    plan_reminders,
    recipients,
    reminder_dues,
)
from chalicelib.domain.specs import AgendaSpec
from chalicelib.services import callbacks, guarded_http
from chalicelib.signature import sign_url
from chalicelib.store import outbox

log = logging.getLogger(__name__)

LEASE = 60  # seconds a sender holds a message (more than SES's and the gateway's timeouts)
RUN_BUDGET = 20.0  # seconds of sending per run (a Lambda has 28); what is left goes at the next run
SES_TIMEOUT = 10
GATEWAY = 'sms-gateway'  # the gateway's host is owned by the configuration, not by a client


def configured_channels() -> tuple[str, ...]:
    """The channels this deployment can send on."""
    settings = config.settings()
    return tuple(channel for channel, on in ((EMAIL, settings.reminder_from), (SMS, settings.sms_url)) if on)


def plan(
    agenda: AgendaSpec, starts: Iterable[tuple[int, datetime]], fields: dict[str, Any], tz: ZoneInfo, now: datetime
) -> list[ReminderPlan]:
    """The reminders a booking on `agenda` is written with (its legs' indices and starts)."""
    return plan_reminders(agenda.reminder_settings, starts, fields, configured_channels(), tz, now)


def dues(agenda: AgendaSpec | None, start: datetime, tz: ZoneInfo) -> dict[str, datetime]:
    """The reminders' new times of the legs of an event moved to `start`."""
    return reminder_dues(agenda.reminder_settings if agenda else None, start, tz)


# ---- sending -----------------------------------------------------------------------------------


def send_due(now: datetime, budget: float = RUN_BUDGET) -> dict[str, int]:
    """One run of the sender: every due message, until the budget is spent. Returns the outcomes."""
    outcomes: Counter[str] = Counter()
    deadline = clock.monotonic() + budget
    for record in outbox.due_messages(now):
        if clock.monotonic() > deadline:
            outcomes['left'] += 1
            continue
        outcomes[deliver(record, now)] += 1
    if outcomes:
        log.info('messages run: %s', dict(sorted(outcomes.items())), extra={'outcomes': dict(outcomes)})
    return dict(outcomes)


def deliver(record: CallbackRecord, now: datetime) -> str:
    """One attempt at one message; returns what happened: sent, skipped, retry, failed, refused,
    leased (another sender holds it)."""
    if not outbox.lease(record, now, LEASE):
        return 'leased'
    fields = {'callback': record.ident, 'kind': record.kind}
    legs = store.get_legs(record.booking_id)
    leg = next((leg for leg in legs if leg.leg == record.leg), None)
    settings = config.settings()
    reason = _nothing_to_send(record, leg, now, settings)
    agenda = store.load_agenda(leg.agenda, with_events=False) if reason is None and leg is not None else None
    if reason is None and agenda is None:
        reason = 'not sent: the agenda no longer exists'
    if reason is not None:
        outbox.skipped(record, now, reason)
        log.info('message skipped: %s', reason, extra={**fields, 'reason': reason})
        return 'skipped'
    assert leg is not None and agenda is not None  # or a reason above
    message = compose(record.kind, _appointment(agenda.spec, leg), agenda.spec.reminder_settings, settings.time_zone)
    to = recipients(channel_of(record.kind), leg.fields)
    try:
        if channel_of(record.kind) == EMAIL:
            error = _send_email(settings.reminder_from or '', to, message.subject, message.text)
        else:
            error = _send_sms(settings, to, message.text, leg.fields.get('sms_counter'), now)
    except TargetRefused as refused:
        outbox.attempt_failed(record, f'refused: {refused}', None)  # a configuration to fix: parked at once
        log.warning('message refused: %s', refused, extra={**fields, 'reason': str(refused)})
        return 'refused'
    return callbacks.record_outcome(record, error, now, fields, 'message', log)[0]


def _nothing_to_send(record: CallbackRecord, leg: Leg | None, now: datetime, settings: config.Settings) -> str | None:
    """Why this message is no longer to send, if it is not (the booking changed since it was written)."""
    channel = channel_of(record.kind)
    if leg is None or leg.cancelled:
        return 'not sent: the booking is cancelled'
    if leg.anonymized_at is not None:
        return 'not sent: the booking is anonymised'
    if leg.in_waiting_list:
        return 'not sent: the booking is in the waiting list'
    if record.kind not in PROMOTION_KINDS.values() and leg.start <= now:
        return 'not sent: the booking has started'
    if channel == EMAIL and not settings.reminder_from:
        return 'not sent: CHRONO_REMINDER_FROM is not set'
    if channel == SMS and not settings.sms_url:
        return 'not sent: CHRONO_SMS_URL is not set'
    if not recipients(channel, leg.fields):
        return f'not sent: the booking has no {"e-mail address" if channel == EMAIL else "phone number"}'
    return None


def _appointment(agenda: AgendaSpec, leg: Leg) -> Appointment:
    """What the message says of the leg: the event (or meeting type), the agenda (and desk), when."""
    place = agenda.label
    if leg.event is not None:
        record = store.get_events([(leg.agenda, leg.event)]).get((leg.agenda, leg.event))
        what = (record.spec.label if record else None) or agenda.label  # not a bare date: the message gives it
    else:
        types = {t.slug: t.label for t in agenda.meetingtypes}
        desks = {d.slug: d.label for d in agenda.desks}
        what = types.get(leg.meeting_type or '', agenda.label)
        if leg.desk in desks:
            place = f'{agenda.label}, {desks[leg.desk]}'
    return Appointment(what=what, place=place, start=leg.start, form_url=leg.fields.get('form_url'))


def _ses() -> Any:
    """The SES v2 client, on the session every AWS client shares (chalicelib/aws.py)."""
    from botocore.config import Config

    return aws.client(
        'sesv2', Config(connect_timeout=SES_TIMEOUT, read_timeout=SES_TIMEOUT, retries={'max_attempts': 2})
    )


def _send_email(sender: str, to: list[str], subject: str, text: str) -> str | None:
    """One SendEmail (one message to every recipient, as Chrono sends it); None when SES took it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _ses().send_email(
            FromEmailAddress=sender,
            Destination={'ToAddresses': to},
            Content={
                'Simple': {
                    'Subject': {'Data': subject, 'Charset': 'UTF-8'},
                    'Body': {'Text': {'Data': text, 'Charset': 'UTF-8'}},
                }
            },
        )
    except ClientError as exc:
        return f'SES {exc.response.get("Error", {}).get("Code", "error")}'
    except BotoCoreError as exc:
        return f'SES {exc.__class__.__name__}'
    return None


def _send_sms(settings: config.Settings, to: list[str], text: str, counter: str | None, now: datetime) -> str | None:
    """One signed POST to the gateway, through the callbacks' guarded client (the same checks: https,
    or http to loopback; public addresses; no redirect); TargetRefused when it must not be called."""
    url = sendable_url(settings.sms_url or '')
    if counter:  # the SMS connector counts messages per counter (statistics)
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(query='&'.join(q for q in (parts.query, urlencode({'counter': counter})) if q)))
    parts = urlsplit(url)
    host = (parts.hostname or '').lower()
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    owners = {GATEWAY: (OwnedHost(host, port),)}
    target = check_target(url, frozenset({host}), f'config:{GATEWAY}', owners, guarded_http.resolve)
    key = settings.callback_key(target.host)
    if key is None or not settings.orig:
        raise TargetRefused(f'no signature key for {target.host} in CHRONO_SIGNATURE_KEYS (or no CHRONO_ORIG)')
    payload = {'message': text, 'from': settings.sms_from, 'to': to}
    error = callbacks._post(target, sign_url(url, key, settings.orig, now=now), payload)
    if error is not None:
        log.info('SMS gateway answered %s', error, extra={'target': loggable_url(url)})
    return error
