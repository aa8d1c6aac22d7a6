"""Events: POST /api/agenda/<a>/event/, GET/PATCH/DELETE /api/agenda/<a>/event/<e>/ (spec §7.4)."""
from __future__ import annotations

import pytest

from tests.api.conftest import set_counters

BASE = 'http://localhost'
INVALID = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}
DETAIL_KEYS = {
    'id', 'slug', 'text', 'label', 'date', 'datetime', 'end_datetime', 'description', 'pricing', 'url', 'disabled',
    'checked', 'check_locked', 'invoiced', 'cancelled', 'places', 'api', 'start_datetime', 'duration',
    'waiting_list_places',
    'publication_datetime', 'recurrence_days', 'recurrence_week_interval', 'recurrence_end_date', 'primary_event',
    'agenda',
}


def detail(agenda, slug, start, total, reserved=0, label=None, **changes):
    """The event detail as the API renders it, for an event beyond the booking window (disabled)."""
    url = f'{BASE}/api/agenda/{agenda}'
    item = {
        'id': slug, 'slug': slug, 'text': label or start, 'label': label or '', 'date': start[:10],
        'datetime': start, 'end_datetime': '', 'description': None, 'pricing': None, 'url': None,
        'disabled': True, 'checked': False, 'check_locked': False, 'invoiced': False, 'cancelled': False,
        'places': {'total': total, 'reserved': reserved, 'available': max(0, total - reserved),
                   'full': total <= reserved, 'has_waiting_list': False},
        'api': {'bookings_url': f'{url}/bookings/{slug}/', 'fillslot_url': f'{url}/fillslot/{slug}/',
                'status_url': f'{url}/status/{slug}/', 'check_url': f'{url}/check/{slug}/'},
        'start_datetime': start, 'duration': None, 'waiting_list_places': 0, 'publication_datetime': None,
        'recurrence_days': None, 'recurrence_week_interval': None, 'recurrence_end_date': None,
        'primary_event': None, 'agenda': agenda,
    }
    item.update(changes)
    return item


@pytest.fixture
def agenda(api):
    """Events agenda `x` (its booking window ends 56 days from now: events in 2030 are disabled)."""
    assert api.post('/api/agenda/', {'label': 'X', 'slug': 'x'})[0] == 200
    return 'x'


@pytest.fixture
def event(api, agenda):
    status, answer = api.post('/api/agenda/x/event/', {'slug': 'e', 'label': 'Cours', 'places': 10,
                                                       'start_datetime': '2030-03-01 10:00'})
    assert (status, answer['err']) == (200, 0)
    return 'e'


# ---- POST ---------------------------------------------------------------------------------

def test_create_requires_start_datetime_and_places(api, agenda, export):
    before = export()
    for body in ({}, {'label': 'Cours'}, {'start_datetime': '', 'places': ''}, {'start_datetime': None}):
        assert api.post('/api/agenda/x/event/', body) == (400, {**INVALID, 'errors': {
            'start_datetime': ['This field is required.'], 'places': ['This field is required.']}}), body
    assert export() == before


def test_create_reads_string_values_and_derives_the_slug_from_the_label(api, agenda):
    status, answer = api.post('/api/agenda/x/event/', {
        'label': 'Cours de natation (été)', 'start_datetime': '2030-03-01 10:00', 'places': '10',
        'waiting_list_places': '2', 'duration': '45', 'description': 'Bonnet', 'pricing': '5 €',
        'url': 'https://example.org/', 'publication_datetime': '2030-01-01T08:00:00+01:00',
        'recurrence_days': '', 'cancelled': 'false', 'unknown_field': 'ignored'})
    assert status == 200
    assert answer == {'err': 0, 'data': detail(
        'x', 'cours-de-natation-ete', '2030-03-01 10:00:00', 10, label='Cours de natation (été)',
        end_datetime='2030-03-01 10:45:00', description='Bonnet', pricing='5 €', url='https://example.org/',
        duration=45, waiting_list_places=2, publication_datetime='2030-01-01 08:00:00',
        places={'total': 10, 'reserved': 0, 'available': 10, 'full': False, 'has_waiting_list': True,
                'waiting_list_total': 2, 'waiting_list_reserved': 0, 'waiting_list_available': 2,
                'waiting_list_activated': False})}
    assert api.get('/api/agenda/x/event/cours-de-natation-ete/') == (200, answer)


