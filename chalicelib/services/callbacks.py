"""Sending callbacks (design.md §3.2, §4.2; auth-and-callbacks.md §3, §5).

The outbox item is written with the change it reports (store/outbox.py); then its id goes to SQS.
The worker checks the target (listed, owned by the booking's client, public: domain/callback_rules.py) before
any name resolution, signs each attempt afresh as a Publik client, POSTs it once to the checked address
through the guarded client (services/guarded_http.py: no redirect, short timeout), and records the
outcome: done, due again on the retry schedule (SQS delays stop at 15 minutes: longer waits are found
again by the sweeper), or failed and parked for an operator to redrive. A lost SQS message loses
nothing: the sweeper queues every pending callback whose time has come.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib import aws, config
from chalicelib.domain.callback_rules import (
    KINDS,
    CallbackRecord,
    TargetRefused,
    check_target,
    loggable_url,
    next_attempt,
    parse_ident,
    sendable_url,
)
from chalicelib.domain.http_targets import Target
from chalicelib.services import guarded_http
from chalicelib.signature import sign_url
from chalicelib.store import outbox

log = logging.getLogger(__name__)

TIMEOUT = 15  # seconds, as Chrono and Lingo
LEASE = 60  # seconds a sender holds an attempt (more than TIMEOUT)
MAX_SQS_DELAY = 900
SWEEP_GRACE = timedelta(seconds=30)


def _sqs():
    """The SQS client, on the session DynamoDB's client shares (chalicelib/aws.py)."""
    return aws.client('sqs')


def _queue_url(sqs) -> str:
    return sqs.get_queue_url(QueueName=config.settings().callback_queue_name)['QueueUrl']


def enqueue(records: Iterable[CallbackRecord], delay: int = 0) -> None:
    """Queue callbacks for the worker; a failure here is logged only: the sweeper queues them."""
    records = list(records)
    if not records:
        return
    try:
        sqs = _sqs()
        url = _queue_url(sqs)
        for start in range(0, len(records), 10):
            entries = [
                {
                    'Id': str(i),
                    'MessageBody': json.dumps({'callback': r.ident}),
                    'DelaySeconds': max(0, min(delay, MAX_SQS_DELAY)),
                }
                for i, r in enumerate(records[start : start + 10])
            ]
            refused = sqs.send_message_batch(QueueUrl=url, Entries=entries).get('Failed') or []
            if refused:  # not raised by botocore: SQS took the call, not these entries
                log.warning('callbacks not queued (%d refused by SQS); the sweeper will queue them', len(refused))
    except Exception:  # noqa: BLE001 - the outbox holds them; the sweeper queues them again
        log.warning('callbacks not queued (%d); the sweeper will queue them', len(records), exc_info=True)


def handle_messages(records: list[dict[str, Any]], clock: Callable[[], datetime]) -> dict[str, Any]:
    """An SQS batch: each message names a callback. A delivery failure is recorded, not raised;
    only a message that could not be handled at all (DynamoDB down...) is reported, so that SQS
    gives it back (partial batch response)."""
    failures = []
    for message in records:
        try:
            ident = json.loads(message.get('body') or '{}').get('callback')
            deliver(str(ident), clock())  # each attempt signed with its own time
        except Exception:  # noqa: BLE001 - reported to SQS; the message comes back
            log.exception('callback message %s not handled', message.get('messageId'))
            failures.append({'itemIdentifier': message.get('messageId')})
    return {'batchItemFailures': failures}


