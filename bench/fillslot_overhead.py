"""What the service adds to DynamoDB on a fillslot (design.md §6): the Lambda handler called in
process, as the Lambda runtime calls it (payload 2.0 event: routing, auth, parsing, the use case,
the JSON answer), against the raw boto3 floor: the very TransactWriteItems the service sent, replayed
with a new booking id. The runs alternate (service, floor, floor with the read) so that the load of
the machine weighs on each alike; the medians are compared, the warm-up runs left out."""
from __future__ import annotations

import json
from typing import Any, Callable

from .harness import AUTHORIZATION, Bench, Row, alternated, verdict

TITLE = 'fillslot in process against the raw boto3 floor'
AGENDA, EVENT = 'latence', 'cours'
RUNS = 300  # medians of 300 interleaved runs per arm
WARMUP = 5
TARGET_RATIO = 1.25  # issue 20: a warm fillslot against the one transaction it sends


def lambda_event(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """What an HTTP API (payload 2.0) hands to the function."""
    return {'version': '2.0', 'routeKey': '$default', 'rawPath': path, 'rawQueryString': '',
            'headers': {'authorization': AUTHORIZATION, 'content-type': 'application/json', 'host': 'bench.localhost'},
            'requestContext': {'http': {'method': method, 'path': path, 'sourceIp': '127.0.0.1'}, 'requestId': 'bench'},
            'body': json.dumps(body), 'isBase64Encoded': False}


def handler_fillslot() -> Callable[[], dict[str, Any]]:
    import app
    event = lambda_event('POST', f'/api/agenda/{AGENDA}/fillslot/{EVENT}/', {'user_external_id': 'latence'})

    def fillslot() -> dict[str, Any]:
        response = app.http_handler(event, None)
        answer = json.loads(response['body'])
        if response['statusCode'] != 200 or answer['err']:
            raise RuntimeError(f'fillslot: {response["statusCode"]} {answer}')
        return answer
    return fillslot


class Replay:
    """The parameters of the service's last call of an operation, sent again by a boto3 client;
    a transaction gets a new booking id each time (its puts require a new item), and botocore
    a new idempotency token (the captured one would make DynamoDB skip the replay)."""

    def __init__(self, operation: str, params: dict[str, Any], booking_id: int | None = None) -> None:
        import boto3
        from botocore import xform_name
        self.method = getattr(boto3.client('dynamodb'), xform_name(operation))
        params = {name: value for name, value in params.items() if name != 'ClientRequestToken'}
        self.template = json.dumps(params)
        self.booking_id = booking_id
        self.replays = 0

    def __call__(self) -> dict[str, Any]:
        text = self.template
        if self.booking_id is not None:
            self.replays += 1  # ids are milliseconds above 12 random bits: +n stays clear of the service's
            text = text.replace(str(self.booking_id), str(self.booking_id + self.replays))
        return self.method(**json.loads(text))


def run(bench: Bench) -> list[Row]:
    from chalicelib import config
    from chalicelib.store import decision_cache
    bench.call('post', '/api/agenda/', {'label': 'Latence', 'slug': AGENDA, 'minimal_booking_delay': 1})
    bench.call('post', f'/api/agenda/{AGENDA}/event/', {'slug': EVENT, 'start_datetime': '2030-03-20 10:00',
                                                        'places': 100000, 'waiting_list_places': 10})
    service = handler_fillslot()
    decision_cache.clear()
    _, cold_cost = bench.cost(service)  # a process that has not read the event yet: the read, the write
    read = Replay('BatchGetItem', bench.calls.last['BatchGetItem'])
    answer, warm_cost = bench.cost(service)  # warm: the write alone (store/decision_cache.py)
    transaction = Replay('TransactWriteItems', bench.calls.last['TransactWriteItems'], answer['booking_id'])
    warm_calls: list[int] = []

    def warm() -> None:  # how many calls each warm fillslot of the runs made (a read when its entry aged)
        before = sum(bench.calls.values())
        service()
        warm_calls.append(sum(bench.calls.values()) - before)

    def cold() -> None:  # a process that never read the event (and leaves it read for the next warm run)
        decision_cache.clear()
        service()

    def read_then_write() -> None:
        read()
        transaction()

    medians = alternated({'warm': warm, 'transaction': transaction, 'cold': cold,
                          'read_and_transaction': read_then_write}, RUNS, WARMUP)
    warm_calls = warm_calls[WARMUP:]
    ratio = round(medians['warm'].ms / medians['transaction'].ms, 2)
    cold_ratio = round(medians['cold'].ms / medians['transaction'].ms, 2)
    cold_read_ratio = round(medians['cold'].ms / medians['read_and_transaction'].ms, 2)
    raw_ratio = round(medians['read_and_transaction'].ms / medians['transaction'].ms, 2)
    per_fillslot = round(sum(warm_calls) / len(warm_calls), 3)
    numbers = {'runs': RUNS, 'warmup': WARMUP, 'cache_seconds': config.settings().decision_cache_seconds,
               'cold_calls': cold_cost.calls, 'warm_calls': warm_cost.calls, 'warm_calls_per_fillslot': per_fillslot,
               **{name: timing.numbers() for name, timing in medians.items()}}
    warm_ms, floor_ms = medians['warm'].ms, medians['transaction'].ms
    return [
        Row('calls per events fillslot: cold cache, warm cache',
            f'{cold_cost.round_trips}, {warm_cost.round_trips} (runs: {per_fillslot:g} per warm fillslot)',
            'cold 2, warm 1', verdict(cold_cost.round_trips == 2 and warm_cost.round_trips == 1), numbers),
        Row('warm handler / boto3 TransactWriteItems',
            f'{warm_ms:.1f} / {floor_ms:.1f} ms = {ratio:.2f}x', f'<= {TARGET_RATIO}x',
            verdict(ratio <= TARGET_RATIO), {'ratio': ratio}),
        Row('cold handler / boto3 TransactWriteItems',
            f'{medians["cold"].ms:.1f} / {floor_ms:.1f} ms = {cold_ratio:.2f}x', numbers={'ratio': cold_ratio}),
        Row('cold handler / boto3 BatchGetItem + TransactWriteItems',
            f'{medians["cold"].ms:.1f} / {medians["read_and_transaction"].ms:.1f} ms = {cold_read_ratio:.2f}x',
            numbers={'ratio': cold_read_ratio}),
        Row('boto3 BatchGetItem + TransactWriteItems / TransactWriteItems',
            f'{medians["read_and_transaction"].ms:.1f} / {floor_ms:.1f} ms = {raw_ratio:.2f}x',
            numbers={'ratio': raw_ratio}),
        Row('CPU of this process: warm handler / boto3 TransactWriteItems',
            f'{medians["warm"].cpu_ms:.1f} / {medians["transaction"].cpu_ms:.1f} ms'),
    ]
