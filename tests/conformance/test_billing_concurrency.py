"""Billing and subscriptions on DynamoDB Local over HTTP (the real engine): the check lock is a condition
of every attendance write, overlapping subscriptions cannot both be written, a booking made through
`subscribed=` cannot outlive the subscription it relied on, and a lock of more than 100 events is written
in batches, all of them."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from chalicelib.services import agent, booking_changes
from chalicelib.store.models import Event, agenda_pk
from tests.concurrency import parallel

TZ = ZoneInfo('Europe/Paris')


def day(offset: int) -> str:
    return f'{datetime.now(TZ).date() + timedelta(days=offset):%Y-%m-%d}'


@pytest.fixture
def cantine(http_api):
    status, answer = http_api.post('/api/agenda/', {'label': 'Cantine', 'slug': 'cantine', 'minimal_booking_delay': 0})
    assert (status, answer['err']) == (200, 0), answer
    for offset in range(3, 8):
        status, answer = http_api.post('/api/agenda/cantine/event/', {
            'slug': f'repas-{offset}', 'start_datetime': f'{day(offset)} 12:00', 'places': 50})
        assert (status, answer['err']) == (200, 0), answer
    return http_api


def book(api, event, user='enfant:1', session=None):
    status, answer = api.post(f'/api/agenda/cantine/fillslot/{event}/', {'user_external_id': user}, session=session)
    assert (status, answer['err']) == (200, 0), answer
    return answer['booking_id']


def lock_directly(event: str) -> None:
    """What a check-lock does to one event, landing at a chosen moment."""
    Event(agenda_pk('cantine'), f'event#{event}').update(actions=[Event.check_locked.set(True)])


def test_a_patch_whose_event_is_locked_after_its_read_is_refused(cantine, monkeypatch):
    booking_id = book(cantine, 'repas-3')
    real = booking_changes.check_attendance
    calls = []

    def read_then_lock(legs, events):
        calls.append(1)
        real(legs, events)  # not locked when read...
        if len(calls) == 1:
            lock_directly('repas-3')  # ...locked before the write lands
    monkeypatch.setattr(booking_changes, 'check_attendance', read_then_lock)
    status, answer = cantine.call('PATCH', f'/api/booking/{booking_id}/', {'user_was_present': True})
    assert (status, answer['err'], answer['err_class']) == (200, 6, 'event is locked')
    assert len(calls) == 2  # the condition refused the write; decided again on the fresh event
    assert [leg.user_was_present for leg in store.get_legs(booking_id)] == [None]


def test_a_check_whose_event_is_locked_meanwhile_is_refused(cantine, monkeypatch):
    book(cantine, 'repas-3')
    real = store.live_event_legs

    def read_then_lock(agenda, event):
        found = real(agenda, event)
        lock_directly(event)
        return found
    monkeypatch.setattr(agent.store, 'live_event_legs', read_then_lock)
    status, answer = cantine.post('/api/agenda/cantine/check/repas-3/', {})
    assert (status, answer['err'], answer['err_class']) == (200, 6, 'event is locked')
    assert store.get_event('cantine', 'repas-3').checked is False


def test_patches_racing_a_lock_each_land_before_it_or_are_refused(cantine):
    """Twenty attendance changes and a lock at once: every change answered `err: 0` was written while the
    event was unlocked, so the stored attendance is that of a successful change, and after the lock's
    answer every change is refused."""
    ids = [book(cantine, 'repas-4', user=f'enfant:{n}') for n in range(20)]
    period = {'check_locked': True, 'agendas': 'cantine', 'date_start': day(4), 'date_end': day(5)}
    calls = [lambda s, b=b: cantine.call('PATCH', f'/api/booking/{b}/', {'user_was_present': True}, session=s)
             for b in ids]
    calls.insert(10, lambda s: cantine.post('/api/agendas/events/check-lock/', period, session=s))
    answers = parallel(calls, threads=8)
    assert answers[10] == (200, {'err': 0})
    patched = [a for i, a in enumerate(answers) if i != 10]
    assert {(status, body['err']) for status, body in patched} <= {(200, 0), (200, 6)}
    stored = {b: store.get_legs(b)[0].user_was_present for b in ids}
    for booking_id, (status, body) in zip(ids, patched, strict=True):
        assert stored[booking_id] is (True if body['err'] == 0 else None), (booking_id, body)
    after = cantine.call('PATCH', f'/api/booking/{ids[0]}/', {'user_was_present': False})
    assert after[1]['err'] == 6


def test_overlapping_subscriptions_sent_at_once_give_exactly_one(cantine):
    calls = [lambda s, n=n: cantine.post('/api/agenda/cantine/subscription/', {
        'user_external_id': 'enfant:1', 'date_start': day(n), 'date_end': day(n + 30)}, session=s) for n in range(8)]
    answers = parallel(calls, threads=8)
    assert sorted(status for status, _ in answers) == [200] + [400] * 7
    assert {body['err_class'] for status, body in answers if status == 400} == {
        'another subscription overlapping this period already exists'}
    assert len(cantine.get('/api/agenda/cantine/subscription/')[1]['data']) == 1


def test_a_booking_through_subscribed_never_outlives_the_deleted_subscription(cantine):
    """A subscribed events fillslots and the subscription's deletion at once, many times: once the
    deletion has answered, the user holds nothing on the subscription's days (a booking that committed
    first was cancelled by it; one that came after found the subscription gone)."""
    for round_number in range(8):
        user = f'enfant:r{round_number}'
        status, answer = cantine.post('/api/agenda/cantine/subscription/', {
            'user_external_id': user, 'date_start': day(0), 'date_end': day(10)})
        assert status == 200, answer
        ident = answer['id']
        slots = ','.join(f'cantine@repas-{offset}' for offset in range(3, 8))
        answers = parallel([
            lambda s: cantine.post(f'/api/agendas/events/fillslots/?subscribed=all', {
                'user_external_id': user, 'slots': slots}, session=s),
            lambda s: cantine.call('DELETE', f'/api/agenda/cantine/subscription/{ident}/', session=s),
        ], threads=2)
        assert answers[1][0] == 200 and answers[1][1]['err'] == 0, answers
        assert answers[0][0] in (200, 400), answers  # booked, refused (busy), or slots no longer subscribed
        live = cantine.get(f'/api/bookings/?user_external_id={user}')[1]['data']
        assert live == [], (round_number, answers)


def test_a_lock_of_more_than_a_transaction_of_events_locks_them_all(http_api):
    events = [{'slug': f'r{n:03d}', 'start_datetime': f'{day(3 + n % 20)} {8 + n // 20:02d}:00', 'places': 5}
              for n in range(130)]
    status, answer = http_api.post('/api/import/', {'agendas': [{'slug': 'cantine', 'label': 'Cantine',
                                                                 'kind': 'events', 'events': events}]})
    assert (status, answer['err']) == (200, 0), answer
    period = {'check_locked': True, 'agendas': 'cantine', 'date_start': day(0), 'date_end': day(30)}
    assert http_api.post('/api/agendas/events/check-lock/', period) == (200, {'err': 0})
    assert sum(r.check_locked for r in store.list_events('cantine')) == 130
    assert http_api.post('/api/agendas/events/check-lock/', period) == (200, {'err': 0})
    assert http_api.post('/api/agendas/events/check-lock/', {**period, 'check_locked': False}) == (200, {'err': 0})
    assert sum(r.check_locked for r in store.list_events('cantine')) == 0
