"""`subscribed=` on the multi-agenda routes (spec chrono-api.md §5.7, §6.4, §6.5): a family portal lists
and books "my children's activities": the agendas are those the user is subscribed to (all, or of some
categories), and only events starting inside the subscriptions' dates are listed or booked. With
`with_status`, each listed event says the user's booking status there; `guardian_external_id` is read
(shared custody: no custody calendars here, every day is each guardian's).

Frozen time: 2030-03-01 09:00 in Paris (a Friday); the window runs 2030-03-02 to 2030-04-26.
"""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from chalicelib.services import bulk_booking
from chalicelib.services import subscriptions as subscription_service
from tests.api.test_fillslot import NOW, PARIS, booked, new_agenda, new_event, refusal
from tests.api.test_subscriptions import subscribe

INVALID = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}


@pytest.fixture
def site(api, clock):
    clock(NOW)
    new_agenda(api, 'cantine', 'Cantine', category='restauration', category_label='Restauration')
    new_agenda(api, 'loisirs', 'Loisirs', category='loisirs', category_label='Loisirs')
    new_agenda(api, 'piscine', 'Piscine')
    for day, slug in ((4, 'lundi'), (5, 'mardi'), (6, 'mercredi'), (7, 'jeudi')):
        new_event(api, slug, f'2030-03-{day:02d} 12:00', 10, agenda='cantine')
    new_event(api, 'mercredi-06', '2030-03-06 08:00', 10, agenda='loisirs')
    new_event(api, 'mercredi-13', '2030-03-13 08:00', 10, agenda='loisirs')
    new_event(api, 'samedi', '2030-03-09 10:00', 10, agenda='piscine')
    status, answer = api.post('/api/agenda/loisirs/event/', {
        'slug': 'atelier', 'label': 'Atelier', 'start_datetime': '2030-03-05 14:00', 'places': 5,
        'recurrence_days': '1', 'recurrence_end_date': '2030-04-01'})
    assert (status, answer['err']) == (200, 0), answer
    status, answer = api.post('/api/agenda/piscine/event/', {
        'slug': 'bebes-nageurs', 'label': 'Bébés nageurs', 'start_datetime': '2030-03-09 09:00', 'places': 5,
        'recurrence_days': '5', 'recurrence_end_date': '2030-04-01'})
    assert (status, answer['err']) == (200, 0), answer
    # enfant:1 eats at the canteen on Monday and Tuesday only, goes to the leisure centre all March.
    subscribe(api, 'enfant:1', '2030-03-01', '2030-03-06', agenda='cantine')
    subscribe(api, 'enfant:1', '2030-03-01', '2030-04-01', agenda='loisirs')
    subscribe(api, 'enfant:2', '2030-03-01', '2030-04-01', agenda='piscine')
    return api


def datetimes(api, **query):
    status, answer = api.get(f'/api/agendas/datetimes/?{urlencode(query)}')
    assert (status, answer['err']) == (200, 0), answer
    return answer['data']


LEISURE = ['loisirs@atelier--2030-03-05-1400', 'loisirs@mercredi-06', 'loisirs@atelier--2030-03-12-1400',
           'loisirs@mercredi-13', 'loisirs@atelier--2030-03-19-1400', 'loisirs@atelier--2030-03-26-1400']


def test_subscribed_all_lists_exactly_the_subscribed_agendas_events_inside_the_subscriptions(site):
    assert [i['id'] for i in datetimes(site, subscribed='all', user_external_id='enfant:1')] == [
        'cantine@lundi', 'cantine@mardi', *LEISURE]
    assert [i['id'] for i in datetimes(site, subscribed='restauration', user_external_id='enfant:1')] == [
        'cantine@lundi', 'cantine@mardi']
    assert [i['id'] for i in datetimes(site, subscribed='loisirs,sport', user_external_id='enfant:1')] == LEISURE
    assert [i['id'] for i in datetimes(site, subscribed='all', user_external_id='enfant:2')] == [
        'piscine@bebes-nageurs--2030-03-09-0900', 'piscine@samedi', 'piscine@bebes-nageurs--2030-03-16-0900',
        'piscine@bebes-nageurs--2030-03-23-0900', 'piscine@bebes-nageurs--2030-03-30-0900']
    assert datetimes(site, subscribed='all', user_external_id='enfant:3') == []
    # The usual parameters still apply: dates narrow, guardian_external_id is read.
    assert [i['id'] for i in datetimes(site, subscribed='all', user_external_id='enfant:1', date_start='2030-03-06',
                                       date_end='2030-03-13', guardian_external_id='parent:1')] == [
        'loisirs@mercredi-06', 'loisirs@atelier--2030-03-12-1400']