def test_derived_slugs_do_not_collide(api, agenda):
    made = []
    for _ in range(3):
        status, answer = api.post('/api/agenda/x/event/', {'label': 'Cours', 'start_datetime': '2030-03-01 10:00',
                                                           'places': 1})
        assert status == 200
        made.append(answer['data']['slug'])
    status, answer = api.post('/api/agenda/x/event/', {'start_datetime': '2030-03-02 18:30', 'places': 1})
    made.append(answer['data']['slug'])
    assert made == ['cours', 'cours-2', 'cours-3', 'x-2030-03-02-1830']
    assert answer['data']['text'] == '2030-03-02 18:30:00'


def test_create_with_a_taken_slug_is_refused(api, event, export):
    before = export()
    status, answer = api.post('/api/agenda/x/event/', {'slug': 'e', 'start_datetime': '2030-04-01 10:00',
                                                       'places': 3})
    assert (status, answer) == (400, {**INVALID, 'errors': {'slug': ['An event with the slug "e" already exists.']}})
    assert export() == before


def test_create_reports_each_bad_field(api, agenda):
    status, answer = api.post('/api/agenda/x/event/', {
        'start_datetime': '01/03/2030', 'places': '0', 'duration': 'une heure', 'waiting_list_places': '-1',
        'recurrence_days': '1,9', 'slug': 'é', 'cancelled': 'peut-être'})
    assert (status, answer) == (400, {**INVALID, 'errors': {
        'slug': ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
        'start_datetime': ['Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD HH:MM[:SS].'],
        'places': ['Ensure this value is greater than or equal to 1.'],
        'duration': ['A valid integer is required.'],
        'waiting_list_places': ['Ensure this value is greater than or equal to 0.'],
        'cancelled': ['Must be a valid boolean.'],
        'recurrence_days': ['Expected weekday numbers from 0 (Monday) to 6.'],
    }})


def test_create_refuses_a_time_that_does_not_exist(api, agenda):
    status, answer = api.post('/api/agenda/x/event/', {'start_datetime': '2030-03-31 02:30', 'places': 1})
    assert (status, answer) == (400, {**INVALID, 'errors': {'start_datetime': [
        '2030-03-31 02:30 does not exist in Europe/Paris (daylight saving time change).']}})


@pytest.mark.parametrize('start', ['0001-01-01 00:00', '0001-01-01 00:00:00+23:59', '9999-12-31 23:59:00-23:59'])
def test_create_with_a_datetime_out_of_range_is_invalid_payload(api, agenda, export, start):
    """Valid text, but no UTC instant exists for it: `astimezone` raises OverflowError, not ValueError."""
    before = export()
    status, answer = api.post('/api/agenda/x/event/', {'start_datetime': start, 'places': 1})
    assert (status, answer['err_class'], list(answer.get('errors', {}))) == (
        400, 'invalid payload', ['start_datetime']), answer
    assert export() == before


def test_patch_to_a_datetime_out_of_range_is_invalid_payload(api, event, export):
    before = export()
    status, answer = api.patch('/api/agenda/x/event/e/', {'start_datetime': '0001-01-01 00:00'})
    assert (status, answer['err_class'], list(answer.get('errors', {}))) == (
        400, 'invalid payload', ['start_datetime']), answer
    assert export() == before


def test_event_ending_after_year_9999_never_answers_500(api, agenda, export):
    """Stored, then every rendering of it fails computing its end (start + duration)."""
    status, answer = api.post('/api/agenda/x/event/', {'slug': 'late', 'start_datetime': '9999-12-31 20:00',
                                                       'duration': 10080, 'places': 1})
    assert (status, answer['err'], answer['err_class']) == (400, 1, 'invalid payload'), answer
    assert export()['agendas'][0]['events'] == []
    assert api.get('/api/agenda/x/event/late/') == (404, {
        'err': 1, 'err_class': 'unknown event', 'err_desc': 'event late does not exist in agenda x'})


# ---- GET ----------------------------------------------------------------------------------

