"""Meetings configuration reads (spec §5.3-5.5): meeting types, desks, resources; virtual agendas
offer the meeting types common to their real agendas; none fails for a listed agenda (design §3.6)."""
from __future__ import annotations

import pytest

DOCUMENT = {
    'resources': [{'slug': 'salle', 'label': 'Salle', 'description': 'Grande salle'}],
    'agendas': [
        {'slug': 'rdv1', 'label': 'Rdv 1', 'kind': 'meetings', 'resources': ['salle'],
         'meetingtypes': [{'slug': 'depot', 'label': 'Dépôt', 'duration': 30},
                          {'slug': 'retrait', 'label': 'Retrait', 'duration': 15}],
         'desks': [{'slug': 'g2', 'label': 'Guichet 2'}, {'slug': 'g1', 'label': 'Guichet 1'}]},
        {'slug': 'rdv2', 'label': 'Rdv 2', 'kind': 'meetings',
         'meetingtypes': [{'slug': 'retrait', 'label': 'Retrait', 'duration': 20},
                          {'slug': 'depot', 'label': 'Dépôt', 'duration': 30}]},
        {'slug': 'titres', 'label': 'Titres', 'kind': 'virtual', 'real_agendas': ['rdv1', 'rdv2']},
        {'slug': 'piscine', 'label': 'Piscine'},
    ],
}


@pytest.fixture
def agendas(api):
    assert api.post('/api/import/', DOCUMENT)[0] == 200


def mt(agenda, slug, label, duration):
    return {'id': slug, 'slug': slug, 'text': label, 'duration': duration,
            'api': {'datetimes_url': f'http://localhost/api/agenda/{agenda}/meetings/{slug}/datetimes/'}}


def test_meeting_types_in_their_order(api, agendas):
    assert api.get('/api/agenda/rdv1/meetings/') == (200, {'err': 0, 'data': [
        mt('rdv1', 'depot', 'Dépôt', 30), mt('rdv1', 'retrait', 'Retrait', 15)]})
    assert api.get('/api/agenda/rdv1/meetings/retrait/') == (200, {'err': 0, 'data': mt('rdv1', 'retrait', 'Retrait',
                                                                                          15)})


def test_a_virtual_agenda_offers_the_meeting_types_all_its_agendas_share(api, agendas):
    # `retrait` lasts 15 minutes in rdv1 and 20 in rdv2: not common.
    assert api.get('/api/agenda/titres/meetings/') == (200, {'err': 0, 'data': [mt('titres', 'depot', 'Dépôt', 30)]})
    assert api.get('/api/agenda/titres/meetings/retrait/')[0] == 404


def test_a_virtual_agenda_whose_real_agenda_is_gone_still_answers(api, agendas):
    from chalicelib.store.models import Agenda, agenda_pk
    Agenda(agenda_pk('rdv2'), 'cfg#agenda').delete()
    assert api.get('/api/agenda/titres/meetings/') == (200, {'err': 0, 'data': [
        mt('titres', 'depot', 'Dépôt', 30), mt('titres', 'retrait', 'Retrait', 15)]})


def test_desks_in_desk_order_and_resources(api, agendas):
    assert api.get('/api/agenda/rdv1/desks/') == (200, {'err': 0, 'data': [
        {'id': 'g2', 'text': 'Guichet 2'}, {'id': 'g1', 'text': 'Guichet 1'}]})
    expected = (200, {'err': 0, 'data': [{'id': 'salle', 'text': 'Salle', 'description': 'Grande salle'}]})
    assert api.get('/api/agenda/rdv1/resources/') == expected
    assert api.get('/api/agenda/rdv1/shared-resources/') == expected
    assert api.get('/api/agenda/titres/desks/') == (200, {'err': 0, 'data': []})
    assert api.get('/api/agenda/titres/resources/') == (200, {'err': 0, 'data': []})


def test_every_listed_meetings_agenda_answers_its_meetings_and_resources(api, agendas):
    """w.c.s. refreshes its agenda data sources only when every one of these calls succeeds."""
    status, listing = api.get('/api/agenda/')
    for item in listing['data']:
        if item['kind'] != 'events':
            for url in (item['api']['meetings_url'], item['api']['resources_url']):
                status, answer = api.get(url.replace('http://localhost', ''))
                assert (status, answer['err']) == (200, 0), url


@pytest.mark.parametrize('path, err_class', [
    ('/api/agenda/piscine/meetings/', 'not a meetings agenda'),
    ('/api/agenda/piscine/desks/', 'not a meetings agenda'),
    ('/api/agenda/nope/meetings/', 'unknown agenda'),
    ('/api/agenda/rdv1/meetings/nope/', 'unknown meeting type'),
    ('/api/agenda/' + 'x' * 3000 + '/resources/', 'unknown agenda'),
])
def test_unknown_or_wrong_kind_is_404(api, agendas, path, err_class):
    status, answer = api.get(path)
    assert (status, answer['err'], answer['err_class']) == (404, 1, err_class)
