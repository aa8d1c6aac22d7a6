"""Automatic waiting-list promotion (issue 19 point 2; domain/promotion_rules.py states the rule, strict
FIFO): on an agenda with `waiting_list_promotion: "automatic"`, the write that frees places moves the
oldest waiting bookings that fit to the main list in its own transaction; nobody passes an older
waiting booking; the promoted person is told on the reminder channels when the agenda asks for it.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib.store import outbox
from chalicelib.store.models import Booking, booking_pk, leg_sk

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)


def ok(answer):
    assert answer[0] == 200 and answer[1]['err'] == 0, answer
    return answer[1]


class Transactions:
    """The TransactWriteItems the service sends: each as the set of (pk, sk) it writes."""

    def __init__(self, monkeypatch) -> None:
        from botocore.client import BaseClient
        original = BaseClient._make_api_call
        self.sent: list[set[tuple[str, str]]] = []

        def recording(client, operation, params):
            if operation == 'TransactWriteItems':
                keys = set()
                for item in params['TransactItems']:
                    body = next(iter(item.values()))
                    key = body.get('Key') or body.get('Item')
                    keys.add((key['pk']['S'], key['sk']['S']))
                self.sent.append(keys)
            return original(client, operation, params)
        monkeypatch.setattr(BaseClient, '_make_api_call', recording)


@pytest.fixture
def agenda(api, clock):
    clock(NOW)
    ok(api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0,
                                 'waiting_list_promotion': 'automatic'}))
    ok(api.post('/api/agenda/piscine/event/', {'slug': 'cours', 'start_datetime': '2030-03-08 10:00', 'places': 4,
                                               'waiting_list_places': 10}))
    return api


def book(api, count, event='cours', agenda='piscine', **fields):
    answer = ok(api.post(f'/api/agenda/{agenda}/fillslot/{event}/', {'count': count, **fields}))
    return answer['booking_id'], answer['in_waiting_list']


def lists(api, *booking_ids):
    """Each booking's list: 'main', 'waiting', or 'cancelled'."""
    found = []
    for booking_id in booking_ids:
        body = api.get(f'/api/booking/{booking_id}/')[1]
        found.append('cancelled' if body['err'] else ('waiting' if body['in_waiting_list'] else 'main'))
    return found


def places(api, event='cours'):
    p = api.get(f'/api/agenda/piscine/status/{event}/')[1]['places']
    return p['reserved'], p['waiting_list_reserved']


def test_a_two_place_cancel_promotes_the_head_that_fits_and_nobody_passes_it_in_the_same_transaction(
        agenda, monkeypatch):
    first, second = book(agenda, 2)[0], book(agenda, 2)[0]
    one, two, three = (book(agenda, n) for n in (1, 2, 3))
    assert [w for _, w in (one, two, three)] == [True, True, True]
    transactions = Transactions(monkeypatch)
    ok(agenda.post(f'/api/booking/{first}/cancel/', {}))
    # 2 places free: the 1-place booking fits and moves up; the 2-place one would not fit in what is left (1): it
    # waits, and so does the 3-place one behind it (nobody passes an older waiting booking).
    assert lists(agenda, first, second, one[0], two[0], three[0]) == ['cancelled', 'main', 'main', 'waiting', 'waiting']
    assert places(agenda) == (3, 5)
    [written] = transactions.sent  # the cancel and the promotion: one transaction
    assert written == {(booking_pk(first), leg_sk(0)), (booking_pk(one[0]), leg_sk(0)), ('AGENDA#piscine', 'event#cours')}
    promoted = Booking.get(booking_pk(one[0]), leg_sk(0))
    assert (promoted.in_waiting_list, promoted.promoted_at) == (False, NOW)
    # The next place freed lets the 2-place booking in; the 3-place one still waits for its places.
    ok(agenda.post(f'/api/booking/{one[0]}/cancel/', {}))
    assert lists(agenda, second, two[0], three[0]) == ['main', 'main', 'waiting']
    assert places(agenda) == (4, 3)


