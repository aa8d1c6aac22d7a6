"""POST /api/import/ and GET /api/export/ (design §3.4, spec §11.1): all or nothing, re-import is a no-op."""
from __future__ import annotations

import copy

import pytest

from tests.api.conftest import set_counters

INVALID = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}
NOTHING = {'err': 0, 'data': {'created': [], 'updated': []}}


def event(slug, start, places, **changes):
    item = {'slug': slug, 'label': None, 'start_datetime': start, 'duration': None, 'places': places,
            'waiting_list_places': 0, 'publication_datetime': None, 'description': None, 'pricing': None,
            'url': None, 'cancelled': False, 'recurrence_days': None, 'recurrence_week_interval': None,
            'recurrence_end_date': None, 'primary_event': None}
    item.update(changes)
    return item


def exported(slug, label, kind, **changes):
    item = {'label': label, 'slug': slug, 'kind': kind, 'category': None, 'category_label': None,
            'minimal_booking_delay': 1,
            'minimal_booking_delay_in_working_days': False, 'maximal_booking_delay': 56,
            'minimal_booking_time': '00:00:00', 'minimal_cancellation_delay': None,
            'minimal_cancellation_delay_in_working_days': False, 'anonymize_delay': None,
            'permissions': {'view': None, 'edit': None, 'admin': None}, 'events_type': None,
            'booking_form_url': None, 'absence_reasons': []}
    if kind == 'events':
        item.update(partial_bookings=False, events=[])
    elif kind == 'meetings':
        item.update(free_range=False, resources=[], meetingtypes=[], desks=[])
    else:
        item.update(real_agendas=[], excluded_timeperiods=[])
    item.update(changes)
    return item


def document():
    """One agenda of each kind, with categories and resources, as a client would write it."""
    return {
        'categories': [{'slug': 'sport', 'label': 'Sport'}, {'slug': 'etat-civil', 'label': 'État civil'}],
        'resources': [{'slug': 'salle-1', 'label': 'Salle 1', 'description': 'Grande salle'},
                      {'slug': 'salle-2', 'label': 'Salle 2'}],
        'agendas': [
            {'label': 'Piscine', 'slug': 'piscine', 'kind': 'events', 'category': 'sport',
             'minimal_booking_delay': '0', 'maximal_booking_delay': 60,
             'absence_reasons': [{'slug': 'malade', 'label': 'Malade'}],
             'events': [
                 {'slug': 'cours-2', 'start_datetime': '2030-03-08 10:00', 'places': '5', 'duration': 60},
                 {'slug': 'cours-1', 'label': 'Cours 1', 'start_datetime': '2030-03-01 10:00:00', 'places': 10,
                  'waiting_list_places': 2, 'description': 'Bonnet obligatoire'}]},
            {'label': 'Passeports', 'slug': 'passeports', 'kind': 'meetings', 'category': 'etat-civil',
             'permissions': {'view': None, 'edit': 'Agents état civil', 'admin': None},
             'resources': ['salle-1'],
             'meetingtypes': [{'label': '1 personne', 'slug': '1-personne', 'duration': 15},
                              {'label': 'Famille', 'slug': 'famille', 'duration': '45'}],
             'desks': [
                 {'label': 'Guichet 1', 'slug': 'guichet-1',
                  'timeperiods': [{'weekday': 0, 'weekday_indexes': None, 'start_time': '09:00:00',
                                   'end_time': '12:00:00'}],
                  'exceptions': [{'label': 'Férié', 'start_datetime': '2030-12-25 00:00:00',
                                  'end_datetime': '2030-12-26 00:00:00'}],
                  'exceptions_sources': [], 'unavailability_calendars': []},
                 {'label': 'Guichet 2', 'slug': 'guichet-2',
                  'timeperiods': [{'weekday': 2, 'start_time': '14:00', 'end_time': '17:00'}]}]},
            {'label': 'Titres', 'slug': 'titres', 'kind': 'virtual',
             'real_agendas': [{'slug': 'passeports', 'kind': 'meetings'}],
             'excluded_timeperiods': [{'weekday': 0, 'start_time': '10:00:00', 'end_time': '11:00:00'}]},
        ],
    }


