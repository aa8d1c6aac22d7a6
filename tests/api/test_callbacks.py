"""Callbacks (issue 8; design.md §3.2, §4.2; auth-and-callbacks.md §3, §5): written with the change
they report, signed afresh on every attempt, sent only to allowed public hosts (loopback when a
loopback name is listed) that the booking's client owns (issue 15), never with an identity in their
query, retried on the schedule, parked when it is spent, redriven by an operator.

The receiver is an HTTP server on 127.0.0.1; no test opens a connection anywhere else (private and
public addresses are refused with a stubbed resolution and a socket that fails the test if used).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest

from chalicelib import config, signature
from chalicelib.services import callbacks, guarded_http
from chalicelib.store.models import Booking, booking_pk, leg_sk
from chalicelib.store import outbox
from local.worker import pump

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = 'wcs-secret'


def owners(receiver, *more: str, client: str = 'demo') -> str:
    """CHRONO_CALLBACK_OWNERS giving `client` (the `api` fixture's Basic user) the receiver's port."""
    return json.dumps({client: [f'127.0.0.1:{receiver.port}', *more]})


@pytest.fixture
def setup(api, env, clock, receiver):
    env(CHRONO_CALLBACK_HOSTS='127.0.0.1', CHRONO_SIGNATURE_KEYS=json.dumps({'127.0.0.1': KEY}),
        CHRONO_ORIG='chrono.example.org', CHRONO_CALLBACK_RETRY_DELAYS='1,1', CHRONO_CALLBACK_OWNERS=owners(receiver))
    boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
    clock(NOW)
    assert api.post('/api/agenda/', {'slug': 'piscine', 'label': 'Piscine', 'minimal_booking_delay': 0})[0] == 200
    for slug in ('lundi', 'mardi'):
        assert api.post('/api/agenda/piscine/event/', {'slug': slug, 'start_datetime': '2030-03-04 10:00',
                                                       'places': 5})[0] == 200
    return api


def book(api, receiver, event='lundi', **urls):
    body = {'user_external_id': 'u1'}
    for kind in ('cancel', 'presence', 'absence'):
        body[f'{kind}_callback_url'] = urls.get(kind, receiver.url(f'/hooks/{kind}/?form=12'))
    answer = api.post(f'/api/agenda/piscine/fillslot/{event}/', body)[1]
    assert answer['err'] == 0, answer
    return answer['booking_id']


def attend(booking_id: int, present: bool | None, slug: str | None = None) -> None:
    Booking(booking_pk(booking_id), leg_sk(0)).update(actions=[
        Booking.user_was_present.set(present), Booking.user_check_type_slug.set(slug),
        Booking.user_check_type_label.set(slug.title() if slug else None)])


def verified(request) -> dict:
    """The request's signature checked by the project's own verifier, and its query."""
    query = urlsplit(request['path']).query
    caller = signature.verify_raw(query, {'chrono.example.org': KEY}, NOW + timedelta(seconds=5))
    return {'orig': caller.orig, 'path': urlsplit(request['path']).path,
            'form': dict(p.split('=', 1) for p in query.split('&'))['form']}


def drain() -> None:
    while pump(wait_seconds=0):
        pass


def test_check_sends_presence_and_absence_signed_with_the_spec_body(setup, receiver):
    present, absent, unknown = (book(setup, receiver) for _ in range(3))
    attend(present, True, 'ok')
    attend(absent, False)
    assert setup.post('/api/agenda/piscine/check/lundi/', {})[1] == {'err': 0, 'checked': True, 'callbacks': 2}
    drain()
    got = sorted(receiver.requests, key=lambda r: r['path'])
    assert [verified(r) for r in got] == [
        {'orig': 'chrono.example.org', 'path': '/hooks/absence/', 'form': '12'},
        {'orig': 'chrono.example.org', 'path': '/hooks/presence/', 'form': '12'}]
    assert [json.loads(r['body']) for r in got] == [
        {'user_was_present': False, 'user_check_type_slug': None, 'user_check_type_label': None},
        {'user_was_present': True, 'user_check_type_slug': 'ok', 'user_check_type_label': 'Ok'}]
    assert {r['content_type'] for r in got} == {'application/json'}
    assert setup.get('/api/agenda/piscine/status/lundi/')[1]['checked'] is True
    # A booking moved to the waiting list after its attendance was recorded gets nothing.
    suspended = book(setup, receiver)
    attend(suspended, True)
    assert setup.post(f'/api/booking/{suspended}/suspend/', {})[1]['err'] == 0
    # Checking again sends nothing new; a booking marked since gets its callback.
    attend(unknown, True)
    assert setup.post('/api/agenda/piscine/check/lundi/', {})[1]['callbacks'] == 1
    drain()
    assert len(receiver.requests) == 3
    assert [c.state for c in outbox.booking_callbacks(present)] == ['done']


def test_agent_cancels_send_a_cancel_callback_a_clients_own_cancel_does_not(setup, receiver):
    own = book(setup, receiver)
    assert setup.post(f'/api/booking/{own}/cancel/', {})[1] == {'err': 0, 'booking_id': own}
    by_agent = book(setup, receiver)
    assert setup.post(f'/api/booking/{by_agent}/agent-cancel/', {})[1] == {'err': 0, 'booking_id': by_agent}
    again = setup.post(f'/api/booking/{by_agent}/agent-cancel/', {})[1]
    assert (again['err'], again['err_class']) == (1, 'already cancelled')
    drain()
    assert [(verified(r)['path'], r['body']) for r in receiver.requests] == [('/hooks/cancel/', b'')]
    # An event cancelled by an agent: each of its bookings, each with its callback; places freed.
    first, second = book(setup, receiver, 'mardi'), book(setup, receiver, 'mardi', cancel='')
    assert setup.post('/api/agenda/piscine/event/mardi/cancel/', {})[1] == {'err': 0, 'cancelled_bookings': 2}
    drain()
    assert len(receiver.requests) == 2
    assert setup.get(f'/api/booking/{first}/')[1]['err_class'] == 'booking is cancelled'
    assert setup.get(f'/api/booking/{second}/')[1]['err_class'] == 'booking is cancelled'
    status = setup.get('/api/agenda/piscine/status/mardi/')[1]
    assert (status['places']['reserved'], status['disabled']) == (0, True)


def test_a_target_down_is_tried_three_times_then_failed_then_redriven(setup, receiver, clock):
    booking_id = book(setup, receiver)
    receiver.statuses = [503, 503, 503]
    assert setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})[1]['err'] == 0
    ident = f'{booking_id}:cancel:0'
    assert [callbacks.deliver(ident, NOW + timedelta(seconds=s)) for s in (0, 1, 2, 3)] == [
        'retry', 'retry', 'failed', 'not pending']
    assert len(receiver.requests) == 3
    assert setup.get('/api/callbacks/failed/')[1] == {'err': 0, 'data': [{
        'id': ident, 'booking_id': booking_id, 'kind': 'cancel', 'url': receiver.url('/hooks/cancel/?form=12'),
        'attempts': 3, 'last_error': 'HTTP 503'}]}
    assert setup.post('/api/callbacks/failed/redrive/', {})[1] == {'err': 0, 'data': {'redriven': 1}}
    assert setup.get('/api/callbacks/failed/')[1] == {'err': 0, 'data': []}
    drain()
    assert len(receiver.requests) == 4 and verified(receiver.requests[-1])['path'] == '/hooks/cancel/'
    assert [c.state for c in outbox.booking_callbacks(booking_id)] == ['done']


def test_a_500_then_a_200_is_delivered_on_the_second_try_once(setup, receiver):
    booking_id = book(setup, receiver)
    receiver.statuses = [500]
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    ident = f'{booking_id}:cancel:0'
    assert callbacks.deliver(ident, NOW) == 'retry'
    assert callbacks.deliver(ident, NOW) == 'not due'  # a duplicate message before its time sends nothing
    assert callbacks.deliver(ident, NOW + timedelta(seconds=1)) == 'sent'
    assert callbacks.deliver(ident, NOW + timedelta(seconds=2)) == 'not pending'
    assert len(receiver.requests) == 2
    # Each attempt is signed afresh (another nonce).
    assert len({urlsplit(r['path']).query for r in receiver.requests}) == 2


def test_the_sweeper_queues_what_the_queue_lost(setup, receiver, monkeypatch):
    booking_id = book(setup, receiver)
    with monkeypatch.context() as patched:
        patched.setattr(callbacks, 'enqueue', lambda records, delay=0: None)  # SQS down at the change
        setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    drain()
    assert receiver.requests == []
    assert callbacks.sweep(NOW) == 0  # due for less than the grace: most likely queued
    assert callbacks.sweep(NOW + timedelta(minutes=1)) == 1
    drain()
    assert len(receiver.requests) == 1


def no_connection(*args, **kwargs):
    raise AssertionError('a connection was attempted')


@pytest.mark.parametrize('url, resolved, reason', [
    ('http://127.0.0.2:9/hooks/', None, 'refused: host 127.0.0.2 is not in CHRONO_CALLBACK_HOSTS'),
    ('https://evil.example.net/hooks/', None, 'refused: host evil.example.net is not in CHRONO_CALLBACK_HOSTS'),
    ('https://forms.example.org/hooks/', '10.1.2.3', 'refused: host forms.example.org resolves to a non-public '
                                                     'address (10.1.2.3)'),
    ('https://forms.example.org/hooks/', '169.254.169.254', 'refused: host forms.example.org resolves to a '
                                                            'non-public address (169.254.169.254)'),
    ('https://forms.example.org/hooks/', '127.0.0.1', 'refused: host forms.example.org resolves to a non-public '
                                                      'address (127.0.0.1)'),
    ('http://forms.example.org/hooks/', '93.184.216.34', 'refused: plain http is only allowed to a listed loopback '
                                                         'name'),
    ('https://forms.example.org/hooks/', '64:ff9b::a9fe:a9fe', 'refused: host forms.example.org resolves to a '
                                                               'non-public address (169.254.169.254)'),
    ('https://forms.example.org/hooks/', '2002:a9fe:a9fe::1', 'refused: host forms.example.org resolves to a '
                                                              'non-public address (169.254.169.254)'),
    ('https://forms.example.org/hooks/', '::ffff:10.0.0.1', 'refused: host forms.example.org resolves to a '
                                                            'non-public address (10.0.0.1)'),
])
def test_a_url_outside_the_allowed_public_hosts_is_never_fetched(setup, receiver, env, monkeypatch, url, resolved,
                                                                   reason):
    env(CHRONO_CALLBACK_HOSTS='127.0.0.1,forms.example.org',
        CHRONO_SIGNATURE_KEYS=json.dumps({'127.0.0.1': KEY, 'forms.example.org': KEY}),
        CHRONO_CALLBACK_OWNERS=owners(receiver, 'forms.example.org', '127.0.0.2:*'))
    booking_id = book(setup, receiver, cancel=url)
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    monkeypatch.setattr(guarded_http, 'resolve', lambda host, port: [resolved])
    monkeypatch.setattr(guarded_http.socket, 'create_connection', no_connection)
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'refused'
    failed = setup.get('/api/callbacks/failed/')[1]['data']
    assert [(f['id'], f['attempts'], f['last_error']) for f in failed] == [(f'{booking_id}:cancel:0', 1, reason)]


def test_a_redirect_is_not_followed(setup, receiver):
    booking_id = book(setup, receiver)
    receiver.statuses = [302]
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'retry'
    assert [urlsplit(r['path']).path for r in receiver.requests] == ['/hooks/cancel/']
    assert outbox.booking_callbacks(booking_id)[0].last_error == 'HTTP 302'


def dying(*args):
    raise RuntimeError('the worker died')


def test_a_worker_that_dies_mid_batch_loses_nothing(setup, receiver, monkeypatch):
    booking_id = book(setup, receiver)
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    sqs = boto3.client('sqs')
    url = sqs.get_queue_url(QueueName=config.settings().callback_queue_name)['QueueUrl']
    sqs.set_queue_attributes(QueueUrl=url, Attributes={'VisibilityTimeout': '0'})
    with monkeypatch.context() as patched:
        patched.setattr(outbox, 'booking_callbacks', dying)
        assert pump(wait_seconds=0) == 1  # reported as a batch item failure: not deleted
    assert receiver.requests == []
    drain()
    assert len(receiver.requests) == 1


def test_anonymize_leaves_no_callback_url_and_parks_what_was_not_sent(setup, receiver):
    sent, waiting = book(setup, receiver), book(setup, receiver)
    for booking_id in (sent, waiting):
        setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    callbacks.deliver(f'{sent}:cancel:0', NOW)
    for booking_id in (sent, waiting):
        assert setup.post(f'/api/booking/{booking_id}/anonymize/', {})[1] == {'err': 0, 'booking_id': booking_id}
    assert [(c.state, c.url, c.body) for c in outbox.booking_callbacks(sent)] == [('done', '', None)]
    assert setup.get('/api/callbacks/failed/')[1]['data'] == [{
        'id': f'{waiting}:cancel:0', 'booking_id': waiting, 'kind': 'cancel', 'url': '', 'attempts': 0,
        'last_error': 'booking anonymized'}]
    assert callbacks.deliver(f'{waiting}:cancel:0', NOW) == 'not pending'
    assert len(receiver.requests) == 1


def test_a_bookings_callbacks_arrive_in_the_order_they_were_made(setup, receiver, clock):
    booking_id = book(setup, receiver)
    attend(booking_id, True)
    setup.post('/api/agenda/piscine/check/lundi/', {})
    clock(NOW + timedelta(seconds=1))
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    later = NOW + timedelta(seconds=2)
    assert callbacks.deliver(f'{booking_id}:cancel:0', later) == 'waiting'  # the presence one first
    assert callbacks.deliver(f'{booking_id}:presence:0', later) == 'sent'
    assert callbacks.deliver(f'{booking_id}:cancel:0', later) == 'sent'
    assert [urlsplit(r['path']).path for r in receiver.requests] == ['/hooks/presence/', '/hooks/cancel/']


def test_an_event_cancelled_in_a_group_leaves_the_rest_of_the_group_live(setup, receiver):
    group = setup.post('/api/agenda/piscine/fillslots/', {'slots': 'lundi,mardi', 'cancel_callback_url':
                                                              receiver.url('/hooks/cancel/')})[1]['booking_id']
    assert setup.post('/api/agenda/piscine/event/lundi/cancel/', {})[1] == {'err': 0, 'cancelled_bookings': 1}
    detail = setup.get(f'/api/booking/{group}/')[1]
    assert (detail['err'], detail['data']['event']) == (0, 'mardi')
    assert setup.get('/api/agenda/piscine/status/mardi/')[1]['places']['reserved'] == 1
    assert setup.post(f'/api/booking/{group}/cancel/', {})[1] == {'err': 0, 'booking_id': group}
    assert setup.get('/api/agenda/piscine/status/mardi/')[1]['places']['reserved'] == 0
    again = setup.post(f'/api/booking/{group}/cancel/', {})[1]
    assert (again['err'], again['err_class']) == (1, 'already cancelled')


def test_urls_are_sent_percent_encoded_and_without_our_signing_parameters(setup, receiver):
    url = receiver.url('/hooks/annulé/?back_orig=liste&orig=evil&signature=x&form=12')
    booking_id = book(setup, receiver, cancel=url)
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'sent'
    request = receiver.requests[0]
    assert verified(request) == {'orig': 'chrono.example.org', 'path': '/hooks/annul%C3%A9/', 'form': '12'}
    assert 'back_orig=liste' in request['path'] and 'orig=evil' not in request['path']


def test_without_chrono_orig_the_host_the_action_was_called_on_signs(setup, receiver, env):
    env(CHRONO_ORIG=None)
    booking_id = book(setup, receiver)
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'sent'
    query = urlsplit(receiver.requests[0]['path']).query
    assert signature.verify_raw(query, {'localhost': KEY}, NOW).orig == 'localhost'


def test_a_far_date_in_a_users_bookings_is_no_error(setup, receiver):
    book(setup, receiver)
    for query in ('date_start=0001-01-01', 'date_end=0001-01-01', 'date_start=9999-12-31'):
        status, answer = setup.get(f'/api/bookings/?user_external_id=u1&{query}')
        assert (status, len(answer['data'])) == (200, 1 if query == 'date_start=0001-01-01' else 0), query


def test_the_default_schedule_spans_at_least_three_days():
    from chalicelib.config import DEFAULT_CALLBACK_RETRY_DELAYS
    from chalicelib.domain.callback_rules import next_attempt
    attempts, when = 1, NOW
    while (later := next_attempt(attempts, DEFAULT_CALLBACK_RETRY_DELAYS, when)) is not None:
        attempts, when = attempts + 1, later
    assert (attempts, when - NOW) == (12, timedelta(days=3, hours=8, minutes=36))


# ---- only to a host the booking's client owns (issue 15, design.md §3.2 CHRONO_CALLBACK_OWNERS) ------------

class Untouchable:
    """Name resolution and connections that fail the test if used, and count the tries."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple] = []
        monkeypatch.setattr(guarded_http, 'resolve', self.called('resolve'))
        monkeypatch.setattr(guarded_http, 'PinnedHTTPConnection', self.called('http'))
        monkeypatch.setattr(guarded_http, 'PinnedHTTPSConnection', self.called('https'))
        monkeypatch.setattr(guarded_http.socket, 'create_connection', self.called('socket'))
        monkeypatch.setattr(guarded_http.socket, 'getaddrinfo', self.called('getaddrinfo'))

    def called(self, what: str):
        def record(*args, **kwargs):
            self.calls.append((what, args))
            raise AssertionError(f'{what} attempted')
        return record


def refused_callbacks(api) -> list[tuple[str, int, str]]:
    return [(f['id'], f['attempts'], f['last_error']) for f in api.get('/api/callbacks/failed/')[1]['data']]


@pytest.mark.parametrize('entries, sent', [
    (['127.0.0.1:*'], True),
    (['localhost:*', '127.0.0.1:*'], True),
    (['127.0.0.1'], False),  # no port: 80 only, for http
    (['127.0.0.1:{other}'], False),
    (['localhost:*', '127.0.0.2:{port}'], False),
    ([], False),
])
def test_a_basic_client_gets_callbacks_only_to_the_hosts_and_ports_listed_for_it(setup, receiver, env, monkeypatch,
                                                                                 entries, sent):
    other = receiver.port % 65535 + 1
    env(CHRONO_CALLBACK_OWNERS=json.dumps({'demo': [e.format(port=receiver.port, other=other) for e in entries],
                                           'wcs': [f'127.0.0.1:{receiver.port}']}))
    booking_id = book(setup, receiver)
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    ident = f'{booking_id}:cancel:0'
    if sent:
        assert callbacks.deliver(ident, NOW) == 'sent'
        assert [urlsplit(r['path']).path for r in receiver.requests] == ['/hooks/cancel/']
        return
    untouchable = Untouchable(monkeypatch)
    assert callbacks.deliver(ident, NOW) == 'refused'
    assert untouchable.calls == [] and receiver.requests == []
    assert refused_callbacks(setup) == [(ident, 1, f'refused: host 127.0.0.1:{receiver.port} is not owned by client '
                                                   f'basic:demo (CHRONO_CALLBACK_OWNERS)')]
    assert callbacks.deliver(ident, NOW + timedelta(days=1)) == 'not pending'  # parked: never retried


def test_a_listed_host_another_client_owns_is_parked_unresolved_and_the_booking_still_made(setup, receiver, env,
                                                                                         monkeypatch):
    """The abuse of issue 15: a Basic client with no relation to a host (here `wcs`, which owns nothing)
    names that host in its booking. The booking is made; its callback is never resolved nor sent."""
    env(CHRONO_CALLBACK_HOSTS='127.0.0.1,forms.example.org')
    wcs = type(setup)(setup.client, basic_headers('wcs', 's3cr3t'))
    status, answer = wcs.post('/api/agenda/piscine/fillslot/lundi/', {
        'cancel_callback_url': 'https://forms.example.org/hooks/?NameID=admin-uuid',
        'presence_callback_url': receiver.url('/hooks/presence/')})
    assert (status, answer['err']) == (200, 0)
    booking_id = answer['booking_id']
    assert Booking.get(booking_pk(booking_id), leg_sk(0)).client == 'basic:wcs'
    attend(booking_id, True)
    assert setup.post('/api/agenda/piscine/check/lundi/', {})[1]['callbacks'] == 1
    assert setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})[1] == {'err': 0, 'booking_id': booking_id}
    assert [c.client for c in outbox.booking_callbacks(booking_id)] == ['basic:wcs', 'basic:wcs']
    untouchable = Untouchable(monkeypatch)
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'refused'  # made at the same time: cancel first
    assert callbacks.deliver(f'{booking_id}:presence:0', NOW) == 'refused'
    assert untouchable.calls == [] and receiver.requests == []
    assert sorted(refused_callbacks(setup)) == [
        (f'{booking_id}:cancel:0', 1, 'refused: host forms.example.org is not owned by client basic:wcs '
                                      '(CHRONO_CALLBACK_OWNERS)'),
        (f'{booking_id}:presence:0', 1, f'refused: host 127.0.0.1:{receiver.port} is not owned by client basic:wcs '
                                        '(CHRONO_CALLBACK_OWNERS)')]