def test_a_group_at_the_head_is_never_passed_and_gets_its_places_when_they_are_free(agenda):
    first, second = book(agenda, 3)[0], book(agenda, 1)[0]
    group, single = book(agenda, 3)[0], book(agenda, 1)[0]
    ok(agenda.post(f'/api/booking/{second}/cancel/', {}))
    # One place free: the single behind the group would fit, but it does not pass the group.
    assert lists(agenda, group, single) == ['waiting', 'waiting'] and places(agenda) == (3, 4)
    ok(agenda.post(f'/api/booking/{first}/resize/', {'count': 1}))  # 3 free: the group's turn
    assert lists(agenda, group, single) == ['main', 'waiting'] and places(agenda) == (4, 1)
    # The list is full again: a newcomer joins the end of the queue.
    assert book(agenda, 1)[1] is True


def test_every_kind_of_freeing_write_promotes(agenda, api, receiver):
    ok(api.post('/api/agenda/piscine/event/', {'slug': 'autre', 'start_datetime': '2030-03-09 10:00', 'places': 4,
                                               'waiting_list_places': 4}))
    main = [book(agenda, 1, user_external_id=f'm{i}')[0] for i in range(4)]
    waiting = [book(agenda, 1)[0] for _ in range(6)]
    # An agent's cancel.
    ok(api.post(f'/api/booking/{main[0]}/agent-cancel/', {}))
    assert lists(api, *waiting) == ['main'] + ['waiting'] * 5
    # A move to another event (cancel_booking_id): the places it leaves promote.
    ok(api.post('/api/agenda/piscine/fillslot/autre/', {'cancel_booking_id': main[1], 'user_external_id': 'm1'}))
    assert lists(api, *waiting) == ['main'] * 2 + ['waiting'] * 4
    # The user's bookings set by events fillslots: the one left out is cancelled, its place promotes.
    ok(api.post('/api/agenda/piscine/events/fillslots/', {'slots': 'autre', 'user_external_id': 'm2'}))
    assert lists(api, main[2], *waiting) == ['cancelled'] + ['main'] * 3 + ['waiting'] * 3
    # Places raised by an admin: in the transaction that raises them.
    ok(api.patch('/api/agenda/piscine/event/cours/', {'places': 6}))
    assert lists(api, *waiting) == ['main'] * 5 + ['waiting']
    assert places(api) == (6, 1)
    # Places raised by an import: right after it.
    document = api.get('/api/export/')[1]
    for event in document['agendas'][0]['events']:
        if event['slug'] == 'cours':
            event['places'] = 7
    ok(api.post('/api/import/', {'agendas': document['agendas']}))
    assert lists(api, *waiting) == ['main'] * 6 and places(api) == (7, 0)


def test_a_move_on_the_same_event_goes_straight_to_the_main_list_when_everyone_before_it_fits(agenda):
    first, second = book(agenda, 2)[0], book(agenda, 1)[0]  # 1 place free, nobody waits
    moved = ok(agenda.post('/api/agenda/piscine/fillslot/cours/', {'cancel_booking_id': first, 'count': 2}))
    # Chrono places the new booking as if the old one still held its places (the waiting list), then the
    # cancel frees 2: the new booking is the head of the queue and fits: the main list, at once.
    assert (moved['in_waiting_list'], moved['places']['reserved'], moved['places']['waiting_list_reserved']) == (
        False, 3, 0)
    assert lists(agenda, first, second, moved['booking_id']) == ['cancelled', 'main', 'main']
    assert places(agenda) == (3, 0)


def test_a_manual_agenda_promotes_nobody_and_suspend_is_an_agents_choice(api, clock):
    clock(NOW)
    ok(api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0}))
    ok(api.post('/api/agenda/piscine/event/', {'slug': 'cours', 'start_datetime': '2030-03-08 10:00', 'places': 1,
                                               'waiting_list_places': 2}))
    first, waiting = book(api, 1)[0], book(api, 1)[0]
    ok(api.post(f'/api/booking/{first}/cancel/', {}))
    assert lists(api, waiting) == ['waiting'] and places(api) == (0, 1)


