"""The callback outbox: a callback is an item written with the change it reports, then sent by
the SQS worker, rescheduled on failure, parked when its schedule is spent (docs/table-design.md).

Messages to people (reminders, promotion notices: domain/reminder_rules.py) are outbox items too, written
with the booking or the promotion they tell of, due in their own queue (MESSAGES#pending, where the
callbacks' sweeper does not look: services/reminders.py sends them), parked with the callbacks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.domain.callback_rules import CallbackRecord
from chalicelib.domain.reminder_rules import MESSAGE_KINDS
from chalicelib.store.models import Callback, callback_pk
from chalicelib.store.tables import Tag, Transaction, _bind, _utc_key, conditional, put_new

PENDING, FAILED, DONE = 'pending', 'failed', 'done'
DONE_KEPT = timedelta(days=30)  # a sent callback stays readable for a while, then TTL removes it


def _sk(kind: str, leg: int) -> str:
    return f'{kind}#{leg:03d}'


def _queue_key(state: str, kind: str | None = None) -> str:
    if state == PENDING and kind in MESSAGE_KINDS:
        return f'MESSAGES#{state}'
    return f'CALLBACKS#{state}'


def _queue_sort(next_at: datetime, booking_id: int, kind: str, leg: int) -> str:
    return f'{_utc_key(next_at)}#{booking_id}#{_sk(kind, leg)}'


def new_callback(
    booking_id: int,
    kind: str,
    leg: int,
    url: str,
    body: dict[str, Any] | None,
    now: datetime,
    orig: str | None,
    client: str | None,
) -> Callback:
    """`client` is the booking's: a callback goes only to a host it owns (None: owns none)."""
    return Callback(
        callback_pk(booking_id),
        _sk(kind, leg),
        booking_id=booking_id,
        kind=kind,
        leg=leg,
        url=url,
        body=body,
        state=PENDING,
        attempts=0,
        next_at=now,
        created_at=now,
        orig=orig,
        client=client,
        gsi1pk=_queue_key(PENDING),
        gsi1sk=_queue_sort(now, booking_id, kind, leg),
    )


def new_message(booking_id: int, kind: str, leg: int, due: datetime, now: datetime) -> Callback:
    """A reminder or a promotion notice, due at `due`; whom it reaches is read from the booking when
    it is sent (an anonymised booking reaches nobody)."""
    return Callback(
        callback_pk(booking_id),
        _sk(kind, leg),
        booking_id=booking_id,
        kind=kind,
        leg=leg,
        url='',
        state=PENDING,
        attempts=0,
        next_at=due,
        created_at=now,
        gsi1pk=_queue_key(PENDING, kind),
        gsi1sk=_queue_sort(due, booking_id, kind, leg),
    )


def put_message(tx: Transaction, message: Callback) -> None:
    """In the transaction of the booking (a reminder) or the promotion (a notice). A notice replaces
    the one of an earlier promotion of the same leg (then suspended and promoted again)."""
    tx.put(message, tag=Tag('callback', message.kind))


def delete_message(tx: Transaction, booking_id: int, kind: str, leg: int, tag: Tag) -> None:
    """A leg's reminder, in the transaction that cancels the leg (whatever its state)."""
    tx.delete(Callback(callback_pk(booking_id), _sk(kind, leg)), tag=tag)


def move_message(booking_id: int, kind: str, leg: int, due: datetime, now: datetime) -> None:
    """A reminder of a leg whose event moved: due at the new time; sent already, it is due again (the
    person is told the new time); a past time means at once. Absent (cancelled): nothing."""
    _bind()
    when = max(due, now)
    conditional(
        lambda: Callback(callback_pk(booking_id), _sk(kind, leg)).update(
            actions=[
                Callback.state.set(PENDING),
                Callback.attempts.set(0),
                Callback.next_at.set(when),
                Callback.last_error.remove(),
                Callback.expires_at.remove(),
                Callback.gsi1pk.set(_queue_key(PENDING, kind)),
                Callback.gsi1sk.set(_queue_sort(when, booking_id, kind, leg)),
            ],
            condition=Callback.pk.exists(),
        )
    )


def add_to(tx: Transaction, callback: Callback) -> None:
    """In the transaction of the change it reports: the change and its callback, or neither."""
    tx.put(callback, condition=Callback.pk.does_not_exist(), tag=Tag('callback', callback.kind))


def put_once(callback: Callback) -> bool:
    """Write a callback unless this booking, kind and leg already has one (a re-run action)."""
    return put_new(callback)


def _record(item: Callback) -> CallbackRecord:
    return CallbackRecord(
        booking_id=int(item.booking_id),
        kind=item.kind,
        leg=int(item.leg or 0),
        url=item.url,
        body=item.body,
        state=item.state,
        attempts=int(item.attempts or 0),
        next_at=item.next_at,
        created_at=item.created_at,
        last_error=item.last_error,
        orig=item.orig,
        client=item.client,
    )


def booking_callbacks(booking_id: int) -> list[CallbackRecord]:
    """Every callback of a booking, oldest first (consistent read: the order they are sent in); with
    its messages (reminders, notices), which have no order among the callbacks."""
    _bind()
    items = Callback.query(callback_pk(booking_id), consistent_read=True)
    return sorted((_record(i) for i in items if isinstance(i, Callback)), key=lambda r: (r.created_at, r.kind, r.leg))


