"""Cold start (design.md §6, issue 20 point 3), each figure the median of fresh interpreters, the two arms
alternated so that the load of the machine weighs on each alike:

- `import app` against `import boto3` alone: only the import is timed (the interpreter's own start is the
  same for both). With bytecode caches (under build/, a first run of each writes them), as a Lambda package
  that ships them; and without (every module compiled at each start), for reference. The app must not import
  boto3 (tests/api/test_packaging.py): that is printed too.
- a cold start's first fillslot: `import app` as a Lambda's init phase runs it (AWS_LAMBDA_FUNCTION_NAME set:
  the DynamoDB client is made there) then one fillslot through the Lambda handler, against the floor: `import
  boto3`, a client, and one raw TransactWriteItems on the same items (the service's own, replayed with a new
  booking id), both on DynamoDB Local. The app's split (import, first fillslot) and the floor's are printed.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from .fillslot_overhead import lambda_event
from .harness import BENCH_ENV, ROOT, Bench, Row, verdict

TITLE = 'cold start: import and first fillslot against boto3'
RUNS = 9
TARGET_RATIO = 1.2
FIRST_FILLSLOT_RATIO = 1.3
MODULES = ('app', 'boto3')
AGENDA, EVENT = 'froid', 'cours'
PROBE = '''
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
import {module}
print(json.dumps({{"ms": (time.perf_counter() - started) * 1000, "cpu_ms": (time.process_time() - cpu) * 1000,
                  "boto3": "boto3" in sys.modules}}))
'''
# The service's cold start: the import (init phase), then its first request. The request's body comes on stdin.
FIRST_FILLSLOT = '''
import json, sys, time
event = json.loads(sys.stdin.read())
started, cpu = time.perf_counter(), time.process_time()
import app
imported = time.perf_counter()
response = app.http_handler(event, None)
done = time.perf_counter()
answer = json.loads(response["body"])
print(json.dumps({"import_ms": (imported - started) * 1000, "request_ms": (done - imported) * 1000,
                  "ms": (done - started) * 1000, "cpu_ms": (time.process_time() - cpu) * 1000,
                  "status": response["statusCode"], "err": answer.get("err")}))
'''
# The floor: boto3, its client (a session of its own) and the very transaction, parameters on stdin.
RAW_TRANSACTION = '''
import json, sys, time
params = json.loads(sys.stdin.read())
started, cpu = time.perf_counter(), time.process_time()
import boto3
imported = time.perf_counter()
client = boto3.client("dynamodb")
made = time.perf_counter()
client.transact_write_items(**params)
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "client_ms": (made - imported) * 1000,
                  "request_ms": (done - made) * 1000, "ms": (done - started) * 1000,
                  "cpu_ms": (time.process_time() - cpu) * 1000}))
'''


def fresh_environment(cache: str, write_cache: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
    """None of our variables (a cold start reads none at import) unless given; bytecode caches in `cache`
    (PYTHONPYCACHEPREFIX: the repository's tree stays clean)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_', 'PYTHONDONTWRITEBYTECODE'))}
    env.update({'PYTHONPATH': str(ROOT), 'AWS_DEFAULT_REGION': 'eu-west-3', 'PYTHONPYCACHEPREFIX': cache,
                **(extra or {})})
    if not write_cache:
        env['PYTHONDONTWRITEBYTECODE'] = '1'
    return env


def run_probe(code: str, env: dict[str, str], stdin: str = '') -> dict[str, Any]:
    done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f'probe failed: {done.stderr[-2000:]}')
    return json.loads(done.stdout)


def import_once(module: str, cache: str, write_cache: bool) -> dict:
    return run_probe(PROBE.format(module=module), fresh_environment(cache, write_cache))


def median(probes: list[dict], key: str) -> float:
    return round(statistics.median(probe[key] for probe in probes), 1)


