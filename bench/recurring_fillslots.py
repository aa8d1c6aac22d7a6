"""A term of recurring bookings in one call (issue: multi-event fillslots): a weekly event booked
for 20, 40 and 80 occurrences. Transactions hold 33 events, so the calls must grow with the
occurrences divided by 33, never one per occurrence; the capacity grows with the occurrences."""
from __future__ import annotations

from math import ceil

from .harness import Bench, Row, verdict
from .scenarios import FIRST_DAY

TITLE = 'Recurring fillslots: DynamoDB calls by occurrences booked'
AGENDA = 'piscine-recurrente'
BATCH = 33
READS = 4  # the agenda, the primaries, the occurrences in range, the user's bookings


def setup(bench: Bench) -> None:
    bench.call('post', '/api/agenda/', {'slug': AGENDA, 'label': 'Piscine', 'maximal_booking_delay': 800})
    for weekday in range(3):  # one primary a weekday, each with 80 weeks of occurrences
        answer = bench.call('post', f'/api/agenda/{AGENDA}/event/', {
            'slug': f'cours-{weekday}', 'start_datetime': f'{FIRST_DAY} 18:00', 'places': 30,
            'recurrence_days': str(weekday), 'recurrence_end_date': f'{FIRST_DAY.replace(year=FIRST_DAY.year + 2)}'})
        if answer.get('err'):
            raise RuntimeError(answer)


def run(bench: Bench) -> list[Row]:
    setup(bench)
    rows = []
    for weekday, weeks in enumerate((20, 40, 80)):
        end = FIRST_DAY.toordinal() + 7 * weeks
        query = f'agendas={AGENDA}&action=book&date_start={FIRST_DAY}&date_end={type(FIRST_DAY).fromordinal(end)}'
        answer, cost = bench.cost(lambda: bench.call('post', f'/api/agendas/recurring-events/fillslots/?{query}', {
            'user_external_id': f'famille-{weekday}', 'slots': [f'{AGENDA}@cours-{weekday}:{weekday}']}))
        if answer.get('err') or answer['booking_count'] != weeks:
            raise RuntimeError(f'{weeks} occurrences: {answer}')
        limit = READS + ceil(weeks / BATCH)
        rows.append(Row(f'{weeks} weekly occurrences in one call', cost.text(), f'<= {limit} calls',
                        verdict(cost.round_trips <= limit), {'occurrences': weeks, **cost.numbers()}))
    return rows
