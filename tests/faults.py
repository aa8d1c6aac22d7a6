"""Faults injected where botocore meets the wire, below its retry loop.

Every call of pynamodb and of the SQS client goes through `Endpoint._do_get_response` (moto's
stub and DynamoDB Local alike), so an injected throttle is retried by botocore exactly as a real
one would be, then by our code. botocore's sleeps between attempts and ours are recorded instead
of slept: the tests assert the delays chosen, never the time taken.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from types import SimpleNamespace
from typing import Any, Callable

import botocore.endpoint
from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint, convert_to_response_dict
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from chalicelib.store import tables

Fault = Callable[..., Any]


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


def _answer(endpoint, request, operation_model, status: int, body: dict[str, Any]):
    """A response parsed by botocore's own parser, as if DynamoDB (SQS) had sent it."""
    http_response = AWSResponse(request.url, status, {'x-amzn-requestid': 'fault'}, _Body(json.dumps(body).encode()))
    response_dict = convert_to_response_dict(http_response, operation_model)
    parser = endpoint._response_parser_factory.create_parser(operation_model.service_model.resolved_protocol)
    parsed = parser.parse(response_dict, operation_model.output_shape)
    if status >= 300:
        endpoint._add_modeled_error_fields(response_dict, parsed, operation_model, parser)
    return (http_response, parsed), None


class Faults:
    """`faults.throttle('TransactWriteItems', 3)`: the next three attempts of that operation fail."""

    def __init__(self) -> None:
        self.plan: dict[str, list[Fault]] = defaultdict(list)
        self.attempts: Counter = Counter()  # attempts that reached the wire, by operation (faulted ones too)
        self.botocore_delays: list[float] = []
        self.our_delays: list[float] = []

    def _queue(self, operation: str, times: int, fault: Fault) -> None:
        self.plan[operation].extend([fault] * times)

    def clear(self) -> None:
        self.plan.clear()

    def throttle(self, operation: str, times: int, code: str = 'ProvisionedThroughputExceededException') -> None:
        """The whole call refused (nothing done), as DynamoDB answers a throttled request."""
        body = {'__type': f'com.amazonaws.dynamodb.v20120810#{code}', 'message': 'injected: rate exceeded'}
        self._queue(operation, times, lambda endpoint, send, request, model, context:
                    _answer(endpoint, request, model, 400, body))

    def cancel(self, operation: str, times: int, reason: str = 'TransactionConflict') -> None:
        """A TransactWriteItems cancelled (nothing written), `reason` on its first item."""
        def cancelled(endpoint, send, request, model, context):
            items = json.loads(request.body)['TransactItems']
            reasons = [{'Code': reason, 'Message': 'injected'}] + [{'Code': 'None'}] * (len(items) - 1)
            return _answer(endpoint, request, model, 400, {
                '__type': 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
                'Message': f'Transaction cancelled, please refer cancellation reasons for specific reasons '
                           f'[{", ".join(r["Code"] for r in reasons)}]', 'CancellationReasons': reasons})
        self._queue(operation, times, cancelled)

    def lose_answer(self, operation: str, times: int) -> None:
        """The call is made and applied; its answer never arrives (a read timeout)."""
        def lost(endpoint, send, request, model, context):
            send(endpoint, request, model, context)
            return None, ReadTimeoutError(endpoint_url=request.url)
        self._queue(operation, times, lost)

    def unreachable(self, operation: str, times: int) -> None:
        """No connection: nothing reaches the service."""
        self._queue(operation, times, lambda endpoint, send, request, model, context:
                    (None, EndpointConnectionError(endpoint_url=request.url)))

    def answer(self, operation: str, times: int, status: int, body: dict[str, Any]) -> None:
        """Any answer instead of the service's (nothing done)."""
        self._queue(operation, times, lambda endpoint, send, request, model, context:
                    _answer(endpoint, request, model, status, body))


def install(monkeypatch) -> Faults:
    faults = Faults()
    send = Endpoint._do_get_response

    def faulty(endpoint, request, operation_model, context):
        name = operation_model.name
        faults.attempts[name] += 1
        planned = faults.plan.get(name)
        if planned:
            return planned.pop(0)(endpoint, send, request, operation_model, context)
        return send(endpoint, request, operation_model, context)

    monkeypatch.setattr(Endpoint, '_do_get_response', faulty)
    monkeypatch.setattr(botocore.endpoint, 'time', SimpleNamespace(sleep=faults.botocore_delays.append))
    monkeypatch.setattr(tables, 'clock', SimpleNamespace(sleep=faults.our_delays.append))
    return faults
