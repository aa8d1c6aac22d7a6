"""Reminders (issue 19 point 1; spec §9.12): an agenda's `reminder_settings`, a reminder written in its
booking's transaction, deleted with its cancel, moved with the booking or its event, sent when due by
the `send_reminders` schedule at most once: e-mails through Amazon SES (moto records them), SMS through
the SMS gateway (a loopback receiver), retried, parked in the failed callbacks and redriven.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import signature
from chalicelib.store import outbox

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=PARIS)  # a Friday
KEY = 'sms-secret'
SENDER = 'rappels@agendas.example.org'


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=PARIS)


def sent_emails() -> list:
    """What moto's SES recorded (SES v2 SendEmail lands in the v1 backend)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    return list(ses_backends[DEFAULT_ACCOUNT_ID]['eu-west-3'].sent_messages)


@pytest.fixture
def run(client, clock):
    """Run the deployed schedule `send_reminders` at a given time; its answer (outcomes)."""
    def send_at(moment: datetime) -> dict:
        clock(moment)
        event = client.events.generate_cw_event('aws.events', 'Scheduled Event', {}, ['arn:rule'])
        return client.lambda_.invoke('send_reminders', event).payload
    return send_at


@pytest.fixture
def setup(api, env, clock):
    env(CHRONO_REMINDER_FROM=SENDER)
    boto3.client('sesv2').create_email_identity(EmailIdentity='agendas.example.org')
    clock(NOW)
    ok(api.post('/api/agenda/', {
        'slug': 'piscine', 'label': 'Piscine municipale', 'minimal_booking_delay': 0,
        'reminder_settings': {'days_before_email': 2, 'hour': 9, 'email_extra_info': 'Bonnet obligatoire.'}}))
    for slug, start in (('cours', '2030-03-08 10:00'), ('stage', '2030-03-15 14:30')):
        ok(api.post('/api/agenda/piscine/event/', {'slug': slug, 'label': slug.title(), 'start_datetime': start,
                                                   'places': 5}))
    return api


def ok(answer):
    assert answer[0] == 200 and answer[1]['err'] == 0, answer
    return answer[1]


def book(api, event='cours', **fields):
    body = {'user_external_id': 'u1', 'user_email': 'anne@example.org', 'extra_emails': 'bob@example.org,nothing',
            'form_url': 'https://demarches.example.org/piscine/12/', **fields}
    return ok(api.post(f'/api/agenda/piscine/fillslot/{event}/', body))['booking_id']


def test_an_email_reminder_two_days_before_goes_once_at_its_time_to_the_booking_and_its_extra_emails(setup, run):
    booking_id = book(setup)
    # Written with the booking: pending, due on Wednesday 6 at 09:00, in the messages' queue.
    [reminder] = outbox.booking_callbacks(booking_id)
    assert (reminder.kind, reminder.leg, reminder.state, reminder.next_at) == ('reminder-email', 0, 'pending', at(6))
    assert run(at(6, 8, 59)) == {}
    assert sent_emails() == []
    assert run(at(6)) == {'sent': 1}
    assert run(at(6, 9, 1)) == {}  # sent: never again
    [email] = sent_emails()
    assert (email.source, email.destinations) == (SENDER, {'ToAddresses': ['anne@example.org', 'bob@example.org']})
    assert email.subject == 'Rappel : Cours, vendredi 8 mars 2030 à 10:00'
    assert email.body == (
        'Rappel : vous avez rendez-vous « Cours » le vendredi 8 mars 2030 à 10:00.\n\n'
        'Lieu : Piscine municipale\n\nBonnet obligatoire.\n\n'
        'Modifier ou annuler le rendez-vous : https://demarches.example.org/piscine/12/\n')
    assert [r.state for r in outbox.booking_callbacks(booking_id)] == ['done']
    assert setup.get('/api/callbacks/failed/')[1] == {'err': 0, 'data': []}


def test_a_booking_cancelled_before_its_reminder_gets_none(setup, run):
    cancelled, agent_cancelled, kept = book(setup), book(setup), book(setup)
    ok(setup.post(f'/api/booking/{cancelled}/cancel/', {}))
    ok(setup.post(f'/api/booking/{agent_cancelled}/agent-cancel/', {}))
    # Deleted in the cancel's transaction: nothing left to send.
    assert outbox.booking_callbacks(cancelled) == outbox.booking_callbacks(agent_cancelled) == []
    assert run(at(6)) == {'sent': 1}
    assert len(sent_emails()) == 1 and [r.state for r in outbox.booking_callbacks(kept)] == ['done']


