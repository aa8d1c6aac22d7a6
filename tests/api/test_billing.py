"""Billing (Lingo, spec chrono-api.md §7.5): POST /api/agendas/events/, .../check-lock/, .../invoiced/ and
.../check-status/, sent as Lingo's client sends them (lingo/agendas/chrono.py of the public snapshot:
JSON bodies, `agendas` comma-joined, dates `YYYY-MM-DD`) and read as Lingo reads them (`data`, `err`,
`err_desc`; an event's `agenda`, `slug`, `label`, `start_datetime` ISO, `primary_event`; a status's
`status`, `check_type`, `error_reason`; a booking's `computed_duration` and `adjusted_duration`).

Frozen time: 2030-03-01 09:00 in Paris (a Friday); the default window runs 2030-03-02 to 2030-04-26.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.store.models import Event, agenda_pk
from tests.api.test_fillslot import BASE, NOW, booked, new_agenda, new_event, refusal
from tests.faults import install

INVALID = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}
LOCKED = {'err': 6, 'err_class': 'event is locked', 'err_desc': 'attendance of event {} is locked'}
MARCH = {'agendas': 'cantine,loisirs', 'date_start': '2030-03-01', 'date_end': '2030-04-01'}


@pytest.fixture
def site(api, clock):
    """A canteen (Monday to Thursday lunches of the first week of March, and one in April) and a leisure
    centre (a Wednesday, and a weekly primary on Wednesdays with its occurrences)."""
    clock(NOW)
    new_agenda(api, 'cantine', 'Cantine', category='restauration', category_label='Restauration')
    new_agenda(api, 'loisirs', 'Centre de loisirs')
    for day in (4, 5, 6, 7):
        new_event(api, f'repas-{day:02d}', f'2030-03-{day:02d} 12:00', 30, agenda='cantine', label='Repas',
                  duration='60')
    new_event(api, 'repas-avril', '2030-04-01 12:00', 30, agenda='cantine', label='Repas')
    new_event(api, 'mercredi', '2030-03-06 08:00', 10, agenda='loisirs', label='Mercredi')
    status, answer = api.post('/api/agenda/loisirs/event/', {
        'slug': 'atelier', 'label': 'Atelier', 'start_datetime': '2030-03-13 14:00', 'places': 5,
        'recurrence_days': '2', 'recurrence_end_date': '2030-03-28'})
    assert (status, answer['err']) == (200, 0), answer
    return api


def lingo_event(agenda, slug, start, iso, label, agenda_label, total=30, primary=None, duration=None, end='',
                recurrence=(None, None, None), **changes):
    """An event of POST /api/agendas/events/ (and of check-status), as rendered, for an event of the window."""
    url = f'{BASE}/api/agenda/{agenda}'
    item = {
        'id': f'{agenda}@{slug}', 'slug': slug, 'text': label, 'label': label, 'date': start[:10],
        'datetime': start, 'end_datetime': end, 'description': None, 'pricing': None, 'url': None,
        'disabled': False, 'checked': False, 'check_locked': False, 'invoiced': False, 'cancelled': False,
        'places': {'total': total, 'reserved': 0, 'available': total, 'full': False, 'has_waiting_list': False},
        'api': {'bookings_url': f'{url}/bookings/{slug}/', 'fillslot_url': f'{url}/fillslot/{slug}/',
                'status_url': f'{url}/status/{slug}/', 'check_url': f'{url}/check/{slug}/'},
        'start_datetime': iso, 'duration': duration, 'waiting_list_places': 0, 'publication_datetime': None,
        'recurrence_days': recurrence[0], 'recurrence_week_interval': recurrence[1],
        'recurrence_end_date': recurrence[2], 'primary_event': primary, 'agenda': agenda,
        'agenda_slug': agenda, 'agenda_label': agenda_label,
    }
    item.update(changes)
    return item


def details(api, slots):
    return api.post('/api/agendas/events/', {'slots': slots})


def flags(api, agenda, slug):
    status, answer = api.get(f'/api/agenda/{agenda}/event/{slug}/')
    assert status == 200, answer
    return answer['data']['check_locked'], answer['data']['invoiced']


def all_flags(api):
    """(check_locked, invoiced) of every event, read from the table."""
    return {(item.pk[len('AGENDA#'):], item.sk[len('event#'):]): (bool(item.check_locked), bool(item.invoiced))
            for agenda in ('cantine', 'loisirs') for item in Event.query(agenda_pk(agenda), Event.sk.startswith('event#'))}


# ---- the agenda list (Lingo's agenda sync) -----------------------------------------------------------------

def test_the_agenda_list_keeps_every_key_lingos_agenda_sync_reads(site):
    """lingo/agendas/chrono.py `collect_agenda_data`: `kind` of every item (it keeps `events`), then `slug`,
    `text`, `category`, `category_label` indexed, `partial_bookings` with .get."""
    site.post('/api/agenda/', {'label': 'Rdv', 'slug': 'rdv', 'kind': 'meetings'})
    site.post('/api/agenda/', {'label': 'Crèche', 'slug': 'creche', 'partial_bookings': True, 'category': 'petite',
                               'category_label': 'Petite enfance'})
    status, answer = site.get('/api/agenda/')
    assert status == 200
    assert {item['slug']: item['kind'] for item in answer['data']} == {
        'cantine': 'events', 'loisirs': 'events', 'rdv': 'meetings', 'creche': 'events'}
    synced = sorted((item['slug'], item['text'], item['category'], item['category_label'], item['partial_bookings'])
                    for item in answer['data'] if item['kind'] == 'events')
    assert synced == [('cantine', 'Cantine', 'restauration', 'Restauration', False),
                      ('creche', 'Crèche', 'petite', 'Petite enfance', True),
                      ('loisirs', 'Centre de loisirs', None, None, False)]
    # `q` as Lingo sends it for one agenda.
    assert [item['slug'] for item in site.get('/api/agenda/?q=creche')[1]['data']] == ['creche']


# ---- POST /api/agendas/events/ ------------------------------------------------------------------------

def test_event_details_come_in_the_order_asked_with_the_keys_lingo_reads(site):
    status, answer = details(site, ['loisirs@mercredi', 'cantine@repas-04', 'loisirs@atelier--2030-03-13-1400',
                                    'loisirs@atelier:2030-03-20-1400', 'loisirs@atelier'])
    assert status == 200
    assert [item['id'] for item in answer['data']] == [
        'loisirs@mercredi', 'cantine@repas-04', 'loisirs@atelier--2030-03-13-1400',
        'loisirs@atelier--2030-03-20-1400', 'loisirs@atelier']
    assert answer == {'err': 0, 'data': [
        lingo_event('loisirs', 'mercredi', '2030-03-06 08:00:00', '2030-03-06T08:00:00+01:00', 'Mercredi',
                    'Centre de loisirs', total=10),
        lingo_event('cantine', 'repas-04', '2030-03-04 12:00:00', '2030-03-04T12:00:00+01:00', 'Repas', 'Cantine',
                    duration=60, end='2030-03-04 13:00:00'),
        lingo_event('loisirs', 'atelier--2030-03-13-1400', '2030-03-13 14:00:00', '2030-03-13T14:00:00+01:00',
                    'Atelier', 'Centre de loisirs', total=5, primary='atelier'),
        lingo_event('loisirs', 'atelier--2030-03-20-1400', '2030-03-20 14:00:00', '2030-03-20T14:00:00+01:00',
                    'Atelier', 'Centre de loisirs', total=5, primary='atelier'),
        lingo_event('loisirs', 'atelier', '2030-03-13 14:00:00', '2030-03-13T14:00:00+01:00', 'Atelier',
                    'Centre de loisirs', total=5, recurrence=([2], None, '2030-03-28'), disabled=True),
    ]}
    # What Lingo does with them: the date of the event, and the primary of an occurrence.
    first = answer['data'][2]
    assert datetime.fromisoformat(first['start_datetime']).date().isoformat() == '2030-03-13'
    assert (first['agenda'], first['slug'], first['label'], first['primary_event']) == (
        'loisirs', 'atelier--2030-03-13-1400', 'Atelier', 'atelier')
    primary = answer['data'][4]
    assert primary['recurrence_days'] and primary['primary_event'] is None  # Lingo prices a primary as such


def test_one_slot_asked_twice_comes_once_and_a_single_event_is_a_list_of_one(site):
    assert [i['id'] for i in details(site, ['cantine@repas-05', 'cantine@repas-05'])[1]['data']] == [
        'cantine@repas-05']
    status, answer = site.post('/api/agendas/events/', {'slots': 'cantine@repas-05,loisirs@mercredi'})
    assert (status, [i['id'] for i in answer['data']]) == (200, ['cantine@repas-05', 'loisirs@mercredi'])


def test_an_unknown_slot_refuses_the_call_naming_it(site):
    slots = ['cantine@repas-04', 'cantine@nope', 'nope', 'inconnu@repas-04', 'cantine@repas:2030-03-04-1200']
    assert details(site, slots) == (400, refusal(
        'invalid slugs: cantine@nope, nope, inconnu@repas-04, cantine@repas:2030-03-04-1200'))
    # Lingo shows `err_desc`: "Unable to get events details (invalid slugs: ...)".


@pytest.mark.parametrize('body, errors', [
    ({}, {'slots': ['This field is required.']}),
    ({'slots': []}, {'slots': ['This field is required.']}),
    ({'slots': ''}, {'slots': ['This field is required.']}),
    ({'slots': 12}, {'slots': ['Expected a list of items or a comma-separated string.']}),
    ({'slots': [{'a': 1}]}, {'slots': ['Expected a list of strings.']}),
    ({'slots': [f'cantine@e{n}' for n in range(1001)]}, {'slots': ['Ensure this list has no more than 1000 slots.']}),
])
def test_bad_input_on_event_details_is_a_400(site, body, errors):
    assert site.post('/api/agendas/events/', body) == (400, {**INVALID, 'errors': errors})


# ---- check-lock and invoiced ------------------------------------------------------------------------------

def lock(api, value=True, **period):
    return api.post('/api/agendas/events/check-lock/', {'check_locked': value, **MARCH, **period})


def test_check_lock_locks_exactly_the_period_and_is_idempotent(site):
    before = all_flags(site)
    assert lock(site, date_start='2030-03-05', date_end='2030-03-07') == (200, {'err': 0})
    locked = {key for key, (is_locked, _) in all_flags(site).items() if is_locked}
    assert locked == {('cantine', 'repas-05'), ('cantine', 'repas-06'), ('loisirs', 'mercredi')}
    after = all_flags(site)
    assert lock(site, date_start='2030-03-05', date_end='2030-03-07') == (200, {'err': 0})
    assert all_flags(site) == after
    assert lock(site, False, date_start='2030-03-01', date_end='2030-04-02') == (200, {'err': 0})
    assert all_flags(site) == before


def test_a_locked_event_refuses_attendance_changes_and_unlock_allows_them_again(site):
    booking_id = booked(site, 'repas-04', {'user_external_id': 'enfant:1'}, agenda='cantine')['booking_id']
    assert lock(site) == (200, {'err': 0})
    assert site.patch(f'/api/booking/{booking_id}/', {'user_was_present': True}) == (
        200, {**LOCKED, 'err_desc': LOCKED['err_desc'].format('repas-04')})
    assert site.post('/api/agenda/cantine/check/repas-04/', {}) == (
        200, {**LOCKED, 'err_desc': LOCKED['err_desc'].format('repas-04')})
    status, data = site.get(f'/api/booking/{booking_id}/')
    assert data['user_was_present'] is None
    assert site.get('/api/agenda/cantine/event/repas-04/')[1]['data']['checked'] is False
    # A change that is not attendance still goes through.
    assert site.patch(f'/api/booking/{booking_id}/', {'note': 'allergie'}) == (200, {'err': 0, 'booking_id': booking_id})
    assert lock(site, False) == (200, {'err': 0})
    assert site.patch(f'/api/booking/{booking_id}/', {'user_was_present': True}) == (
        200, {'err': 0, 'booking_id': booking_id})
    assert site.post('/api/agenda/cantine/check/repas-04/', {}) == (200, {'err': 0, 'checked': True, 'callbacks': 0})
    assert site.get(f'/api/booking/{booking_id}/')[1]['user_was_present'] is True


def test_invoiced_shows_in_the_listings_and_can_be_taken_back(site):
    assert site.post('/api/agendas/events/invoiced/', {'invoiced': True, 'agendas': 'cantine',
                                                       'date_start': '2030-03-04', 'date_end': '2030-03-06'}) == (
        200, {'err': 0})
    listing = site.get('/api/agenda/cantine/datetimes/')[1]['data']
    assert [(item['id'], item['invoiced']) for item in listing] == [
        ('repas-04', True), ('repas-05', True), ('repas-06', False), ('repas-07', False), ('repas-avril', False)]
    assert site.get('/api/agenda/cantine/status/repas-05/')[1]['invoiced'] is True
    assert details(site, ['cantine@repas-04'])[1]['data'][0]['invoiced'] is True
    assert site.post('/api/agendas/events/invoiced/', {'invoiced': 'false', 'agendas': ['cantine'],
                                                       'date_start': '2030-03-01', 'date_end': '2030-04-01'}) == (
        200, {'err': 0})
    assert not any(invoiced for _, invoiced in all_flags(site).values())


@pytest.mark.parametrize('route, flag', [('check-lock', 'check_locked'), ('invoiced', 'invoiced')])
@pytest.mark.parametrize('body, errors', [
    ({}, {'agendas': ['This field is required.'], 'date_start': ['This field is required.'],
          'date_end': ['This field is required.'], '{flag}': ['This field is required.']}),
    ({'{flag}': 'maybe', 'agendas': 'cantine', 'date_start': '2030-03-01', 'date_end': '2030-03-01'},
     {'{flag}': ['Must be a valid boolean.'], 'date_end': ['Must be after date_start (the end is excluded).']}),
    ({'{flag}': True, 'agendas': 'cantine', 'date_start': '01/03/2030', 'date_end': '2030-04-01'},
     {'date_start': ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.']}),
    ({'{flag}': True, 'agendas': 'cantine,nope,x y', 'date_start': '2030-03-01', 'date_end': '2030-04-01'},
     {'agendas': ['Unknown events agendas: nope, x y.']}),
    ({'{flag}': True, 'agendas': {'a': 1}, 'date_start': '2030-03-01', 'date_end': '2030-04-01'},
     {'agendas': ['Expected a list of items or a comma-separated string.']}),
])
def test_bad_input_on_check_lock_and_invoiced_is_a_400_and_changes_nothing(site, route, flag, body, errors):
    before = all_flags(site)
    body = {key.replace('{flag}', flag): value for key, value in body.items()}
    errors = {key.replace('{flag}', flag): value for key, value in errors.items()}
    assert site.post(f'/api/agendas/events/{route}/', body) == (400, {**INVALID, 'errors': errors})
    assert all_flags(site) == before


def test_a_meetings_agenda_is_not_an_events_agenda_here(site):
    site.post('/api/agenda/', {'label': 'Rdv', 'slug': 'rdv', 'kind': 'meetings'})
    assert lock(site, agendas='rdv', date_start='2030-03-01', date_end='2030-04-01') == (
        400, {**INVALID, 'errors': {'agendas': ['Unknown events agendas: rdv.']}})


@pytest.fixture
def many(api, clock):
    """130 events in March: two transactions of 100 and 30."""
    clock(NOW)
    new_agenda(api, 'cantine', 'Cantine')
    events = [{'slug': f'r{n:03d}', 'start_datetime': f'2030-03-{1 + n % 28:02d} {8 + n // 28:02d}:00',
               'places': 5} for n in range(130)]
    status, answer = api.post('/api/import/', {'agendas': [{'slug': 'cantine', 'label': 'Cantine', 'kind': 'events',
                                                            'events': events}]})
    assert (status, answer['err']) == (200, 0), answer
    return api


def locked_count():
    return sum(bool(item.check_locked) for item in Event.query(agenda_pk('cantine'), Event.sk.startswith('event#')))


def test_a_lock_over_many_events_is_written_in_batches_all_of_them(many, monkeypatch):
    faults = install(monkeypatch)
    assert lock(many, agendas='cantine') == (200, {'err': 0})
    assert locked_count() == 130
    assert faults.attempts['TransactWriteItems'] == 2


def test_a_batch_that_cannot_be_written_undoes_the_others_and_says_so(many, monkeypatch):
    faults = install(monkeypatch)
    passes = lambda endpoint, send, request, model, context: send(endpoint, request, model, context)  # noqa: E731
    faults.plan['TransactWriteItems'].append(passes)  # the first batch of 100 is written
    faults.cancel('TransactWriteItems', 8)  # the second meets contention on every attempt
    assert lock(many, agendas='cantine') == (200, refusal(
        'busy', 'too many simultaneous changes on the same places: try again'))
    assert locked_count() == 0  # the first batch was undone: nothing half-done
    assert lock(many, agendas='cantine') == (200, {'err': 0})  # the same call again completes it
    assert locked_count() == 130


def test_an_event_deleted_during_the_lock_is_read_again(many, monkeypatch):
    """The second batch finds an event gone (deleted after the read): everything is undone, the period read
    again, and the lock written on what exists."""
    faults = install(monkeypatch)
    passes = lambda endpoint, send, request, model, context: send(endpoint, request, model, context)  # noqa: E731

    def delete_then_send(endpoint, send, request, model, context):
        Event(agenda_pk('cantine'), 'event#r111').delete()  # the last of March 28: in the second batch
        return send(endpoint, request, model, context)
    faults.plan['TransactWriteItems'] += [passes, delete_then_send]
    assert lock(many, agendas='cantine') == (200, {'err': 0})
    assert locked_count() == 129


# ---- check-status -------------------------------------------------------------------------------------

def check_status(api, user='enfant:1', agendas=('cantine', 'loisirs'), start='2030-03-01', end='2030-04-01'):
    """What Lingo's get_check_status sends; the answer's `data`."""
    status, answer = api.post('/api/agendas/events/check-status/', {
        'user_external_id': user, 'agendas': ','.join(agendas), 'date_start': start, 'date_end': end})
    assert (status, answer['err']) == (200, 0), answer
    return answer['data']


def summary(data):
    """(event id, status, check_type, error_reason, booking id or None) of each item."""
    return [(item['event']['id'], item['check_status']['status'], item['check_status']['check_type'],
             item['check_status']['error_reason'], item['booking'].get('id')) for item in data]


def present(api, booking_id, value=True, **fields):
    answer = api.patch(f'/api/booking/{booking_id}/', {'user_was_present': value, **fields})
    assert answer == (200, {'err': 0, 'booking_id': booking_id}), answer


def book(api, agenda, event, user='enfant:1', **fields):
    return booked(api, event, {'user_external_id': user, **fields}, agenda=agenda)['booking_id']


def test_check_status_gives_every_event_of_the_period_with_the_users_status(site):
    b04 = book(site, 'cantine', 'repas-04', user_first_name='Léa', extra_data_payer='parent:7')
    b05 = book(site, 'cantine', 'repas-05')
    b06 = book(site, 'cantine', 'repas-06')
    b07 = book(site, 'cantine', 'repas-07')
    mercredi = book(site, 'loisirs', 'mercredi')
    assert site.post(f'/api/booking/{mercredi}/cancel/', {})[1]['err'] == 0
    twice = [book(site, 'loisirs', 'atelier--2030-03-20-1400') for _ in range(2)]
    book(site, 'cantine', 'repas-04', user='enfant:2')  # another child: not in this one's statuses
    present(site, b04)
    present(site, b05, False, user_check_type_slug='malade', user_check_type_label='Malade')
    present(site, b07, None)
    for event in ('repas-04', 'repas-05', 'repas-07'):
        assert site.post(f'/api/agenda/cantine/check/{event}/', {})[1]['err'] == 0
    data = check_status(site)
    assert summary(data) == [
        ('cantine@repas-04', 'presence', None, None, b04),
        ('cantine@repas-05', 'absence', 'malade', None, b05),
        ('loisirs@mercredi', 'cancelled', None, None, mercredi),  # 08:00, before the lunch of that day
        ('cantine@repas-06', 'error', None, 'event-not-checked', b06),
        ('cantine@repas-07', 'error', None, 'booking-not-checked', b07),
        ('loisirs@atelier--2030-03-13-1400', 'not-booked', None, None, None),
        ('loisirs@atelier--2030-03-20-1400', 'error', None, 'too-many-bookings-found', None),
        ('loisirs@atelier--2030-03-27-1400', 'not-booked', None, None, None),
    ]
    assert twice[0] != twice[1]
    first = data[0]
    assert first['event'] == lingo_event('cantine', 'repas-04', '2030-03-04 12:00:00', '2030-03-04T12:00:00+01:00',
                                         'Repas', 'Cantine', duration=60, end='2030-03-04 13:00:00', checked=True,
                                         places={'total': 30, 'reserved': 2, 'available': 28, 'full': False,
                                                 'has_waiting_list': False})
    assert first['check_status'] == {'status': 'presence', 'check_type': None, 'error_reason': None}
    created = first['booking']['creation_datetime']
    assert first['booking'] == {
        'booking_id': b04, 'id': b04, 'in_waiting_list': False, 'user_was_present': True, 'user_absence_reason': '',
        'user_check_type_slug': None, 'user_check_type_label': None, 'extra_data': {'extra_data_payer': 'parent:7'},
        'count': 1, 'label': None, 'user_first_name': 'Léa', 'user_last_name': None, 'user_external_id': 'enfant:1',
        'creation_datetime': created, 'cancellation_datetime': None}
    assert created == '2030-03-01 09:00:00'
    assert data[2]['booking']['cancellation_datetime'] == '2030-03-01 09:00:00'
    assert data[5]['booking'] == {}
    # A period of one agenda, one day: only its events (the day Lingo replays one line on).
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-05', end='2030-03-06')) == [
        ('cantine@repas-05', 'absence', 'malade', None, b05)]


def test_a_waiting_list_booking_is_not_booked(site):
    site.patch('/api/agenda/loisirs/event/mercredi/', {'places': 1, 'waiting_list_places': 2})
    book(site, 'loisirs', 'mercredi', user='enfant:2')
    waiting = booked(site, 'mercredi', {'user_external_id': 'enfant:1'}, agenda='loisirs')
    assert waiting['in_waiting_list'] is True
    assert summary(check_status(site, agendas=('loisirs',), start='2030-03-06', end='2030-03-07')) == [
        ('loisirs@mercredi', 'not-booked', None, None, None)]


def test_check_status_is_the_truth_right_after_a_booking_and_a_check(site):
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-04', end='2030-03-05')) == [
        ('cantine@repas-04', 'not-booked', None, None, None)]
    booking_id = book(site, 'cantine', 'repas-04')
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-04', end='2030-03-05')) == [
        ('cantine@repas-04', 'error', None, 'event-not-checked', booking_id)]
    assert site.post('/api/agenda/cantine/check/repas-04/', {})[1]['err'] == 0
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-04', end='2030-03-05')) == [
        ('cantine@repas-04', 'error', None, 'booking-not-checked', booking_id)]
    present(site, booking_id, False)
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-04', end='2030-03-05')) == [
        ('cantine@repas-04', 'absence', None, None, booking_id)]
    assert site.post(f'/api/booking/{booking_id}/cancel/', {})[1]['err'] == 0
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-04', end='2030-03-05')) == [
        ('cantine@repas-04', 'cancelled', None, None, booking_id)]


class LaggingUserIndex:
    """The user index (gsi1, eventually consistent on AWS) leaves `hidden` bookings out of its first `pages`
    answers and shows the others as they were before their attendance was recorded."""

    def __init__(self, monkeypatch, hidden: set[int], pages: int) -> None:
        from chalicelib.store import billing_records
        self.hidden, self.pages, self.reads = hidden, pages, 0
        self.real = billing_records.user_legs
        monkeypatch.setattr(billing_records, 'user_legs', self.stale)
        monkeypatch.setattr(billing_records, 'INDEX_PATIENCE', (0, 0, 0))

    def stale(self, user, start, end):
        from dataclasses import replace
        self.reads += 1
        legs = self.real(user, start, end)
        if self.reads > self.pages:
            return legs
        return [replace(leg, user_was_present=None) for leg in legs if leg.booking_id not in self.hidden]


def test_check_status_never_trusts_the_user_index(site, monkeypatch):
    seen = book(site, 'cantine', 'repas-04')
    present(site, seen)
    late = book(site, 'cantine', 'repas-05')
    lag = LaggingUserIndex(monkeypatch, {late}, pages=2)
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-04', end='2030-03-06')) == [
        ('cantine@repas-04', 'error', None, 'event-not-checked', seen),
        ('cantine@repas-05', 'error', None, 'event-not-checked', late)]
    assert lag.reads == 3  # twice stale, then complete
    assert site.post('/api/agenda/cantine/check/repas-04/', {})[1]['err'] == 0
    lag = LaggingUserIndex(monkeypatch, set(), pages=5)
    assert summary(check_status(site, agendas=('cantine',), start='2030-03-04', end='2030-03-05')) == [
        ('cantine@repas-04', 'presence', None, None, seen)]  # the attendance as stored, not as the index shows it
    assert lag.reads == 1


def test_an_index_that_stays_behind_answers_busy(site, monkeypatch):
    late = book(site, 'cantine', 'repas-04')
    LaggingUserIndex(monkeypatch, {late}, pages=100)
    assert site.post('/api/agendas/events/check-status/', {
        'user_external_id': 'enfant:1', 'agendas': 'cantine', 'date_start': '2030-03-04', 'date_end': '2030-03-05'}) == (
        200, refusal('busy', "the user's bookings keep changing: try again"))


@pytest.mark.parametrize('body, errors', [
    ({}, {'user_external_id': ['This field is required.'], 'agendas': ['This field is required.'],
          'date_start': ['This field is required.'], 'date_end': ['This field is required.']}),
    ({'user_external_id': 'x' * 251, 'agendas': 'cantine', 'date_start': '2030-03-01', 'date_end': '2030-03-02'},
     {'user_external_id': ['Ensure this field has no more than 250 characters.']}),
    ({'user_external_id': 'u', 'agendas': 'nope', 'date_start': '2030-03-01', 'date_end': '2030-03-02'},
     {'agendas': ['Unknown events agendas: nope.']}),
    ({'user_external_id': 'u', 'agendas': 'cantine', 'date_start': '2030-03-02', 'date_end': '2030-03-01'},
     {'date_end': ['Must be after date_start (the end is excluded).']}),
])
def test_bad_input_on_check_status_is_a_400(site, body, errors):
    assert site.post('/api/agendas/events/check-status/', body) == (400, {**INVALID, 'errors': errors})