def basic_headers(user: str, password: str) -> dict[str, str]:
    from tests.conftest import basic
    return basic(user, password)


class FakeHTTPS:
    """Stands for the pinned https connection: records what would be sent, answers 200."""

    sent: list[tuple[str, str, int, str, str]] = []

    def __init__(self, target, timeout) -> None:
        self.target = target

    def request(self, method, path, body=None, headers=None):
        FakeHTTPS.sent.append((self.target.host, self.target.address, self.target.port, method, path))

    def getresponse(self):
        return type('Response', (), {'status': 200, 'read': lambda self, n=None: b''})()

    def close(self):
        pass


def signed_fillslot(api, orig: str, key: str, body: dict) -> int:
    query = signature.sign_query(f'orig={orig}', key, now=NOW)
    unsigned = type(api)(api.client, {})  # no Authorization header: the signature authenticates
    status, answer = unsigned.post(f'/api/agenda/piscine/fillslot/lundi/?{query}', body)
    assert (status, answer['err']) == (200, 0), answer
    return answer['booking_id']


@pytest.mark.parametrize('url, listed, outcome', [
    ('https://wcs.example.org/hooks/', [], 'sent'),
    ('https://wcs.example.org:443/hooks/', [], 'sent'),
    ('https://wcs.example.org:8443/hooks/', [], 'refused: host wcs.example.org:8443 is not owned by client '
                                               'signature:wcs.example.org (CHRONO_CALLBACK_OWNERS)'),
    ('https://wcs.example.org:8443/hooks/', ['wcs.example.org:8443'], 'sent'),
    ('https://lingo.example.org/hooks/', [], 'refused: host lingo.example.org is not owned by client '
                                             'signature:wcs.example.org (CHRONO_CALLBACK_OWNERS)'),
    ('https://lingo.example.org:4443/hooks/', ['lingo.example.org:*'], 'sent'),
])
def test_a_signed_caller_owns_the_host_of_its_orig_on_the_default_port_and_what_is_listed_for_it(
        setup, receiver, env, monkeypatch, url, listed, outcome):
    env(CHRONO_CALLBACK_HOSTS='wcs.example.org,lingo.example.org',
        CHRONO_SIGNATURE_KEYS=json.dumps({'wcs.example.org': KEY, 'lingo.example.org': 'lingo-key'}),
        CHRONO_CALLBACK_OWNERS=json.dumps({'wcs.example.org': listed, 'demo': ['lingo.example.org:*']}))
    booking_id = signed_fillslot(setup, 'wcs.example.org', KEY, {'cancel_callback_url': url})
    assert Booking.get(booking_pk(booking_id), leg_sk(0)).client == 'signature:wcs.example.org'
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})  # the agent's client is not the owner: the booking's is
    resolved = []
    monkeypatch.setattr(guarded_http, 'resolve', lambda host, port: resolved.append((host, port)) or ['93.184.216.34'])
    monkeypatch.setattr(guarded_http, 'PinnedHTTPSConnection', FakeHTTPS)
    monkeypatch.setattr(FakeHTTPS, 'sent', [])
    result = callbacks.deliver(f'{booking_id}:cancel:0', NOW)
    parts = urlsplit(url)
    if outcome == 'sent':
        assert result == 'sent'
        assert resolved == [(parts.hostname, parts.port or 443)]
        assert [(h, a, p, m, path.split('?')[0]) for h, a, p, m, path in FakeHTTPS.sent] == [
            (parts.hostname, '93.184.216.34', parts.port or 443, 'POST', '/hooks/')]
    else:
        assert (result, resolved, FakeHTTPS.sent) == ('refused', [], [])
        assert refused_callbacks(setup) == [(f'{booking_id}:cancel:0', 1, outcome)]


