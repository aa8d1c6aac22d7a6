"""What every figure of `make bench` shares: DynamoDB Local with the app bound to a fresh table,
a fixed clock, the API in process, the DynamoDB call counter, timing, and the rows of the table."""
from __future__ import annotations

import base64
import gc
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar
from zoneinfo import ZoneInfo

from local.dynamodb import DynamoDBLocal, local_aws_environment
from tests.dynamodb_calls import DynamoDBCalls, ask_for_capacity

ROOT = Path(__file__).resolve().parent.parent

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 4, 7, 0, tzinfo=PARIS)  # a Monday: the clock of every in-process request
CLIENT = 'bench'
BENCH_ENV = {
    'CHRONO_API_CLIENTS': json.dumps({CLIENT: CLIENT}),
    'CHRONO_SIGNATURE_KEYS': json.dumps({'bench.localhost': 'bench'}),
    'CHRONO_TIME_ZONE': 'Europe/Paris',
    'CHRONO_TABLE': 'chrono-bench',
    'CHRONO_CALLBACK_QUEUE': 'chrono-bench-callbacks',
}
AUTHORIZATION = 'Basic ' + base64.b64encode(f'{CLIENT}:{CLIENT}'.encode()).decode()
HEADERS = {'Authorization': AUTHORIZATION, 'Content-Type': 'application/json'}
Built = TypeVar('Built')


@dataclass
class Row:
    """One line of the table: what was measured, its target and PASS/MISS (both empty for a
    reference figure), and the numbers behind it, for build/bench.json."""

    name: str
    value: str
    target: str = ''
    verdict: str = ''
    numbers: dict[str, Any] = field(default_factory=dict)


def verdict(within_target: bool) -> str:
    return 'PASS' if within_target else 'MISS'


@dataclass(frozen=True)
class Cost:
    """The DynamoDB calls of one operation, and the capacity DynamoDB Local says they consumed."""

    calls: dict[str, int]
    read_units: float
    write_units: float

    @property
    def round_trips(self) -> int:
        return sum(self.calls.values())

    def text(self) -> str:
        detail = ', '.join(f'{operation} {n}' for operation, n in sorted(self.calls.items()))
        return f'{self.round_trips} calls ({detail}), {self.read_units:g} RCU, {self.write_units:g} WCU'

    def numbers(self) -> dict[str, Any]:
        return {'calls': self.calls, 'round_trips': self.round_trips, 'rcu': self.read_units,
                'wcu': self.write_units}


@dataclass(frozen=True)
class Timing:
    ms: float  # median wall clock
    cpu_ms: float  # median CPU time of this process: the Python side (DynamoDB Local is another process)
    runs_ms: list[float]

    def numbers(self) -> dict[str, Any]:
        return {'ms': self.ms, 'cpu_ms': self.cpu_ms, 'runs_ms': self.runs_ms}


def alternated(actions: dict[str, Callable[[], Any]], runs: int, warmup: int = 1) -> dict[str, Timing]:
    """Each action's median over `runs` rounds, a round running every action once in turn (so that
    the load of the machine weighs on each alike), after `warmup` rounds that are not counted."""
    for _ in range(warmup):
        for action in actions.values():
            action()
    wall: dict[str, list[float]] = {name: [] for name in actions}
    cpu: dict[str, list[float]] = {name: [] for name in actions}
    gc.collect()
    gc.disable()  # as timeit does: a collection would land on whichever run triggers it
    try:
        for _ in range(runs):
            for name, action in actions.items():
                started, cpu_started = time.perf_counter(), time.process_time()
                action()
                wall[name].append((time.perf_counter() - started) * 1000)
                cpu[name].append((time.process_time() - cpu_started) * 1000)
    finally:
        gc.enable()
    return {name: Timing(round(statistics.median(wall[name]), 2), round(statistics.median(cpu[name]), 2),
                         [round(t, 2) for t in wall[name]]) for name in actions}


def timed(action: Callable[[], Any], runs: int, warmup: int = 1) -> Timing:
    """The median of `runs` calls of `action`, after `warmup` calls that are not counted."""
    return alternated({'action': action}, runs, warmup)['action']


class Bench:
    """DynamoDB Local and the app on a fresh table, for the whole run (`with Bench() as bench:`);
    each figure's `run(bench)` uses it. Nothing stays running after the block."""

    def __init__(self) -> None:
        self.dynamodb = DynamoDBLocal()
        self.calls = DynamoDBCalls({'before-parameter-build.dynamodb': ask_for_capacity})
        self._built: dict[Callable, Any] = {}
        self._exits: list[Callable[[], None]] = []

    def __enter__(self) -> 'Bench':
        for name in ('AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SQS', 'AWS_PROFILE', 'AWS_SESSION_TOKEN', 'CHRONO_BASE_URL'):
            os.environ.pop(name, None)
        os.environ.update(BENCH_ENV)
        self.dynamodb.start()
        self._exits.append(self.dynamodb.stop)
        try:
            os.environ.update(local_aws_environment(self.dynamodb.endpoint))
            from chalice.test import Client

            import app
            from chalicelib import config, store
            from chalicelib.web import api as http
            config.reset()
            store.reset()
            store.create_table()
            http.utcnow = lambda: NOW.astimezone(timezone.utc)
            # A stage absent from .chalice/config.json, so that the `dev` stage's variables stay out.
            self.client = Client(app.app, stage_name='bench').__enter__()
            self._exits.append(lambda: self.client.__exit__(None, None, None))
            self._exits.append(self.calls.install())
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        while self._exits:
            self._exits.pop()()

    def call(self, method: str, path: str, body: dict | None = None) -> dict[str, Any]:
        """A request through chalice.test.Client (routing, auth, the use case, the JSON answer);
        anything but HTTP 200 stops the benchmark."""
        response = getattr(self.client.http, method)(path, headers=HEADERS,
                                                     body=json.dumps(body) if body is not None else None)
        answer = json.loads(response.body)
        if response.status_code != 200:
            raise RuntimeError(f'{method.upper()} {path}: {response.status_code} {answer}')
        return answer

    def cost(self, action: Callable[[], Built]) -> tuple[Built, Cost]:
        """What `action` returns, and the DynamoDB calls it made."""
        self.calls.clear()
        result = action()
        return result, Cost(dict(self.calls), self.calls.read_units, self.calls.write_units)

    def scenario(self, build: Callable[['Bench'], Built]) -> Built:
        """What `build` makes (agendas, bookings), made once per run whichever figure asks first."""
        if build not in self._built:
            self._built[build] = build(self)
        return self._built[build]