def test_a_booking_moved_with_cancel_booking_id_is_reminded_once_for_its_new_time(setup, run):
    old = book(setup)
    new = ok(setup.post('/api/agenda/piscine/fillslot/stage/', {
        'cancel_booking_id': old, 'user_email': 'anne@example.org'}))['booking_id']
    assert outbox.booking_callbacks(old) == []
    assert [(r.kind, r.next_at) for r in outbox.booking_callbacks(new)] == [('reminder-email', at(13))]
    assert run(at(6)) == {}
    assert run(at(13)) == {'sent': 1}
    [email] = sent_emails()
    assert (email.destinations, email.subject) == (
        {'ToAddresses': ['anne@example.org']}, 'Rappel : Stage, vendredi 15 mars 2030 à 14:30')


def test_an_event_moved_by_an_admin_moves_its_reminders(setup, run):
    booking_id = book(setup)
    ok(setup.patch('/api/agenda/piscine/event/cours/', {'start_datetime': '2030-03-10 11:00'}))
    assert [r.next_at for r in outbox.booking_callbacks(booking_id)] == [at(8)]
    assert run(at(6)) == {}
    assert run(at(8)) == {'sent': 1}
    assert [e.subject for e in sent_emails()] == ['Rappel : Cours, dimanche 10 mars 2030 à 11:00']
    # Moved again after it was sent: the person is reminded of the new time, once.
    ok(setup.patch('/api/agenda/piscine/event/cours/', {'start_datetime': '2030-03-12 11:00'}))
    assert run(at(10)) == {'sent': 1}
    assert run(at(11)) == {}
    assert [e.subject for e in sent_emails()][1:] == ['Rappel : Cours, mardi 12 mars 2030 à 11:00']


def test_what_is_not_to_send_is_skipped_with_its_reason(setup, run):
    anonymised = book(setup)
    ok(setup.post(f'/api/booking/{anonymised}/anonymize/', {}))
    nobody = book(setup, user_email='nothing', extra_emails='')  # "nothing": w.c.s. without an e-mail
    assert outbox.booking_callbacks(nobody) == []  # nobody to write to: no reminder written
    late = ok(setup.post('/api/agenda/', {'slug': 'tard', 'label': 'Tard', 'minimal_booking_delay': 0,
                                         'reminder_settings': {'days_before_email': 10}}))
    assert late['data']['slug'] == 'tard'
    ok(setup.post('/api/agenda/tard/event/', {'slug': 'demain', 'start_datetime': '2030-03-02 10:00', 'places': 1}))
    too_late = ok(setup.post('/api/agenda/tard/fillslot/demain/', {'user_email': 'c@example.org'}))['booking_id']
    assert outbox.booking_callbacks(too_late) == []  # its time (10 days before) has passed: the person just booked
    assert run(at(6)) == {'skipped': 1}
    assert sent_emails() == []
    [skipped] = outbox.booking_callbacks(anonymised)
    assert (skipped.state, skipped.last_error) == ('done', 'not sent: the booking is anonymised')


def test_without_configuration_no_reminder_is_written_and_nothing_fails(setup, env, run):
    env(CHRONO_REMINDER_FROM=None)
    booking_id = book(setup)
    assert outbox.booking_callbacks(booking_id) == []
    assert run(at(6)) == {}
    assert sent_emails() == []


def test_a_rejected_email_is_retried_then_parked_and_redriven_once(setup, env, run):
    env(CHRONO_REMINDER_FROM='rappels@elsewhere.example.org', CHRONO_CALLBACK_RETRY_DELAYS='60')  # not verified
    booking_id = book(setup)
    assert run(at(6)) == {'retry': 1}
    assert run(at(6, 9, 1)) == {'failed': 1}
    assert setup.get('/api/callbacks/failed/')[1]['data'] == [{
        'id': f'{booking_id}:reminder-email:0', 'booking_id': booking_id, 'kind': 'reminder-email', 'url': '',
        'attempts': 2, 'last_error': 'SES MessageRejected'}]
    boto3.client('sesv2').create_email_identity(EmailIdentity='rappels@elsewhere.example.org')
    assert ok(setup.post('/api/callbacks/failed/redrive/', {}))['data'] == {'redriven': 1}
    assert run(at(6, 9, 2)) == {'sent': 1}
    assert run(at(6, 9, 3)) == {}
    assert len(sent_emails()) == 1
    assert setup.get('/api/callbacks/failed/')[1]['data'] == []