def _in_state(
    state: str, until: datetime | None = None, limit: int | None = None, kind: str | None = None
) -> list[CallbackRecord]:
    _bind()
    condition = Callback.gsi1sk <= f'{_utc_key(until)}~' if until else None
    items = Callback.by_gsi1.query(_queue_key(state, kind), condition, limit=limit)
    return [_record(i) for i in items if isinstance(i, Callback)]


def due(now: datetime, limit: int = 500) -> list[CallbackRecord]:
    """Pending callbacks whose time has come (gsi1, eventually consistent: the sweeper's list)."""
    return _in_state(PENDING, now, limit)


def due_messages(now: datetime, limit: int = 500) -> list[CallbackRecord]:
    """Pending reminders and notices whose time has come, oldest first (gsi1, eventually consistent:
    each is leased before it is sent)."""
    return _in_state(PENDING, now, limit, kind=MESSAGE_KINDS[0])


def failed() -> list[CallbackRecord]:
    return _in_state(FAILED)


def _key(record: CallbackRecord) -> Callback:
    return Callback(callback_pk(record.booking_id), _sk(record.kind, record.leg))


def lease(record: CallbackRecord, now: datetime, seconds: int) -> bool:
    """Take the right to send this attempt: one sender at a time, whatever the duplicates in the
    queue (the sweeper may queue a callback the worker already holds)."""
    condition = (
        (Callback.state == PENDING)
        & (Callback.attempts == record.attempts)
        & (Callback.leased_until.does_not_exist() | (Callback.leased_until < now))
    )
    return conditional(
        lambda: _key(record).update(
            actions=[Callback.leased_until.set(now + timedelta(seconds=seconds))], condition=condition
        )
    )


def sent(record: CallbackRecord, now: datetime) -> None:
    _bind()
    _key(record).update(
        actions=[
            Callback.state.set(DONE),
            Callback.attempts.set(record.attempts + 1),
            Callback.last_error.remove(),
            Callback.leased_until.remove(),
            Callback.gsi1pk.remove(),
            Callback.gsi1sk.remove(),
            Callback.expires_at.set(now + DONE_KEPT),
        ]
    )


def skipped(record: CallbackRecord, now: datetime, reason: str) -> None:
    """A message with nothing left to send (the booking cancelled, anonymised, in the waiting list,
    past...): done, with the reason, without an attempt."""
    _bind()
    _key(record).update(
        actions=[
            Callback.state.set(DONE),
            Callback.last_error.set(reason[:500]),
            Callback.leased_until.remove(),
            Callback.gsi1pk.remove(),
            Callback.gsi1sk.remove(),
            Callback.expires_at.set(now + DONE_KEPT),
        ]
    )


def attempt_failed(record: CallbackRecord, error: str, next_at: datetime | None) -> None:
    """Another failed try: due again at `next_at`, or parked as failed (None)."""
    _bind()
    state = PENDING if next_at is not None else FAILED
    when = next_at or record.next_at
    _key(record).update(
        actions=[
            Callback.state.set(state),
            Callback.attempts.set(record.attempts + 1),
            Callback.last_error.set(error[:500]),
            Callback.next_at.set(when),
            Callback.leased_until.remove(),
            Callback.gsi1pk.set(_queue_key(state, record.kind)),
            Callback.gsi1sk.set(_queue_sort(when, record.booking_id, record.kind, record.leg)),
        ]
    )


def redrive(records: Iterable[CallbackRecord], now: datetime) -> list[CallbackRecord]:
    """Failed callbacks pending again, with a fresh schedule; those no longer failed are left."""
    _bind()
    redriven = []
    for record in records:
        if not conditional(
            lambda: _key(record).update(
                actions=[
                    Callback.state.set(PENDING),
                    Callback.attempts.set(0),
                    Callback.next_at.set(now),
                    Callback.gsi1pk.set(_queue_key(PENDING, record.kind)),
                    Callback.gsi1sk.set(_queue_sort(now, record.booking_id, record.kind, record.leg)),
                ],
                condition=Callback.state == FAILED,
            )
        ):
            continue
        redriven.append(CallbackRecord(**{**record.__dict__, 'state': PENDING, 'attempts': 0, 'next_at': now}))
    return redriven


def records(items: Iterable[Callback]) -> list[CallbackRecord]:
    return [_record(item) for item in items]


def anonymize(booking_id: int) -> int:
    """A booking anonymized: its callbacks keep no URL nor body; one not sent yet is parked (it
    can no longer be sent). Returns how many were changed."""
    _bind()
    changed = 0
    for item in Callback.query(callback_pk(booking_id), consistent_read=True):
        if not isinstance(item, Callback) or (item.url == '' and item.body is None):
            continue
        actions: list[Action] = [
            Callback.url.set(''),
            Callback.body.remove(),
            Callback.last_error.set('booking anonymized'),
        ]
        if item.state == PENDING:
            actions += [Callback.state.set(FAILED), Callback.gsi1pk.set(_queue_key(FAILED))]
        item.update(actions=actions)
        changed += 1
    return changed
