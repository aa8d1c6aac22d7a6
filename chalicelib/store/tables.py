"""The table itself: binding the models to the configured table, the shared client,
transactions with their retry rule, and signature nonces."""
from __future__ import annotations

import logging
import random
import time as clock
from datetime import datetime, timedelta, timezone
from typing import Callable

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from .. import config
from ..models import MODELS, Nonce, TableItem

log = logging.getLogger(__name__)

NONCE_TTL = timedelta(seconds=120)  # longer than the ±30 s window in which a signature is valid
MAX_TRANSACTION_ITEMS = 100
_bound_table: str | None = None
_connection: Connection | None = None


def _bind() -> None:
    """Point every model at the configured table (tests and the local runner change it)."""
    global _bound_table, _connection
    name = config.settings().table_name
    if name != _bound_table:
        for model in MODELS:
            model.Meta.table_name = name
            model._connection = None
        _connection = None
        _bound_table = name


def reset() -> None:
    """Forget cached clients: the next call reads the endpoint variables again."""
    global _bound_table, _connection
    _bound_table = None
    _connection = None
    for model in MODELS:
        model._connection = None


def connection() -> Connection:
    global _connection
    _bind()
    if _connection is None:
        _connection = Connection()
    return _connection


def create_table() -> None:
    """Create the table as docs/table-design.md describes it (local runs and tests)."""
    _bind()
    if not TableItem.exists():
        TableItem.create_table(wait=True, billing_mode='PAY_PER_REQUEST', ignore_update_ttl_errors=True)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(timezone.utc) if moment else None


def _utc_key(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# ---- signature nonces -------------------------------------------------------------------

def claim_nonce(orig: str, nonce: str, now: datetime) -> bool:
    """Record a signature nonce; False when it was already used (a replay)."""
    _bind()
    item = Nonce(pk=f'NONCE#{orig}#{nonce}', sk='nonce', expires_at=now + NONCE_TTL)
    # TTL deletion is lazy: an expired record no longer counts.
    condition = Nonce.pk.does_not_exist() | (Nonce.expires_at < now)
    try:
        item.save(condition=condition)
    except PutError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            return False
        raise
    return True


class Refused(Exception):
    """A guarded write found the data changed under it (bookings arrived meanwhile)."""


# ---- transactions -------------------------------------------------------------------------

def _reasons(exc: TransactWriteError) -> set[str]:
    return {r.code for r in exc.cancellation_reasons or () if r is not None and r.code not in (None, 'None')}


def is_conflict(exc: TransactWriteError) -> bool:
    return 'TransactionConflict' in _reasons(exc)


def is_refusal(exc: TransactWriteError) -> bool:
    """Only a failed condition is a business refusal; a ValidationException stays an error."""
    return exc.cause_response_code == 'TransactionCanceledException' and _reasons(exc) == {'ConditionalCheckFailed'}


def with_transaction(build: Callable[[TransactWrite], None], attempts: int = 5) -> None:
    """Run one transaction; contention (TransactionConflict) is retried with jittered backoff,
    a failed condition raises Refused."""
    for attempt in range(attempts):
        try:
            with TransactWrite(connection=connection()) as tx:
                build(tx)
            return
        except TransactWriteError as exc:
            if is_conflict(exc) and attempt + 1 < attempts:
                clock.sleep(random.uniform(0, 0.05 * 2 ** attempt))
                continue
            if is_refusal(exc):
                raise Refused(str(exc)) from exc
            raise
