"""A property-based fuzz run of the whole API from its OpenAPI description (schemathesis, over moto).

Real data first: an events agenda (events with places and a waiting list, bookings in both lists), a
meetings agenda with two desks and a resource, a virtual agenda, meeting bookings. Path parameters mix
those slugs, slot ids and booking ids with junk; bodies and queries are what the description allows
(positive) and what it does not (negative), interleaved over every operation, all through
`chalice.test.Client`. Every answer: no HTTP 500, JSON with `err` (or the iCalendar/OpenAPI documents),
4xx with `err_class` and `err_desc`, never `busy` (one request at a time: nothing contends), and the status,
content type and shape the description gives.
After the run, the stored state: each event's counters equal its live bookings' places (main list and
waiting list apart), and each user's count there their live bookings; no counter beyond capacity unless
an accept or suspend (which ignore capacity, spec §8.7-8.8) moved a booking of that event; no two live
meetings overlap on one desk, and the lock items are exactly those of the live meetings (no desk time lost).

Bounded for `make test` (CHRONO_FUZZ_EXAMPLES, default 1300, with a fixed seed so that a run is
reproducible); run longer and elsewhere with e.g. `CHRONO_FUZZ_EXAMPLES=5000 CHRONO_FUZZ_SEED=random`.
"""
from __future__ import annotations

import copy
import io
import json
import os
import random
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from urllib3 import HTTPHeaderDict, HTTPResponse

from chalicelib import config, store
from chalicelib.web import openapi
from chalicelib.store.models import Lock
from chalicelib.store.transaction_parts import _locks as lock_keys  # the store's own cells of a meeting leg
from tests.conftest import BASIC

EXAMPLES = int(os.environ.get('CHRONO_FUZZ_EXAMPLES') or 1300)  # ~40 s here: about 23 per operation
REFRESH = 150  # requests between two imports of the seed document, which bring back deleted or cancelled events
SEED = os.environ.get('CHRONO_FUZZ_SEED') or '20240611'
BASE_URL = 'http://chrono.test'
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
USERS = ('user:1', 'user:2', 'fuzz@example.org')
EVENTS_AGENDA, MEETINGS_AGENDA, VIRTUAL_AGENDA = 'fuzz-events', 'fuzz-meetings', 'fuzz-virtual'
EVENT_SLUGS = ('small', 'waiting', 'no-waiting', 'large', 'later', 'big')
MOVES = ('/accept', '/suspend')  # the lifecycle calls that ignore capacity (spec §8.7-8.8)


# ---- the world --------------------------------------------------------------------------------------

def seed_document(today: date) -> dict[str, Any]:
    day = today + timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday: the desks open
    places = {'small': (2, 2), 'waiting': (3, 3), 'no-waiting': (3, 0), 'large': (30, 10), 'later': (8, 4),
              'big': (200, 50)}
    events = [{'slug': slug, 'label': slug.title(), 'start_datetime': f'{day + timedelta(days=n):%Y-%m-%d} 10:00:00',
               'duration': 60, 'places': total, 'waiting_list_places': waiting}
              for n, (slug, (total, waiting)) in enumerate(places.items())]
    hours = [{'weekday': d, 'start_time': '09:00', 'end_time': '12:00'} for d in range(5)]
    return {
        'resources': [{'slug': 'room', 'label': 'Room'}],
        'agendas': [
            {'slug': EVENTS_AGENDA, 'label': 'Fuzz events', 'kind': 'events', 'minimal_booking_delay': 0,
             'maximal_booking_delay': 60, 'absence_reasons': [{'slug': 'sick', 'label': 'Sick'}], 'events': events},
            {'slug': MEETINGS_AGENDA, 'label': 'Fuzz meetings', 'kind': 'meetings', 'minimal_booking_delay': 0,
             'maximal_booking_delay': 30, 'resources': ['room'],
             'meetingtypes': [{'slug': 'short', 'label': 'Short', 'duration': 15},
                              {'slug': 'long', 'label': 'Long', 'duration': 45}],
             'desks': [{'slug': 'desk-1', 'label': 'Desk 1', 'timeperiods': hours},
                       {'slug': 'desk-2', 'label': 'Desk 2', 'timeperiods': hours}]},
            {'slug': VIRTUAL_AGENDA, 'label': 'Fuzz virtual', 'kind': 'virtual', 'minimal_booking_delay': 0,
             'maximal_booking_delay': 30, 'real_agendas': [MEETINGS_AGENDA]},
        ],
    }