EXPORT = {
    'agendas': [
        exported('passeports', 'Passeports', 'meetings', category='etat-civil', category_label='État civil',
                 permissions={'view': None, 'edit': 'Agents état civil', 'admin': None}, resources=['salle-1'],
                 meetingtypes=[{'label': '1 personne', 'slug': '1-personne', 'duration': 15},
                               {'label': 'Famille', 'slug': 'famille', 'duration': 45}],
                 desks=[
                     {'label': 'Guichet 1', 'slug': 'guichet-1',
                      'timeperiods': [{'weekday': 0, 'weekday_indexes': None, 'start_time': '09:00:00',
                                       'end_time': '12:00:00'}],
                      'exceptions': [{'label': 'Férié', 'start_datetime': '2030-12-25 00:00:00',
                                      'end_datetime': '2030-12-26 00:00:00'}],
                      'exceptions_sources': [], 'unavailability_calendars': []},
                     {'label': 'Guichet 2', 'slug': 'guichet-2',
                      'timeperiods': [{'weekday': 2, 'weekday_indexes': None, 'start_time': '14:00:00',
                                       'end_time': '17:00:00'}],
                      'exceptions': [], 'exceptions_sources': [], 'unavailability_calendars': []}]),
        exported('piscine', 'Piscine', 'events', category='sport', category_label='Sport',
                 minimal_booking_delay=0, maximal_booking_delay=60,
                 absence_reasons=[{'slug': 'malade', 'label': 'Malade'}],
                 events=[event('cours-1', '2030-03-01 10:00:00', 10, label='Cours 1', waiting_list_places=2,
                               description='Bonnet obligatoire'),
                         event('cours-2', '2030-03-08 10:00:00', 5, duration=60)]),
        exported('titres', 'Titres', 'virtual', real_agendas=[{'slug': 'passeports', 'kind': 'meetings'}],
                 excluded_timeperiods=[{'weekday': 0, 'start_time': '10:00:00', 'end_time': '11:00:00'}]),
    ],
    'categories': [{'slug': 'etat-civil', 'label': 'État civil'}, {'slug': 'sport', 'label': 'Sport'}],
    'resources': [{'slug': 'salle-1', 'label': 'Salle 1', 'description': 'Grande salle'},
                  {'slug': 'salle-2', 'label': 'Salle 2', 'description': None}],
    'unavailability_calendars': [],
}


@pytest.fixture
def imported(api):
    assert api.post('/api/import/', document()) == (200, {
        'err': 0, 'data': {'created': ['piscine', 'passeports', 'titres'], 'updated': []}})


def by_slug(body, slug):
    return next(a for a in body['agendas'] if a['slug'] == slug)


# ---- importing ----------------------------------------------------------------------------

def test_import_creates_one_agenda_of_each_kind(api, imported, export):
    assert export() == EXPORT
    status, answer = api.get('/api/agenda/')
    assert status == 200
    assert [(a['slug'], a['kind'], a['category'], a['category_label']) for a in answer['data']] == [
        ('passeports', 'meetings', 'etat-civil', 'État civil'),
        ('piscine', 'events', 'sport', 'Sport'),
        ('titres', 'virtual', None, None),
    ]
    assert by_slug({'agendas': answer['data']}, 'passeports')['resources'] == [
        {'id': 'salle-1', 'text': 'Salle 1', 'description': 'Grande salle'}]
    assert by_slug({'agendas': answer['data']}, 'titres')['real_agendas'] == ['passeports']
    status, answer = api.get('/api/agenda/piscine/event/cours-1/')
    assert (status, answer['data']['places']['total'], answer['data']['places']['waiting_list_total']) == (200, 10, 2)


def test_export_is_empty_at_first(api):
    assert api.get('/api/export/') == (200, {'err': 0, 'agendas': [], 'categories': [], 'resources': [],
                                             'unavailability_calendars': []})


def test_an_export_reimported_changes_nothing(api, imported):
    status, first = api.get('/api/export/')
    assert status == 200
    assert api.post('/api/import/', first) == (200, NOTHING)  # as received, `err` included
    assert api.get('/api/export/') == (200, first)
    assert api.post('/api/import/', document()) == (200, NOTHING)  # the original document, too
    assert api.get('/api/export/') == (200, first)