def test_get_has_exactly_the_detail_keys(api, event):
    status, answer = api.get('/api/agenda/x/event/e/')
    assert status == 200
    assert set(answer) == {'err', 'data'}
    assert set(answer['data']) == DETAIL_KEYS
    assert answer['data'] == detail('x', 'e', '2030-03-01 10:00:00', 10, label='Cours')
    assert api.get('/api/agenda/x/event/e') == (200, answer)


def test_percent_encoded_path_parameters_are_decoded_once(api, agenda):
    status, answer = api.post('/api/agenda/x/event/', {'slug': 'a-b', 'start_datetime': '2030-03-01 10:00',
                                                       'places': 1})
    assert (status, answer['data']['slug']) == (200, 'a-b')
    assert api.get('/api/agenda/x/event/a%2Db/') == (200, answer)
    assert api.get('/api/agenda/%78/event/a%2db') == (200, answer)
    assert api.get('/api/agenda/x/event/a%252Db/') == (404, {
        'err': 1, 'err_class': 'unknown event', 'err_desc': 'event a%2Db does not exist in agenda x'})
    assert api.get('/api/agenda/x/event/a%ffb/') == (404, {
        'err': 1, 'err_class': 'not found', 'err_desc': 'invalid event in path'})


def test_unknown_agenda_or_event_is_404(api, event):
    unknown_agenda = (404, {'err': 1, 'err_class': 'unknown agenda', 'err_desc': 'agenda nope does not exist'})
    unknown_event = (404, {'err': 1, 'err_class': 'unknown event', 'err_desc': 'event nope does not exist in agenda x'})
    assert api.post('/api/agenda/nope/event/', {'start_datetime': '2030-03-01 10:00', 'places': 1}) == unknown_agenda
    assert api.get('/api/agenda/nope/event/e/') == unknown_agenda
    assert api.patch('/api/agenda/nope/event/e/', {'places': 1}) == unknown_agenda
    assert api.delete('/api/agenda/nope/event/e/') == unknown_agenda
    assert api.get('/api/agenda/x/event/nope/') == unknown_event
    assert api.patch('/api/agenda/x/event/nope/', {'places': 1}) == unknown_event
    assert api.delete('/api/agenda/x/event/nope/') == unknown_event


def test_events_of_a_meetings_agenda_are_404(api, export):
    assert api.post('/api/agenda/', {'label': 'Rdv', 'kind': 'meetings'})[0] == 200
    before = export()
    refused = (404, {'err': 1, 'err_class': 'not an events agenda', 'err_desc': 'agenda rdv is not an events agenda'})
    assert api.post('/api/agenda/rdv/event/', {'slug': 'e', 'start_datetime': '2030-03-01 10:00',
                                               'places': 1}) == refused
    assert api.get('/api/agenda/rdv/event/e/') == refused
    assert api.patch('/api/agenda/rdv/event/e/', {'places': 2}) == refused
    assert api.delete('/api/agenda/rdv/event/e/') == refused
    assert export() == before


# ---- PATCH --------------------------------------------------------------------------------

def test_patch_changes_only_the_given_fields(api, event):
    status, answer = api.patch('/api/agenda/x/event/e/', {'places': '12', 'duration': '90', 'pricing': '3 €'})
    expected = detail('x', 'e', '2030-03-01 10:00:00', 12, label='Cours', duration=90, pricing='3 €',
                      end_datetime='2030-03-01 11:30:00')
    assert (status, answer) == (200, {'err': 0, 'data': expected})
    assert set(answer['data']) == DETAIL_KEYS
    assert api.get('/api/agenda/x/event/e/') == (200, answer)
    status, answer = api.patch('/api/agenda/x/event/e/', {'start_datetime': '2030-03-02 09:00', 'label': ''})
    assert (status, answer) == (200, {'err': 0, 'data': detail(
        'x', 'e', '2030-03-02 09:00:00', 12, duration=90, pricing='3 €', end_datetime='2030-03-02 10:30:00')})


def test_patch_with_an_empty_body_changes_nothing(api, event, export):
    before = export()
    status, answer = api.patch('/api/agenda/x/event/e/', {})
    assert (status, answer) == (200, {'err': 0, 'data': detail('x', 'e', '2030-03-01 10:00:00', 10, label='Cours')})
    assert export() == before


