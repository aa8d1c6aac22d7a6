"""DynamoDB round trips and consumed capacity per operation (design.md §6), on the large agendas:
the number of calls must not grow with the agenda. Capacity is what DynamoDB Local reports with
`ReturnConsumedCapacity=INDEXES` (the indexes' writes included); transactions count double, as on AWS."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from .harness import Bench, Row, verdict
from .scenarios import FIRST_DAY, EventsAgenda, large_events_agenda, meeting_slot, meetings_agenda

TITLE = 'DynamoDB round trips and capacity per operation'


def measured(bench: Bench, name: str, limit: int, action: Callable[[], dict[str, Any]]) -> tuple[dict, Row]:
    answer, cost = bench.cost(action)
    if answer.get('err'):
        raise RuntimeError(f'{name}: {answer}')
    return answer, Row(name, cost.text(), f'<= {limit} calls', verdict(cost.round_trips <= limit), cost.numbers())


def run(bench: Bench) -> list[Row]:
    events = bench.scenario(large_events_agenda)
    meetings = bench.scenario(meetings_agenda)
    agenda = f'/api/agenda/{events.slug}'
    booking, fillslot = measured(bench, 'events fillslot', 2, lambda: bench.call(
        'post', f'{agenda}/fillslot/{EventsAgenda.event(0)}/', {'user_external_id': 'rt', 'exclude_user': 'true'}))
    _, cancel = measured(bench, 'cancel', 2, lambda: bench.call(
        'post', f"/api/booking/{booking['booking_id']}/cancel/"))
    slot = meeting_slot('quinze', FIRST_DAY + timedelta(days=88), 17 * 60 + 45)  # a Saturday
    _, meeting = measured(bench, 'meetings fillslot (10 desks)', 3, lambda: bench.call(
        'post', f'/api/agenda/{meetings.slug}/fillslot/{slot}/', {'user_external_id': 'rt'}))
    week = f'date_start={FIRST_DAY + timedelta(days=100)}&date_end={FIRST_DAY + timedelta(days=107)}'
    _, events_week = measured(bench, f'events datetimes, a week of {events.count:,} events', 3, lambda: bench.call(
        'get', f'{agenda}/datetimes/?{week}&user_external_id=rt'))
    quarter = f'date_start={FIRST_DAY}&date_end={FIRST_DAY + timedelta(days=90)}'
    _, meetings_quarter = measured(bench, 'meetings datetimes, 90 days, 10 desks', 3, lambda: bench.call(
        'get', f'/api/agenda/{meetings.slug}/meetings/dix/datetimes/?{quarter}&user_external_id=rt'))
    return [fillslot, cancel, meeting, events_week, meetings_quarter]