def test_changing_one_label_updates_that_agenda_only(api, imported, export):
    changed = export()
    by_slug(changed, 'piscine')['label'] = 'Piscine municipale'
    assert api.post('/api/import/', changed) == (200, {'err': 0, 'data': {'created': [], 'updated': ['piscine']}})
    expected = copy.deepcopy(EXPORT)
    by_slug(expected, 'piscine')['label'] = 'Piscine municipale'
    assert export() == expected


def test_each_agenda_is_replaced_whole_and_others_are_untouched(api, imported, export):
    doc = export()
    piscine = by_slug(doc, 'piscine')
    piscine['events'] = [dict(piscine['events'][0], places=12),
                         event('cours-3', '2030-03-15 10:00:00', 8)]  # cours-2 left out
    passeports = by_slug(doc, 'passeports')
    passeports['desks'] = passeports['desks'][:1]
    passeports['meetingtypes'] = passeports['meetingtypes'][1:]
    doc['agendas'] = [piscine, passeports]  # titres not in the document
    assert api.post('/api/import/', doc) == (200, {
        'err': 0, 'data': {'created': [], 'updated': ['piscine', 'passeports']}})
    expected = copy.deepcopy(EXPORT)
    by_slug(expected, 'piscine')['events'] = [
        event('cours-1', '2030-03-01 10:00:00', 12, label='Cours 1', waiting_list_places=2,
              description='Bonnet obligatoire'),
        event('cours-3', '2030-03-15 10:00:00', 8)]
    by_slug(expected, 'passeports')['desks'] = by_slug(EXPORT, 'passeports')['desks'][:1]
    by_slug(expected, 'passeports')['meetingtypes'] = [{'label': 'Famille', 'slug': 'famille', 'duration': 45}]
    assert export() == expected
    assert api.get('/api/agenda/piscine/event/cours-2/')[0] == 404


def test_an_event_keeping_its_bookings_may_change(api, imported, export):
    set_counters('piscine', 'cours-1', reserved=3, waiting=1)
    doc = export()
    by_slug(doc, 'piscine')['events'][0].update(places=3, waiting_list_places=1, label='Cours complet')
    assert api.post('/api/import/', doc) == (200, {'err': 0, 'data': {'created': [], 'updated': ['piscine']}})
    status, answer = api.get('/api/agenda/piscine/event/cours-1/')
    assert (status, answer['data']['label'], answer['data']['places']) == (200, 'Cours complet', {
        'total': 3, 'reserved': 3, 'available': 0, 'full': True, 'has_waiting_list': True,
        'waiting_list_total': 1, 'waiting_list_reserved': 1, 'waiting_list_available': 0,
        'waiting_list_activated': True})


# ---- refusals that protect bookings -------------------------------------------------------

def refused_document(export):
    """Valid changes around the problem: a new agenda, a new resource, another agenda changed."""
    doc = export()
    by_slug(doc, 'passeports')['label'] = 'Passeports et CNI'
    doc['agendas'].append(exported('nouveau', 'Nouveau', 'events', category='culture'))
    doc['categories'].append({'slug': 'culture', 'label': 'Culture'})
    doc['resources'].append({'slug': 'salle-3', 'label': 'Salle 3'})
    return doc


def assert_refused(api, export, doc, err_desc):
    before = export()
    assert api.post('/api/import/', doc) == (200, {'err': 1, 'err_class': 'import refused', 'err_desc': err_desc})
    assert export() == before
    assert api.get('/api/agenda/nouveau/') == (404, {
        'err': 1, 'err_class': 'unknown agenda', 'err_desc': 'agenda nouveau does not exist'})
    assert api.get('/api/agenda/passeports/')[1]['data']['text'] == 'Passeports'


def test_deleting_an_event_with_bookings_refuses_the_whole_import(api, imported, export):
    set_counters('piscine', 'cours-1', reserved=3)
    doc = refused_document(export)
    by_slug(doc, 'piscine')['events'] = by_slug(doc, 'piscine')['events'][1:]
    assert_refused(api, export, doc, 'event cours-1 of agenda piscine has bookings and would be deleted')


def test_deleting_an_event_with_waiting_list_bookings_is_refused(api, imported, export):
    set_counters('piscine', 'cours-1', waiting=1)
    doc = refused_document(export)
    by_slug(doc, 'piscine')['events'] = []
    assert_refused(api, export, doc, 'event cours-1 of agenda piscine has bookings and would be deleted')


