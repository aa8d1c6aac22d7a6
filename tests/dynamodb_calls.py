"""DynamoDB calls counted at botocore's door: the tests' cost assertions and `make bench` share it.

Every botocore client (pynamodb's, whatever its session or thread, and boto3's) goes through
`BaseClient._make_api_call`, so wrapping it sees every call of the process. The counter also adds
up the capacity each answer reports (`ConsumedCapacity`), and can make the next transactions fail
with a TransactionConflict cancellation (contention on real DynamoDB, which neither moto nor
DynamoDB Local produces).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable
from weakref import WeakSet

from botocore.client import BaseClient
from botocore.exceptions import ClientError

READS = frozenset({'GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems'})


def capacity_units(answer: dict[str, Any]) -> float:
    """The capacity an answer reports: one entry, or one per table (batches, transactions)."""
    consumed = answer.get('ConsumedCapacity') or []
    entries = [consumed] if isinstance(consumed, dict) else consumed
    return sum(float(entry.get('CapacityUnits', 0)) for entry in entries)


def ask_for_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    """A `before-parameter-build.dynamodb` hook: every call that can report its consumed capacity
    does, with the indexes' share included (DynamoDB Local leaves the indexes out of TOTAL)."""
    if 'ReturnConsumedCapacity' in model.input_shape.members:
        params['ReturnConsumedCapacity'] = 'INDEXES'


def conflict(operation: str, params: dict[str, Any]) -> ClientError:
    """The cancellation DynamoDB answers when another transaction holds one of the items."""
    reasons = [{'Code': 'TransactionConflict', 'Message': 'Transaction is ongoing for the item'}] + [
        {'Code': 'None'}] * (len(params['TransactItems']) - 1)
    return ClientError({'Error': {'Code': 'TransactionCanceledException', 'Message': 'conflict'},
                        'CancellationReasons': reasons}, operation)


class DynamoDBCalls(Counter):
    """The operations made while wrapped, by name; `read_units`/`write_units` add up the capacity
    the answers reported (only when the call asked for it: pynamodb does, `ReturnConsumedCapacity`);
    `last[operation]` keeps the parameters of the latest call of each operation. `hooks` (botocore
    event name -> handler) are registered on each client the first time it calls."""

    def __init__(self, hooks: dict[str, Callable] | None = None) -> None:
        super().__init__()
        self._hooks = hooks or {}
        self._hooked_clients: WeakSet = WeakSet()
        self.read_units = 0.0
        self.write_units = 0.0
        self.last: dict[str, dict[str, Any]] = {}
        self._conflicts_left = 0

    def clear(self) -> None:
        super().clear()
        self.read_units = self.write_units = 0.0

    def inject(self, transactions: int) -> None:
        """The next `transactions` TransactWriteItems fail with a TransactionConflict."""
        self._conflicts_left = transactions

    def wrap(self, original: Callable) -> Callable:
        """`original` (BaseClient._make_api_call) counting into this counter."""
        def counting(client: BaseClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            if self._hooks and client not in self._hooked_clients:
                for event, handler in self._hooks.items():
                    client.meta.events.register(event, handler)
                self._hooked_clients.add(client)
            self[operation] += 1
            self.last[operation] = params
            if operation == 'TransactWriteItems' and self._conflicts_left > 0:
                self._conflicts_left -= 1
                raise conflict(operation, params)
            answer = original(client, operation, params)
            if operation in READS:
                self.read_units += capacity_units(answer)
            else:
                self.write_units += capacity_units(answer)
            return answer
        return counting

    def install(self) -> Callable[[], None]:
        """Count the calls of every client of the process from now on (tests use `monkeypatch`
        and `wrap`); returns what stops it."""
        original = BaseClient._make_api_call
        BaseClient._make_api_call = self.wrap(original)
        return lambda: setattr(BaseClient, '_make_api_call', original)