def test_suspend_and_force_waiting_list_do_not_promote_the_next_freed_place_does(agenda):
    first, second = book(agenda, 2)[0], book(agenda, 2)[0]
    ok(agenda.post(f'/api/booking/{first}/suspend/', {}))  # asked to wait: it waits, places stay free
    assert lists(agenda, first) == ['waiting'] and places(agenda) == (2, 2)
    forced = ok(agenda.post('/api/agenda/piscine/fillslot/cours/', {'force_waiting_list': True}))['booking_id']
    ok(agenda.post(f'/api/booking/{second}/resize/', {'count': 1}))  # 3 free: the oldest waiting first
    assert lists(agenda, first, second, forced) == ['main', 'main', 'main'] and places(agenda) == (4, 0)


def test_a_cancelled_event_promotes_nobody(agenda):
    booked = [book(agenda, 2)[0] for _ in range(3)]
    assert ok(agenda.post('/api/agenda/piscine/event/cours/cancel/', {})) == {'err': 0, 'cancelled_bookings': 3}
    assert lists(agenda, *booked) == ['cancelled'] * 3 and places(agenda) == (0, 0)


def test_a_promotion_too_large_for_one_transaction_is_finished_right_after_it(api, clock):
    clock(NOW)
    ok(api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0,
                                 'waiting_list_promotion': 'automatic'}))
    ok(api.post('/api/agenda/piscine/event/', {'slug': 'cours', 'start_datetime': '2030-03-08 10:00', 'places': 100,
                                               'waiting_list_places': 100}))
    everyone = book(api, 100)[0]
    waiting = [book(api, 1)[0] for _ in range(100)]
    ok(api.post(f'/api/booking/{everyone}/cancel/', {}))
    assert places(api) == (100, 0)
    assert set(lists(api, *waiting)) == {'main'}


def test_the_promoted_person_is_told_on_the_reminder_channels(agenda, api, env, client, clock):
    env(CHRONO_REMINDER_FROM='rappels@agendas.example.org')
    boto3.client('sesv2').create_email_identity(EmailIdentity='agendas.example.org')
    document = api.get('/api/export/')[1]
    document['agendas'][0]['reminder_settings'] = {'days_before_email': 1, 'notify_promotion': True}
    ok(api.post('/api/import/', {'agendas': document['agendas']}))
    first = book(api, 4, user_email='a@example.org')[0]
    told, silent = (book(api, 1, user_email=email)[0] for email in ('b@example.org', ''))
    ok(api.post(f'/api/booking/{first}/cancel/', {}))
    assert lists(api, told, silent) == ['main', 'main']
    assert [(r.kind, r.next_at) for r in outbox.booking_callbacks(told)] == [
        ('promotion-email', NOW), ('reminder-email', datetime(2030, 3, 7, 9, tzinfo=PARIS))]
    assert outbox.booking_callbacks(silent) == []  # nobody to write to
    scheduled = client.events.generate_cw_event('aws.events', 'Scheduled Event', {}, ['arn:rule'])
    assert client.lambda_.invoke('send_reminders', scheduled).payload == {'sent': 1}
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    [email] = ses_backends[DEFAULT_ACCOUNT_ID]['eu-west-3'].sent_messages
    assert (email.destinations, email.subject) == ({'ToAddresses': ['b@example.org']},
                                                   'Votre réservation est confirmée : Piscine')
    assert email.body.startswith("Une place s'est libérée : votre réservation « Piscine » du vendredi 8 mars 2030 "
                                 "à 10:00 passe de la liste d'attente à la liste principale.")


def test_the_setting_round_trips_and_only_an_events_agenda_has_it(agenda, api, export):
    [item] = export()['agendas']
    assert item['waiting_list_promotion'] == 'automatic'
    assert ok(api.post('/api/import/', export())) == {'err': 0, 'data': {'created': [], 'updated': []}}
    status, body = api.post('/api/agenda/', {'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings',
                                             'waiting_list_promotion': 'automatic'})
    assert (status, body['errors']) == (400, {'waiting_list_promotion': ['Only an events agenda has a waiting list.']})
    status, body = api.post('/api/agenda/', {'slug': 'x', 'label': 'X', 'waiting_list_promotion': 'sometimes'})
    assert (status, body['errors']) == (400, {'waiting_list_promotion': ['"sometimes" is not a valid choice.']})


