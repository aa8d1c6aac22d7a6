"""How long `GET /api/agenda/<agenda>/meetings/<type>/datetimes/` takes for 9 and 90 days.

`make bench` (or `python -m bench.meetings_datetimes`): DynamoDB Local (in memory, started as the
tests start it), one meetings agenda of 10 desks open Monday-Saturday 08:00-18:00 with meeting
types of 5, 10 and 15 minutes (a 5-minute grid), a few hundred bookings made through fillslot,
then the listing timed in-process through chalice.test.Client (routing, the use case, the JSON
answer), the median of a few runs. Prints a table and writes build/bench-meetings.json.
The issue's target: 90 days cost at most 11 times 9 days (the list is 10 times longer).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / 'build' / 'bench-meetings.json'
PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 4, 7, 0, tzinfo=PARIS)  # a Monday; the window opens tomorrow (minimal delay 1 day)
FIRST_DAY = date(2030, 3, 5)
DESKS = 10
TYPES = {'cinq': 5, 'dix': 10, 'quinze': 15}
OPENING = ('08:00', '18:00')
TARGET_RATIO = 11
BENCH_ENV = {
    'CHRONO_API_CLIENTS': json.dumps({'bench': 'bench'}),
    'CHRONO_SIGNATURE_KEYS': json.dumps({'bench.localhost': 'bench'}),
    'CHRONO_TIME_ZONE': 'Europe/Paris',
    'CHRONO_TABLE': 'chrono-bench',
    'CHRONO_CALLBACK_QUEUE': 'chrono-bench-callbacks',
}
AUTH = {'Authorization': 'Basic YmVuY2g6YmVuY2g=', 'Content-Type': 'application/json'}  # bench:bench


def agenda_document() -> dict:
    week = [{'weekday': day, 'start_time': OPENING[0], 'end_time': OPENING[1]} for day in range(6)]
    return {'agendas': [{
        'slug': 'bench', 'label': 'Bench', 'kind': 'meetings', 'minimal_booking_delay': 1,
        'maximal_booking_delay': 100,
        'meetingtypes': [{'slug': slug, 'label': slug, 'duration': minutes} for slug, minutes in TYPES.items()],
        'desks': [{'slug': f'g{n}', 'label': f'Guichet {n}', 'timeperiods': week} for n in range(1, DESKS + 1)],
    }]}


class Calls:
    """DynamoDB operations, counted at botocore's door (as tests/api/test_dynamodb_calls.py)."""

    def __init__(self) -> None:
        from botocore.client import BaseClient
        self.seen: Counter = Counter()
        original = BaseClient._make_api_call

        def counting(client, operation, params):
            self.seen[operation] += 1
            return original(client, operation, params)

        BaseClient._make_api_call = counting


def call(client, method: str, path: str, body: dict | None = None) -> dict:
    response = getattr(client.http, method)(path, headers=AUTH, body=json.dumps(body) if body is not None else None)
    answer = json.loads(response.body)
    if response.status_code != 200:
        raise RuntimeError(f'{method.upper()} {path}: {response.status_code} {answer}')
    return answer


