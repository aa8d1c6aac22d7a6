"""Agendas: POST /api/agenda/, GET /api/agenda/ and GET /api/agenda/<slug>/ (spec §4, design §3.4, §3.6)."""
from __future__ import annotations

import json

from chalicelib import store
from chalicelib.domain.specs import AgendaSpec

from tests.conftest import BASIC

HOST = {'Host': 'agendas.example.org'}
BASE = 'http://agendas.example.org'


def events_item(slug, text, base=BASE, **changes):
    url = f'{base}/api/agenda/{slug}'
    item = {
        'id': slug, 'slug': slug, 'text': text, 'kind': 'events', 'category': None, 'category_label': None,
        'minimal_booking_delay': 1, 'minimal_booking_delay_in_working_days': False, 'maximal_booking_delay': 56,
        'minimal_booking_time': '00:00:00', 'admin_role': None, 'edit_role': None, 'view_role': None,
        'events_type': None, 'booking_form_url': None, 'minimal_cancellation_delay': None,
        'minimal_cancellation_delay_in_working_days': False, 'partial_bookings': False, 'absence_reasons': [],
        'api': {'datetimes_url': f'{url}/datetimes/', 'fillslots_url': f'{url}/fillslots/'},
    }
    item.update(changes)
    return item


def meetings_item(slug, text, base=BASE, kind='meetings', **changes):
    url = f'{base}/api/agenda/{slug}'
    item = {
        'id': slug, 'slug': slug, 'text': text, 'kind': kind, 'category': None, 'category_label': None,
        'minimal_booking_delay': 1, 'minimal_booking_delay_in_working_days': False, 'maximal_booking_delay': 56,
        'minimal_booking_time': '00:00:00', 'admin_role': None, 'edit_role': None, 'view_role': None,
        'events_type': None, 'booking_form_url': None, 'free_range': False, 'resources': [],
        'shared_resources': [],
        'api': {'meetings_url': f'{url}/meetings/', 'desks_url': f'{url}/desks/',
                'resources_url': f'{url}/resources/', 'shared_resources_url': f'{url}/shared-resources/',
                'fillslots_url': f'{url}/fillslots/'},
    }
    if changes.get('free_range'):
        item['api']['datetimes_url'] = f'{url}/free-range/datetimes/'  # w.c.s. reads it (spec §4.1)
    item.update(changes)
    return item


def create(api, **body):
    status, answer = api.post('/api/agenda/', body, headers=HOST)
    assert (status, answer['err']) == (200, 0), answer
    return answer['data']


def slugs(answer):
    return [item['slug'] for item in answer['data']]


def all_urls(items):
    return [url for item in items for url in item['api'].values()]


# ---- POST /api/agenda/ ---------------------------------------------------------------------

def test_create_events_agenda_reads_string_values(api, export):
    status, answer = api.post('/api/agenda/', {
        'label': 'Piscine municipale', 'slug': 'piscine_1', 'kind': 'events',
        'minimal_booking_delay': '2', 'maximal_booking_delay': '30', 'minimal_booking_delay_in_working_days': 'true',
        'minimal_booking_time': '08:30', 'minimal_cancellation_delay': '1', 'partial_bookings': 'False',
        'category': 'sport', 'category_label': 'Sport et loisirs', 'edit_role': 'Agents', 'view_role': '',
        'absence_reasons': [{'label': 'Malade'}, {'slug': 'autre', 'label': 'Autre raison'}],
    }, headers=HOST)
    expected = events_item(
        'piscine_1', 'Piscine municipale', minimal_booking_delay=2, maximal_booking_delay=30,
        minimal_booking_delay_in_working_days=True, minimal_booking_time='08:30:00', minimal_cancellation_delay=1,
        category='sport', category_label='Sport et loisirs', edit_role='Agents',
        absence_reasons=[{'id': 'malade', 'slug': 'malade', 'text': 'Malade', 'label': 'Malade'},
                         {'id': 'autre', 'slug': 'autre', 'text': 'Autre raison', 'label': 'Autre raison'}])
    assert status == 200
    assert answer == {'err': 0, 'data': expected}
    assert api.get('/api/agenda/piscine_1/', headers=HOST) == (200, {'err': 0, 'data': expected})
    assert export()['categories'] == [{'slug': 'sport', 'label': 'Sport et loisirs'}]


def test_create_agenda_derives_slug_from_label_and_defaults_to_events(api):
    data = create(api, label='Salle des fêtes (été)')
    assert data == events_item('salle-des-fetes-ete', 'Salle des fêtes (été)')