def test_a_waiting_booking_the_index_does_not_show_yet_keeps_its_turn(agenda, monkeypatch):
    """The event's waiting legs come from an index that may lag (gsi2): a read that misses one is taken
    only when the legs found hold the event's waiting places, read at the same instant (store.waiting_legs)."""
    from chalicelib.store import legs as store_legs
    book(agenda, 3)
    freed = book(agenda, 1)[0]
    hidden, behind = book(agenda, 1)[0], book(agenda, 2)[0]
    real, reads = store_legs.event_legs, []

    def stale(agenda_slug, event):
        reads.append(event)
        found = real(agenda_slug, event)
        return [leg for leg in found if leg.booking_id != hidden] if len(reads) <= 2 else found
    monkeypatch.setattr(store_legs, 'event_legs', stale)
    ok(agenda.post(f'/api/booking/{freed}/cancel/', {}))
    # Missing `hidden`, the queue would have been [2 places]: nobody fits in the 1 place freed.
    assert len(reads) == 3
    assert lists(agenda, hidden, behind) == ['main', 'waiting'] and places(agenda) == (4, 2)


def test_a_promotion_counts_the_places_of_expired_holds_free_and_gives_them_back(agenda, clock):
    """4 places: B (2) and a hold of 2 (lock code); D (4) waits. Once the hold has expired, B's cancel frees
    2 places and the hold's 2 are free too: D moves up and the hold's entry goes, in the same write."""
    from datetime import timedelta

    from chalicelib import store

    b = book(agenda, 2)[0]
    held = ok(agenda.post('/api/agenda/piscine/fillslot/cours/', {'count': 2, 'lock_code': 'session-1'}))
    assert held['in_waiting_list'] is False
    d, waiting = book(agenda, 4)
    assert waiting is True and places(agenda) == (4, 4)
    clock(NOW + timedelta(minutes=10))  # the hold's lifetime (CHRONO_HOLD_SECONDS, 600 s by default)
    ok(agenda.post(f'/api/booking/{b}/cancel/'))
    assert lists(agenda, b, d) == ['cancelled', 'main']
    assert places(agenda) == (4, 0)
    record = store.get_events([('piscine', 'cours')])[('piscine', 'cours')]
    assert (record.reserved, record.waiting_list_reserved, record.holds) == (4, 0, ())


def test_a_promotion_leaves_a_live_hold_its_places(agenda, clock):
    """The same before the hold expires: B's 2 places are free, D (4) does not fit beside the hold."""
    from datetime import timedelta

    b = book(agenda, 2)[0]
    ok(agenda.post('/api/agenda/piscine/fillslot/cours/', {'count': 2, 'lock_code': 'session-1'}))
    d = book(agenda, 4)[0]
    clock(NOW + timedelta(minutes=9, seconds=59))
    ok(agenda.post(f'/api/booking/{b}/cancel/'))
    assert lists(agenda, b, d) == ['cancelled', 'waiting']
    assert places(agenda) == (2, 4)


def test_a_fillslot_that_gives_back_an_expired_hold_promotes_the_head_it_frees_places_for(agenda, clock):
    """B (2) and a hold of 2; D (2) waits. Once the hold has expired, E's fillslot gives its places back:
    D, at the head of the queue, takes them in that very write, and E, behind D, waits."""
    from datetime import timedelta

    from chalicelib import store

    b = book(agenda, 2)[0]
    ok(agenda.post('/api/agenda/piscine/fillslot/cours/', {'count': 2, 'lock_code': 'session-1'}))
    d = book(agenda, 2)[0]
    clock(NOW + timedelta(minutes=10))
    e, waiting = book(agenda, 1)
    assert waiting is True
    assert lists(agenda, b, d, e) == ['main', 'main', 'waiting']
    record = store.get_events([('piscine', 'cours')])[('piscine', 'cours')]
    assert (record.reserved, record.waiting_list_reserved, record.holds) == (4, 1, ())
