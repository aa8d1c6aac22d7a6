"""Cold start: the time to import `app` in a fresh interpreter, against `import boto3` alone
(design.md §6), the median of several fresh subprocesses each, alternated. Only the import is
timed (the interpreter's own start is the same for both). With bytecode caches (under build/, a
first run of each writes them), as a Lambda package that ships them; and without (every module
compiled at each start), as one that doesn't, for reference. The app must not import boto3
(tests/api/test_packaging.py): that is printed too."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from .harness import ROOT, Bench, Row, verdict

TITLE = 'cold import of the app against boto3'
RUNS = 9
TARGET_RATIO = 1.5
MODULES = ('app', 'boto3')
PROBE = '''
import json, sys, time
started = time.perf_counter()
import {module}
print(json.dumps({{"ms": (time.perf_counter() - started) * 1000, "boto3": "boto3" in sys.modules}}))
'''


def import_once(module: str, cache: str, write_cache: bool) -> dict:
    """A fresh interpreter with none of our variables (a cold start reads none at import), its
    bytecode caches in `cache` (PYTHONPYCACHEPREFIX: the repository's tree stays clean)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_', 'PYTHONDONTWRITEBYTECODE'))}
    env.update(PYTHONPATH=str(ROOT), AWS_DEFAULT_REGION='eu-west-3', PYTHONPYCACHEPREFIX=cache)
    if not write_cache:
        env['PYTHONDONTWRITEBYTECODE'] = '1'
    done = subprocess.run([sys.executable, '-c', PROBE.format(module=module)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def medians(cache: str, write_cache: bool, runs: int) -> tuple[dict[str, list[dict]], float, float]:
    probes: dict[str, list[dict]] = {module: [] for module in MODULES}
    for _ in range(runs):
        for module in MODULES:
            probes[module].append(import_once(module, cache, write_cache))
    app_ms, boto3_ms = (statistics.median(probe['ms'] for probe in probes[module]) for module in MODULES)
    return probes, app_ms, boto3_ms


def run(bench: Bench) -> list[Row]:
    cached = str(ROOT / 'build' / 'pycache')
    for module in MODULES:
        import_once(module, cached, write_cache=True)
    rows = []
    with tempfile.TemporaryDirectory() as empty:
        for cache, write, name, runs in ((cached, True, 'with bytecode caches', RUNS),
                                         (empty, False, 'compiled at each start', RUNS // 2)):
            probes, app_ms, boto3_ms = medians(cache, write, runs)
            ratio = round(app_ms / boto3_ms, 2)
            loads_boto3 = any(probe['boto3'] for probe in probes['app'])
            numbers = {'app_ms': round(app_ms, 1), 'boto3_ms': round(boto3_ms, 1), 'ratio': ratio, 'runs': runs,
                       'app_imports_boto3': loads_boto3,
                       'runs_ms': {module: [round(probe['ms'], 1) for probe in probes[module]] for module in MODULES}}
            value = f'{app_ms:.0f} / {boto3_ms:.0f} ms = {ratio:.2f}x'
            if write:
                rows.append(Row(f'import app / import boto3, {name}',
                                f'{value}; app loads boto3: {"yes" if loads_boto3 else "no"}',
                                f'<= {TARGET_RATIO}x', verdict(ratio <= TARGET_RATIO), numbers))
            else:
                rows.append(Row(f'the same, {name}', value, numbers=numbers))
    return rows