def test_patch_cannot_change_the_slug(api, event, export):
    before = export()
    assert api.patch('/api/agenda/x/event/e/', {'slug': 'f', 'places': 3}) == (400, {
        **INVALID, 'errors': {'slug': ['The slug of an event cannot change.']}})
    assert export() == before
    assert api.patch('/api/agenda/x/event/e/', {'slug': 'e', 'places': 3})[1]['data']['places']['total'] == 3


def test_patch_below_the_booked_places_is_refused_and_changes_nothing(api, event):
    set_counters('x', 'e', reserved=3)
    status, before = api.get('/api/agenda/x/event/e/')
    assert before['data']['places'] == {'total': 10, 'reserved': 3, 'available': 7, 'full': False,
                                        'has_waiting_list': False}
    assert api.patch('/api/agenda/x/event/e/', {'places': 2}) == (200, {
        'err': 1, 'err_class': 'event has bookings', 'err_desc': 'event e has 3 booked places, more than 2'})
    assert api.patch('/api/agenda/x/event/e/', {'places': '2', 'label': 'Renommé'}) == (200, {
        'err': 1, 'err_class': 'event has bookings', 'err_desc': 'event e has 3 booked places, more than 2'})
    assert api.get('/api/agenda/x/event/e/') == (200, before)
    status, answer = api.patch('/api/agenda/x/event/e/', {'places': 3})
    assert (status, answer['data']['places']) == (200, {'total': 3, 'reserved': 3, 'available': 0, 'full': True,
                                                        'has_waiting_list': False})


def test_patch_below_the_waiting_list_bookings_is_refused(api, event):
    assert api.patch('/api/agenda/x/event/e/', {'waiting_list_places': 5})[0] == 200
    set_counters('x', 'e', reserved=10, waiting=2)
    status, before = api.get('/api/agenda/x/event/e/')
    assert api.patch('/api/agenda/x/event/e/', {'waiting_list_places': 1}) == (200, {
        'err': 1, 'err_class': 'event has bookings',
        'err_desc': 'event e has 2 places booked in the waiting list, more than 1'})
    assert api.get('/api/agenda/x/event/e/') == (200, before)


def test_patch_of_the_recurrence_is_refused_with_bookings(api, event):
    set_counters('x', 'e', reserved=1)
    status, before = api.get('/api/agenda/x/event/e/')
    assert api.patch('/api/agenda/x/event/e/', {'recurrence_days': '0,2'}) == (200, {
        'err': 1, 'err_class': 'event has bookings', 'err_desc': 'event e has bookings: its recurrence cannot change'})
    assert api.get('/api/agenda/x/event/e/') == (200, before)


def test_patch_reports_bad_values(api, event, export):
    before = export()
    assert api.patch('/api/agenda/x/event/e/', {'places': 'dix', 'start_datetime': 'demain'}) == (400, {
        **INVALID, 'errors': {
            'start_datetime': ['Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD HH:MM[:SS].'],
            'places': ['A valid integer is required.']}})
    assert export() == before


# ---- DELETE -------------------------------------------------------------------------------

def test_delete_with_bookings_is_refused(api, event):
    set_counters('x', 'e', reserved=1)
    status, before = api.get('/api/agenda/x/event/e/')
    assert api.delete('/api/agenda/x/event/e/') == (200, {
        'err': 1, 'err_class': 'event has bookings', 'err_desc': 'event e has bookings: cancel them first'})
    assert api.get('/api/agenda/x/event/e/') == (200, before)
    set_counters('x', 'e', reserved=0, waiting=1)
    assert api.delete('/api/agenda/x/event/e/') == (200, {
        'err': 1, 'err_class': 'event has bookings', 'err_desc': 'event e has bookings: cancel them first'})


def test_delete_without_bookings_removes_the_event(api, event, export):
    assert api.delete('/api/agenda/x/event/e/') == (200, {'err': 0})
    gone = (404, {'err': 1, 'err_class': 'unknown event', 'err_desc': 'event e does not exist in agenda x'})
    assert api.get('/api/agenda/x/event/e/') == gone
    assert api.delete('/api/agenda/x/event/e') == gone
    assert export()['agendas'][0]['events'] == []
