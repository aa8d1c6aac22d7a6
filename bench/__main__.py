"""`make bench` (`python -m bench [figure ...]`): the figures of design.md §6 in one run, printed as
one table and written to build/bench.json to compare commits. Targets are printed, never asserted.

A figure is a module with a `TITLE` and a `run(bench) -> list[Row]`; add it to FIGURES.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from . import (cold_import, events_datetimes, fillslot_overhead, meetings_datetimes, parallel_fillslots,
               recurring_fillslots, round_trips)
from .harness import ROOT, Bench, Row

FIGURES: dict[str, ModuleType] = {
    'round_trips': round_trips,
    'fillslot_overhead': fillslot_overhead,
    'meetings_datetimes': meetings_datetimes,
    'events_datetimes': events_datetimes,
    'parallel_fillslots': parallel_fillslots,
    'cold_import': cold_import,
    'recurring_fillslots': recurring_fillslots,
}
OUTPUT = ROOT / 'build' / 'bench.json'


def commit() -> str:
    described = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=ROOT, capture_output=True, text=True)
    return described.stdout.strip() or 'unknown'


def print_table(sections: list[tuple[str, str, float, list[Row]]]) -> None:
    rows = [row for *_, section in sections for row in section]
    name_width = max(len(row.name) for row in rows) + 2
    value_width = max(len(row.value) for row in rows)
    target_width = max(len(row.target) for row in rows)
    for _, title, seconds, section in sections:
        print(f'\n{title} ({seconds:.0f} s)')
        for row in section:
            print(f'  {row.name:<{name_width}}{row.value:<{value_width}}  {row.target:<{target_width}}  {row.verdict}'
                  .rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench', description=__doc__.splitlines()[0])
    parser.add_argument('figures', nargs='*', choices=[[], *FIGURES], metavar='figure',
                        help=f'some of: {", ".join(FIGURES)} (default: all)')
    parser.add_argument('--output', type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    chosen = args.figures or list(FIGURES)

    started, load = time.monotonic(), os.getloadavg()
    sections = []
    with Bench() as bench:
        for name in chosen:
            figure = FIGURES[name]
            print(f'{figure.TITLE}...', flush=True)
            figure_started = time.monotonic()
            rows = figure.run(bench)
            sections.append((name, figure.TITLE, time.monotonic() - figure_started, rows))
    seconds = time.monotonic() - started

    print(f'\nmake bench: commit {commit()}, {seconds:.0f} s, {os.cpu_count()} CPUs, load average {load[0]:.1f} '
          f'at the start\nDynamoDB Local in memory, not AWS: compare runs on one machine, not absolute times')
    print_table(sections)
    misses = sum(row.verdict == 'MISS' for *_, rows in sections for row in rows)
    print(f'\n{misses} figure(s) miss their target' if misses else '\nevery figure within its target')

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        'commit': commit(), 'date': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'cpus': os.cpu_count(), 'load_average': {'start': load[0], 'end': os.getloadavg()[0]},
        'engine': 'DynamoDB Local (in memory)', 'seconds': round(seconds, 1),
        'figures': [{'figure': name, 'title': title, 'seconds': round(figure_seconds, 1),
                     'rows': [asdict(row) for row in rows]} for name, title, figure_seconds, rows in sections],
    }, indent=2, ensure_ascii=False) + '\n')
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f'figures written to {shown}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
