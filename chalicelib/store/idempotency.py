"""The records of idempotent POSTs (design.md §3.5, docs/table-design.md): one item per client and
key, claimed with a condition before the handler runs, then holding the answer to replay.

Timeline of one key (the lease is longer than the Lambda's timeout):

    claim ──── run ──── finish (done: answer kept until expires_at)   replays get the answer
      │ a repeat meanwhile: the lease holds → 409
      └─ the run crashed: after leased_until, a repeat of the same request claims it again
    an answer not to keep (5xx, "try again"): release → the next repeat runs at once
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from ..models import IdempotentRequest, idempotency_pk
from .tables import _bind

SK = 'idempotency'
RUNNING, DONE = 'running', 'done'


@dataclass(frozen=True)
class Record:
    """What a key holds: the request it was first used for, and its answer once done."""

    fingerprint: str
    state: str
    leased_until: datetime
    status: int | None
    headers: dict[str, Any] | None
    answer: str | None


def _condition_failed(exc: PutError | UpdateError | DeleteError) -> bool:
    return exc.cause_response_code == 'ConditionalCheckFailedException'


def claim(client: str, key: str, fingerprint: str, owner: str, now: datetime, lease: timedelta,
          kept: timedelta) -> bool:
    """Take the key for one run; False when another run holds it or it is done.

    Free when absent, expired (TTL deletes lazily), or left running by a crashed run whose lease
    is over, for the same request only (another request gets the reuse error, not a new run)."""
    _bind()
    item = IdempotentRequest(idempotency_pk(client, key), SK, fingerprint=fingerprint, owner=owner, state=RUNNING,
                             leased_until=now + lease, expires_at=now + kept)
    condition = (IdempotentRequest.pk.does_not_exist() | (IdempotentRequest.expires_at < now)
                 | ((IdempotentRequest.state == RUNNING) & (IdempotentRequest.leased_until < now)
                    & (IdempotentRequest.fingerprint == fingerprint)))
    try:
        item.save(condition=condition)
    except PutError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def read(client: str, key: str, now: datetime) -> Record | None:
    """The key's record (consistent read), None when there is none or it has expired."""
    _bind()
    try:
        item = IdempotentRequest.get(idempotency_pk(client, key), SK, consistent_read=True)
    except IdempotentRequest.DoesNotExist:
        return None
    if item.expires_at is not None and item.expires_at < now:
        return None
    return Record(fingerprint=item.fingerprint, state=item.state, leased_until=item.leased_until,
                  status=int(item.status) if item.status is not None else None, headers=item.headers,
                  answer=item.answer)


def finish(client: str, key: str, owner: str, status: int, headers: dict[str, Any], answer: str) -> bool:
    """Keep the answer to replay; False when this run no longer holds the key (its lease ran out
    and a repeat took it over: that run's answer will be kept instead)."""
    _bind()
    item = IdempotentRequest(idempotency_pk(client, key), SK)
    try:
        item.update(actions=[IdempotentRequest.state.set(DONE), IdempotentRequest.status.set(status),
                             IdempotentRequest.headers.set(headers), IdempotentRequest.answer.set(answer)],
                    condition=(IdempotentRequest.owner == owner) & (IdempotentRequest.state == RUNNING))
    except UpdateError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def release(client: str, key: str, owner: str) -> None:
    """Forget a claim whose answer is not to be kept, so that a repeat runs again at once."""
    _bind()
    try:
        IdempotentRequest(idempotency_pk(client, key), SK).delete(
            condition=(IdempotentRequest.owner == owner) & (IdempotentRequest.state == RUNNING))
    except DeleteError as exc:
        if not _condition_failed(exc):
            raise
