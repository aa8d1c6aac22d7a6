"""Subscriptions (spec chrono-api.md §2.5): GET/POST /api/agenda/<a>/subscription/ and GET/PATCH/DELETE
/api/agenda/<a>/subscription/<id>/, and the subscriptions of an export and an import.

Lingo lists them as its client does (lingo/agendas/chrono.py `get_subscriptions`: the query joined by
hand, `user_external_id=user:1&date_start=...&date_end=...`) and reads `user_external_id`,
`user_first_name`, `user_last_name` of each item of `data`.

Frozen time: 2030-03-01 09:00 in Paris (a Friday).
"""
from __future__ import annotations

import boto3
import pytest

from chalicelib import config, store
from chalicelib.errors import Busy
from chalicelib.services import agent
from chalicelib.store import outbox
from tests.api.test_fillslot import NOW, booked, new_agenda, new_event, refusal

INVALID = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}
OVERLAP = 'another subscription overlapping this period already exists'


@pytest.fixture
def site(api, clock):
    clock(NOW)
    boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
    new_agenda(api, 'cantine', 'Cantine', category='restauration', category_label='Restauration')
    new_agenda(api, 'loisirs', 'Loisirs')
    return api


def subscribe(api, user='enfant:1', start='2030-03-01', end='2030-04-01', agenda='cantine', **fields):
    status, answer = api.post(f'/api/agenda/{agenda}/subscription/', {
        'user_external_id': user, 'date_start': start, 'date_end': end, **fields})
    assert (status, answer['err']) == (200, 0), answer
    return answer['id']


def item(ident, user='enfant:1', start='2030-03-01', end='2030-04-01', **fields):
    return {'id': ident, 'user_external_id': user, 'user_first_name': None, 'user_last_name': None,
            'user_email': None, 'user_phone_number': None, 'date_start': start, 'date_end': end, 'extra_data': None,
            **fields}


def listed(api, query='', agenda='cantine'):
    status, answer = api.get(f'/api/agenda/{agenda}/subscription/{query}')
    assert (status, answer['err']) == (200, 0), answer
    return answer['data']


# ---- CRUD ------------------------------------------------------------------------------------------------

def test_a_subscription_is_created_read_changed_and_deleted(site):
    status, answer = site.post('/api/agenda/cantine/subscription/', {
        'user_external_id': 'enfant:1', 'user_first_name': 'Léa', 'user_last_name': 'Martin',
        'user_email': 'parent@example.org', 'user_phone_number': '0600000000', 'date_start': '2030-03-01',
        'date_end': '2030-07-01', 'extra_data': {'regime': 'sans porc'}, 'classe': 'CP'})
    assert status == 200
    ident = answer['id']
    assert isinstance(ident, int) and not isinstance(ident, bool)
    expected = item(ident, end='2030-07-01', user_first_name='Léa', user_last_name='Martin',
                    user_email='parent@example.org', user_phone_number='0600000000',
                    extra_data={'regime': 'sans porc', 'classe': 'CP'})
    assert answer == {'err': 0, **expected, 'data': expected}
    assert site.get(f'/api/agenda/cantine/subscription/{ident}/') == (200, answer)
    assert listed(site) == [expected]
    status, changed = site.patch(f'/api/agenda/cantine/subscription/{ident}/', {
        'date_end': '2030-05-01', 'user_email': '', 'extra_data': {'allergie': 'arachide'}})
    expected = {**expected, 'date_end': '2030-05-01', 'user_email': None,
                'extra_data': {'regime': 'sans porc', 'classe': 'CP', 'allergie': 'arachide'}}
    assert (status, changed) == (200, {'err': 0, **expected, 'data': expected})
    assert site.get(f'/api/agenda/cantine/subscription/{ident}')[1]['data'] == expected
    assert site.delete(f'/api/agenda/cantine/subscription/{ident}/') == (200, {'err': 0, 'cancelled_bookings': 0})
    assert site.get(f'/api/agenda/cantine/subscription/{ident}/') == (404, refusal(
        'unknown subscription', f'subscription {ident} does not exist in agenda cantine'))
    assert listed(site) == []
    assert site.delete(f'/api/agenda/cantine/subscription/{ident}/')[0] == 404