# ---- SMS through the gateway -------------------------------------------------------------------------

@pytest.fixture
def sms(setup, env, receiver):
    env(CHRONO_SMS_URL=receiver.url('/sms/send/'), CHRONO_SMS_FROM='Mairie', CHRONO_ORIG='chrono.example.org',
        CHRONO_SIGNATURE_KEYS=json.dumps({'127.0.0.1': KEY}), CHRONO_CALLBACK_RETRY_DELAYS='60,60')
    ok(setup.post('/api/import/', {'agendas': [{
        'slug': 'piscine', 'label': 'Piscine municipale', 'minimal_booking_delay': 0,
        'reminder_settings': {'days_before_sms': 1, 'hour': 18, 'sms_extra_info': 'Bonnet obligatoire.'},
        'events': [{'slug': 'cours', 'label': 'Cours', 'start_datetime': '2030-03-08 10:00', 'places': 5}]}]}))
    return setup


def sms_booking(api) -> int:
    return ok(api.post('/api/agenda/piscine/fillslot/cours/', {
        'user_phone_number': '+33 6 11 22 33 44', 'extra_phone_numbers': ['0611223355', 'nothing'],
        'sms_counter': 'piscine'}))['booking_id']


def posted(request) -> dict:
    """An SMS the gateway received: its signature checked by the project's verifier, its path and body."""
    parts = urlsplit(request['path'])
    caller = signature.verify_raw(parts.query, {'chrono.example.org': KEY}, at(7, 18, 0))
    return {'orig': caller.orig, 'path': parts.path, 'counter': dict(p.split('=', 1) for p in parts.query.split('&'))[
        'counter'], 'body': json.loads(request['body'])}


def test_an_sms_reminder_is_one_signed_post_in_the_shape_of_publiks_sms_connector(sms, receiver, run):
    booking_id = sms_booking(sms)
    assert [(r.kind, r.next_at) for r in outbox.booking_callbacks(booking_id)] == [('reminder-sms', at(7, 18))]
    assert run(at(7, 17, 59)) == {}
    assert run(at(7, 18)) == {'sent': 1}
    assert run(at(7, 18, 5)) == {}
    assert [posted(r) for r in receiver.requests] == [{
        'orig': 'chrono.example.org', 'path': '/sms/send/', 'counter': 'piscine',
        'body': {'message': 'Rappel : vous avez rendez-vous « Cours » le vendredi 8 mars 2030 à 10:00. '
                            'Lieu : Piscine municipale. Bonnet obligatoire.',
                 'from': 'Mairie', 'to': ['+33 6 11 22 33 44', '0611223355']}}]
    assert receiver.requests[0]['content_type'] == 'application/json'


def test_a_gateway_down_then_up_gets_the_sms_once_after_it_recovers(sms, receiver, run):
    booking_id = sms_booking(sms)
    receiver.statuses = [503]
    assert run(at(7, 18)) == {'retry': 1}
    assert run(at(7, 18, 0) + timedelta(seconds=30)) == {}  # not due again yet
    assert run(at(7, 18, 1)) == {'sent': 1}
    assert run(at(7, 18, 5)) == {}
    assert len(receiver.requests) == 2  # the refused attempt, then the one delivered
    [reminder] = outbox.booking_callbacks(booking_id)
    assert (reminder.state, reminder.attempts) == ('done', 2)


def test_a_gateway_down_for_good_is_listed_and_a_redrive_delivers_once(sms, receiver, run):
    booking_id = sms_booking(sms)
    receiver.statuses = [500, 500, 500]
    assert run(at(7, 18)) == {'retry': 1}
    assert run(at(7, 18, 1)) == {'retry': 1}
    assert run(at(7, 18, 2)) == {'failed': 1}
    assert sms.get('/api/callbacks/failed/')[1]['data'] == [{
        'id': f'{booking_id}:reminder-sms:0', 'booking_id': booking_id, 'kind': 'reminder-sms', 'url': '',
        'attempts': 3, 'last_error': 'HTTP 500'}]
    assert run(at(7, 18, 10)) == {}  # parked: nothing more until redriven
    assert ok(sms.post('/api/callbacks/failed/redrive/', {}))['data'] == {'redriven': 1}
    assert run(at(7, 18, 11)) == {'sent': 1}
    assert run(at(7, 18, 12)) == {}
    assert len(receiver.requests) == 4 and sms.get('/api/callbacks/failed/')[1]['data'] == []


