"""The table itself: binding the models to the configured table, the shared client,
transactions with their retry rule, and signature nonces."""

from __future__ import annotations

import logging
import random
import time as clock
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from botocore.exceptions import ConnectionError as EndpointUnreachable
from botocore.exceptions import HTTPClientError
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import (
    CancellationReason,
    DeleteError,
    PutError,
    PynamoDBException,
    TransactWriteError,
    UpdateError,
)
from pynamodb.transactions import TransactWrite

from chalicelib import aws, config
from chalicelib.errors import Busy, ChronoError, Unavailable
from chalicelib.store import decision_cache
from chalicelib.store.models import MODELS, Nonce, TableItem

log = logging.getLogger(__name__)

NONCE_TTL = timedelta(seconds=120)  # longer than the ±30 s window in which a signature is valid
MAX_TRANSACTION_ITEMS = 100
BATCH_GET_KEYS = 100  # the keys one BatchGetItem reads
MAX_POOL_CONNECTIONS = 64
_bound_table: str | None = None
_connection: Connection | None = None


class _SharedConnection(Connection):
    """pynamodb's connection, its client made on the process's one botocore session (chalicelib/aws.py)
    rather than on a session of its own per thread. botocore clients are thread-safe; making one is not."""

    @property
    def session(self) -> Any:
        return aws.session()

    @property
    def client(self) -> Any:
        with aws.lock:
            return super().client


def _bind() -> None:
    """Point every model at the configured table (tests and the local runner change it), all through the
    one connection: pynamodb would otherwise give each model class a connection, and a client, of its own."""
    global _bound_table
    name = config.settings().table_name
    if name == _bound_table:
        return
    with aws.lock:  # the first requests of a threaded server may bind at once
        if name == _bound_table:
            return
        for model in MODELS:
            model.Meta.table_name = name
            model._connection = None
        table: TableConnection = TableItem._get_connection()  # its schema, for every model (they share it)
        shared = _shared()
        if name not in shared._tables:
            shared.add_meta_table(table.connection.get_meta_table(name))
        table.connection = shared
        for model in MODELS:
            model._connection = table
        _bound_table = name


def reset() -> None:
    """Forget the clients: the next call reads the endpoint variables again."""
    global _bound_table, _connection
    _bound_table = None
    _connection = None
    for model in MODELS:
        model._connection = None
    decision_cache.clear()
    aws.reset()


def _shared() -> Connection:
    global _connection
    with aws.lock:
        if _connection is None:
            # A Lambda sends one request at a time; the local server's threads share this client (botocore's
            # pool of 10 made the 11th concurrent call open, then discard, a connection of its own).
            _connection = _SharedConnection(max_pool_connections=MAX_POOL_CONNECTIONS)
        return _connection


def connection() -> Connection:
    _bind()
    return _shared()


def warm() -> Any:
    """Make the DynamoDB client now (a Lambda's init phase) rather than on the first request."""
    return _shared().client


def create_table() -> None:
    """Create the table as docs/table-design.md describes it (local runs and tests)."""
    _bind()
    if not TableItem.exists():
        TableItem.create_table(wait=True, billing_mode='PAY_PER_REQUEST', ignore_update_ttl_errors=True)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(timezone.utc) if moment else None


