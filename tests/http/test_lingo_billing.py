"""A whole billing period of a Publik famille site, as Lingo (the billing module) calls us, against the
service `make run` starts (`python -m local`), over real HTTP with Lingo's Publik signature.

What Lingo sends is what its client (lingo/agendas/chrono.py and lingo/utils/requests_wrapper.py of the
public snapshot LoganSeven/publik_famille_demo) builds: the path joined to the service URL, the query
`orig=<lingo>` first (no NameID/email: `without_user=True`), then the call's own query as Lingo joined it
by hand (`user_external_id=user:1`, unencoded), signed; JSON bodies, and `{}` as the body of a GET.
What it reads: `err` (any non-zero is a ChronoError), `err_desc`, `data`, and inside it the keys its
callers read (lingo/invoicing/utils.py, lingo/pricing/models.py).

The site itself (agendas, subscriptions, bookings, attendance) is set up as w.c.s. and agents do, with
HTTP Basic.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
import requests

from chalicelib.signature import sign_query
from tests.http.test_local_service import KEYS, Service

LINGO = 'lingo.example.org'
BASIC = ('demo', 'demo')


@pytest.fixture(scope='module')
def chrono():
    started = Service({'CHRONO_SIGNATURE_KEYS': json.dumps(KEYS)})
    try:
        started.wait_ready()
        yield started.url
    finally:
        if started.process.poll() is None:
            assert started.stop() == 0
        assert started.left() == []


def lingo(base: str, method: str, path: str, body: dict | None = None) -> dict:
    """A call as Lingo's chrono_json makes it: (HTTP status, parsed answer)."""
    url, _, query = path.partition('?')
    query = f'orig={LINGO}' + (f'&{query}' if query else '')
    target = f'{base}/{url.lstrip("/")}?{sign_query(query, KEYS[LINGO])}'
    response = requests.request(method, target, json=body or {}, headers={'accept': 'application/json'}, timeout=30)
    return response.json()


def ok(answer: dict) -> dict:
    """Lingo raises ChronoError on a falsy answer or a non-zero `err`."""
    assert answer and not answer.get('err'), answer
    return answer


def basic(base: str, method: str, path: str, body: dict | None = None) -> dict:
    response = requests.request(method, f'{base}{path}', json=body, auth=BASIC, timeout=30)
    answer = response.json()
    assert response.status_code == 200 and answer['err'] == 0, answer
    return answer