def test_a_gateway_outside_the_rules_is_never_called_and_the_reason_is_listed(sms, env, run, receiver):
    env(CHRONO_SIGNATURE_KEYS=json.dumps({'other.example.org': KEY}))
    booking_id = sms_booking(sms)
    assert run(at(7, 18)) == {'refused': 1}
    assert receiver.requests == []
    [failed] = sms.get('/api/callbacks/failed/')[1]['data']
    assert (failed['kind'], failed['attempts'], failed['last_error']) == (
        'reminder-sms', 1, 'refused: no signature key for 127.0.0.1 in CHRONO_SIGNATURE_KEYS (or no CHRONO_ORIG)')
    assert failed['booking_id'] == booking_id


# ---- the settings in the admin API ---------------------------------------------------------------------

def test_reminder_settings_round_trip_through_export_and_import(setup, export):
    document = export()
    [agenda] = document['agendas']
    assert agenda['reminder_settings'] == {
        'days_before_email': 2, 'days_before_sms': None, 'hour': 9, 'email_extra_info': 'Bonnet obligatoire.',
        'sms_extra_info': '', 'notify_promotion': False}
    assert 'waiting_list_promotion' not in agenda  # manual: the default, not written
    assert ok(setup.post('/api/import/', document)) == {'err': 0, 'data': {'created': [], 'updated': []}}
    changed = {**agenda, 'reminder_settings': {**agenda['reminder_settings'], 'hour': '8'}}
    assert ok(setup.post('/api/import/', {'agendas': [changed]}))['data'] == {'created': [], 'updated': ['piscine']}
    assert export()['agendas'][0]['reminder_settings']['hour'] == 8
    removed = {k: v for k, v in agenda.items() if k != 'reminder_settings'}
    assert ok(setup.post('/api/import/', {'agendas': [removed]}))['data'] == {'created': [], 'updated': ['piscine']}
    assert 'reminder_settings' not in export()['agendas'][0]


@pytest.mark.parametrize('settings, errors', [
    ({'days_before_email': 0, 'hour': 24}, {
        'reminder_settings.days_before_email': ['Ensure this value is greater than or equal to 1.'],
        'reminder_settings.hour': ['Ensure this value is less than or equal to 23.']}),
    ({'days_before_sms': 'two', 'colour': 'red'}, {
        'reminder_settings.days_before_sms': ['A valid integer is required.'],
        'reminder_settings.colour': ['Unknown setting.']}),
    ('2 days', {'reminder_settings': ['Expected a JSON object.']}),
])
def test_bad_reminder_settings_are_a_400_naming_the_setting(api, settings, errors):
    status, body = api.post('/api/agenda/', {'slug': 'x', 'label': 'X', 'reminder_settings': settings})
    assert (status, body['err_class'], body['errors']) == (400, 'invalid payload', errors)
    assert api.get('/api/agenda/x/')[0] == 404


def test_a_group_too_large_for_one_transaction_with_its_reminders_is_refused_and_nothing_is_written(setup, api):
    for prefix in 'ef':
        for n in range(16):
            ok(api.post('/api/agenda/piscine/event/', {'slug': f'{prefix}{n}', 'places': 5,
                                                       'start_datetime': f'2030-04-{n + 1:02d} 1{len(prefix)}:00'}))
    slots = ','.join(f'e{n}' for n in range(16))
    group = ok(api.post('/api/agenda/piscine/fillslots/', {'slots': slots, 'user_email': 'a@example.org',
                                                           'user_external_id': 'u1'}))['booking_id']
    assert len(outbox.booking_callbacks(group)) == 16  # one reminder per event
    # On the same events it fits (the events' and the user's items are shared): 96 writes.
    # On 16 other events: 16 x (leg, reminder, event, user count) twice, 128 writes: refused.
    status, body = api.post('/api/agenda/piscine/fillslots/', {
        'slots': ','.join(f'f{n}' for n in range(16)), 'user_email': 'a@example.org', 'user_external_id': 'u1',
        'cancel_booking_id': group}, headers={'X-Idempotency-Key': 'replace-the-group'})
    assert (status, body['err_class']) == (400, 'too many slots')
    assert len(outbox.booking_callbacks(group)) == 16 and ok(api.get(f'/api/booking/{group}/'))['booking_id'] == group
