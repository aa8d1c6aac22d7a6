"""How `GET /api/agenda/<agenda>/meetings/<type>/datetimes/` grows from 9 to 90 days on a large
meetings agenda (10 desks, meeting types of 5, 10 and 15 minutes, a few hundred bookings), through
chalice.test.Client. The list is 10 times longer: the issue's target is at most 11 times the time.
CPU time of this process (the Python side; DynamoDB Local is another process) is steadier when
the machine is busy, so it is printed too."""
from __future__ import annotations

from datetime import timedelta

from .harness import Bench, Row, timed, verdict
from .scenarios import FIRST_DAY, MEETING_TYPES, meetings_agenda

TITLE = 'meetings datetimes, 9 days against 90 days'
RUNS = 5
TARGET_RATIO = 11


def run(bench: Bench) -> list[Row]:
    agenda = bench.scenario(meetings_agenda)
    rows = []
    for meeting_type, minutes in MEETING_TYPES.items():
        figures = {}
        for days in (9, 90):
            path = (f'/api/agenda/{agenda.slug}/meetings/{meeting_type}/datetimes/'
                    f'?date_start={FIRST_DAY}&date_end={FIRST_DAY + timedelta(days=days)}')
            answer, cost = bench.cost(lambda: bench.call('get', path))
            timing = timed(lambda: bench.call('get', path), RUNS)
            figures[days] = {'slots': len(answer['data']), **timing.numbers(), **cost.numbers()}
        ratio = round(figures[90]['ms'] / figures[9]['ms'], 2)
        cpu_ratio = round(figures[90]['cpu_ms'] / figures[9]['cpu_ms'], 2)
        rows.append(Row(
            f'{minutes}-minute type, {figures[9]["slots"]:,} then {figures[90]["slots"]:,} slots',
            f'{figures[9]["ms"]:.0f} then {figures[90]["ms"]:.0f} ms = {ratio:.2f}x (CPU {cpu_ratio:.2f}x)',
            f'<= {TARGET_RATIO}x', verdict(ratio <= TARGET_RATIO),
            {'ratio': ratio, 'cpu_ratio': cpu_ratio, 'runs': RUNS, 'days': figures}))
    rows.append(Row('the agenda: 10 desks, bookings made by fillslot', f'{agenda.booked} in {agenda.seconds:.0f} s',
                    numbers={'bookings': agenda.booked, 'seconds': agenda.seconds}))
    return rows