def test_shrinking_places_below_bookings_refuses_the_whole_import(api, imported, export):
    set_counters('piscine', 'cours-1', reserved=3)
    doc = refused_document(export)
    by_slug(doc, 'piscine')['events'][0]['places'] = 2
    assert_refused(api, export, doc, 'event cours-1 has 3 booked places, more than 2 (agenda piscine)')


def test_shrinking_the_waiting_list_below_bookings_is_refused(api, imported, export):
    set_counters('piscine', 'cours-1', reserved=10, waiting=2)
    doc = refused_document(export)
    by_slug(doc, 'piscine')['events'][0]['waiting_list_places'] = '1'
    assert_refused(api, export, doc,
                   'event cours-1 has 2 places booked in the waiting list, more than 1 (agenda piscine)')


def test_every_problem_is_listed_and_the_kind_of_a_booked_agenda_cannot_change(api, imported, export):
    set_counters('piscine', 'cours-1', reserved=1)
    set_counters('piscine', 'cours-2', reserved=5)
    doc = refused_document(export)
    doc['agendas'][1] = exported('piscine', 'Piscine', 'meetings')
    assert_refused(api, export, doc, '; '.join([
        'agenda piscine has bookings: its kind cannot change',
        'event cours-1 of agenda piscine has bookings and would be deleted',
        'event cours-2 of agenda piscine has bookings and would be deleted']))


# ---- invalid documents --------------------------------------------------------------------

def _without_places(doc):
    del doc['agendas'][0]['events'][1]['places']


def _duplicate_event(doc):
    doc['agendas'][0]['events'].append(dict(doc['agendas'][0]['events'][0], start_datetime='2030-04-01 10:00'))


def _virtual_over_events(doc):
    doc['agendas'][2]['real_agendas'] = [{'slug': 'piscine', 'kind': 'events'}]


def _unknown_resource(doc):
    doc['agendas'][1]['resources'] = ['salle-1', 'salle-9']


def _duplicate_agenda_after_an_invalid_one(doc):
    doc['agendas'] = [{'slug': 'a', 'label': 'A'}, {'slug': 'b'}, {'slug': 'a', 'label': 'A bis'}]


def _bad_children(doc):
    desk = doc['agendas'][1]['desks'][0]
    desk['timeperiods'][0]['end_time'] = '08:00'
    desk['exceptions'][0]['start_datetime'] = 'Noël'
    doc['agendas'][1]['meetingtypes'][1]['duration'] = 0


INVALID_DOCUMENTS = {
    'agendas not a list': (lambda doc: doc.update(agendas={'piscine': {}}),
                           {'agendas': ['Expected a list of agendas.']}),
    'no agendas': (lambda doc: doc.pop('agendas'), {'agendas': ['Expected a list of agendas.']}),
    'an agenda not an object': (lambda doc: doc['agendas'].insert(1, 'piscine'),
                                {'agendas.1': ['Expected a JSON object.']}),
    'an event without places': (_without_places, {'agendas.0.events.1.places': ['This field is required.']}),
    'duplicated event slugs': (_duplicate_event, {'agendas.0.events.2.slug': ['Duplicate slug "cours-2".']}),
    'virtual agenda over an events agenda': (_virtual_over_events,
                                             {'agendas.2.real_agendas': ['"piscine" is not a meetings agenda.']}),
    'unknown resource': (_unknown_resource, {'agendas.1.resources': ['Unknown resource "salle-9".']}),
    'duplicate agenda after an invalid one': (_duplicate_agenda_after_an_invalid_one, {
        'agendas.1.label': ['This field is required.'], 'agendas.2.slug': ['Duplicate agenda slug "a".']}),
    'categories not a list': (lambda doc: doc.update(categories='sport'),
                              {'categories': ['Expected a list of items.']}),
    'a resource without label': (lambda doc: doc['resources'].append({'slug': 'salle-3'}),
                                 {'resources.3': ['Expected an object with a slug and a label.']}),
    'a resource with a blank slug': (lambda doc: doc['resources'].insert(0, {'slug': '', 'label': 'Salle'}),
                                     {'resources.0': ['Expected an object with a slug and a label.']}),
    'bad desk and meeting type values': (_bad_children, {
        'agendas.1.meetingtypes.1.duration': ['Ensure this value is greater than or equal to 1.'],
        'agendas.1.desks.0.timeperiods.0.end_time': ['End time must be after start time.'],
        'agendas.1.desks.0.exceptions.0.start_datetime': [
            'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DD HH:MM[:SS].']}),
}