def test_a_booking_made_before_clients_were_recorded_owns_no_callback_host(setup, receiver, monkeypatch):
    booking_id = book(setup, receiver)
    Booking(booking_pk(booking_id), leg_sk(0)).update(actions=[Booking.client.remove()])  # as stored before
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    assert [c.client for c in outbox.booking_callbacks(booking_id)] == [None]
    untouchable = Untouchable(monkeypatch)
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'refused'
    assert untouchable.calls == [] and receiver.requests == []
    assert refused_callbacks(setup) == [(f'{booking_id}:cancel:0', 1, f'refused: host 127.0.0.1:{receiver.port} is '
                                         'not owned: the booking was made before bookings recorded their client')]


def test_the_client_of_a_booking_is_the_one_that_made_it_on_every_booking_route(setup, receiver, env):
    """fillslots, events fillslots, agendas events fillslots and recurring fillslots store it too."""
    env(CHRONO_CALLBACK_OWNERS=json.dumps({'wcs': ['127.0.0.1:*']}))
    wcs = type(setup)(setup.client, basic_headers('wcs', 's3cr3t'))
    user = {'user_external_id': 'u9'}
    made = [wcs.post('/api/agenda/piscine/fillslots/', {'slots': 'lundi,mardi'})[1]['booking_id']]
    wcs.post('/api/agenda/piscine/events/fillslots/', {**user, 'slots': 'lundi'})
    wcs.post('/api/agendas/events/fillslots/?agendas=piscine', {'user_external_id': 'u8', 'slots': 'piscine@mardi'})
    assert setup.post('/api/agenda/piscine/event/', {'slug': 'nage', 'start_datetime': '2030-03-04 18:00', 'places': 5,
                                                     'recurrence_days': '0', 'recurrence_end_date': '2030-03-12'})[0] == 200
    assert wcs.post('/api/agendas/recurring-events/fillslots/?agendas=piscine&action=book',
                    {'user_external_id': 'u7', 'slots': 'piscine@nage:0'})[1]['booking_count'] == 2
    made += [b['booking_id'] for u in ('u9', 'u8', 'u7')
             for b in setup.get(f'/api/bookings/?user_external_id={u}')[1]['data']]
    assert len(made) == 5
    assert [(leg.leg, leg.client) for b in made for leg in Booking.query(booking_pk(b))] == [
        (0, 'basic:wcs'), (1, 'basic:wcs')] + [(0, 'basic:wcs')] * 4