def import_rows(cached: str) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as empty:
        for cache, write, name, runs in ((cached, True, 'with bytecode caches', RUNS),
                                         (empty, False, 'compiled at each start', RUNS // 2)):
            probes: dict[str, list[dict]] = {module: [] for module in MODULES}
            for _ in range(runs):
                for module in MODULES:
                    probes[module].append(import_once(module, cache, write))
            (app_ms, app_cpu), (boto3_ms, boto3_cpu) = (
                (median(probes[module], 'ms'), median(probes[module], 'cpu_ms')) for module in MODULES)
            ratio, cpu_ratio = round(app_ms / boto3_ms, 2), round(app_cpu / boto3_cpu, 2)
            loads_boto3 = any(probe['boto3'] for probe in probes['app'])
            numbers = {'app_ms': app_ms, 'boto3_ms': boto3_ms, 'ratio': ratio, 'app_cpu_ms': app_cpu,
                       'boto3_cpu_ms': boto3_cpu, 'cpu_ratio': cpu_ratio, 'runs': runs, 'app_imports_boto3': loads_boto3,
                       'runs_ms': {module: [round(probe['ms'], 1) for probe in probes[module]] for module in MODULES}}
            value = f'CPU {app_cpu:.0f} / {boto3_cpu:.0f} ms = {cpu_ratio:.2f}x, wall {app_ms:.0f} / {boto3_ms:.0f} ms = {ratio:.2f}x'
            if write:
                rows.append(Row(f'import app / import boto3, {name}',
                                f'{value}; app loads boto3: {"yes" if loads_boto3 else "no"}',
                                f'<= {TARGET_RATIO}x', verdict(cpu_ratio <= TARGET_RATIO and not loads_boto3), numbers))
            else:
                rows.append(Row(f'the same, {name}', value, numbers=numbers))
    return rows


def first_fillslot_row(bench: Bench, cached: str) -> Row:
    bench.call('post', '/api/agenda/', {'label': 'Froid', 'slug': AGENDA, 'maximal_booking_delay': None})
    bench.call('post', f'/api/agenda/{AGENDA}/event/', {'slug': EVENT, 'start_datetime': '2040-03-20 10:00',
                                                        'places': 100000})
    event = json.dumps(lambda_event('POST', f'/api/agenda/{AGENDA}/fillslot/{EVENT}/', {'user_external_id': 'froid'}))
    dynamodb = {name: os.environ[name] for name in os.environ if name.startswith('AWS_')}
    service_env = fresh_environment(cached, True, {**dynamodb, **BENCH_ENV, 'AWS_LAMBDA_FUNCTION_NAME': 'bench'})
    floor_env = fresh_environment(cached, True, dynamodb)
    # The floor's transaction: the service's own (in process, so counted), each replay with a new booking id.
    answer, cost = bench.cost(lambda: bench.call('post', f'/api/agenda/{AGENDA}/fillslot/{EVENT}/',
                                                 {'user_external_id': 'froid'}))
    params = {k: v for k, v in bench.calls.last['TransactWriteItems'].items() if k != 'ClientRequestToken'}
    template, booking_id = json.dumps(params), answer['booking_id']
    service, floor = [], []
    for replay in range(1, RUNS + 2):  # the first of each: caches written, not counted
        service.append(run_probe(FIRST_FILLSLOT, service_env, event))
        floor.append(run_probe(RAW_TRANSACTION, floor_env, template.replace(str(booking_id), str(booking_id + replay))))
        if (service[-1]['status'], service[-1]['err']) != (200, 0):
            raise RuntimeError(f'first fillslot: {service[-1]}')
    service, floor = service[1:], floor[1:]
    service_ms, floor_ms = median(service, 'ms'), median(floor, 'ms')
    service_cpu, floor_cpu = median(service, 'cpu_ms'), median(floor, 'cpu_ms')
    ratio, cpu_ratio = round(service_ms / floor_ms, 2), round(service_cpu / floor_cpu, 2)
    numbers = {'runs': RUNS, 'ratio': ratio, 'cpu_ratio': cpu_ratio, 'calls_warm': cost.calls,
               'service': {key: median(service, key) for key in ('import_ms', 'request_ms', 'ms', 'cpu_ms')},
               'floor': {key: median(floor, key) for key in ('import_ms', 'client_ms', 'request_ms', 'ms', 'cpu_ms')},
               'runs_ms': {'service': [round(p['ms'], 1) for p in service], 'floor': [round(p['ms'], 1) for p in floor]}}
    split = (f'init {numbers["service"]["import_ms"]:.0f} + fillslot {numbers["service"]["request_ms"]:.0f} / '
             f'import {numbers["floor"]["import_ms"]:.0f} + client {numbers["floor"]["client_ms"]:.0f} + '
             f'call {numbers["floor"]["request_ms"]:.0f}')
    return Row('import app + first fillslot / import boto3 + client + TransactWriteItems',
               f'wall {service_ms:.0f} / {floor_ms:.0f} ms = {ratio:.2f}x ({split}); '
               f'CPU {service_cpu:.0f} / {floor_cpu:.0f} ms = {cpu_ratio:.2f}x',
               f'<= {FIRST_FILLSLOT_RATIO}x', verdict(ratio <= FIRST_FILLSLOT_RATIO), numbers)


def run(bench: Bench) -> list[Row]:
    cached = str(ROOT / 'build' / 'pycache')
    for module in MODULES:
        import_once(module, cached, write_cache=True)
    return [*import_rows(cached), first_fillslot_row(bench, cached)]
