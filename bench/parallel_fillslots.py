"""500 fillslots at once on one event that has places and a waiting list, over HTTP against the
service in a process of its own (bench/service.py; chalice.test.Client is not thread-safe): what
they got, the throughput, and the state they left. No overbooking means: the event's counters,
the booking items stored and the answers agree, and stay within the places and the waiting list.
The throughput is DynamoDB Local's, printed beside the write limit of one partition of real
DynamoDB (every fillslot updates the one event item) as a reference only."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from tests.concurrency import live_bookings, parallel

from .harness import CLIENT, PARIS, ROOT, Bench, Row, verdict

TITLE = '500 parallel fillslots on one event, over HTTP'
REQUESTS = 500
CLIENTS = 50  # requests in flight at once
PLACES, WAITING_LIST = 300, 100
AGENDA, EVENT = 'affluence', 'concert'
PARTITION_WCU = 1000  # per second, on AWS


class Service:
    """`python -m bench.service` for the duration of a `with` block; its URL."""

    def __enter__(self) -> str:
        self.process = subprocess.Popen([sys.executable, '-m', 'bench.service'], cwd=ROOT, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        url = self.process.stdout.readline().strip()
        if not url.startswith('http://127.0.0.1:'):
            self.__exit__()
            raise RuntimeError(f'bench.service did not start: {url!r}')
        return url

    def __exit__(self, *exc: Any) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def setup(url: str) -> None:
    """The agenda and its event, on the service's own clock (the real one): in three days."""
    start = (datetime.now(timezone.utc) + timedelta(days=3)).astimezone(PARIS)
    for path, body in (('/api/agenda/', {'label': 'Affluence', 'slug': AGENDA, 'minimal_booking_delay': 0}),
                       (f'/api/agenda/{AGENDA}/event/', {'slug': EVENT, 'start_datetime': f'{start:%Y-%m-%d %H:%M}',
                                                        'places': PLACES, 'waiting_list_places': WAITING_LIST})):
        answer = requests.post(url + path, json=body, auth=(CLIENT, CLIENT), timeout=30).json()
        if answer['err']:
            raise RuntimeError(f'{path}: {answer}')


def fillslot(url: str, n: int):
    def call(session: requests.Session) -> tuple[str, float]:
        """The outcome (main, waiting, a refusal's err_class, or an error) and the latency in ms."""
        started = time.perf_counter()
        try:
            response = session.post(f'{url}/api/agenda/{AGENDA}/fillslot/{EVENT}/', json={'user_external_id': f'u{n}'},
                                    auth=(CLIENT, CLIENT), timeout=120)
            answer = response.json()
            outcome = (f'error: HTTP {response.status_code}' if response.status_code != 200 else
                       answer['err_class'] if answer['err'] else 'waiting' if answer['in_waiting_list'] else 'main')
        except (requests.RequestException, ValueError) as exc:
            outcome = f'error: {type(exc).__name__}'
        return outcome, (time.perf_counter() - started) * 1000
    return call


def run(bench: Bench) -> list[Row]:
    with Service() as url:
        setup(url)
        started = time.perf_counter()
        results = parallel([fillslot(url, n) for n in range(REQUESTS)], threads=CLIENTS)
        seconds = time.perf_counter() - started
        places = requests.get(f'{url}/api/agenda/{AGENDA}/status/{EVENT}/', auth=(CLIENT, CLIENT),
                              timeout=30).json()['places']
    outcomes = Counter(outcome for outcome, _ in results)
    errors = sum(n for outcome, n in outcomes.items() if outcome.startswith('error'))
    counters = (places['reserved'], places['waiting_list_reserved'])
    stored = live_bookings(AGENDA, EVENT)
    answered = (outcomes['main'], outcomes['waiting'])
    exact = counters == stored == answered and counters[0] <= PLACES and counters[1] <= WAITING_LIST
    refusals = {outcome: n for outcome, n in outcomes.items() if outcome not in ('main', 'waiting') and
                not outcome.startswith('error')}
    latencies = sorted(ms for _, ms in results)
    throughput = REQUESTS / seconds
    return [
        Row(f'{REQUESTS} fillslots ({CLIENTS} at a time), {PLACES} places + {WAITING_LIST} waiting',
            f'{answered[0]} main list, {answered[1]} waiting list'
            + ''.join(f', {n} {outcome}' for outcome, n in sorted(refusals.items())) + f', {errors} errors',
            'no error', verdict(errors == 0), {'outcomes': dict(outcomes)}),
        Row('no overbooking: event counters, stored, answered',
            f'{counters}, {stored}, {answered}', 'equal, <= places',
            verdict(exact), {'counters': counters, 'stored': stored, 'answers': answered}),
        Row('throughput on DynamoDB Local; client latency',
            f'{throughput:.0f} fillslots/s, p50 {statistics.median(latencies):.0f} ms, '
            f'p95 {latencies[int(len(latencies) * 0.95)]:.0f} ms',
            f'ref. AWS ~{PARTITION_WCU:,} WCU/s',
            numbers={'per_second': round(throughput, 1), 'seconds': round(seconds, 2),
                     'p50_ms': round(statistics.median(latencies), 1),
                     'p95_ms': round(latencies[int(len(latencies) * 0.95)], 1)}),
    ]