class World:
    """The seeded data the fuzz aims at, and what the run did to it: sends requests through
    chalice.test.Client and keeps the bookings made (to aim at them too) and those an accept or a
    suspend moved (for the state check)."""

    def __init__(self, client) -> None:
        self.client = client
        self.today = date.today()
        self.sent = 0
        self.bookings: list[int] = []
        self.moved: set[int] = set()
        self.meeting_slots: list[str] = []

    def request(self, method: str, path: str, body: Any = None):
        raw = json.dumps(body).encode() if body is not None else b''
        headers = {**BASIC, 'Host': 'chrono.test', **({'Content-Type': 'application/json'} if raw else {})}
        return self.send(method, path, headers, raw)

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes):
        response = self.client.http.request(method, path, headers=headers, body=body)
        if method == 'POST' and response.status_code == 200:
            answer = json.loads(response.body)
            route = urlsplit(path).path.rstrip('/')
            if answer.get('err') == 0 and '/fillslot' in route:  # one booking, or several (events/fillslots)
                made = [answer] if 'booking_id' in answer else answer.get('booked_events', [])
                self.bookings.extend(int(item['booking_id']) for item in made)
            elif answer.get('err') == 0 and route.endswith(MOVES):
                self.moved.add(int(answer['booking_id']))
        return response

    def refresh(self) -> None:
        """Every REFRESH requests, the seed document again: deleted events come back, cancelled ones are
        bookable again, booked ones keep their bookings (or the import is refused, when the run grew an
        event's bookings beyond the seed's places)."""
        self.sent += 1
        if self.sent % REFRESH == 0:
            answer = json.loads(self.request('POST', '/api/import/', seed_document(self.today)).body)
            assert answer['err'] == 0 or answer['err_class'] == 'import refused', answer

    def book(self, agenda: str, slot: str, **body: Any) -> int:
        response = self.request('POST', f'/api/agenda/{agenda}/fillslot/{slot}/', body)
        answer = json.loads(response.body)
        assert response.status_code == 200 and answer['err'] == 0, answer
        return answer['booking_id']

    def pool(self, name: str, params: dict[str, str]) -> list[str]:
        """The values a path parameter may name: seeded slugs, slots of the agenda's kind, bookings."""
        if name == 'agenda':
            return [EVENTS_AGENDA, MEETINGS_AGENDA, VIRTUAL_AGENDA]
        if name == 'meeting_type':
            return ['short', 'long']
        if name == 'slot' and params.get('agenda') in (MEETINGS_AGENDA, VIRTUAL_AGENDA):
            return self.meeting_slots
        if name in ('event', 'slot'):
            return list(EVENT_SLUGS)
        return [str(b) for b in self.bookings] if name == 'booking_id' else []

    def recent(self, name: str, params: dict[str, str]) -> list[str]:
        """The bookings made last (the most likely to be live), or the whole pool."""
        return self.pool(name, params)[-4:] if name == 'booking_id' else self.pool(name, params)

    def aim(self, case, data) -> None:
        """Most path parameters name seeded data or bookings made (the last ones more often), the others
        stay junk; two bodies in three book a few places of existing slots, or replace a booking made."""
        def pick(values: list) -> Any:
            # An index, not sampled_from: the pools grow, and hypothesis wants the same draws each time.
            return values[data.draw(st.integers(0, 2 ** 16), label='pick') % len(values)]

        params = case.path_parameters or {}
        route = case.operation.path.rstrip('/')
        for name in sorted(params, key=lambda n: n != 'agenda'):  # the agenda first: slots follow its kind
            aimed = data.draw(st.integers(0, 9), label=f'aim {name}')
            if aimed < 8 and self.pool(name, params):
                params[name] = pick(self.recent(name, params) if aimed < 4 else self.pool(name, params))
        body = case.body
        # (hypothesis favours 0: a draw of 0 aims)
        if not isinstance(body, dict) or data.draw(st.integers(0, 2), label='aim body') == 2:
            return
        if 'count' in body or route.endswith('/resize'):
            body['count'] = pick([1, 2, 3, '1', '2'])
        if 'cancel_booking_id' in body and self.bookings:
            body['cancel_booking_id'] = pick(self.bookings)
        if route.endswith('/fillslots'):
            slots = [pick(self.pool('slot', params)) for _ in range(data.draw(st.integers(1, 3), label='slots'))]
            body['slots'] = ','.join(slots) if data.draw(st.booleans(), label='joined') else slots