def test_create_events_agenda_with_its_events(api):
    create(api, label='Piscine', events=[
        {'slug': 'cours-2', 'start_datetime': '2030-03-08 10:00', 'places': '5'},
        {'slug': 'cours-1', 'label': 'Cours 1', 'start_datetime': '2030-03-01T10:00:00', 'places': 10},
    ])
    status, answer = api.get('/api/agenda/piscine/event/cours-1/')
    assert (status, answer['data']['datetime'], answer['data']['places']['total']) == (200, '2030-03-01 10:00:00', 10)
    status, answer = api.get('/api/agenda/piscine/event/cours-2/')
    assert (status, answer['data']['datetime'], answer['data']['places']['total']) == (200, '2030-03-08 10:00:00', 5)


def test_create_meetings_agenda_with_meeting_types_desks_and_time_periods(api, export):
    status, answer = api.post('/api/import/', {'agendas': [], 'resources': [
        {'slug': 'salle-1', 'label': 'Salle 1', 'description': 'Au rez-de-chaussée'}],
        'unavailability_calendars': [{'slug': 'fermetures', 'label': 'Fermetures'}]})
    assert (status, answer) == (200, {'err': 0, 'data': {'created': [], 'updated': [], 'unavailability_calendars': {
        'created': ['fermetures'], 'updated': []}}})
    data = create(api, label='Passeports', kind='meetings', free_range='true', minimal_booking_delay='0',
                  resources='salle-1', meetingtypes=[{'label': 'Dépôt', 'duration': '30'},
                                                     {'label': 'Retrait', 'slug': 'retrait', 'duration': 15}],
                  desks=[{'label': 'Guichet 1', 'timeperiods': [
                      {'weekday': '0', 'start_time': '09:00', 'end_time': '12:00'},
                      {'weekday': 2, 'weekday_indexes': '1,3', 'start_time': '14:00', 'end_time': '17:30'},
                      {'date': '2030-06-01', 'start_time': '10:00:00', 'end_time': '11:00:00'}],
                      'exceptions': [{'label': 'Férié', 'start_datetime': '2030-12-25 00:00',
                                      'end_datetime': '2030-12-26 00:00'}]},
                         {'label': 'Guichet 2', 'slug': 'g2', 'unavailability_calendars': 'fermetures'}])
    resource = {'id': 'salle-1', 'text': 'Salle 1', 'description': 'Au rez-de-chaussée'}
    assert data == meetings_item('passeports', 'Passeports', free_range=True, minimal_booking_delay=0,
                                 resources=[resource], shared_resources=[resource])
    (agenda,) = export()['agendas']
    assert {k: agenda[k] for k in ('free_range', 'resources', 'meetingtypes', 'desks')} == {
        'free_range': True,
        'resources': ['salle-1'],
        'meetingtypes': [{'label': 'Dépôt', 'slug': 'depot', 'duration': 30},
                         {'label': 'Retrait', 'slug': 'retrait', 'duration': 15}],
        'desks': [
            {'label': 'Guichet 1', 'slug': 'guichet-1', 'timeperiods': [
                {'weekday': 0, 'weekday_indexes': None, 'start_time': '09:00:00', 'end_time': '12:00:00'},
                {'weekday': 2, 'weekday_indexes': [1, 3], 'start_time': '14:00:00', 'end_time': '17:30:00'},
                {'weekday': None, 'weekday_indexes': None, 'start_time': '10:00:00', 'end_time': '11:00:00',
                 'date': '2030-06-01'}],
             'exceptions': [{'label': 'Férié', 'start_datetime': '2030-12-25 00:00:00',
                             'end_datetime': '2030-12-26 00:00:00'}],
             'exceptions_sources': [], 'unavailability_calendars': []},
            {'label': 'Guichet 2', 'slug': 'g2', 'timeperiods': [], 'exceptions': [], 'exceptions_sources': [],
             'unavailability_calendars': ['fermetures']},
        ],
    }


def test_create_virtual_agenda_over_a_meetings_agenda(api, export):
    create(api, label='Passeports', kind='meetings', meetingtypes=[{'label': 'Dépôt', 'duration': 30}])
    create(api, label='Cartes', kind='meetings')
    data = create(api, label='Titres', kind='virtual', real_agendas=['passeports', {'slug': 'cartes'}],
                  excluded_timeperiods=[{'weekday': '4', 'start_time': '12:00', 'end_time': '14:00'}])
    assert data == meetings_item('titres', 'Titres', kind='virtual', real_agendas=['passeports', 'cartes'])
    virtual = export()['agendas'][2]
    assert (virtual['slug'], virtual['real_agendas'], virtual['excluded_timeperiods']) == (
        'titres', [{'slug': 'passeports', 'kind': 'meetings'}, {'slug': 'cartes', 'kind': 'meetings'}],
        [{'weekday': 4, 'start_time': '12:00:00', 'end_time': '14:00:00'}])