def test_with_status_says_the_users_booking_status_per_event(site):
    booked(site, 'lundi', {'user_external_id': 'enfant:1'}, agenda='cantine')
    cancelled = booked(site, 'mardi', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    assert site.post(f'/api/booking/{cancelled}/cancel/', {})[1]['err'] == 0
    site.patch('/api/agenda/loisirs/event/mercredi-06/', {'places': 1, 'waiting_list_places': 2})
    booked(site, 'mercredi-06', {'user_external_id': 'enfant:9'}, agenda='loisirs')
    assert booked(site, 'mercredi-06', {'user_external_id': 'enfant:1'}, agenda='loisirs')['in_waiting_list']
    data = datetimes(site, subscribed='all', user_external_id='enfant:1', with_status='true', date_end='2030-03-07')
    assert [(i['id'], i['status'], i['booked_for_external_user']) for i in data] == [
        ('cantine@lundi', 'booked', True), ('cantine@mardi', 'cancelled', False),
        ('loisirs@atelier--2030-03-05-1400', 'not-booked', False), ('loisirs@mercredi-06', 'waiting-list', True)]
    plain = datetimes(site, agendas='cantine', user_external_id='enfant:1')
    assert 'status' not in plain[0]


@pytest.mark.parametrize('query, errors', [
    ({'subscribed': 'all'}, {'user_external_id': ['Required with subscribed.']}),
    ({'subscribed': 'all', 'agendas': 'cantine', 'user_external_id': 'u'},
     {'subscribed': ['Give either agendas or subscribed, not both.']}),
    ({'subscribed': 'all,loisirs', 'user_external_id': 'u'}, {'subscribed': ['"all" or category slugs.']}),
    ({'agendas': 'cantine', 'with_status': 'true'}, {'with_status': ['Requires user_external_id.']}),
    ({'agendas': 'cantine', 'guardian_external_id': 'g' * 251},
     {'guardian_external_id': ['Ensure this field has no more than 250 characters.']}),
    ({'subscribed': 'all', 'user_external_id': 'u' * 251},
     {'user_external_id': ['Ensure this field has no more than 250 characters.']}),
])
def test_bad_subscribed_queries_are_400(site, query, errors):
    assert site.get(f'/api/agendas/datetimes/?{urlencode(query)}') == (400, {**INVALID, 'errors': errors})


# ---- booking through subscribed= -------------------------------------------------------------------------

def fillslots(api, body, **query):
    return api.post(f'/api/agendas/events/fillslots/?{urlencode(query or {"subscribed": "all"})}', body)


def live(api, user):
    status, answer = api.get(f'/api/bookings/?user_external_id={user}')
    assert status == 200, answer
    return sorted(f"{b['agenda']['slug']}@{b['event']['slug']}" for b in answer['data'])


def test_subscribed_fillslots_books_inside_the_subscriptions_and_refuses_outside(site):
    status, answer = fillslots(site, {'user_external_id': 'enfant:1', 'slots': 'cantine@lundi,loisirs@mercredi-06'})
    assert (status, answer['err'], answer['booking_count']) == (200, 0, 2)
    assert live(site, 'enfant:1') == ['cantine@lundi', 'loisirs@mercredi-06']
    for slot in ('cantine@mercredi', 'piscine@samedi', 'cantine@nope'):
        assert fillslots(site, {'user_external_id': 'enfant:1', 'slots': ['cantine@mardi', slot]}) == (
            400, refusal(f'invalid slugs: {slot}')), slot
    assert live(site, 'enfant:1') == ['cantine@lundi', 'loisirs@mercredi-06']
    # By category: the canteen only.
    status, answer = fillslots(site, {'user_external_id': 'enfant:1', 'slots': ['cantine@lundi', 'cantine@mardi']},
                               subscribed='restauration')
    assert (answer['booking_count'], answer['cancelled_booking_count']) == (1, 0)


def test_subscribed_fillslots_cancels_only_inside_the_subscriptions(site):
    thursday = booked(site, 'jeudi', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    swim = booked(site, 'samedi', {'user_external_id': 'enfant:1'}, agenda='piscine')['booking_id']
    assert fillslots(site, {'user_external_id': 'enfant:1', 'slots': 'cantine@lundi,loisirs@mercredi-13'})[1][
        'booking_count'] == 2
    status, answer = fillslots(site, {'user_external_id': 'enfant:1', 'slots': ''})
    assert (status, answer['booking_count'], answer['cancelled_booking_count']) == (200, 0, 2)
    assert live(site, 'enfant:1') == ['cantine@jeudi', 'piscine@samedi']  # outside any subscription: kept
    assert {thursday, swim} == {b['id'] for b in site.get('/api/bookings/?user_external_id=enfant:1')[1]['data']}


def test_subscribed_fillslots_reads_its_user_in_the_body(site):
    assert fillslots(site, {'user_external_id': 'enfant:1', 'slots': 'cantine@lundi'},
                     subscribed='all', user_external_id='enfant:2') == (
        400, {**INVALID, 'errors': {'user_external_id': ['Not the user of the body.']}})
    assert fillslots(site, {'slots': 'cantine@lundi'}) == (
        400, {**INVALID, 'errors': {'user_external_id': ['Required with subscribed.']}})
    status, answer = fillslots(site, {'user_external_id': 'enfant:3', 'slots': ''})  # subscribed to nothing
    assert (status, answer['booking_count'], answer['cancelled_booking_count']) == (200, 0, 0)
    assert fillslots(site, {'user_external_id': 'enfant:3', 'slots': 'cantine@lundi'}) == (
        400, refusal('invalid slugs: cantine@lundi'))
    assert live(site, 'enfant:1') == live(site, 'enfant:3') == []


@pytest.mark.parametrize('change', ['delete', 'patch'])
def test_a_subscription_changed_after_the_read_refuses_the_booking(site, monkeypatch, change):
    """The booking's transaction checks the user's subscription periods it read: deleted or changed
    meanwhile, nothing is booked (`busy`: the call may be sent again)."""
    ident = subscribe(site, 'enfant:4', '2030-03-01', '2030-04-01', agenda='cantine')
    real = bulk_booking.read_scope

    def read_then_change(query, tz, user=None):
        scope = real(query, tz, user)
        if change == 'delete':
            subscription_service.delete_subscription('cantine', str(ident), NOW, PARIS, None)
        else:
            subscription_service.update_subscription('cantine', str(ident), _payload({'user_first_name': 'Léo'}))
        return scope
    monkeypatch.setattr(bulk_booking, 'read_scope', read_then_change)
    assert fillslots(site, {'user_external_id': 'enfant:4', 'slots': 'cantine@lundi'}) == (
        200, refusal('busy', "the user's subscriptions changed meanwhile: try again"))
    assert live(site, 'enfant:4') == []
    assert site.get('/api/agenda/cantine/status/lundi/')[1]['places']['reserved'] == 0


def _payload(data):
    from chalicelib.parsing import Payload
    return Payload(data)


# ---- recurring events ----------------------------------------------------------------------------------

def test_recurring_events_and_their_fillslots_follow_the_subscriptions(site):
    status, answer = site.get('/api/agendas/recurring-events/?subscribed=all&user_external_id=enfant:1')
    assert (status, [i['id'] for i in answer['data']]) == (200, ['loisirs@atelier:1'])
    status, answer = site.get('/api/agendas/recurring-events/?subscribed=all&user_external_id=enfant:2')
    assert [i['id'] for i in answer['data']] == ['piscine@bebes-nageurs:5']
    # The leisure subscription ends mid-March: only the Tuesdays before are booked.
    ident = site.get('/api/agenda/loisirs/subscription/?user_external_id=enfant:1')[1]['data'][0]['id']
    assert site.patch(f'/api/agenda/loisirs/subscription/{ident}/', {'date_end': '2030-03-15'})[0] == 200
    status, answer = site.post('/api/agendas/recurring-events/fillslots/?subscribed=all&action=book', {
        'user_external_id': 'enfant:1', 'slots': 'loisirs@atelier:1'})
    assert (status, answer['err'], answer['booking_count']) == (200, 0, 2)
    assert live(site, 'enfant:1') == ['loisirs@atelier--2030-03-05-1400', 'loisirs@atelier--2030-03-12-1400']
    assert site.post('/api/agendas/recurring-events/fillslots/?subscribed=all&action=book', {
        'user_external_id': 'enfant:1', 'slots': 'piscine@bebes-nageurs:5'}) == (
        400, refusal('invalid slugs: piscine@bebes-nageurs:5'))
    assert site.get('/api/agendas/recurring-events/?subscribed=all') == (
        400, {**INVALID, 'errors': {'user_external_id': ['Required with subscribed.']}})
