"""The records of idempotent POSTs (design.md §3.5, docs/table-design.md): one item per client and
key, claimed with a condition before the handler runs, then holding the answer to replay.

Timeline of one key (the lease is longer than the Lambda's timeout):

    claim ──── run ──── finish (done: answer kept until expires_at)   replays get the answer
      │ a repeat meanwhile: the lease holds → 409
      └─ the run crashed: after leased_until, a repeat of the same request claims it again
    an answer not to keep (5xx, "try again"): release → the next repeat runs at once

A call whose change is one transaction writes its answer in that very transaction (`commit`):
"changed" and "answer kept" are then one fact, and a run that dies between its change and its
answer leaves nothing for a repeat to do again. (A call written in several transactions keeps
its answer with the last one; what the earlier ones did is not done again by a repeat: the
user's count items and the legs' versions refuse it.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import CancellationReason

from chalicelib.errors import Conflict
from chalicelib.store.models import IdempotentRequest, idempotency_pk
from chalicelib.store.tables import Tag, Transaction, _bind, conditional, run_guarded

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


def claim(
    client: str, key: str, fingerprint: str, owner: str, now: datetime, lease: timedelta, kept: timedelta
) -> bool:
    """Take the key for one run; False when another run holds it or it is done.

    Free when absent, expired (TTL deletes lazily), or left running by a crashed run whose lease
    is over, for the same request only (another request gets the reuse error, not a new run)."""
    _bind()
    item = IdempotentRequest(
        idempotency_pk(client, key),
        SK,
        fingerprint=fingerprint,
        owner=owner,
        state=RUNNING,
        leased_until=now + lease,
        expires_at=now + kept,
    )
    condition = (
        IdempotentRequest.pk.does_not_exist()
        | (IdempotentRequest.expires_at < now)
        | (
            (IdempotentRequest.state == RUNNING)
            & (IdempotentRequest.leased_until < now)
            & (IdempotentRequest.fingerprint == fingerprint)
        )
    )
    return conditional(lambda: item.save(condition=condition))


def read(client: str, key: str, now: datetime) -> Record | None:
    """The key's record (consistent read), None when there is none or it has expired."""
    _bind()
    try:
        item = IdempotentRequest.get(idempotency_pk(client, key), SK, consistent_read=True)
    except IdempotentRequest.DoesNotExist:
        return None
    if item.expires_at is not None and item.expires_at < now:
        return None
    return Record(
        fingerprint=item.fingerprint,
        state=item.state,
        leased_until=item.leased_until,
        status=int(item.status) if item.status is not None else None,
        headers=item.headers,
        answer=item.answer,
    )


def finish(client: str, key: str, owner: str, status: int, headers: dict[str, Any], answer: str) -> bool:
    """Keep the answer to replay; False when this run no longer holds the key (its lease ran out
    and a repeat took it over: that run's answer will be kept instead)."""
    item = IdempotentRequest(idempotency_pk(client, key), SK)
    return conditional(
        lambda: item.update(
            actions=[
                IdempotentRequest.state.set(DONE),
                IdempotentRequest.status.set(status),
                IdempotentRequest.headers.set(headers),
                IdempotentRequest.answer.set(answer),
            ],
            condition=(IdempotentRequest.owner == owner) & (IdempotentRequest.state == RUNNING),
        )
    )


def release(client: str, key: str, owner: str) -> None:
    """Forget a claim whose answer is not to be kept, so that a repeat runs again at once."""
    conditional(
        lambda: IdempotentRequest(idempotency_pk(client, key), SK).delete(
            condition=(IdempotentRequest.owner == owner) & (IdempotentRequest.state == RUNNING)
        )
    )


# ---- the answer in the change's own transaction ------------------------------------------------

Rendered = tuple[int, dict[str, Any], str]  # status, headers, body: the answer as it is sent


@dataclass
class PendingAnswer:
    """A claimed key whose call has not answered yet; `kept` once a transaction wrote its answer."""

    client: str
    key: str
    owner: str
    render: Callable[[Any], Rendered | None]  # the call's result -> its answer; None: too large to keep
    kept: bool = False


_pending: ContextVar[PendingAnswer | None] = ContextVar('pending_answer', default=None)


@contextmanager
def answering(pending: PendingAnswer) -> Iterator[PendingAnswer]:
    """While a claimed call runs, the transaction that makes its change also keeps its answer."""
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


def commit(tx: Transaction, answer: object | None = None) -> list[tuple[Tag, CancellationReason]]:
    """Run the transaction of a call's change (`run_guarded`); with `answer` (the call's result, which
    its route renders) and a claimed key, the key's record becomes `done` with that answer in the same
    transaction. A key taken over meanwhile (this run outlived its lease) refuses the whole transaction:
    409, nothing written."""
    pending = _pending.get()
    rendered = pending.render(answer) if pending is not None and answer is not None and not pending.kept else None
    if pending is not None and rendered is not None:
        status, headers, body = rendered
        tx.update(
            IdempotentRequest(idempotency_pk(pending.client, pending.key), SK),
            [
                IdempotentRequest.state.set(DONE),
                IdempotentRequest.status.set(status),
                IdempotentRequest.headers.set(headers),
                IdempotentRequest.answer.set(body),
            ],
            condition=(IdempotentRequest.owner == pending.owner) & (IdempotentRequest.state == RUNNING),
            tag=Tag('idempotency'),
        )
    failures = run_guarded(tx)
    if any(tag.kind == 'idempotency' for tag, _ in failures):
        raise Conflict('request in progress', 'a request with this X-Idempotency-Key is still running: retry later')
    if pending is not None and rendered is not None and not failures:
        pending.kept = True
    return failures