def test_virtual_agenda_over_an_events_agenda_is_refused_on_its_field(api, export):
    """The error key is the body's field (`real_agendas`), as for every other field of this body."""
    create(api, label='Piscine')
    before = export()
    status, answer = api.post('/api/agenda/', {'label': 'Tout', 'kind': 'virtual', 'real_agendas': ['piscine', 'nope']})
    assert (status, answer) == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
        'errors': {'real_agendas': ['"piscine" is not a meetings agenda.', '"nope" is not a meetings agenda.']}})
    assert export() == before


def test_meetings_agenda_with_an_unknown_resource_is_refused_on_its_field(api, export):
    status, answer = api.post('/api/agenda/', {'label': 'Rdv', 'kind': 'meetings', 'resources': ['salle-9']})
    assert (status, answer) == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
        'errors': {'resources': ['Unknown resource "salle-9".']}})
    assert export() == {'agendas': [], 'categories': [], 'resources': [], 'unavailability_calendars': []}


def test_duplicate_slug_is_refused_and_the_first_agenda_kept(api):
    first = create(api, label='Piscine', slug='piscine_1', minimal_booking_delay='3')
    status, answer = api.post('/api/agenda/', {'label': 'Autre', 'slug': 'piscine_1', 'kind': 'meetings'},
                              headers=HOST)
    assert (status, answer) == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
        'errors': {'slug': ['An agenda with the slug "piscine_1" already exists.']}})
    assert api.get('/api/agenda/', headers=HOST) == (200, {'err': 0, 'data': [first]})


def test_duplicate_slug_derived_from_the_label_is_refused(api):
    create(api, label='Piscine')
    status, answer = api.post('/api/agenda/', {'label': 'PISCINE'})
    assert (status, answer['errors']) == (400, {'slug': ['An agenda with the slug "piscine" already exists.']})


def test_missing_or_blank_label_is_refused(api, export):
    expected = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
                'errors': {'label': ['This field is required.']}}
    for body in ({'slug': 'piscine', 'kind': 'events'}, {'label': '', 'slug': 'piscine'},
                 {'label': '   ', 'slug': 'piscine'}, {'label': None, 'slug': 'piscine'}):
        assert api.post('/api/agenda/', body) == (400, expected), body
    assert export() == {'agendas': [], 'categories': [], 'resources': [], 'unavailability_calendars': []}


def test_every_invalid_field_is_reported_at_once(api):
    status, answer = api.post('/api/agenda/', {
        'label': 'X', 'kind': 'agenda', 'minimal_booking_delay': 'deux', 'maximal_booking_delay': '-1',
        'minimal_booking_time': '25:00', 'free_range': 'peut-être', 'slug': 'a b'})
    assert (status, answer) == (400, {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
                                      'errors': {
        'slug': ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
        'kind': ['"agenda" is not a valid choice.'],
        'minimal_booking_delay': ['A valid integer is required.'],
        'maximal_booking_delay': ['Ensure this value is greater than or equal to 0.'],
        'minimal_booking_time': ['Time has wrong format. Use one of these formats instead: hh:mm[:ss].'],
        'free_range': ['Must be a valid boolean.'],
    }})


def test_slug_with_a_trailing_newline_is_refused(api, export):
    """`SLUG_RE` ends in `$`, which also matches before a final newline."""
    status, answer = api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine\n'})
    assert (status, answer) == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
        'errors': {'slug': ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']}})
    assert export()['agendas'] == []


def test_concurrent_creation_of_one_slug_answers_400_not_500(api, monkeypatch, export):
    """Two POSTs of the same slug: the other one creates it between our check and our write."""
    checked = store.get_agenda

    def racing_get_agenda(slug):
        current = checked(slug)
        monkeypatch.setattr(store, 'get_agenda', checked)
        store.apply_operations(store.plan_agenda(AgendaSpec(slug=slug, label='Gagnant', kind='events'), None))
        return current

    monkeypatch.setattr(store, 'get_agenda', racing_get_agenda)
    status, answer = api.post('/api/agenda/', {'label': 'Perdant', 'slug': 'piscine'})
    assert (status, answer) == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
        'errors': {'slug': ['An agenda with the slug "piscine" already exists.']}})
    assert [a['label'] for a in export()['agendas']] == ['Gagnant']


# ---- GET /api/agenda/ ---------------------------------------------------------------------