class ChaliceAdapter(requests.adapters.BaseAdapter):
    """What schemathesis sends over requests goes to the Chalice app (its test client) instead."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url)
        body = request.body or b''
        answer = self.world.send(request.method, url.path + (f'?{url.query}' if url.query else ''),
                                 dict(request.headers), body.encode() if isinstance(body, str) else body)
        headers = HTTPHeaderDict(answer.headers)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(headers)
        response.raw = HTTPResponse(body=io.BytesIO(answer.body), headers=headers, status=answer.status_code,
                                    version=11, preload_content=False)  # schemathesis reads its headers
        response._content = answer.body
        response.url, response.request, response.reason = request.url, request, ''
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def world(client) -> World:
    """The seeded agendas and bookings (both lists, a fillslots group, meetings with a resource)."""
    import boto3
    boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
    world = World(client)
    imported = world.request('POST', '/api/import/', seed_document(world.today))
    assert imported.status_code == 200 and json.loads(imported.body)['err'] == 0, imported.body
    world.book(EVENTS_AGENDA, 'small', user_external_id=USERS[0], count=2)
    world.book(EVENTS_AGENDA, 'small', user_external_id=USERS[1])  # waiting list
    world.book(EVENTS_AGENDA, 'waiting', user_external_id=USERS[0], cancel_callback_url='https://wcs.test/c/',
               presence_callback_url='https://wcs.test/p/', absence_callback_url='https://wcs.test/a/')
    world.book(EVENTS_AGENDA, 'waiting', user_external_id=USERS[2], count=2)
    world.book(EVENTS_AGENDA, 'no-waiting', user_external_id=USERS[1], count=3)
    world.book(EVENTS_AGENDA, 'large', user_external_id=USERS[0], count=5, force_waiting_list=True)
    grouped = json.loads(world.request('POST', f'/api/agenda/{EVENTS_AGENDA}/fillslots/',
                                       {'slots': 'large,later', 'user_external_id': USERS[1]}).body)
    assert grouped['err'] == 0, grouped
    listing = json.loads(world.request('GET', f'/api/agenda/{MEETINGS_AGENDA}/meetings/short/datetimes/').body)
    # From tomorrow on: a time of today could pass between the listing and the booking.
    slots = [item['id'] for item in listing['data'] if not item['disabled'] and item['date'] > f'{world.today}']
    assert len(slots) >= 20, listing
    world.book(MEETINGS_AGENDA, slots[0], user_external_id=USERS[0], resources='room')
    world.book(VIRTUAL_AGENDA, slots[4], user_external_id=USERS[1])
    world.meeting_slots = [*slots[:40], *(s.replace('short:', 'long:') for s in slots[:40:3])]
    assert len(world.bookings) == 9
    return world


def fuzz_document() -> dict[str, Any]:
    """The API's description with the seeded users and agendas among the values of the query and body
    parameters that name them (path parameters are aimed apart: `World.aim`)."""
    document = copy.deepcopy(openapi.document(BASE_URL))
    for item in document['paths'].values():
        for operation in item.values():
            for param in operation['parameters']:
                if param['name'] == 'user_external_id':
                    param['schema'] = {'anyOf': [{'enum': list(USERS)}, {'type': 'string'}]}
                elif param['name'] == 'agendas':  # routes over several agendas (?agendas=a,b)
                    param['schema'] = {'anyOf': [{'enum': [EVENTS_AGENDA, f'{EVENTS_AGENDA},{MEETINGS_AGENDA}']},
                                                 param['schema']]}
    fields = document['components']['schemas']['Fillslot']['properties']
    fields['user_external_id'] = {'anyOf': [{'enum': list(USERS)}, fields['user_external_id']]}
    return document


# ---- the state after the run ------------------------------------------------------------------------

def state_problems(moved_bookings: set[int]) -> list[str]:
    """Where the stored counters and desks disagree with the live bookings."""
    problems = []
    moved_events = {(leg.agenda, leg.event) for b in moved_bookings for leg in store.get_legs(b)}
    held: dict[str, int] = {}  # lock item -> the live meeting that must hold it
    for agenda in store.list_agendas():
        if agenda.kind == 'events':
            problems += event_problems(agenda.slug, moved_events)
        elif agenda.kind == 'meetings':
            problems += desk_problems(agenda.slug)
            held.update({key: leg.booking_id for leg in live_meetings(agenda.slug) for key, _ in lock_keys(leg)})
    # A lock left by a cancelled meeting would keep its desk (or resource) time from everyone. (A cell a lock
    # code holds is its hold's: tests/api/test_holds.py.)
    locks = {item.pk: int(item.booking_id) for item in Lock.scan() if item.hold is None}
    problems += [f'lock {key}: held by {locks.get(key)}, not {held.get(key)}'
                 for key in sorted(set(locks) | set(held)) if locks.get(key) != held.get(key)]
    return problems


def event_problems(agenda: str, moved_events: set[tuple[str, str]]) -> list[str]:
    problems = []
    for record in store.list_events(agenda):
        legs = store.event_legs(agenda, record.slug)
        main = sum(leg.count for leg in legs if not leg.in_waiting_list)
        waiting = sum(leg.count for leg in legs if leg.in_waiting_list)
        main += sum(h.count for h in record.holds if not h.in_waiting_list)  # held places count until given back
        waiting += sum(h.count for h in record.holds if h.in_waiting_list)
        where = f'{agenda}/{record.slug}'
        if (record.reserved, record.waiting_list_reserved) != (main, waiting):
            problems.append(f'{where}: counters {record.reserved}+{record.waiting_list_reserved}, '
                            f'live bookings {main}+{waiting}')
        beyond = (record.reserved > record.spec.places
                  or record.waiting_list_reserved > record.spec.waiting_list_places)
        if beyond and (agenda, record.slug) not in moved_events:
            problems.append(f'{where}: beyond capacity {record.reserved}/{record.spec.places} '
                            f'+{record.waiting_list_reserved}/{record.spec.waiting_list_places}')
        users = {leg.user_external_id for leg in legs if leg.user_external_id} | set(USERS)
        for user in sorted(users):
            counted = store.read_for_booking(agenda, [record.slug], user).user_bookings.get(record.slug, 0)
            live = sum(1 for leg in legs if leg.user_external_id == user)
            if counted != live:
                problems.append(f'{where}: user {user} counted {counted}, holds {live}')
    return problems


def live_meetings(agenda: str) -> list:
    return store.meeting_legs(agenda, datetime(2000, 1, 1, tzinfo=timezone.utc),
                              datetime(2999, 1, 1, tzinfo=timezone.utc), timedelta(days=1))


def desk_problems(agenda: str) -> list[str]:
    legs = live_meetings(agenda)
    problems = []
    by_desk: dict[str, list] = {}
    for leg in legs:
        by_desk.setdefault(leg.desk, []).append(leg)
    for desk, desk_legs in by_desk.items():
        desk_legs.sort(key=lambda leg: leg.start)
        for earlier, later in zip(desk_legs, desk_legs[1:]):
            if later.start < earlier.end:
                problems.append(f'{agenda}/{desk}: bookings {earlier.booking_id} and {later.booking_id} overlap')
    return problems


# ---- the run ------------------------------------------------------------------------------------------

def outcome(response) -> str:
    """`200 ok`, `200 sold out`, `404`...: what the fuzz reached, to print."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return str(response.status_code)
    if isinstance(body, dict) and body.get('err'):
        return f'{response.status_code} {str(body.get("err_class"))[:40]}'
    return f'{response.status_code}' + (' ok' if response.status_code == 200 else '')