def deliver(ident: str, now: datetime) -> str:
    """One attempt at one callback; returns what happened (for logs and tests)."""
    key = parse_ident(ident)
    if key is None:
        return 'unknown'
    booking_id, kind, leg = key
    callbacks = outbox.booking_callbacks(booking_id)
    record = next((c for c in callbacks if (c.kind, c.leg) == (kind, leg)), None)
    if record is None or record.state != outbox.PENDING:
        return 'not pending'
    if record.next_at > now:
        return 'not due'  # an early or duplicate message: the sweeper queues it when due
    if any(
        c.state == outbox.PENDING
        and c.kind in KINDS  # not a reminder: messages to people have their own sender and order
        and (c.created_at, c.kind, c.leg) < (record.created_at, kind, leg)
        for c in callbacks
    ):
        return 'waiting'  # a booking's callbacks go in order: the earlier one first
    if not outbox.lease(record, now, LEASE):
        return 'leased'
    settings = config.settings()
    fields = {'callback': ident, 'client': record.client, 'target': loggable_url(record.url)}
    try:
        url = sendable_url(record.url)
        target = check_target(
            url, settings.callback_hosts, record.client, settings.callback_owners, guarded_http.resolve
        )
        signing_key = settings.callback_key(target.host)
        orig = settings.orig or record.orig
        if signing_key is None or not orig:
            raise TargetRefused(f'no signature key for {target.host} in CHRONO_SIGNATURE_KEYS (or no CHRONO_ORIG)')
    except TargetRefused as refused:
        outbox.attempt_failed(record, f'refused: {refused}', None)  # never fetched, never retried
        log.warning('callback refused: %s', refused, extra={**fields, 'reason': str(refused)})
        return 'refused'
    error = _post(target, sign_url(url, signing_key, orig, now=now), record.body)
    outcome, when = record_outcome(record, error, now, fields, 'callback', log)
    if when is not None and (when - now).total_seconds() <= MAX_SQS_DELAY:
        enqueue([record], int((when - now).total_seconds()))
    return outcome


def record_outcome(
    record: CallbackRecord, error: str | None, now: datetime, fields: dict[str, Any], what: str, logger: logging.Logger
) -> tuple[str, datetime | None]:
    """One attempt's outcome in the outbox and the log, the same for callbacks and messages (reminders,
    notices): 'sent'; else due again on CHRONO_CALLBACK_RETRY_DELAYS ('retry', and when), or parked once they
    are spent ('failed': an operator redrives it, GET /api/callbacks/failed/)."""
    if error is None:
        outbox.sent(record, now)
        logger.info(f'{what} sent', extra=fields)
        return 'sent', None
    when = next_attempt(record.attempts + 1, config.settings().callback_retry_delays, now)
    outbox.attempt_failed(record, error, when)
    attempt = {**fields, 'reason': error, 'attempt': record.attempts + 1}
    if when is None:
        logger.warning('%s failed, retries spent: %s', what, error, extra=attempt)
        return 'failed', None
    logger.info('%s attempt failed: %s', what, error, extra=attempt)
    return 'retry', when


def sweep(now: datetime) -> int:
    """Queue every pending callback whose time has come (the schedule beyond SQS's 15 minutes,
    and what a lost message or an interrupted call left behind). Those due for less than
    SWEEP_GRACE are most likely in the queue already: left to it."""
    records = outbox.due(now - SWEEP_GRACE)
    enqueue(records)
    return len(records)


def failed_list() -> list[CallbackRecord]:
    """`GET /api/callbacks/failed/` (design.md §3.4): the parked callbacks."""
    return outbox.failed()


def redrive(now: datetime) -> dict[str, int]:
    """`POST /api/callbacks/failed/redrive/`: every failed callback pending again, queued now (a
    reminder or a notice is due again now: the messages' sender takes it at its next run)."""
    records = outbox.redrive(outbox.failed(), now)
    enqueue(r for r in records if r.kind in KINDS)
    return {'redriven': len(records)}


# ---- HTTP ------------------------------------------------------------------------------------


def _post(target: Target, signed_url: str, body: dict[str, Any] | None) -> str | None:
    """POST once through the guarded client; None when the target took it (2xx), the reason
    otherwise (a 3xx included: redirects are not followed)."""
    parts = urlsplit(signed_url)
    payload = json.dumps(body).encode('utf-8') if body is not None else b''
    headers = {'Content-Type': 'application/json', 'User-Agent': 'chrono-serverless callbacks'}
    return guarded_http.post(target, f'{parts.path or "/"}?{parts.query}', payload, headers, TIMEOUT)