def test_list_answers_the_same_with_and_without_trailing_slash(api):
    create(api, label='Piscine', category='sport')
    create(api, label='Rdv', kind='meetings')
    with_slash = api.get('/api/agenda/', headers=HOST)
    without = api.get('/api/agenda', headers=HOST)
    assert with_slash == without
    assert with_slash == (200, {'err': 0, 'data': [
        events_item('piscine', 'Piscine', category='sport', category_label='sport'),
        meetings_item('rdv', 'Rdv')]})
    assert api.get('/api/agenda/piscine/', headers=HOST) == api.get('/api/agenda/piscine', headers=HOST)


def test_list_is_empty_at_first(api):
    assert api.get('/api/agenda/') == (200, {'err': 0, 'data': []})


def test_list_filters_on_slug_substring_category_and_kind(api):
    create(api, label='Piscine 1', slug='piscine_1', category='sport', category_label='Sport')
    create(api, label='First piscine', slug='first_piscine', kind='meetings', category='sport')
    create(api, label='Salle des fêtes', slug='salle_des_fetes', category='culture')
    create(api, label='Piscine virtuelle', slug='piscines', kind='virtual', real_agendas=['first_piscine'])

    def listed(query):
        status, answer = api.get(f'/api/agenda/?{query}')
        assert status == 200 and answer['err'] == 0
        return slugs(answer)

    assert listed('') == ['first_piscine', 'piscine_1', 'piscines', 'salle_des_fetes']  # by label
    assert listed('q=piscine') == ['first_piscine', 'piscine_1', 'piscines']
    assert listed('q=piscine_') == ['piscine_1']
    assert listed('q=PISCINE') == []  # the slug, as written
    assert listed('q=Piscine+1') == []  # the slug, not the label
    assert listed('q=salle') == ['salle_des_fetes']
    assert listed('category=sport') == ['first_piscine', 'piscine_1']
    assert listed('category=culture') == ['salle_des_fetes']
    assert listed('category=spor') == []
    assert listed('kind=events') == ['piscine_1', 'salle_des_fetes']
    assert listed('kind=meetings') == ['first_piscine']
    assert listed('kind=virtual') == ['piscines']
    assert listed('q=piscine&kind=events') == ['piscine_1']
    assert listed('q=piscine&category=sport&kind=meetings') == ['first_piscine']
    assert listed('q=&category=&kind=') == ['first_piscine', 'piscine_1', 'piscines', 'salle_des_fetes']


def test_every_item_has_category_keys_and_meetings_items_free_range(api):
    create(api, label='Sans catégorie')
    create(api, label='Avec catégorie', category='sport', category_label='Sport')
    create(api, label='Rdv libre', kind='meetings', free_range='1', category='etat-civil')
    create(api, label='Rdv', kind='meetings', free_range='')
    create(api, label='Virtuel', kind='virtual', real_agendas=['rdv'])
    status, answer = api.get('/api/agenda/')
    assert status == 200
    assert [(i['slug'], i['kind'], i['category'], i['category_label'], i.get('free_range', 'absent'))
            for i in answer['data']] == [
        ('avec-categorie', 'events', 'sport', 'Sport', 'absent'),
        ('rdv', 'meetings', None, None, False),
        ('rdv-libre', 'meetings', 'etat-civil', 'etat-civil', True),
        ('sans-categorie', 'events', None, None, 'absent'),
        ('virtuel', 'virtual', None, None, False),
    ]
    assert all(isinstance(i['text'], str) for i in answer['data'])
    # The keys are there even when null: clients index them.
    assert all('category' in i and 'category_label' in i for i in answer['data'])


# ---- api.* URLs ---------------------------------------------------------------------------

def test_api_urls_are_on_the_request_host(api):
    create(api, label='Piscine')
    create(api, label='Rdv', kind='meetings')
    create(api, label='Tout', kind='virtual', real_agendas=['rdv'])
    status, answer = api.get('/api/agenda/', headers={'Host': 'agendas.example.org'})
    assert status == 200
    urls = all_urls(answer['data'])
    assert len(urls) == 2 + 5 + 5
    for item in answer['data']:
        for url in item['api'].values():
            assert url.startswith(f"http://agendas.example.org/api/agenda/{item['slug']}/"), url
            assert '[' not in url and ']' not in url
    assert answer['data'][0]['api'] == {
        'datetimes_url': 'http://agendas.example.org/api/agenda/piscine/datetimes/',
        'fillslots_url': 'http://agendas.example.org/api/agenda/piscine/fillslots/'}