def test_the_list_gives_what_lingo_asks_for_a_campaign(site):
    """Those of a user, and those sharing a day with [date_start, date_end), sorted by their dates."""
    february = subscribe(site, start='2030-02-01', end='2030-03-01', user_first_name='Léa', user_last_name='Martin')
    march = subscribe(site, start='2030-03-01', end='2030-03-15', user_first_name='Léa', user_last_name='Martin')
    april = subscribe(site, start='2030-04-01', end='2030-05-01')
    other = subscribe(site, user='enfant:2', start='2030-01-01', end='2031-01-01', user_last_name='Durand')
    subscribe(site, agenda='loisirs')
    assert [s['id'] for s in listed(site)] == [other, february, march, april]
    # Lingo's get_subscriptions joins its query by hand: `user:1` is sent as is.
    assert [s['id'] for s in listed(site, '?user_external_id=enfant:1&date_start=2030-03-01&date_end=2030-04-01')] == [
        march]
    assert [s['id'] for s in listed(site, '?date_start=2030-03-01&date_end=2030-04-01')] == [other, march]
    assert [s['id'] for s in listed(site, '?date_end=2030-03-01')] == [other, february]
    assert [s['id'] for s in listed(site, '?date_start=2030-04-30')] == [other, april]
    assert [s['id'] for s in listed(site, '?user_external_id=enfant:3')] == []
    users = {(s['user_external_id'], s['user_first_name'], s['user_last_name'])
             for s in listed(site, '?date_start=2030-03-01&date_end=2030-04-01')}
    assert users == {('enfant:1', 'Léa', 'Martin'), ('enfant:2', None, 'Durand')}


def test_overlapping_subscriptions_of_one_user_to_one_agenda_are_refused(site):
    first = subscribe(site, start='2030-03-01', end='2030-04-01')
    before = listed(site)
    for start, end in (('2030-03-31', '2030-05-01'), ('2030-02-01', '2030-03-02'), ('2030-03-10', '2030-03-11'),
                       ('2029-01-01', '2031-01-01')):
        status, answer = site.post('/api/agenda/cantine/subscription/', {
            'user_external_id': 'enfant:1', 'date_start': start, 'date_end': end})
        assert (status, answer['err'], answer['err_class']) == (400, 1, OVERLAP), (start, end)
        assert str(first) in answer['err_desc']
    assert listed(site) == before
    # Touching is not overlapping (the end is excluded); another user, another agenda: no overlap.
    after = subscribe(site, start='2030-04-01', end='2030-05-01')
    subscribe(site, user='enfant:2')
    subscribe(site, agenda='loisirs')
    status, answer = site.patch(f'/api/agenda/cantine/subscription/{after}/', {'date_start': '2030-03-15'})
    assert (status, answer['err_class']) == (400, OVERLAP)
    assert site.get(f'/api/agenda/cantine/subscription/{after}/')[1]['date_start'] == '2030-04-01'
    # A subscription deleted frees its period.
    assert site.delete(f'/api/agenda/cantine/subscription/{first}/')[1]['err'] == 0
    assert site.patch(f'/api/agenda/cantine/subscription/{after}/', {'date_start': '2030-03-15'})[0] == 200