def make_bookings(client, count: int, rng: random.Random) -> int:
    """`count` fillslots at random open times of the 90 days; returns how many got a desk."""
    opening = int(OPENING[0][:2]) * 60
    closing = int(OPENING[1][:2]) * 60
    made = 0
    for _ in range(count):
        day = FIRST_DAY + timedelta(days=rng.randrange(90))
        while day.weekday() == 6:
            day += timedelta(days=1)
        slug, minutes = rng.choice(list(TYPES.items()))
        start = opening + 5 * rng.randrange((closing - minutes - opening) // 5 + 1)
        slot = f'{slug}:{day:%Y-%m-%d}-{start // 60:02d}{start % 60:02d}'
        answer = call(client, 'post', f'/api/agenda/bench/fillslot/{slot}/', {'user_external_id': f'u{made % 50}'})
        made += answer['err'] == 0
    return made


def measure(client, calls: Calls, meeting_type: str, days: int, runs: int) -> dict:
    """Median wall-clock time of the request, and median CPU time of this process (the Python
    side only, DynamoDB Local being another process: steadier when the machine is busy)."""
    path = (f'/api/agenda/bench/meetings/{meeting_type}/datetimes/'
            f'?date_start={FIRST_DAY}&date_end={FIRST_DAY + timedelta(days=days)}')
    if days < 90:
        call(client, 'get', path)  # warm-up (first connection, code paths)
    wall, cpu = [], []
    for _ in range(runs):
        gc.collect()
        calls.seen.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        answer = call(client, 'get', path)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return {'meeting_type': meeting_type, 'days': days, 'slots': len(answer['data']),
            'available': answer['meta']['bookable_datetimes_number_available'],
            'dynamodb_calls': dict(calls.seen), 'ms': round(statistics.median(wall), 1),
            'cpu_ms': round(statistics.median(cpu), 1), 'runs_ms': [round(t, 1) for t in wall]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--bookings', type=int, default=300)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--output', type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    for name in ('AWS_ENDPOINT_URL', 'AWS_PROFILE', 'AWS_SESSION_TOKEN', 'CHRONO_BASE_URL'):
        os.environ.pop(name, None)
    os.environ.update(BENCH_ENV)
    sys.path.insert(0, str(ROOT))
    from local.dynamodb import DynamoDBLocal, local_aws_environment

    began = time.monotonic()
    engine = DynamoDBLocal().start()
    try:
        os.environ.update(local_aws_environment(engine.endpoint))
        from chalice.test import Client

        import app
        from chalicelib import config, http, store
        config.reset()
        store.reset()
        store.create_table()
        http.utcnow = lambda: NOW.astimezone(timezone.utc)  # the clock every request sees
        calls = Calls()
        # A stage absent from .chalice/config.json, so that the `dev` stage's variables stay out.
        with Client(app.app, stage_name='bench') as client:
            call(client, 'post', '/api/import/', agenda_document())
            setup_started = time.monotonic()
            booked = make_bookings(client, args.bookings, random.Random(2030))
            setup_seconds = time.monotonic() - setup_started
            results = [measure(client, calls, meeting_type, days, args.runs)
                       for meeting_type in TYPES for days in (9, 90)]
    finally:
        engine.stop()

    ratios, cpu_ratios = {}, {}
    print(f'\nmeetings datetimes: {DESKS} desks, types {", ".join(f"{m} min" for m in TYPES.values())}, '
          f'Mon-Sat {OPENING[0]}-{OPENING[1]}, {booked} bookings (of {args.bookings} tried, '
          f'{setup_seconds:.1f} s), median of {args.runs} runs, DynamoDB Local\n')
    print(f'{"type":>6} {"days":>5} {"slots":>6} {"DynamoDB calls":>15} {"ms":>8} {"90d/9d":>7} '
          f'{"CPU ms":>8} {"90d/9d":>7}')
    for result in results:
        calls_text = ', '.join(f'{op} {n}' for op, n in sorted(result['dynamodb_calls'].items()))
        ratio = cpu_ratio = ''
        if result['days'] == 90:
            mt = result['meeting_type']
            nine = next(r for r in results if r['meeting_type'] == mt and r['days'] == 9)
            ratios[mt] = round(result['ms'] / nine['ms'], 2)
            cpu_ratios[mt] = round(result['cpu_ms'] / nine['cpu_ms'], 2)
            ratio, cpu_ratio = f'{ratios[mt]:.2f}x', f'{cpu_ratios[mt]:.2f}x'
        print(f'{result["meeting_type"]:>6} {result["days"]:>5} {result["slots"]:>6} {calls_text:>15} '
              f'{result["ms"]:>8.1f} {ratio:>7} {result["cpu_ms"]:>8.1f} {cpu_ratio:>7}')
    worst = max(ratios.values())
    verdict = 'within' if worst <= TARGET_RATIO else 'ABOVE'
    print(f'\nratio 90 days / 9 days: at most {worst:.2f}x wall clock ({max(cpu_ratios.values()):.2f}x CPU), '
          f'{verdict} the target of {TARGET_RATIO}x ({time.monotonic() - began:.0f} s in all)')

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        'benchmark': 'meetings_datetimes', 'engine': 'DynamoDB Local (in memory)', 'desks': DESKS,
        'meeting_types': TYPES, 'opening': {'weekdays': 'Mon-Sat', 'hours': list(OPENING)},
        'bookings': {'tried': args.bookings, 'made': booked}, 'runs': args.runs, 'statistic': 'median',
        'results': results, 'ratio_90_over_9_days': ratios, 'cpu_ratio_90_over_9_days': cpu_ratios,
        'target_ratio': TARGET_RATIO,
        'within_target': worst <= TARGET_RATIO,
    }, indent=2) + '\n')
    print(f'figures written to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