def chrono_problem(case, response) -> str | None:
    """design.md §3.5, §3.6.4: what every answer must be, beyond the description."""
    content_type = response.headers.get('content-type', [''])[0]
    if response.status_code in (204, 205):
        return f'status {response.status_code}'
    if content_type.startswith('text/calendar') and response.status_code == 200:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return f'not JSON ({content_type})'
    if case.operation.path == '/api/openapi.json' and response.status_code == 200:
        return None if body.get('openapi') == '3.1.0' else 'not the description'
    if not isinstance(body, dict) or 'err' not in body:
        return 'no err'
    if response.status_code >= 400 and not (isinstance(body.get('err_class'), str) and body.get('err_desc')):
        return 'a 4xx without err_class/err_desc'
    if body.get('err_class') == 'busy':  # one request at a time: a write that cannot succeed, retried in vain
        return 'busy without contention'
    return None


def test_fuzz_never_breaks_an_answer_nor_the_places(world):
    schema = schemathesis.openapi.from_dict(fuzz_document())
    session = requests.Session()
    for prefix in ('http://', 'https://'):  # whatever the URL, nothing leaves the process
        session.mount(prefix, ChaliceAdapter(world))
    problems: dict[str, str] = {}  # one example per kind of problem
    sent: dict[str, Counter] = {}  # operation -> outcomes, printed

    run_seed = random.randrange(2 ** 32) if SEED == 'random' else int(SEED)
    print(f'\nfuzz: CHRONO_FUZZ_SEED={run_seed} CHRONO_FUZZ_EXAMPLES={EXAMPLES}')
    # Every operation, with and without valid input; one case in four books, to keep live bookings around.
    booking = st.one_of(*(schema[f'/api/agenda/{{agenda}}/{name}/']['POST'].as_strategy()
                          for name in ('fillslot/{slot}', 'fillslots')))
    # (sampled_from, not one_of: one_of would flatten the operations into equally likely branches)
    positive, negative = schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE)
    strategy = st.sampled_from([positive, negative, positive, booking]).flatmap(lambda chosen: chosen)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @seed(run_seed)
    @given(case=strategy, data=st.data())
    def run(case, data):
        world.aim(case, data)
        world.refresh()
        anonymous = data.draw(st.integers(0, 19), label='anonymous') == 19  # what the description generates
        response = case.call(base_url=BASE_URL, session=session, headers=None if anonymous else BASIC)
        label = f'{case.operation.method.upper()} {case.operation.path}'
        sent[label] = sent.get(label, Counter())
        sent[label][outcome(response)] += 1
        problem = chrono_problem(case, response)
        if problem:
            problems.setdefault(f'{label}: {problem}', case.as_curl_command(headers=BASIC))
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:  # every failure is collected, then reported together
            for failure in group.exceptions:
                problems.setdefault(f'{label}: {failure.title}',
                                    f'{str(failure)[:1500]}\n{case.as_curl_command(headers=BASIC)}')

    seeded = len(world.bookings)
    started = time.monotonic()
    run()
    print(f'fuzz: {sum(sum(c.values()) for c in sent.values())} requests in {time.monotonic() - started:.1f} s')
    for label, outcomes in sorted(sent.items()):
        print(f'  {label}: {", ".join(f"{k} {n}" for k, n in outcomes.most_common())}')
    assert not problems, '\n\n'.join(f'{key}\n{detail}' for key, detail in sorted(problems.items()))
    assert state_problems(world.moved) == []
    if EXAMPLES >= 500:  # the run went deep: (nearly) every operation, and bookings to move places around
        assert len(sent) >= len(openapi.OPERATIONS) - 3, sorted(sent)
        assert len(world.bookings) - seeded >= EXAMPLES // 50