@pytest.mark.parametrize('body, errors', [
    ({}, {'user_external_id': ['This field is required.'], 'date_start': ['This field is required.'],
          'date_end': ['This field is required.']}),
    ({'user_external_id': 'u', 'date_start': '2030-03-01', 'date_end': '2030-03-01'},
     {'date_end': ['Must be after date_start (the end is excluded).']}),
    ({'user_external_id': 'u', 'date_start': '1/3/2030', 'date_end': '2030-13-01'},
     {'date_start': ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'],
      'date_end': ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.']}),
    ({'user_external_id': 'u' * 251, 'date_start': '2030-03-01', 'date_end': '2030-04-01', 'extra_data': [1]},
     {'user_external_id': ['Ensure this field has no more than 250 characters.'],
      'extra_data': ['Expected a JSON object.']}),
    ({'user_external_id': ['u'], 'user_first_name': {'a': 1}, 'date_start': '2030-03-01', 'date_end': '2030-04-01'},
     {'user_external_id': ['Not a valid string.'], 'user_first_name': ['Not a valid string.']}),
    ({'user_external_id': 'u', 'date_start': '2030-03-01', 'date_end': '2030-04-01', 'extra_data': {'a': 'x' * 33000}},
     {'extra_data': ['Exceeds 32000 bytes.']}),
])
def test_bad_input_on_create_is_a_400_and_stores_nothing(site, body, errors):
    assert site.post('/api/agenda/cantine/subscription/', body) == (400, {**INVALID, 'errors': errors})
    assert listed(site) == []


def test_bad_input_on_change_is_a_400_and_changes_nothing(site):
    ident = subscribe(site)
    before = site.get(f'/api/agenda/cantine/subscription/{ident}/')
    for body, errors in (
        ({'user_external_id': 'enfant:2'},
         {'user_external_id': ['The user of a subscription cannot change: delete it and subscribe the other.']}),
        ({'date_start': ''}, {'date_start': ['This field is required.']}),
        ({'date_end': '2030-02-01'}, {'date_end': ['Must be after date_start (the end is excluded).']}),
        ({'extra_data': 'x'}, {'extra_data': ['Expected a JSON object.']}),
    ):
        assert site.patch(f'/api/agenda/cantine/subscription/{ident}/', body) == (
            400, {**INVALID, 'errors': errors}), body
    assert site.get(f'/api/agenda/cantine/subscription/{ident}/') == before


def test_unknown_agendas_and_subscriptions_are_404(site):
    site.post('/api/agenda/', {'label': 'Rdv', 'slug': 'rdv', 'kind': 'meetings'})
    ident = subscribe(site)
    for method, path in (('GET', '/api/agenda/nope/subscription/'), ('POST', '/api/agenda/nope/subscription/'),
                         ('GET', '/api/agenda/rdv/subscription/'), ('GET', f'/api/agenda/loisirs/subscription/{ident}/'),
                         ('GET', '/api/agenda/cantine/subscription/12/'), ('PATCH', '/api/agenda/cantine/subscription/x/'),
                         ('DELETE', '/api/agenda/cantine/subscription/-1/'),
                         ('GET', f'/api/agenda/cantine/subscription/{"9" * 30}/')):
        status, answer = site.call(method, path, {} if method in ('POST', 'PATCH') else None)
        assert (status, answer['err']) == (404, 1), (method, path, answer)
    assert site.get('/api/agenda/cantine/subscription/?date_start=demain') == (400, {**INVALID, 'errors': {
        'date_start': ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.']}})


# ---- deleting a subscription cancels the user's bookings from then on ---------------------------------------

def test_deleting_a_subscription_cancels_the_users_bookings_of_its_days_to_come_and_nothing_else(site):
    for slug, start in (('passe', '2030-02-26 12:00'), ('lundi', '2030-03-04 12:00'), ('mardi', '2030-03-05 12:00'),
                        ('avril', '2030-04-02 12:00')):
        new_event(site, slug, start, 10, agenda='cantine')
    new_event(site, 'mercredi', '2030-03-06 08:00', 10, agenda='loisirs')
    ident = subscribe(site, start='2030-02-01', end='2030-04-01')
    subscribe(site, agenda='loisirs')
    hooks = {'cancel_callback_url': 'https://wcs.example.org/hooks/cancel/'}
    past = booked(site, 'passe', {'user_external_id': 'enfant:1', 'events': 'past'}, agenda='cantine')['booking_id']
    lundi = booked(site, 'lundi', {'user_external_id': 'enfant:1', **hooks}, agenda='cantine')['booking_id']
    mardi = booked(site, 'mardi', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    group = site.post('/api/agenda/cantine/fillslots/', {'slots': 'mardi,avril', 'user_external_id': 'enfant:1',
                                                         **hooks})[1]['booking_id']
    avril = booked(site, 'avril', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    other_child = booked(site, 'lundi', {'user_external_id': 'enfant:2', **hooks}, agenda='cantine')['booking_id']
    leisure = booked(site, 'mercredi', {'user_external_id': 'enfant:1'}, agenda='loisirs')['booking_id']
    assert site.delete(f'/api/agenda/cantine/subscription/{ident}/') == (200, {'err': 0, 'cancelled_bookings': 3})
    for booking_id in (lundi, mardi):
        assert site.get(f'/api/booking/{booking_id}/') == (200, refusal('booking is cancelled'))
    # The group's March leg is cancelled, its April one (after the subscription) lives on.
    assert site.get(f'/api/booking/{group}/')[1]['event'] == 'avril'
    assert [(leg.event, leg.cancelled) for leg in store.get_legs(group)] == [('mardi', True), ('avril', False)]
    for booking_id in (past, avril, other_child, leisure):
        assert site.get(f'/api/booking/{booking_id}/')[1]['err'] == 0, booking_id
    assert site.get('/api/agenda/cantine/status/lundi/')[1]['places']['reserved'] == 1
    assert site.get('/api/agenda/cantine/status/mardi/')[1]['places']['reserved'] == 0
    # As an agent cancels: each booking that gave a cancel URL gets its callback.
    assert [(c.kind, c.leg, c.url) for c in outbox.booking_callbacks(lundi)] == [
        ('cancel', 0, 'https://wcs.example.org/hooks/cancel/')]
    assert [(c.kind, c.leg) for c in outbox.booking_callbacks(group)] == [('cancel', 0)]
    assert outbox.booking_callbacks(mardi) == outbox.booking_callbacks(other_child) == []


def test_a_deletion_interrupted_is_finished_by_the_same_delete(site, monkeypatch):
    new_event(site, 'lundi', '2030-03-04 12:00', 10, agenda='cantine')
    new_event(site, 'mardi', '2030-03-05 12:00', 10, agenda='cantine')
    ident = subscribe(site)
    first = booked(site, 'lundi', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    second = booked(site, 'mardi', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    real = agent.cancel_leg
    calls = []

    def cancel_then_fail(booking_id, leg, now, orig=None):
        calls.append(booking_id)
        if len(calls) == 2:
            raise Busy('busy', 'the booking keeps changing: try again')
        return real(booking_id, leg, now, orig)
    monkeypatch.setattr(agent, 'cancel_leg', cancel_then_fail)
    assert site.delete(f'/api/agenda/cantine/subscription/{ident}/') == (200, refusal(
        'busy', 'the booking keeps changing: try again'))
    # Ending: no longer listed nor readable, its period free, the first booking cancelled.
    assert listed(site) == []
    assert site.get(f'/api/agenda/cantine/subscription/{ident}/')[0] == 404
    assert site.get(f'/api/booking/{first}/')[1]['err_class'] == 'booking is cancelled'
    assert site.get(f'/api/booking/{second}/')[1]['err'] == 0
    assert site.delete(f'/api/agenda/cantine/subscription/{ident}/') == (200, {'err': 0, 'cancelled_bookings': 1})
    assert site.get(f'/api/booking/{second}/')[1]['err_class'] == 'booking is cancelled'
    assert site.delete(f'/api/agenda/cantine/subscription/{ident}/')[0] == 404


# ---- export and import -------------------------------------------------------------------------------------

def test_the_export_carries_the_subscriptions_and_the_import_brings_them_back(site, export):
    ident = subscribe(site, user_first_name='Léa', extra_data={'classe': 'CP'})
    document = export()
    cantine = next(a for a in document['agendas'] if a['slug'] == 'cantine')
    assert cantine['subscriptions'] == [item(ident, user_first_name='Léa', extra_data={'classe': 'CP'})]
    assert 'subscriptions' not in next(a for a in document['agendas'] if a['slug'] == 'loisirs')
    # Re-importing the export changes nothing.
    assert site.post('/api/import/', document) == (200, {'err': 0, 'data': {'created': [], 'updated': []}})
    assert export() == document
    # A document (from another instance) adds its subscriptions with their ids and replaces those it names.
    cantine['subscriptions'] = [
        item(ident, user_first_name='Léa', end='2030-05-01'),
        item(123456, user='enfant:2', start='2030-09-01', end='2031-07-01'),
        {'user_external_id': 'enfant:3', 'date_start': '2030-03-01', 'date_end': '2030-04-01'},
    ]
    assert site.post('/api/import/', document)[1]['err'] == 0
    found = {s['user_external_id']: s for s in listed(site)}
    assert found['enfant:1'] == item(ident, user_first_name='Léa', end='2030-05-01')
    assert found['enfant:2'] == item(123456, user='enfant:2', start='2030-09-01', end='2031-07-01')
    assert found['enfant:3']['id'] not in (ident, 123456)


def test_an_import_with_bad_or_overlapping_subscriptions_is_refused_before_anything(site, export):
    subscribe(site, user='enfant:1')
    before = export()
    document = {'agendas': [{'slug': 'cantine', 'label': 'Cantine renamed', 'kind': 'events', 'subscriptions': [
        {'user_external_id': 'enfant:1', 'date_start': '2030-03-15', 'date_end': '2030-05-01'},
        {'user_external_id': 'enfant:2', 'date_start': '2030-03-01', 'date_end': '2030-04-01'},
        {'user_external_id': 'enfant:2', 'date_start': '2030-03-31', 'date_end': '2030-04-02'},
        {'id': 'x', 'user_external_id': 'enfant:4', 'date_start': '2030-03-01', 'date_end': '2030-04-01'},
        {'user_external_id': 'enfant:5', 'date_start': '2030-03-01'},
        'nope',
    ]}]}
    assert site.post('/api/import/', document) == (400, {**INVALID, 'errors': {
        'agendas.0.subscriptions.0': ['Overlaps another subscription of this user to this agenda.'],
        'agendas.0.subscriptions.1': ['Overlaps another subscription of this user to this agenda.'],
        'agendas.0.subscriptions.3.id': ['A positive integer (a subscription id).'],
        'agendas.0.subscriptions.4.date_end': ['This field is required.'],
        'agendas.0.subscriptions.5': ['Expected an object.'],
    }})
    assert export() == before


def test_a_subscription_sent_again_with_its_idempotency_key_is_made_once(site):
    body = {'user_external_id': 'enfant:1', 'date_start': '2030-03-01', 'date_end': '2030-04-01'}
    first = site.post('/api/agenda/cantine/subscription/', body, headers={'X-Idempotency-Key': 'inscription-1'})
    again = site.post('/api/agenda/cantine/subscription/', body, headers={'X-Idempotency-Key': 'inscription-1'})
    assert first[0] == again[0] == 200 and first[1]['err'] == 0
    assert again == first
    assert [s['id'] for s in listed(site)] == [first[1]['id']]