def test_api_urls_follow_host_port_and_forwarded_proto(api):
    create(api, label='Piscine')
    status, answer = api.get('/api/agenda/piscine/', headers={'Host': 'agendas.example.org:8443',
                                                              'X-Forwarded-Proto': 'https'})
    assert (status, answer['data']['api']) == (200, {
        'datetimes_url': 'https://agendas.example.org:8443/api/agenda/piscine/datetimes/',
        'fillslots_url': 'https://agendas.example.org:8443/api/agenda/piscine/fillslots/'})


def test_api_urls_never_carry_brackets_even_from_an_odd_host(api):
    create(api, label='Piscine')
    for host in ('[::1]:8000', 'evil].example.org', 'a b', ''):
        status, answer = api.get('/api/agenda/', headers={'Host': host})
        assert status == 200
        assert all_urls(answer['data']) == ['http://localhost/api/agenda/piscine/datetimes/',
                                            'http://localhost/api/agenda/piscine/fillslots/'], host


def test_api_urls_use_chrono_base_url_over_the_host(api, env):
    env(CHRONO_BASE_URL='https://chrono.example.net/')
    create(api, label='Piscine')
    create(api, label='Rdv', kind='meetings')
    status, answer = api.get('/api/agenda/', headers={'Host': 'agendas.example.org'})
    assert status == 200
    assert all_urls(answer['data']) == [
        'https://chrono.example.net/api/agenda/piscine/datetimes/',
        'https://chrono.example.net/api/agenda/piscine/fillslots/',
        'https://chrono.example.net/api/agenda/rdv/meetings/',
        'https://chrono.example.net/api/agenda/rdv/desks/',
        'https://chrono.example.net/api/agenda/rdv/resources/',
        'https://chrono.example.net/api/agenda/rdv/shared-resources/',
        'https://chrono.example.net/api/agenda/rdv/fillslots/',
    ]
    status, answer = api.get('/api/agenda/rdv/', headers={'Host': 'agendas.example.org'})
    assert answer['data']['api']['meetings_url'] == 'https://chrono.example.net/api/agenda/rdv/meetings/'



def test_detail_is_the_list_item(api):
    create(api, label='Piscine', category='sport', category_label='Sport')
    create(api, label='Rdv', kind='meetings')
    status, listing = api.get('/api/agenda/', headers=HOST)
    assert status == 200
    for item in listing['data']:
        assert api.get(f"/api/agenda/{item['slug']}/", headers=HOST) == (200, {'err': 0, 'data': item})


def test_detail_decodes_the_path_once(api):
    create(api, label='Piscine', slug='piscine_1')
    status, answer = api.get('/api/agenda/piscine%5F1/')
    assert (status, answer['data']['slug']) == (200, 'piscine_1')
    assert api.get('/api/agenda/piscine%255F1/') == (404, {
        'err': 1, 'err_class': 'unknown agenda', 'err_desc': 'agenda piscine%5F1 does not exist'})


def test_unknown_agenda_is_404_in_chrono_shape(client):
    for path in ('/api/agenda/nope/', '/api/agenda/nope'):
        response = client.http.get(path, headers=BASIC)
        assert response.status_code == 404
        assert response.headers['Content-Type'] == 'application/json'
        assert json.loads(response.body) == {'err': 1, 'err_class': 'unknown agenda',
                                             'err_desc': 'agenda nope does not exist'}


def test_with_open_events_keeps_events_agendas_where_a_place_can_be_booked_now(api, clock):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.api.conftest import set_counters
    clock(datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris')))
    for slug in ('ouvert', 'complet', 'lointain', 'attente'):
        create(api, label=slug.title(), slug=slug)
    create(api, label='Rdv', slug='rdv', kind='meetings')
    events = {'ouvert': ('2030-03-05 10:00', 5, 0), 'complet': ('2030-03-05 10:00', 2, 0),
              'lointain': ('2030-06-05 10:00', 5, 0), 'attente': ('2030-03-05 10:00', 2, 1)}
    for slug, (start, places, waiting) in events.items():
        status, _ = api.post(f'/api/agenda/{slug}/event/', {'slug': 'e', 'start_datetime': start, 'places': places,
                                                           'waiting_list_places': waiting})
        assert status == 200
    set_counters('complet', 'e', reserved=2)
    set_counters('attente', 'e', reserved=2)  # full main list, room in the waiting list
    assert slugs(api.get('/api/agenda/?with_open_events=true')[1]) == ['attente', 'ouvert']
    assert slugs(api.get('/api/agenda/?with_open_events=false')[1]) == [
        'attente', 'complet', 'lointain', 'ouvert', 'rdv']
    status, answer = api.get('/api/agenda/?with_open_events=peut-etre')
    assert (status, answer['errors']) == (400, {'with_open_events': ['Must be a valid boolean.']})