def _utc_key(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def query_items(
    hash_key: str, condition: Any = None, index: str | None = None, consistent: bool = False
) -> Iterator[dict[str, Any]]:
    """The items of a Query, page after page, as DynamoDB sends them: the listings of thousands of items
    read them without a model each (pynamodb's own parsing costs more than the call)."""
    table, name = connection(), config.settings().table_name
    start = None
    while True:
        page = table.query(
            name,
            hash_key,
            range_key_condition=condition,
            index_name=index,
            consistent_read=consistent,
            exclusive_start_key=start,
        )
        yield from page.get('Items', ())
        start = page.get('LastEvaluatedKey')
        if not start:
            return


# ---- single conditional writes ----------------------------------------------------------


def conditional(write: Callable[[], Any]) -> bool:
    """Run one conditional write (a save, update or delete); False when its condition failed."""
    _bind()
    try:
        write()
    except (PutError, UpdateError, DeleteError) as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            return False
        raise
    return True


def put_new(item: TableItem) -> bool:
    """Put an item whose key is not taken yet; False when it is."""
    return conditional(lambda: item.save(condition=type(item).pk.does_not_exist()))


# ---- signature nonces -------------------------------------------------------------------


def claim_nonce(orig: str, nonce: str, now: datetime) -> bool:
    """Record a signature nonce; False when it was already used (a replay)."""
    _bind()
    item = Nonce(pk=f'NONCE#{orig}#{nonce}', sk='nonce', expires_at=now + NONCE_TTL)
    # TTL deletion is lazy: an expired record no longer counts.
    return conditional(lambda: item.save(condition=Nonce.pk.does_not_exist() | (Nonce.expires_at < now)))


class Refused(Exception):
    """A guarded write found the data changed under it (bookings arrived meanwhile)."""


# ---- transactions and their retries ------------------------------------------------------
# Who retries what (docs/table-design.md, "Retries"):
# - botocore, in the standard mode pynamodb configures (max_retry_attempts 3: 4 attempts), retries
#   any call DynamoDB throttled (ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded),
#   5xx answers and timeouts, with full-jitter exponential backoff (up to 1, 2, 4 s for throttling).
#   botocore fills TransactWriteItems' ClientRequestToken (an idempotency token) once per call, so
#   its retry of a transaction DynamoDB had applied (the answer was lost) is not applied twice.
# - `_retrying` below, the cancellations botocore never retries: TransactionConflict (contention
#   on a hot item) and the items throttled inside a transaction, 8 attempts, full jitter, capped.
# - What still fails answers `busy` (contention) or HTTP 503 (DynamoDB overloaded or unreachable):
#   `retryable_failure` tells the HTTP edge which; never a 500, and never a double booking.

RETRIED_REASONS = frozenset({'TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'})
# Whole-call errors left after botocore's retries that say "not now" rather than "wrong request".
OVERLOAD_CODES = frozenset(
    {
        'ProvisionedThroughputExceededException',
        'ThrottlingException',
        'RequestLimitExceeded',
        'TransactionInProgressException',
        'InternalServerError',
        'ServiceUnavailable',
    }
)
BACKOFF_BASE = 0.02  # seconds; the n-th retry waits uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**n))
BACKOFF_CAP = 0.5


def _reasons(exc: TransactWriteError) -> set[str]:
    return {r.code for r in exc.cancellation_reasons or () if r is not None and r.code not in (None, 'None')}


def is_conflict(exc: TransactWriteError) -> bool:
    return 'TransactionConflict' in _reasons(exc)


def is_throttled(exc: TransactWriteError) -> bool:
    """Cancelled because DynamoDB throttled one of its items (nothing about the data)."""
    return bool(_reasons(exc) & (RETRIED_REASONS - {'TransactionConflict'}))


def is_refusal(exc: TransactWriteError) -> bool:
    """Only a failed condition is a business refusal; a ValidationException stays an error."""
    return exc.cause_response_code == 'TransactionCanceledException' and _reasons(exc) == {'ConditionalCheckFailed'}


def backoff(attempt: int) -> float:
    """Full jitter: parallel writers that collided spread out instead of colliding again."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def _retrying(run: Callable[[], None], attempts: int) -> TransactWriteError | None:
    """Run a transaction; contention and throttled items (not a failed condition) are retried
    with jittered backoff. Returns the error when a condition failed; raises any other."""
    for attempt in range(attempts):
        try:
            run()
            return None
        except TransactWriteError as exc:
            conflict = is_conflict(exc)
            if conflict or is_throttled(exc):
                if attempt + 1 < attempts:
                    clock.sleep(backoff(attempt))
                    continue
                if conflict:
                    raise Busy('busy', 'too many simultaneous changes on the same places: try again') from exc
                raise Unavailable('temporarily unavailable', 'the service is overloaded: try again') from exc
            if is_refusal(exc):
                return exc
            raise
    raise AssertionError('unreachable')


def retryable_failure(exc: BaseException) -> ChronoError | None:
    """The answer for a DynamoDB failure that outlasted the retries, or None (a bug: a 500).

    A single write that met a transaction on its item (TransactionConflictException) is
    contention: `busy`. Throttling, DynamoDB's 5xx and an unreachable endpoint: HTTP 503."""
    seen: BaseException | None = exc
    for _ in range(5):  # the chain of causes, a few links deep
        if seen is None:
            return None
        cause = seen.cause if isinstance(seen, PynamoDBException) else seen
        code = seen.cause_response_code if isinstance(seen, PynamoDBException) else None
        if code == 'TransactionConflictException':
            return Busy('busy', 'too many simultaneous changes on the same item: try again')
        if (
            code in OVERLOAD_CODES
            or isinstance(cause, (EndpointUnreachable, HTTPClientError))
            or (isinstance(seen, TransactWriteError) and is_throttled(seen))
        ):
            return Unavailable('temporarily unavailable', 'the service is overloaded: try again')
        seen = seen.__cause__
    return None


def with_transaction(build: Callable[[TransactWrite], None], attempts: int = 8) -> None:
    """Run one transaction built by `build`; a failed condition raises Refused."""

    def run() -> None:
        with TransactWrite(connection=connection()) as tx:
            build(tx)

    refusal = _retrying(run, attempts)
    if refusal is not None:
        raise Refused(str(refusal)) from refusal


class Tag(NamedTuple):
    """What one write of a transaction is, so that a failed condition names its cause: `kind` is
    'leg' (a booking's leg changed or cancelled), 'booking' (a new leg put), 'event' (counters),
    'user' (a user's count on an event), 'user_meetings', 'lock', 'resource', 'use', 'callback' or
    'idempotency'; `key` says which one (an event or desk slug, a leg number...)."""

    kind: str
    key: Any = None
    agenda: str | None = None
    booking_id: int | None = None


class Transaction:
    """A TransactWrite whose cancellation reasons map back to the writes that caused them.

    pynamodb sends condition checks, then deletes, puts and updates, whatever the order of
    the calls; each write carries a tag, and `failures` pairs the
    reasons with the tags in pynamodb's order. A conformance test on DynamoDB Local holds
    pynamodb to that order.
    """

    ORDER = ('check', 'delete', 'put', 'update')

    def __init__(self) -> None:
        self._writes: dict[str, list[tuple[Any, Callable[[TransactWrite], None]]]] = {k: [] for k in self.ORDER}

    def __len__(self) -> int:
        return sum(len(writes) for writes in self._writes.values())

    def put(self, item: TableItem, condition=None, tag: Any = None) -> None:
        self._writes['put'].append((tag, lambda tx: tx.save(item, condition=condition)))

    def update(self, item: TableItem, actions: list, condition=None, tag: Any = None, return_old: bool = False) -> None:
        return_values = 'ALL_OLD' if return_old else None
        self._writes['update'].append(
            (tag, lambda tx: tx.update(item, actions=actions, condition=condition, return_values=return_values))
        )

    def check(self, item: TableItem, condition, tag: Any = None) -> None:
        """A condition on an item the transaction does not write."""
        self._writes['check'].append(
            (tag, lambda tx: tx.condition_check(type(item), item.pk, item.sk, condition=condition))
        )

    def delete(self, item: TableItem, condition=None, tag: Any = None) -> None:
        self._writes['delete'].append((tag, lambda tx: tx.delete(item, condition=condition)))

    def build(self, tx: TransactWrite) -> None:
        for kind in self.ORDER:
            for _, write in self._writes[kind]:
                write(tx)

    def run(self) -> None:
        with TransactWrite(connection=connection()) as tx:
            self.build(tx)

    def failures(self, exc: TransactWriteError) -> list[tuple[Any, CancellationReason]]:
        """(tag, reason) of every write whose condition failed, in the order of ORDER."""
        tags = [tag for kind in self.ORDER for tag, _ in self._writes[kind]]
        return [
            (tag, reason)
            for tag, reason in zip(tags, exc.cancellation_reasons or (), strict=False)  # none: nothing failed
            if reason is not None and reason.code == 'ConditionalCheckFailed'
        ]


def run_guarded(transaction: Transaction, attempts: int = 8) -> list[tuple[Any, CancellationReason]]:
    """Run a transaction; returns the failed conditions with their tags (empty: written)."""
    refusal = _retrying(transaction.run, attempts)
    return transaction.failures(refusal) if refusal is not None else []
