"""`GET /api/agenda/<agenda>/datetimes/` listing every event of an agenda of 5,000 (all inside the
booking window), through chalice.test.Client: its time, and its DynamoDB calls against the issue's
target of 3 whatever the agenda size. The events come from one Query of an index, which DynamoDB
pages at 1 MB; `user_external_id` (w.c.s. sends it) adds the Query of the user's bookings."""
from __future__ import annotations

from .harness import Bench, Row, timed, verdict
from .scenarios import large_events_agenda

TITLE = 'events datetimes of a 5,000-event agenda'
RUNS = 5
TARGET_CALLS = 3


def run(bench: Bench) -> list[Row]:
    agenda = bench.scenario(large_events_agenda)
    rows = []
    for query in ('', '?user_external_id=u1'):
        path = f'/api/agenda/{agenda.slug}/datetimes/{query}'
        answer, cost = bench.cost(lambda: bench.call('get', path))
        if len(answer['data']) != agenda.count:
            raise RuntimeError(f'{path} listed {len(answer["data"])} events of {agenda.count}')
        timing = timed(lambda: bench.call('get', path), RUNS)
        rows.append(Row(f'all {agenda.count:,} listed{", with user_external_id" if query else ""}',
                        f'{timing.ms:.0f} ms (CPU {timing.cpu_ms:.0f}), {cost.text()}', f'<= {TARGET_CALLS} calls',
                        verdict(cost.round_trips <= TARGET_CALLS),
                        {'query': query, 'runs': RUNS, **timing.numbers(), **cost.numbers()}))
    rows.append(Row('the agenda: 5,000 events imported in one document', f'{agenda.seconds:.0f} s',
                    numbers={'seconds': agenda.seconds}))
    return rows