# ---- a clean query: no identity reaches a receiver (issue 15) -----------------------------------------

def test_nameid_and_email_never_reach_the_receiver_and_the_signature_still_verifies(setup, receiver):
    url = receiver.url('/hooks/cancel/?NameID=admin-uuid&email=victim%40example.org&nameid=x&EMAIL=y&Email=z'
                       '&form=12&NameIDs=kept')
    booking_id = book(setup, receiver, cancel=url)
    setup.post(f'/api/booking/{booking_id}/agent-cancel/', {})
    assert callbacks.deliver(f'{booking_id}:cancel:0', NOW) == 'sent'
    query = urlsplit(receiver.requests[0]['path']).query
    # Only the empty NameID and email our signer puts first, as Publik's signers do (no user).
    assert parse_qsl(query, keep_blank_values=True)[:3] == [('NameID', ''), ('email', ''), ('orig', 'chrono.example.org')]
    assert [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() in ('nameid', 'email')] == [
        ('NameID', ''), ('email', '')]
    assert 'admin-uuid' not in query and 'victim' not in query
    assert dict(parse_qsl(query))['NameIDs'] == 'kept'  # only the exact names go
    assert signature.verify_raw(query, {'chrono.example.org': KEY}, NOW).orig == 'chrono.example.org'
    with pytest.raises(signature.SignatureError, match='bad signature'):
        signature.verify_raw(query, {'chrono.example.org': 'another key'}, NOW)
