"""Cold start: the time to import `app` in a fresh interpreter, against `import boto3` alone
(design.md §6), the median of several fresh subprocesses each, alternated. Only the import is
timed (the interpreter's own start is the same for both); a first run of each, not counted, writes
the bytecode caches. The app must not import boto3 (tests/api/test_packaging.py): it is printed."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from .harness import ROOT, Bench, Row, verdict

TITLE = 'cold import of the app against boto3'
RUNS = 9
TARGET_RATIO = 1.5
PROBE = '''
import json, sys, time
started = time.perf_counter()
import {module}
print(json.dumps({{"ms": (time.perf_counter() - started) * 1000, "boto3": "boto3" in sys.modules}}))
'''


def import_once(module: str) -> dict:
    """A fresh interpreter with none of our variables: a Lambda's cold start reads none at import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'CHRONO_'))}
    env.update(PYTHONPATH=str(ROOT), AWS_DEFAULT_REGION='eu-west-3')
    done = subprocess.run([sys.executable, '-c', PROBE.format(module=module)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def run(bench: Bench) -> list[Row]:
    modules = ('app', 'boto3')
    for module in modules:
        import_once(module)
    probes: dict[str, list[dict]] = {module: [] for module in modules}
    for _ in range(RUNS):
        for module in modules:
            probes[module].append(import_once(module))
    runs = {module: [round(probe['ms'], 1) for probe in probes[module]] for module in modules}
    app_ms, boto3_ms = (statistics.median(runs[module]) for module in modules)
    app_imports_boto3 = any(probe['boto3'] for probe in probes['app'])
    ratio = round(app_ms / boto3_ms, 2)
    return [Row(f'import app / import boto3 ({RUNS} fresh interpreters)',
                f'{app_ms:.0f} / {boto3_ms:.0f} ms = {ratio:.2f}x; '
                f'app loads boto3: {"yes" if app_imports_boto3 else "no"}',
                f'<= {TARGET_RATIO}x', verdict(ratio <= TARGET_RATIO),
                {'app_ms': app_ms, 'boto3_ms': boto3_ms, 'ratio': ratio, 'runs_ms': runs,
                 'app_imports_boto3': app_imports_boto3})]