@pytest.mark.parametrize('case', list(INVALID_DOCUMENTS))
def test_invalid_documents_are_refused_and_write_nothing(api, imported, export, case):
    change, errors = INVALID_DOCUMENTS[case]
    before = export()
    doc = document()
    doc['agendas'][0]['label'] = 'Piscine municipale'  # a valid change riding along
    doc['resources'].append({'slug': 'salle-4', 'label': 'Salle 4'})
    change(doc)
    assert api.post('/api/import/', doc) == (400, {**INVALID, 'errors': errors})
    assert export() == before


def test_an_event_datetime_out_of_range_is_invalid_payload(api, imported, export):
    before = export()
    doc = document()
    doc['agendas'][0]['events'][0]['start_datetime'] = '0001-01-01 00:00'
    status, answer = api.post('/api/import/', doc)
    assert (status, answer['err_class'], list(answer.get('errors', {}))) == (
        400, 'invalid payload', ['agendas.0.events.0.start_datetime']), answer
    assert export() == before


# ---- export, then import: a no-op for every value the API accepts ---------------------------

def stored_starts(agenda):
    from chalicelib.store.models import Event, agenda_pk
    return {e.sk.removeprefix('event#'): e.start.isoformat() for e in Event.query(agenda_pk(agenda))}


@pytest.mark.parametrize('slug, start, utc', [
    ('premiere', '2030-10-27T02:30:00+02:00', '2030-10-27T00:30:00+00:00'),
    ('seconde', '2030-10-27T02:30:00+01:00', '2030-10-27T01:30:00+00:00'),
])
def test_reimport_keeps_an_event_in_the_repeated_autumn_hour(api, export, slug, start, utc):
    """02:30 on 2030-10-27 happens twice in Paris; the export writes local time without an offset."""
    assert api.post('/api/agenda/', {'label': 'Nuit', 'slug': 'nuit'})[0] == 200
    assert api.post('/api/agenda/nuit/event/', {'slug': slug, 'start_datetime': start, 'places': 1})[0] == 200
    assert stored_starts('nuit') == {slug: utc}
    before = export()
    assert before['agendas'][0]['events'][0]['start_datetime'] == '2030-10-27 02:30:00'
    assert api.post('/api/import/', before) == (200, NOTHING)
    assert stored_starts('nuit') == {slug: utc}


def test_reimport_of_an_event_created_with_fractional_seconds_changes_nothing(api, export):
    assert api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine'})[0] == 200
    status, answer = api.post('/api/agenda/piscine/event/', {'slug': 'e', 'start_datetime': '2030-03-01 10:00:00.5',
                                                             'places': 1})
    assert (status, answer['data']['datetime']) == (200, '2030-03-01 10:00:00')
    before = export()
    assert api.post('/api/import/', before) == (200, NOTHING)
    assert export() == before


def test_reimport_with_agendas_sharing_a_category_changes_nothing(api, export):
    """Each agenda keeps its own category_label; the export has one label per category."""
    assert api.post('/api/agenda/', {'label': 'A', 'category': 'sport', 'category_label': 'Sport'})[0] == 200
    assert api.post('/api/agenda/', {'label': 'B', 'category': 'sport', 'category_label': 'Sports'})[0] == 200
    before = export()
    assert api.post('/api/import/', before) == (200, NOTHING)
    assert export() == before


def test_configuration_set_by_a_test_applies_inside_requests(api, env):
    """The test client runs no Chalice stage: a stage's CHRONO_TIME_ZONE or CHRONO_TABLE never wins."""
    env(CHRONO_TIME_ZONE='America/Martinique')
    assert api.post('/api/agenda/', {'label': 'Nuit', 'slug': 'nuit'})[0] == 200
    assert api.post('/api/agenda/nuit/event/', {'slug': 'e', 'start_datetime': '2030-03-01 10:00', 'places': 1})[0] \
        == 200
    assert stored_starts('nuit') == {'e': '2030-03-01T14:00:00+00:00'}
