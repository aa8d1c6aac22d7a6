"""DynamoDB round trips and consumed capacity per operation (design.md §6), on the large agendas:
the number of calls must not grow with the agenda, nor, for the recurring events' reads, what they read.
Capacity is what DynamoDB Local reports with `ReturnConsumedCapacity=INDEXES` (the indexes' writes
included); transactions count double, as on AWS."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from .harness import Bench, Row, verdict
from .scenarios import (FIRST_DAY, EventsAgenda, large_events_agenda, meeting_slot, meetings_agenda,
                        recurring_agenda)

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
    from chalicelib.store import decision_cache
    decision_cache.clear()  # a process that has not read the agenda yet (store/decision_cache.py)
    booking, fillslot = measured(bench, 'events fillslot, cold cache', 2, lambda: bench.call(
        'post', f'{agenda}/fillslot/{EventsAgenda.event(0)}/', {'user_external_id': 'rt', 'exclude_user': 'true'}))
    _, warm = measured(bench, 'events fillslot, warm cache', 1, lambda: bench.call(
        'post', f'{agenda}/fillslot/{EventsAgenda.event(0)}/', {'user_external_id': 'rt2', 'exclude_user': 'true'}))
    _, cancel = measured(bench, 'cancel', 3, lambda: bench.call(
        'post', f"/api/booking/{booking['booking_id']}/cancel/"))
    day = FIRST_DAY + timedelta(days=88)  # a Saturday
    meeting_path = f'/api/agenda/{meetings.slug}/fillslot'
    first, meeting = measured(bench, 'meetings fillslot (10 desks)', 3, lambda: bench.call(
        'post', f"{meeting_path}/{meeting_slot('quinze', day, 17 * 60 + 45)}/", {'user_external_id': 'rt'}))
    _, excluding = measured(bench, 'meetings fillslot, exclude_user', 3, lambda: bench.call(
        'post', f"{meeting_path}/{meeting_slot('quinze', day, 17 * 60)}/", {'user_external_id': 'rt',
                                                                           'exclude_user': True}))
    _, replacing = measured(bench, 'meetings fillslot, cancel_booking_id', 3, lambda: bench.call(
        'post', f"{meeting_path}/{meeting_slot('quinze', day, 16 * 60 + 45)}/", {
            'user_external_id': 'rt', 'cancel_booking_id': first['booking_id']}))
    week = f'date_start={FIRST_DAY + timedelta(days=100)}&date_end={FIRST_DAY + timedelta(days=107)}'
    _, events_week = measured(bench, f'events datetimes, a week of {events.count:,} events', 3, lambda: bench.call(
        'get', f'{agenda}/datetimes/?{week}&user_external_id=rt'))
    quarter = f'date_start={FIRST_DAY}&date_end={FIRST_DAY + timedelta(days=90)}'
    _, meetings_quarter = measured(bench, 'meetings datetimes, 90 days, 10 desks', 3, lambda: bench.call(
        'get', f'/api/agenda/{meetings.slug}/meetings/dix/datetimes/?{quarter}&user_external_id=rt'))
    # Reads that must not grow with the agenda's other events: the read capacity says what they read.
    recurring = bench.scenario(recurring_agenda)
    listed, cost = bench.cost(lambda: bench.call('get', f'/api/agendas/recurring-events/?agendas={recurring.slug}'))
    primaries = Row(f'recurring events, 2 among {recurring.count:,} events', cost.text(), '<= 2 calls, <= 2 RCU',
                    verdict(cost.round_trips <= 2 and cost.read_units <= 2 and len(listed['data']) == 2),
                    cost.numbers())
    patched, cost = bench.cost(lambda: bench.call('patch', f'/api/agenda/{recurring.slug}/event/{recurring.primary}/',
                                                  {'label': 'Natation libre'}))
    if patched.get('err') or patched['data']['label'] != 'Natation libre':
        raise RuntimeError(f'PATCH {recurring.primary}: {patched}')
    patch = Row(f"PATCH a primary ({recurring.occurrences} occurrences) among {recurring.count:,} events",
                cost.text(), '1 Query, <= 20 RCU', verdict(cost.calls.get('Query') == 1 and cost.read_units <= 20),
                cost.numbers())
    return [fillslot, warm, cancel, meeting, excluding, replacing, events_week, meetings_quarter, primaries, patch]