def test_a_billing_period_as_lingo_runs_it(chrono):
    today = date.today()
    first = today + timedelta(days=7)
    days = [first + timedelta(days=n) for n in range(3)]
    period = {'date_start': first.isoformat(), 'date_end': (first + timedelta(days=3)).isoformat()}
    # The site: a canteen agenda (category), its lunches, two children subscribed and booked.
    basic(chrono, 'POST', '/api/agenda/', {'slug': 'cantine-lingo', 'label': 'Cantine', 'category': 'restauration',
                                           'category_label': 'Restauration', 'minimal_booking_delay': 0})
    for n, day in enumerate(days):
        basic(chrono, 'POST', '/api/agenda/cantine-lingo/event/', {
            'slug': f'repas-{n}', 'label': 'Repas', 'start_datetime': f'{day} 12:00', 'places': 30})
    for child in ('enfant:1', 'enfant:2'):
        basic(chrono, 'POST', '/api/agenda/cantine-lingo/subscription/', {
            'user_external_id': child, 'user_first_name': child.title(), 'user_last_name': 'Martin',
            'date_start': today.isoformat(), 'date_end': (today + timedelta(days=60)).isoformat()})
    bookings = {child: basic(chrono, 'POST', '/api/agenda/cantine-lingo/fillslot/repas-0/', {
        'user_external_id': child})['booking_id'] for child in ('enfant:1', 'enfant:2')}
    basic(chrono, 'PATCH', f"/api/booking/{bookings['enfant:1']}/", {'user_was_present': True})
    basic(chrono, 'PATCH', f"/api/booking/{bookings['enfant:2']}/", {'user_was_present': False})
    basic(chrono, 'POST', '/api/agenda/cantine-lingo/check/repas-0/', {})

    # refresh_agendas: GET api/agenda/?q=<slug>, the keys collect_agenda_data reads.
    agendas = ok(lingo(chrono, 'GET', 'api/agenda/?q=cantine-lingo'))['data']
    assert [(a['slug'], a['text'], a['kind'], a['category'], a['category_label'], a.get('partial_bookings'))
            for a in agendas] == [('cantine-lingo', 'Cantine', 'events', 'restauration', 'Restauration', False)]

    # Campaign init: lock_events_check (an error would mark the campaign failed).
    lock = {'agendas': 'cantine-lingo', **period}
    ok(lingo(chrono, 'POST', '/api/agendas/events/check-lock/', {'check_locked': True, **lock}))
    refused = requests.patch(f"{chrono}/api/booking/{bookings['enfant:1']}/", json={'user_was_present': False},
                             auth=BASIC, timeout=30).json()
    assert (refused['err'], refused['err_class']) == (6, 'event is locked')

    # get_users_from_subscriptions: get_subscriptions(agenda, date_start, date_end).
    subscriptions = ok(lingo(chrono, 'GET', f"api/agenda/cantine-lingo/subscription/?date_start={period['date_start']}"
                                            f"&date_end={period['date_end']}"))['data']
    assert sorted((s['user_external_id'], s['user_first_name'], s['user_last_name']) for s in subscriptions) == [
        ('enfant:1', 'Enfant:1', 'Martin'), ('enfant:2', 'Enfant:2', 'Martin')]
    one = ok(lingo(chrono, 'GET', 'api/agenda/cantine-lingo/subscription/?user_external_id=enfant:1'))['data']
    assert [s['user_external_id'] for s in one] == ['enfant:1']

    # get_lines_for_user: get_check_status per user, as build_lines_for_user reads it.
    expected = {'enfant:1': 'presence', 'enfant:2': 'absence'}
    for child, status in expected.items():
        data = ok(lingo(chrono, 'POST', 'api/agendas/events/check-status/', {
            'user_external_id': child, 'agendas': 'cantine-lingo', **period}))['data']
        assert [(item['event']['slug'], item['check_status']['status']) for item in data] == [
            ('repas-0', status), ('repas-1', 'not-booked'), ('repas-2', 'not-booked')]
        for item in data:
            event = item['event']
            assert datetime.fromisoformat(event['start_datetime']).date() in days
            assert (event['agenda'], event['label'], event['primary_event']) == ('cantine-lingo', 'Repas', None)
            assert item['check_status']['check_type'] is None
        assert data[0]['booking']['id'] == bookings[child]

    # Pricing pages: get_event / get_events by `agenda@event`.
    [event] = ok(lingo(chrono, 'POST', 'api/agendas/events/', {'slots': ['cantine-lingo@repas-0']}))['data']
    assert (event['slug'], event['checked'], event['check_locked']) == ('repas-0', True, True)
    unknown = lingo(chrono, 'POST', 'api/agendas/events/', {'slots': ['cantine-lingo@nope']})
    assert (unknown['err'], unknown['err_desc']) == (1, 'invalid slugs: cantine-lingo@nope')  # Lingo shows it

    # Campaign finalized: mark_events_invoiced; then unlock (a campaign made invalid).
    ok(lingo(chrono, 'POST', '/api/agendas/events/invoiced/', {'invoiced': True, **lock}))
    events = ok(lingo(chrono, 'POST', 'api/agendas/events/', {
        'slots': [f'cantine-lingo@repas-{n}' for n in range(3)]}))['data']
    assert [(e['invoiced'], e['check_locked']) for e in events] == [(True, True)] * 3
    ok(lingo(chrono, 'POST', '/api/agendas/events/check-lock/', {'check_locked': False, **lock}))
    basic(chrono, 'PATCH', f"/api/booking/{bookings['enfant:1']}/", {'user_was_present': True})
