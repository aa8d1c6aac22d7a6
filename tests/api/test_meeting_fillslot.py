"""Meetings fillslot and fillslots (spec §6.1-6.2, §9.3-9.6, the seed document) through the API.

Every request runs at NOW (Friday 2030-03-01 09:00 in Paris) unless a test sets the clock: rdv's window
(minimal delay 1 day, maximal 30) is [Saturday 2nd 00:00, Sunday 31st 00:00); its two desks open on Mondays
09:00-12:00, on a 15-minute grid (types `court` 15 and `long` 30 minutes).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from botocore.client import BaseClient

from chalicelib.domain.meeting_slots import MAX_BOOKING_WRITES
from chalicelib.store.models import Booking, Lock, TableItem

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris'))  # a Friday
MONDAY = {'weekday': 0, 'start_time': '09:00', 'end_time': '12:00'}


@pytest.fixture
def agendas(api, clock):
    clock(NOW)
    document = {'agendas': [
        {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 1, 'maximal_booking_delay': 30,
         'meetingtypes': [{'slug': 'court', 'label': 'Court', 'duration': 15},
                          {'slug': 'long', 'label': 'Long', 'duration': 30}],
         'desks': [{'slug': 'g1', 'label': 'Guichet 1', 'timeperiods': [MONDAY]},
                   {'slug': 'g2', 'label': 'Guichet 2', 'timeperiods': [MONDAY]}]},
    ]}
    assert api.post('/api/import/', document)[0] == 200


def locks():
    return sorted(item.pk for item in Lock.scan())


def test_first_free_desk_in_desk_order_then_no_more_desk(api, agendas):
    status, first = api.post('/api/agenda/rdv/fillslot/long:2030-03-04-1000/', {'user_external_id': 'u1'})
    assert status == 200, first
    booking_id = first['booking_id']
    assert first == {
        'err': 0, 'booking_id': booking_id, 'datetime': '2030-03-04 10:00:00', 'end_datetime': '2030-03-04 10:30:00',
        'duration': 30, 'in_waiting_list': False, 'agenda': {'label': 'Rdv', 'slug': 'rdv'},
        'desk': {'label': 'Guichet 1', 'slug': 'g1'}, 'resources': [],
        'api': {'booking_url': f'http://localhost/api/booking/{booking_id}/',
                'cancel_url': f'http://localhost/api/booking/{booking_id}/cancel/',
                'ics_url': f'http://localhost/api/booking/{booking_id}/ics/',
                'anonymize_url': f'http://localhost/api/booking/{booking_id}/anonymize/',
                'accept_url': f'http://localhost/api/booking/{booking_id}/accept/',
                'suspend_url': f'http://localhost/api/booking/{booking_id}/suspend/'}}
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T09:00:00Z', 'LOCK#DESK#rdv#g1#2030-03-04T09:15:00Z']
    second = api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1015/', {})[1]
    assert second['desk'] == {'label': 'Guichet 2', 'slug': 'g2'}
    third = api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1015/', {})[1]
    assert (third['err'], third['err_class'], third['err_desc']) == (1, 'no more desk available',
                                                                     'no more desk available')
    assert api.post(f'/api/booking/{booking_id}/cancel/', {})[0] == 200
    assert locks() == ['LOCK#DESK#rdv#g2#2030-03-04T09:15:00Z']
    assert api.post('/api/agenda/rdv/fillslot/court:2030-03-04-1015/', {})[1]['desk']['slug'] == 'g1'


# ---- helpers --------------------------------------------------------------------------------

PARIS = ZoneInfo('Europe/Paris')
BASE = 'http://localhost'
NO_DESK = 'no more desk available'
OUTSIDE = 'outside the bookable period'
G1, G2 = ('Guichet 1', 'g1'), ('Guichet 2', 'g2')
AUTRE = {'slug': 'autre', 'label': 'Autre', 'kind': 'meetings', 'minimal_booking_delay': 1,
         'maximal_booking_delay': 30, 'meetingtypes': [{'slug': 'long', 'label': 'Long', 'duration': 30}],
         'desks': [{'slug': 'a1', 'label': 'Autre 1', 'timeperiods': [MONDAY]}]}


@pytest.fixture
def more(api, agendas):
    """`autre`, a second meetings agenda (type `long` as rdv's), `v`, a virtual agenda over rdv and
    autre, and `piscine`, an events agenda with `cours` on Monday 4th 10:00-11:00 (10 places)."""
    document = {'agendas': [AUTRE, {'slug': 'v', 'label': 'V', 'kind': 'virtual', 'real_agendas': ['rdv', 'autre']}]}
    assert api.post('/api/import/', document)[0] == 200
    assert api.post('/api/agenda/', {'label': 'Piscine', 'slug': 'piscine'})[1]['err'] == 0
    event = {'slug': 'cours', 'start_datetime': '2030-03-04 10:00', 'duration': '60', 'places': '10'}
    assert api.post('/api/agenda/piscine/event/', event)[1]['err'] == 0


def urls(booking_id):
    url = f'{BASE}/api/booking/{booking_id}'
    return {'booking_url': f'{url}/', 'cancel_url': f'{url}/cancel/', 'ics_url': f'{url}/ics/',
            'anonymize_url': f'{url}/anonymize/', 'accept_url': f'{url}/accept/', 'suspend_url': f'{url}/suspend/'}


def meeting(booking_id, start, end, duration, desk, agenda=('Rdv', 'rdv'), **extra):
    """A meetings fillslot answer (seed, spec §6.1): `desk` is (label, slug)."""
    return {'err': 0, 'booking_id': booking_id, 'datetime': start, 'end_datetime': end, 'duration': duration,
            'in_waiting_list': False, 'agenda': {'label': agenda[0], 'slug': agenda[1]},
            'desk': {'label': desk[0], 'slug': desk[1]}, 'resources': [], 'api': urls(booking_id), **extra}


def refusal(err_class, err_desc=None):
    return {'err': 1, 'err_class': err_class, 'err_desc': err_desc or err_class}


def fillslot(api, slot, agenda='rdv', **body):
    return api.post(f'/api/agenda/{agenda}/fillslot/{slot}/', body)


def fillslots(api, slots, agenda='rdv', **body):
    return api.post(f'/api/agenda/{agenda}/fillslots/', {'slots': slots, **body})


def booked(api, slot, agenda='rdv', **body):
    status, answer = fillslot(api, slot, agenda, **body)
    assert (status, answer['err']) == (200, 0), answer
    return answer


def table():
    """Every item of the table, with its attributes: what a refusal must leave as it was."""
    return {(item.pk, item.sk): dict(item.attribute_values) for item in TableItem.scan()}


def live_bookings():
    """(booking id, leg, agenda, desk, local start) of the legs not cancelled, by start and desk."""
    legs = [(int(i.booking_id), int(i.leg), i.agenda, i.desk, i.start.astimezone(PARIS).strftime('%d %H:%M'))
            for i in Booking.scan() if i.cancelled_at is None]
    return sorted(legs, key=lambda leg: (leg[4], leg[3] or '', leg[2]))


def disabled(api, meeting_type='court', agenda='rdv', day='2030-03-04'):
    """The times listed on `day` (HHMM) and whether each is disabled."""
    after = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    answer = api.get(f'/api/agenda/{agenda}/meetings/{meeting_type}/datetimes/?date_start={day}&date_end={after}'
                     '&bypass_delays=true')[1]
    return {item['id'][-4:]: item['disabled'] for item in answer['data']}


def detail(booking_id, agenda, desk, meeting_type, start, end, **fields):
    """GET /api/booking/<id>/ of a meeting booking made at NOW (spec §8.3): the booking at the top
    level and under `data`."""
    data = {'booking_id': booking_id, 'id': booking_id, 'in_waiting_list': False, 'user_was_present': None,
            'user_absence_reason': '', 'user_check_type_slug': None, 'user_check_type_label': None,
            'extra_data': None, 'count': 1, 'agenda': agenda, 'event': None, 'datetime': start,
            'end_datetime': end, 'creation_datetime': '2030-03-01 09:00:00', 'anonymization_datetime': None,
            'label': None, 'user_display_label': None, 'user_name': None, 'user_first_name': None,
            'user_last_name': None, 'user_email': None, 'user_phone_number': None, 'sms_counter': None,
            'backoffice_url': None, 'form_url': None, 'cancel_callback_url': None, 'presence_callback_url': None,
            'absence_callback_url': None, 'user_external_id': None, 'extra_emails': [], 'extra_phone_numbers': [],
            'desk': desk, 'meeting_type': meeting_type, 'use_color_for': None, 'resources': [],
            'api': urls(booking_id)}
    data.update(fields)
    return {'err': 0, **data, 'data': data}


def record_calls(monkeypatch):
    """The DynamoDB operations made from now on, in order: ('Query', index or None, partition key
    value) for a Query, (operation,) for the others."""
    seen = []
    original = BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == 'Query':
            seen.append((operation, params.get('IndexName'), params['ExpressionAttributeValues'][':0']['S']))
        else:
            seen.append((operation,))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, '_make_api_call', recording)
    return seen


# ---- slot ids -------------------------------------------------------------------------------

@pytest.mark.parametrize('slot, status, err_class', [
    ('2030-03-04-1000', 200, 'invalid slot: 2030-03-04-1000'),
    (':2030-03-04-1000', 200, 'invalid slot: :2030-03-04-1000'),
    ('court:', 200, 'bad datetime format: '),
    ('court:2030-03-04', 200, 'bad datetime format: 2030-03-04'),
    ('court:2030-13-04-1000', 200, 'bad datetime format: 2030-13-04-1000'),
    ('court:2030-03-04-2500', 200, 'bad datetime format: 2030-03-04-2500'),
    ('court:demain', 200, 'bad datetime format: demain'),
    # Sunday 31 March 2030, 02:00 CET becomes 03:00 CEST: 02:30 does not exist in Paris.
    ('court:2030-03-31-0230', 200, 'bad datetime format: 2030-03-31-0230'),
    ('nope:2030-03-04-1000', 400, 'invalid meeting type id: nope'),
    ('court:x:2030-03-04-1000', 400, 'invalid meeting type id: court:x'),
])
def test_a_bad_slot_id_is_refused_with_its_error_and_writes_nothing(api, agendas, slot, status, err_class):
    before = table()
    assert fillslot(api, slot, bypass_delays='true') == (status, refusal(err_class))
    assert fillslots(api, [slot], bypass_delays='true') == (status, refusal(err_class))
    # After a good slot of the same type.
    meeting_type = slot.rpartition(':')[0] if status == 400 else 'court'
    assert fillslots(api, [f'{meeting_type}:2030-03-04-1100', slot]) == (status, refusal(err_class))
    assert table() == before


def test_a_slot_before_the_first_utc_instant_is_a_bad_datetime_not_a_500(api, agendas):
    # 0001-01-01 00:00 in Paris (LMT, +00:09:21) is before the first instant Python can hold in UTC.
    before = table()
    for body in ({}, {'bypass_delays': 'true'}):
        assert fillslot(api, 'court:0001-01-01-0000', **body) == (200, refusal('bad datetime format: 0001-01-01-0000'))
        assert fillslots(api, ['court:0001-01-01-0000'], **body) == (
            200, refusal('bad datetime format: 0001-01-01-0000'))
    assert table() == before


def test_a_slot_on_the_last_day_of_the_calendar_is_refused_not_a_500(api, agendas):
    # Friday 31 December 9999: no desk opens (and the day after it does not exist).
    before = table()
    for status, answer in (fillslot(api, 'court:9999-12-31-1000'), fillslot(api, 'court:9999-12-31-1000',
                                                                            bypass_delays='true')):
        assert (status, answer['err'], answer['err_class']) == (200, 1, NO_DESK), answer
    assert table() == before


def test_fillslots_of_two_meeting_types_is_refused(api, agendas):
    before = table()
    answer = fillslots(api, ['long:2030-03-04-1000', 'court:2030-03-04-1030'])
    assert answer == (200, refusal('all slots must have the same meeting type id (long)'))
    answer = fillslots(api, 'court:2030-03-04-1000,long:2030-03-04-1030')
    assert answer == (200, refusal('all slots must have the same meeting type id (court)'))
    assert table() == before


@pytest.mark.parametrize('body', [{}, {'slots': []}, {'slots': ''}, {'slots': ' , '}, {'slots': None}])
def test_fillslots_without_slots_is_a_400(api, agendas, body):
    before = table()
    assert api.post('/api/agenda/rdv/fillslots/', body) == (400, refusal('slots list cannot be empty'))
    assert table() == before


def test_fillslots_of_overlapping_slots_is_refused(api, agendas):
    before = table()
    answer = fillslots(api, ['long:2030-03-04-1000', 'long:2030-03-04-1015'])
    assert answer == (200, refusal(NO_DESK, 'the requested slots overlap one another'))
    assert table() == before


def test_an_unknown_agenda_is_a_404(api, agendas):
    before = table()
    for status_body in (fillslot(api, 'court:2030-03-04-1000', agenda='nope'),
                        fillslots(api, ['court:2030-03-04-1000'], agenda='nope')):
        assert status_body == (404, refusal('unknown agenda', 'agenda nope does not exist'))
    assert table() == before


# ---- times no desk can take ------------------------------------------------------------------

CLOSURE = {'start_datetime': '2030-03-11 10:00', 'end_datetime': '2030-03-11 11:00'}


def close_both(api):
    """Re-import rdv with both desks closed on Monday 11th 10:00-11:00."""
    document = {'agendas': [
        {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 1, 'maximal_booking_delay': 30,
         'meetingtypes': [{'slug': 'court', 'label': 'Court', 'duration': 15},
                          {'slug': 'long', 'label': 'Long', 'duration': 30}],
         'desks': [{'slug': 'g1', 'label': 'Guichet 1', 'timeperiods': [MONDAY], 'exceptions': [CLOSURE]},
                   {'slug': 'g2', 'label': 'Guichet 2', 'timeperiods': [MONDAY], 'exceptions': [CLOSURE]}]},
    ]}
    assert api.post('/api/import/', document)[1]['err'] == 0


@pytest.mark.parametrize('slot', [
    'court:2030-03-04-0845',  # before the desks open
    'court:2030-03-04-1200',  # at closing time
    'long:2030-03-04-1145',  # would end after closing time
    'court:2030-03-05-1000',  # Tuesday: no desk opens
    'court:2030-03-04-0905',  # off the 15-minute grid
    'long:2030-03-04-0950',  # off the grid too
    'court:2030-03-11-1030',  # in the closure of both desks
    'long:2030-03-11-0945',  # overlaps its start
])
def test_a_time_no_desk_offers_is_no_more_desk_available_even_with_bypass_delays(api, agendas, slot):
    close_both(api)
    before = table()
    assert fillslot(api, slot) == (200, refusal(NO_DESK))
    assert fillslot(api, slot, bypass_delays='true') == (200, refusal(NO_DESK))
    assert fillslots(api, [slot], bypass_delays='true') == (200, refusal(NO_DESK))
    assert table() == before


def test_the_times_around_a_closure_are_bookable(api, agendas):
    close_both(api)
    assert booked(api, 'court:2030-03-11-0945')['end_datetime'] == '2030-03-11 10:00:00'
    assert booked(api, 'long:2030-03-11-1100')['end_datetime'] == '2030-03-11 11:30:00'


def test_the_delays_refuse_unless_bypassed(api, agendas, clock):
    # maximal_booking_delay 30 from Friday 1st: the window ends on Sunday 31st 00:00.
    before = table()
    assert fillslot(api, 'court:2030-04-01-1000') == (200, refusal(NO_DESK, OUTSIDE))
    assert fillslots(api, ['court:2030-03-25-1000', 'court:2030-04-01-1000']) == (200, refusal(NO_DESK, OUTSIDE))
    assert table() == before
    assert booked(api, 'court:2030-03-25-1145')['datetime'] == '2030-03-25 11:45:00'  # the last Monday in it
    assert booked(api, 'court:2030-04-01-1000', bypass_delays='true')['datetime'] == '2030-04-01 10:00:00'
    # minimal_booking_delay 1: on Monday 08:00, Monday's times are too early.
    clock(datetime(2030, 3, 4, 8, 0, tzinfo=PARIS))
    before = table()
    assert fillslot(api, 'court:2030-03-04-1000') == (200, refusal(NO_DESK, OUTSIDE))
    assert table() == before
    assert booked(api, 'court:2030-03-04-1000', bypass_delays='true')['desk'] == {'label': 'Guichet 1', 'slug': 'g1'}


def test_bypass_delays_lifts_neither_the_past_nor_the_opening_hours(api, agendas, clock):
    clock(datetime(2030, 3, 4, 10, 20, tzinfo=PARIS))
    before = table()
    for slot in ('court:2030-03-04-1000', 'court:2030-03-04-1015', 'court:2030-03-01-1000'):  # past, begun, past
        assert fillslot(api, slot, bypass_delays='true') == (200, refusal(NO_DESK, OUTSIDE))
    assert fillslots(api, ['court:2030-03-04-1015', 'court:2030-03-04-1030'], bypass_delays='true') == (
        200, refusal(NO_DESK, OUTSIDE))
    assert fillslot(api, 'court:2030-03-04-1215', bypass_delays='true') == (200, refusal(NO_DESK))
    assert table() == before
    assert booked(api, 'court:2030-03-04-1030', bypass_delays='true')['datetime'] == '2030-03-04 10:30:00'


# ---- fillslots: one desk for every slot ----------------------------------------------------------

def test_consecutive_slots_land_on_the_first_desk_free_for_all_of_them(api, agendas):
    first = booked(api, 'court:2030-03-04-1015')  # g1 10:15-10:30
    # g1 is free at 10:00 only: g2 takes both, whatever the order of the slots.
    status, answer = fillslots(api, ['court:2030-03-04-1015', 'court:2030-03-04-1000'], user_external_id='u1')
    booking_id = answer['booking_id']
    assert (status, answer) == (200, meeting(booking_id, '2030-03-04 10:00:00', '2030-03-04 10:30:00', 15, G2))
    assert api.get(f'/api/booking/{booking_id}/') == (200, detail(
        booking_id, 'rdv', 'g2', 'court', '2030-03-04 10:00:00', '2030-03-04 10:30:00', user_external_id='u1'))
    assert live_bookings() == [(booking_id, 0, 'rdv', 'g2', '04 10:00'),
                               (first['booking_id'], 0, 'rdv', 'g1', '04 10:15'),
                               (booking_id, 1, 'rdv', 'g2', '04 10:15')]
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T09:15:00Z',
                       'LOCK#DESK#rdv#g2#2030-03-04T09:00:00Z', 'LOCK#DESK#rdv#g2#2030-03-04T09:15:00Z']
    times = disabled(api)
    assert (times['1000'], times['1015'], times['1030']) == (False, True, False)
    # Cancelling the booking frees all of its slots.
    assert api.post(f'/api/booking/{booking_id}/cancel/') == (200, {'err': 0, 'booking_id': booking_id})
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T09:15:00Z']
    assert live_bookings() == [(first['booking_id'], 0, 'rdv', 'g1', '04 10:15')]
    assert disabled(api) == {t: False for t in ('0900', '0915', '0930', '0945', '1000', '1015', '1030', '1045',
                                                 '1100', '1115', '1130', '1145')}
    again = fillslots(api, ['court:2030-03-04-1000', 'court:2030-03-04-1015'])[1]
    assert (again['desk'], again['datetime'], again['end_datetime']) == (
        {'label': 'Guichet 2', 'slug': 'g2'}, '2030-03-04 10:00:00', '2030-03-04 10:30:00')


def test_fillslots_on_free_desks_takes_the_first_and_counts_a_repeated_slot_once(api, agendas):
    status, answer = fillslots(api, 'long:2030-03-04-1000, long:2030-03-04-1030,long:2030-03-04-1000')
    booking_id = answer['booking_id']
    assert (status, answer) == (200, meeting(booking_id, '2030-03-04 10:00:00', '2030-03-04 11:00:00', 30, G1))
    assert live_bookings() == [(booking_id, 0, 'rdv', 'g1', '04 10:00'), (booking_id, 1, 'rdv', 'g1', '04 10:30')]
    assert len(locks()) == 4


def test_fillslots_with_a_gap_holds_the_slots_only(api, agendas):
    answer = fillslots(api, ['court:2030-03-04-1100', 'court:2030-03-04-1000'])[1]
    booking_id = answer['booking_id']
    assert answer == meeting(booking_id, '2030-03-04 10:00:00', '2030-03-04 11:15:00', 15, G1)
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T09:00:00Z', 'LOCK#DESK#rdv#g1#2030-03-04T10:00:00Z']
    assert booked(api, 'long:2030-03-04-1015')['desk'] == {'label': 'Guichet 1', 'slug': 'g1'}


def test_a_fillslots_no_desk_can_take_whole_is_refused_and_writes_nothing(api, agendas):
    early = booked(api, 'court:2030-03-04-0945')  # g1
    booked(api, 'court:2030-03-04-0945')  # g2
    booked(api, 'court:2030-03-04-1000')  # g1
    assert api.post(f"/api/booking/{early['booking_id']}/cancel/")[1]['err'] == 0
    before = table()
    # g1 is free at 09:45 only, g2 at 10:00 only.
    assert fillslots(api, ['court:2030-03-04-0945', 'court:2030-03-04-1000']) == (200, refusal(NO_DESK))
    assert table() == before


def test_a_desk_taken_since_the_read_moves_on_to_the_next_desk(api, agendas, monkeypatch):
    """The legs Query is eventually consistent: the desk's lock items decide."""
    from chalicelib import store
    booked(api, 'long:2030-03-04-1000')  # g1 10:00-10:30
    monkeypatch.setattr(store, 'meeting_legs', lambda *args, **kwargs: [])  # a read that misses it
    assert booked(api, 'court:2030-03-04-1015')['desk'] == {'label': 'Guichet 2', 'slug': 'g2'}
    before = table()
    assert fillslot(api, 'court:2030-03-04-1015') == (200, refusal(NO_DESK))
    assert table() == before
    assert booked(api, 'court:2030-03-04-1030')['desk'] == {'label': 'Guichet 1', 'slug': 'g1'}


def test_meetings_across_the_daylight_saving_time_changes(api, agendas):
    sunday = {'weekday': 6, 'start_time': '01:00', 'end_time': '04:00'}
    document = {'agendas': [{'slug': 'nuit', 'label': 'Nuit', 'kind': 'meetings',
                             'meetingtypes': [{'slug': 'long', 'label': 'Long', 'duration': 30}],
                             'desks': [{'slug': 'n1', 'label': 'N1', 'timeperiods': [sunday]}]}]}
    assert api.post('/api/import/', document)[0] == 200
    # Sunday 31 March: 01:30 CET + 30 minutes is 03:00 CEST, which the next slot touches.
    answer = fillslots(api, ['long:2030-03-31-0130', 'long:2030-03-31-0300'], agenda='nuit')[1]
    assert (answer['datetime'], answer['end_datetime'], answer['duration']) == (
        '2030-03-31 01:30:00', '2030-03-31 03:30:00', 30)
    assert locks() == ['LOCK#DESK#nuit#n1#2030-03-31T00:30:00Z', 'LOCK#DESK#nuit#n1#2030-03-31T01:00:00Z']
    # Sunday 27 October: 02:30 is its first occurrence (CEST), and ends at 02:00 CET.
    autumn = booked(api, 'long:2030-10-27-0230', 'nuit', bypass_delays='true')
    assert (autumn['datetime'], autumn['end_datetime']) == ('2030-10-27 02:30:00', '2030-10-27 02:00:00')
    assert locks()[-1] == 'LOCK#DESK#nuit#n1#2030-10-27T00:30:00Z'


def test_count_is_checked_but_a_meeting_holds_one_place(api, agendas):
    answer = booked(api, 'long:2030-03-04-1000', count='2')
    assert api.get(f"/api/booking/{answer['booking_id']}/")[1]['count'] == 1
    before = table()
    assert fillslot(api, 'long:2030-03-04-1100', count='0') == (
        400, refusal('count cannot be less than or equal to zero'))
    assert fillslot(api, 'long:2030-03-04-1100', count='deux') == (400, refusal('invalid value for count (deux)'))
    assert table() == before

# ---- exclude_user (spec §9.3) ---------------------------------------------------------------------

def test_exclude_user_refuses_a_time_the_user_holds_a_meeting_in_any_agenda(api, more):
    held = booked(api, 'long:2030-03-04-1000', user_external_id='u1')  # rdv g1 10:00-10:30
    before = table()
    busy = refusal(NO_DESK, 'the user already has a meeting at that time')
    for agenda, slot in (('rdv', 'court:2030-03-04-1015'), ('rdv', 'long:2030-03-04-0945'),
                         ('autre', 'long:2030-03-04-1000'), ('v', 'long:2030-03-04-1000')):
        assert fillslot(api, slot, agenda, user_external_id='u1', exclude_user='true') == (200, busy)
    assert fillslots(api, ['court:2030-03-04-0945', 'court:2030-03-04-1000'], user_external_id='u1',
                     exclude_user=True) == (200, busy)
    assert table() == before
    # Touching is fine; so are another user, and the same user without exclude_user (last).
    assert booked(api, 'court:2030-03-04-0945', user_external_id='u1', exclude_user='true')['desk']['slug'] == 'g1'
    assert booked(api, 'long:2030-03-04-1030', 'autre', user_external_id='u1', exclude_user='true')['err'] == 0
    assert booked(api, 'court:2030-03-04-1000', user_external_id='u2', exclude_user='true')['desk']['slug'] == 'g2'
    # exclude_user without user_external_id excludes nobody.
    assert booked(api, 'court:2030-03-04-1015', exclude_user='true')['desk']['slug'] == 'g2'
    # A cancelled meeting no longer counts.
    assert api.post(f"/api/booking/{held['booking_id']}/cancel/")[1]['err'] == 0
    assert booked(api, 'court:2030-03-04-1015', user_external_id='u1', exclude_user='true')['desk']['slug'] == 'g1'
    assert booked(api, 'long:2030-03-04-1000', 'autre', user_external_id='u1')['desk']['slug'] == 'a1'


def test_exclude_user_ignores_the_users_events_bookings(api, more):
    status, cours = api.post('/api/agenda/piscine/fillslot/cours/', {'user_external_id': 'u1'})  # 10:00-11:00
    assert (status, cours['err']) == (200, 0)
    answer = booked(api, 'long:2030-03-04-1000', user_external_id='u1', exclude_user='true')
    assert (answer['datetime'], answer['desk']['slug']) == ('2030-03-04 10:00:00', 'g1')


def test_exclude_user_does_not_count_the_meeting_it_replaces(api, more):
    old = booked(api, 'long:2030-03-04-1000', user_external_id='u1')  # g1 10:00-10:30
    status, answer = fillslot(api, 'court:2030-03-04-1015', user_external_id='u1', exclude_user='true',
                              cancel_booking_id=str(old['booking_id']))
    # The replaced booking still holds g1 while the desk is chosen: g2.
    assert (status, answer) == (200, meeting(answer['booking_id'], '2030-03-04 10:15:00', '2030-03-04 10:30:00',
                                             15, G2, cancelled_booking_id=old['booking_id']))
    assert live_bookings() == [(answer['booking_id'], 0, 'rdv', 'g2', '04 10:15')]
    assert locks() == ['LOCK#DESK#rdv#g2#2030-03-04T09:15:00Z']


# ---- use_color_for ---------------------------------------------------------------------------------

def test_use_color_for_is_stored_and_shown_by_the_booking(api, agendas):
    answer = booked(api, 'long:2030-03-04-1000', use_color_for='Passeport', label='Dupont', foo='bar')
    assert 'use_color_for' not in answer
    assert api.get(f"/api/booking/{answer['booking_id']}/") == (200, detail(
        answer['booking_id'], 'rdv', 'g1', 'long', '2030-03-04 10:00:00', '2030-03-04 10:30:00',
        use_color_for='Passeport', label='Dupont', extra_data={'foo': 'bar'}))


# ---- cancel_booking_id (spec §9.4) -----------------------------------------------------------------

def test_a_meeting_replaces_a_meeting(api, agendas):
    old = booked(api, 'long:2030-03-04-1000', user_external_id='u1')
    status, answer = fillslot(api, 'court:2030-03-04-1100', cancel_booking_id=str(old['booking_id']))
    assert (status, answer) == (200, meeting(answer['booking_id'], '2030-03-04 11:00:00', '2030-03-04 11:15:00', 15,
                                             G1, cancelled_booking_id=old['booking_id']))
    assert api.get(f"/api/booking/{old['booking_id']}/") == (200, refusal('booking is cancelled'))
    assert live_bookings() == [(answer['booking_id'], 0, 'rdv', 'g1', '04 11:00')]
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T10:00:00Z']
    times = disabled(api)
    assert (times['1000'], times['1015'], times['1100']) == (False, False, False)  # g2 is free at 11:00
    # A fillslots replaces one too, and an integer is accepted as well as its text.
    status, group = fillslots(api, ['long:2030-03-04-0900', 'long:2030-03-04-0930'],
                              cancel_booking_id=answer['booking_id'])
    assert (status, group) == (200, meeting(group['booking_id'], '2030-03-04 09:00:00', '2030-03-04 10:00:00', 30,
                                            G1, cancelled_booking_id=answer['booking_id']))
    assert locks() == [f'LOCK#DESK#rdv#g1#2030-03-04T08:{m}:00Z' for m in ('00', '15', '30', '45')]


def test_a_meeting_replaces_an_events_booking_and_the_reverse(api, more):
    status, cours = api.post('/api/agenda/piscine/fillslot/cours/', {'user_external_id': 'u1'})
    assert (status, cours['places']['reserved']) == (200, 1)
    status, answer = fillslot(api, 'long:2030-03-04-1000', cancel_booking_id=cours['booking_id'])
    assert (status, answer) == (200, meeting(answer['booking_id'], '2030-03-04 10:00:00', '2030-03-04 10:30:00', 30,
                                             G1, cancelled_booking_id=cours['booking_id']))
    assert api.get('/api/agenda/piscine/status/cours/')[1]['places']['reserved'] == 0
    assert api.get(f"/api/booking/{cours['booking_id']}/") == (200, refusal('booking is cancelled'))
    # Back to the events agenda: the meeting's desk time is freed.
    status, back = api.post('/api/agenda/piscine/fillslot/cours/', {'cancel_booking_id': answer['booking_id']})
    assert (status, back['err'], back['cancelled_booking_id'], back['places']['reserved']) == (
        200, 0, answer['booking_id'], 1)
    assert api.get(f"/api/booking/{answer['booking_id']}/") == (200, refusal('booking is cancelled'))
    assert locks() == []
    assert live_bookings() == [(back['booking_id'], 0, 'piscine', None, '04 10:00')]


def test_a_meeting_replaces_a_meeting_of_another_agenda(api, more):
    old = booked(api, 'long:2030-03-04-1000', 'autre')
    answer = booked(api, 'long:2030-03-04-1000', cancel_booking_id=old['booking_id'])
    assert (answer['agenda'], answer['desk'], answer['cancelled_booking_id']) == (
        {'label': 'Rdv', 'slug': 'rdv'}, {'label': 'Guichet 1', 'slug': 'g1'}, old['booking_id'])
    assert locks() == ['LOCK#DESK#rdv#g1#2030-03-04T09:00:00Z', 'LOCK#DESK#rdv#g1#2030-03-04T09:15:00Z']


@pytest.mark.parametrize('value, status, err_class', [
    ('123456', 200, 'cancel booking: booking does not exist'),
    ('abc', 400, 'cancel_booking_id is not an integer'),
    ('1.5', 400, 'cancel_booking_id is not an integer'),
    ('-1', 400, 'cancel_booking_id is not an integer'),
])
def test_a_bad_cancel_booking_id_is_refused(api, agendas, value, status, err_class):
    booked(api, 'long:2030-03-04-1000')
    before = table()
    assert fillslot(api, 'court:2030-03-04-1100', cancel_booking_id=value) == (status, refusal(err_class))
    assert fillslots(api, ['court:2030-03-04-1100'], cancel_booking_id=value) == (status, refusal(err_class))
    assert table() == before


def test_a_cancelled_booking_or_another_count_cannot_be_replaced(api, agendas):
    old = booked(api, 'long:2030-03-04-1000')
    live = booked(api, 'long:2030-03-04-1100')
    assert api.post(f"/api/booking/{old['booking_id']}/cancel/")[1]['err'] == 0
    before = table()
    assert fillslot(api, 'court:2030-03-04-0900', cancel_booking_id=old['booking_id']) == (
        200, refusal('cancel booking: booking already cancelled'))
    # A meeting holds one place.
    assert fillslot(api, 'court:2030-03-04-0900', cancel_booking_id=live['booking_id'], count='2') == (
        200, refusal('cancel booking: count is different'))
    assert table() == before


def test_a_failed_new_booking_leaves_the_old_one_untouched(api, agendas):
    old = booked(api, 'long:2030-03-04-1000', user_external_id='u1')  # g1
    booked(api, 'court:2030-03-04-1100')  # g1
    booked(api, 'court:2030-03-04-1100')  # g2
    booked(api, 'court:2030-03-04-0900', user_external_id='u1')  # g1
    before = table()
    replace = {'cancel_booking_id': old['booking_id'], 'user_external_id': 'u1'}
    assert fillslot(api, 'court:2030-03-04-1100', **replace) == (200, refusal(NO_DESK))  # both desks taken
    assert fillslot(api, 'court:2030-03-04-1200', **replace) == (200, refusal(NO_DESK))  # closed
    assert fillslot(api, 'court:2030-04-01-1000', **replace) == (200, refusal(NO_DESK, OUTSIDE))
    assert fillslot(api, 'court:2030-03-04-0900', exclude_user='true', **replace) == (
        200, refusal(NO_DESK, 'the user already has a meeting at that time'))
    assert fillslots(api, ['court:2030-03-04-0945', 'court:2030-03-04-1100'], **replace) == (200, refusal(NO_DESK))
    assert table() == before
    assert api.get(f"/api/booking/{old['booking_id']}/") == (200, detail(
        old['booking_id'], 'rdv', 'g1', 'long', '2030-03-04 10:00:00', '2030-03-04 10:30:00', user_external_id='u1'))


def test_the_booking_being_replaced_still_holds_its_desk(api, agendas):
    """As in Chrono: the desk is chosen before the old booking is cancelled."""
    old = booked(api, 'long:2030-03-04-1000')  # g1
    booked(api, 'long:2030-03-04-1000')  # g2
    before = table()
    assert fillslot(api, 'court:2030-03-04-1015', cancel_booking_id=old['booking_id']) == (200, refusal(NO_DESK))
    assert table() == before
    assert api.get(f"/api/booking/{old['booking_id']}/")[1]['err'] == 0


# ---- lifecycle (spec §8.5-8.8, §9.7) -------------------------------------------------------------

def test_cancel_then_cancel_again(api, agendas):
    answer = booked(api, 'long:2030-03-04-1000')
    booking_id = answer['booking_id']
    assert api.post(f'/api/booking/{booking_id}/cancel/') == (200, {'err': 0, 'booking_id': booking_id})
    assert locks() == [] and live_bookings() == []
    assert api.post(f'/api/booking/{booking_id}/cancel/') == (200, refusal('already cancelled'))
    assert api.delete(f'/api/booking/{booking_id}/') == (200, refusal('already cancelled'))
    assert api.get(f'/api/booking/{booking_id}/') == (200, refusal('booking is cancelled'))


def test_delete_cancels_a_meeting_booking(api, agendas):
    booking_id = fillslots(api, ['court:2030-03-04-1000', 'court:2030-03-04-1015'])[1]['booking_id']
    assert api.delete(f'/api/booking/{booking_id}/') == (200, {'err': 0, 'booking_id': booking_id})
    assert locks() == [] and live_bookings() == []
    assert disabled(api)['1000'] is False


@pytest.mark.parametrize('action', ['accept', 'suspend'])
def test_accept_and_suspend_are_404_on_a_meetings_booking(api, agendas, action):
    booking_id = booked(api, 'long:2030-03-04-1000')['booking_id']
    before = table()
    assert api.post(f'/api/booking/{booking_id}/{action}/') == (
        404, refusal('not found', 'accept and suspend apply to events bookings only'))
    assert table() == before


# ---- DynamoDB calls (docs/api.md: three for a plain meetings fillslot) -----------------------------------

CONFIG = ('Query', None, 'AGENDA#{}')  # the agenda's configuration partition (cfg# items)
LEGS = ('Query', 'gsi2', 'MEETINGS#{}')  # the agenda's live meeting legs, all desks at once
WRITE = ('TransactWriteItems',)


def query(kind, agenda):
    return (*kind[:2], kind[2].format(agenda))


def test_a_meetings_fillslot_costs_three_calls(api, agendas, monkeypatch):
    booked(api, 'long:2030-03-04-1000')  # g1: the first desk is busy
    calls = record_calls(monkeypatch)
    assert booked(api, 'long:2030-03-04-1000', user_external_id='u1', label='Dupont')['desk']['slug'] == 'g2'
    assert calls == [query(CONFIG, 'rdv'), query(LEGS, 'rdv'), WRITE]
    calls.clear()
    assert fillslots(api, ['court:2030-03-04-1100', 'court:2030-03-04-1115', 'court:2030-03-04-1130'])[1]['err'] == 0
    assert calls == [query(CONFIG, 'rdv'), query(LEGS, 'rdv'), WRITE]


def test_exclude_user_reads_the_users_days_with_the_desks_time(api, agendas, monkeypatch):
    """exclude_user is decided on the user's meetings of the day, read consistently, and the transaction is
    conditioned on them as read; that read also takes the desks' lock cells for the slot, instead of the
    Query of the agenda's legs (issue 20: three calls)."""
    calls = record_calls(monkeypatch)
    assert booked(api, 'long:2030-03-04-1000', user_external_id='u1', exclude_user='true')['err'] == 0
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',), WRITE]


def test_replacing_the_same_users_meeting_of_the_day_reads_that_day(api, agendas, monkeypatch):
    """The day loses the old meeting and gains the new one in one write: set from a read of it, the one
    BatchGetItem that reads the replaced booking's legs and the desks' cells."""
    old = booked(api, 'court:2030-03-04-1000', user_external_id='u1')
    calls = record_calls(monkeypatch)
    assert booked(api, 'long:2030-03-04-1100', user_external_id='u1', cancel_booking_id=old['booking_id'],
                  exclude_user='true')['err'] == 0
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',), WRITE]


@pytest.mark.parametrize('slots', [['court:2030-03-04-1000'], ['court:2030-03-04-1000', 'court:2030-03-04-1015']])
def test_cancel_booking_id_reads_the_replaced_booking_with_the_desks_time(api, agendas, monkeypatch, slots):
    """Leg 000 of the replaced booking comes with the desks' cells; a booking of several legs needs the
    Query of its legs too."""
    old = fillslots(api, slots)[1]
    calls = record_calls(monkeypatch)
    assert booked(api, 'long:2030-03-04-1100', cancel_booking_id=old['booking_id'])['err'] == 0
    legs = [('Query', None, f"BOOKING#{old['booking_id']}")] if len(slots) > 1 else []
    assert calls == [query(CONFIG, 'rdv'), ('BatchGetItem',), *legs, WRITE]


def test_a_virtual_fillslot_costs_one_configuration_and_one_legs_query_per_real_agenda(api, more, monkeypatch):
    calls = record_calls(monkeypatch)
    answer = booked(api, 'long:2030-03-04-1000', 'v')
    assert (answer['agenda'], answer['desk']) == ({'label': 'Rdv', 'slug': 'rdv'}, {'label': 'Guichet 1', 'slug': 'g1'})
    # 6 calls: v's configuration (its real agendas, its excluded periods), then each real agenda's
    # configuration (desks, meeting types), then each real agenda's legs of the day (to rank the agendas by
    # their bookings that day and find a free desk), then the one transaction.
    assert calls == [query(CONFIG, 'v'), query(CONFIG, 'rdv'), query(CONFIG, 'autre'),
                     query(LEGS, 'rdv'), query(LEGS, 'autre'), WRITE]
    assert len(calls) == 6


# ---- how much one booking may write -----------------------------------------------------------------

@pytest.fixture
def fine_grid(api, clock):
    """`cinq`: a 5-minute type beside 55 and 60-minute ones, so lock cells of 5 minutes (a 55-minute slot
    holds 11, a 60-minute one 12), Monday 09:00-17:00."""
    clock(NOW)
    types = [{'slug': 'cinq', 'label': 'Cinq', 'duration': 5}, {'slug': 'h55', 'label': 'H55', 'duration': 55},
             {'slug': 'h60', 'label': 'H60', 'duration': 60}]
    document = {'agendas': [{'slug': 'cinq', 'label': 'Cinq', 'kind': 'meetings', 'meetingtypes': types,
                             'desks': [{'slug': 'd', 'label': 'D', 'timeperiods': [
                                 {'weekday': 0, 'start_time': '09:00', 'end_time': '17:00'}]}]}]}
    assert api.post('/api/import/', document)[0] == 200


def test_a_booking_writing_more_than_max_booking_writes_items_is_a_400(api, fine_grid):
    assert MAX_BOOKING_WRITES == 48
    # 4 slots of 60 minutes: 4 legs and 48 cells = 52 items.
    before = table()
    slots = ['h60:2030-03-04-0900', 'h60:2030-03-04-1000', 'h60:2030-03-04-1100', 'h60:2030-03-04-1200']
    assert fillslots(api, slots, agenda='cinq') == (400, refusal(
        'too many slots', 'a booking writes at most 48 items (its slots, their desk and resource time cells): '
        'book fewer slots at once'))
    assert table() == before
    # 3 of them: 39 items.
    assert fillslots(api, slots[1:], agenda='cinq')[1]['end_datetime'] == '2030-03-04 13:00:00'


def test_a_booking_of_exactly_max_booking_writes_items_and_its_replacement(api, fine_grid):
    # 4 slots of 55 minutes: 4 legs and 44 cells = 48 items.
    days = {day: [f'h55:2030-03-{day}-{hhmm}' for hhmm in ('0900', '0955', '1050', '1145')] for day in ('04', '11')}
    status, first = fillslots(api, days['04'], agenda='cinq')
    assert (status, first['datetime'], first['end_datetime'], first['duration']) == (
        200, '2030-03-04 09:00:00', '2030-03-04 12:40:00', 55)
    assert (len(locks()), len(live_bookings())) == (44, 4)
    # Replacing it writes 96 items in one transaction: the new 48, the old 4 legs and 44 cells.
    status, second = fillslots(api, days['11'], agenda='cinq', cancel_booking_id=first['booking_id'])
    assert (status, second['err'], second['cancelled_booking_id']) == (200, 0, first['booking_id'])
    assert (len(locks()), [leg[4] for leg in live_bookings()]) == (44, ['11 09:00', '11 09:55', '11 10:50',
                                                                        '11 11:45'])


def test_fillslots_takes_at_most_16_slots(api, fine_grid):
    slots = [f'cinq:2030-03-04-09{minute:02d}' for minute in range(0, 60, 5)] + [
        f'cinq:2030-03-04-10{minute:02d}' for minute in range(0, 25, 5)]
    assert len(slots) == 17
    before = table()
    assert fillslots(api, slots, agenda='cinq') == (400, {
        'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload',
        'errors': {'slots': ['Ensure this list has no more than 16 slots.']}})
    assert table() == before
    answer = fillslots(api, slots[:16], agenda='cinq')[1]
    assert (answer['datetime'], answer['end_datetime'], answer['duration']) == (
        '2030-03-04 09:00:00', '2030-03-04 10:20:00', 5)
