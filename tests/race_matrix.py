"""The race matrix: every operation that changes places, raced against every other one, on the same
booking and on two bookings of the same event, over HTTP against DynamoDB Local (the real engine).

A round creates its own events (a recurring event with one occurrence, where the bookings are, and a
plain event to move them to), books three bookings (2 places, 1 place, 2 places on the waiting list)
around a hold of 1 place by the lock code `L<round>` (spec §9.9), then sends two operations at once,
each after a random gap of 0-15 ms. After the round, read consistently from the table:
- each event's counters equal the places its live legs and its holds (entries of its map) hold, per list;
- each user's count item on each event equals the user's live legs there;
- no list holds more than its places (unless an accept or a suspend, which ignore them by design
  (spec §8.7-8.8), succeeded in the round);
- after a successful event cancel, the event holds no live leg;
- no answer is an HTTP error (no 500, no timeout).
On the PROMOTING agenda (`waiting_list_promotion: automatic`), also (unless a suspend, an agent's choice to
wait, succeeded): the head of the waiting queue does not fit in the free places, and no leg moved up past a
booking that was waiting before the race (`promotion_violations`).

`tests/conformance/test_race_matrix.py` runs every pair a bounded number of times in `make test`;
`make soak` runs rounds for as long as asked and prints the figure (python -m tests.race_matrix --help).
"""
from __future__ import annotations

import argparse
import itertools
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import requests

TZ = ZoneInfo('Europe/Paris')
AGENDA = 'race'
PLACES, WAITING = 5, 3  # the occurrence: B (2), C (1) and the hold L (1) in the main list, D (2) waiting
OTHER_PLACES, OTHER_WAITING = 4, 2


@dataclass
class Round:
    number: int
    api: Any  # an HttpApi: call(method, path, body, session=...)
    primary: str
    event: str  # the occurrence the bookings are on
    other: str  # a plain event to move them to
    weekday: int
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)  # B, C, D -> id, user, count
    made: set[int] = field(default_factory=set)  # bookings made by the round's operations
    answers: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    agenda: str = AGENDA  # or PROMOTING: its waiting list moves up on its own

    @property
    def users(self) -> set[str]:
        return {b['user'] for b in self.bookings.values()} | {f'n{self.number}', f'l{self.number}'}


def _booking(r: Round, target: str) -> dict[str, Any]:
    return r.bookings[target]


def _made(r: Round, answer: dict[str, Any]) -> dict[str, Any]:
    if answer.get('err') == 0 and answer.get('booking_id'):
        r.made.add(int(answer['booking_id']))
    return answer


# Each operation: (round, target booking, session) -> (status, answer).
def cancel(r, t, s):
    return r.api.call('POST', f"/api/booking/{_booking(r, t)['id']}/cancel/", session=s)


def delete(r, t, s):
    return r.api.call('DELETE', f"/api/booking/{_booking(r, t)['id']}/", session=s)


def agent_cancel(r, t, s):
    return r.api.call('POST', f"/api/booking/{_booking(r, t)['id']}/agent-cancel/", session=s)


def event_cancel(r, t, s):
    return r.api.call('POST', f'/api/agenda/{r.agenda}/event/{r.event}/cancel/', session=s)


def check(r, t, s):
    return r.api.call('POST', f'/api/agenda/{r.agenda}/check/{r.event}/', session=s)


def accept(r, t, s):
    return r.api.call('POST', f"/api/booking/{_booking(r, t)['id']}/accept/", session=s)


def suspend(r, t, s):
    return r.api.call('POST', f"/api/booking/{_booking(r, t)['id']}/suspend/", session=s)


def resize_up(r, t, s):
    return r.api.call('POST', f"/api/booking/{_booking(r, t)['id']}/resize/", {'count': _booking(r, t)['count'] + 1},
                      session=s)


def resize_down(r, t, s):
    return r.api.call('POST', f"/api/booking/{_booking(r, t)['id']}/resize/", {'count': 1}, session=s)


def anonymize(r, t, s):
    return r.api.call('POST', f"/api/booking/{_booking(r, t)['id']}/anonymize/", session=s)


def patch(r, t, s):
    return r.api.call('PATCH', f"/api/booking/{_booking(r, t)['id']}/", {'user_was_present': True, 'note': t},
                      session=s)


def move(r, t, s):
    b = _booking(r, t)
    status, answer = r.api.call('POST', f'/api/agenda/{r.agenda}/fillslot/{r.other}/', {
        'cancel_booking_id': b['id'], 'count': b['count'], 'user_external_id': b['user']}, session=s)
    return status, _made(r, answer)


def move_same(r, t, s):
    b = _booking(r, t)
    status, answer = r.api.call('POST', f'/api/agenda/{r.agenda}/fillslot/{r.event}/', {
        'cancel_booking_id': b['id'], 'count': b['count'], 'user_external_id': b['user']}, session=s)
    return status, _made(r, answer)


def unbook(r, t, s):
    """events fillslots: the user's bookings on the agenda become none."""
    status, answer = r.api.call('POST', f'/api/agenda/{r.agenda}/events/fillslots/', {
        'slots': [], 'user_external_id': _booking(r, t)['user']}, session=s)
    return status, answer


def recurring_unbook(r, t, s):
    return r.api.call('POST', f'/api/agendas/recurring-events/fillslots/?agendas={r.agenda}&action=unbook', {
        'slots': [f'{r.agenda}@{r.primary}:{r.weekday}'], 'user_external_id': _booking(r, t)['user']}, session=s)


def raise_places(r, t, s):
    """An admin gives the event one more place (on a promoting agenda, waiting bookings may move up)."""
    return r.api.call('PATCH', f'/api/agenda/{r.agenda}/event/{r.event}/', {'places': PLACES + 1}, session=s)


def fillslot(r, t, s):
    status, answer = r.api.call('POST', f'/api/agenda/{r.agenda}/fillslot/{r.event}/', {
        'user_external_id': f'n{r.number}', 'count': 1}, session=s)
    return status, _made(r, answer)


def unsubscribe(r, t, s):
    """The target's user's subscription deleted: their bookings of its days to come are cancelled."""
    return r.api.call('DELETE', f"/api/agenda/{r.agenda}/subscription/{_booking(r, t)['subscription']}/", session=s)


def hold(r, t, s):
    """Another lock code holds a place of the event."""
    return r.api.call('POST', f'/api/agenda/{r.agenda}/fillslot/{r.event}/', {'lock_code': f'M{r.number}'}, session=s)


def confirm(r, t, s):
    """The round's hold becomes a booking."""
    status, answer = r.api.call('POST', f'/api/agenda/{r.agenda}/fillslot/{r.event}/', {
        'lock_code': f'L{r.number}', 'confirm_after_lock': True, 'user_external_id': f'l{r.number}'}, session=s)
    return status, _made(r, answer)


OPERATIONS: dict[str, Callable] = {
    'cancel': cancel, 'delete': delete, 'agent-cancel': agent_cancel, 'event-cancel': event_cancel, 'check': check,
    'accept': accept, 'suspend': suspend, 'resize-up': resize_up, 'resize-down': resize_down, 'anonymize': anonymize,
    'patch': patch, 'move': move, 'move-same': move_same, 'unbook': unbook, 'recurring-unbook': recurring_unbook,
    'fillslot': fillslot, 'unsubscribe': unsubscribe, 'hold': hold, 'confirm': confirm, 'raise-places': raise_places,
}
PROMOTING = 'race-auto'  # the variant agenda: waiting_list_promotion automatic (domain/promotion_rules.py)
PAIRS = list(itertools.combinations_with_replacement(sorted(OPERATIONS), 2))
TARGETS = (('B', 'B'), ('B', 'C'), ('D', 'B'))  # the same booking, two of the main list, waiting and main


def setup_agenda(api, agenda: str = AGENDA) -> None:
    """The agenda the rounds book on; PROMOTING promotes its waiting list automatically."""
    body = {'label': 'Race', 'slug': agenda, 'minimal_booking_delay': '0'}
    if agenda == PROMOTING:
        body['waiting_list_promotion'] = 'automatic'
    status, answer = api.call('POST', '/api/agenda/', body)
    assert (status, answer['err']) == (200, 0), answer


def start_of(number: int) -> datetime:
    """A distinct local time per round, days ahead (always bookable)."""
    base = datetime.now(TZ).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=3)
    return base + timedelta(days=(number // 600) % 300, minutes=number % 600)


def new_round(api, number: int, agenda: str = AGENDA) -> Round:
    start = start_of(number)
    primary = f'p{number}'
    text = start.strftime('%Y-%m-%d %H:%M')
    for body in ({'slug': primary, 'start_datetime': text, 'places': PLACES, 'waiting_list_places': WAITING,
                  'recurrence_days': [start.weekday()],
                  'recurrence_end_date': (start + timedelta(days=1)).strftime('%Y-%m-%d')},
                 {'slug': f'o{number}', 'start_datetime': text, 'places': OTHER_PLACES,
                  'waiting_list_places': OTHER_WAITING}):
        status, answer = api.call('POST', f'/api/agenda/{agenda}/event/', body)
        assert (status, answer['err']) == (200, 0), answer
    r = Round(number, api, primary, f'{primary}--{start:%Y-%m-%d-%H%M}', f'o{number}', start.weekday(), agenda=agenda)
    for name, count in (('B', 2), ('C', 1), ('L', 1), ('D', 2)):
        if name == 'L':  # the hold, before D: D then waits, as the main list lacks 2 places
            status, answer = api.call('POST', f'/api/agenda/{agenda}/fillslot/{r.event}/', {'lock_code': f'L{number}'})
            assert (status, answer['err'], answer['in_waiting_list']) == (200, 0, False), answer
            continue
        user = f'{name.lower()}{number}'
        status, answer = api.call('POST', f'/api/agenda/{agenda}/fillslot/{r.event}/', {
            'user_external_id': user, 'count': count})
        assert (status, answer['err'], answer['in_waiting_list']) == (200, 0, name == 'D'), answer
        r.bookings[name] = {'id': answer['booking_id'], 'user': user, 'count': count}
        status, answer = api.call('POST', f'/api/agenda/{agenda}/subscription/', {
            'user_external_id': user, 'date_start': f'{start - timedelta(days=1):%Y-%m-%d}',
            'date_end': f'{start + timedelta(days=2):%Y-%m-%d}'})
        assert (status, answer['err']) == (200, 0), answer
        r.bookings[name]['subscription'] = answer['id']
    return r


def race(r: Round, first: tuple[str, str], second: tuple[str, str], rng: random.Random) -> None:
    """Send both operations at once, each after its own random gap of 0-15 ms."""
    barrier = threading.Barrier(2)
    gaps = [rng.uniform(0, 0.015) for _ in range(2)]

    def run(index: int, name: str, target: str) -> None:
        session = requests.Session()
        barrier.wait()
        time.sleep(gaps[index])
        try:
            status, answer = OPERATIONS[name](r, target, session)
        except (requests.RequestException, ValueError) as exc:  # a timeout or a body that is not JSON
            status, answer = 0, {'err': 1, 'err_class': exc.__class__.__name__}
        r.answers.append((name, status, answer))
    threads = [threading.Thread(target=run, args=(i, *op)) for i, op in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def violations(r: Round) -> list[str]:
    """What the round left that breaks an invariant (empty: none)."""
    from chalicelib import store
    from chalicelib.store.models import UserEventBookings, user_event_pk
    from tests.concurrency import event_booking_ids

    agenda = r.agenda
    found = []
    for name, status, answer in r.answers:
        if (name, status, answer.get('err_class')) == ('unsubscribe', 404, 'unknown subscription'):
            continue  # two DELETEs of one subscription: the second finds it gone, as it would one after the other
        if status != 200 or answer.get('err_class') == 'internal error':
            found.append(f'{name} answered HTTP {status}: {answer}')
    succeeded = {name for name, status, answer in r.answers if status == 200 and answer.get('err') == 0}
    ids = {b['id'] for b in r.bookings.values()} | r.made
    for event in (r.event, r.other):
        ids |= event_booking_ids(agenda, event)
    legs = [leg for booking_id in sorted(ids) for leg in store.get_legs(booking_id)]
    events = store.get_events([(agenda, r.event), (agenda, r.other)])
    for event in (r.event, r.other):
        record = events[(agenda, event)]
        live = [leg for leg in legs if leg.event == event and not leg.cancelled]
        main = sum(leg.count for leg in live if not leg.in_waiting_list)
        waiting = sum(leg.count for leg in live if leg.in_waiting_list)
        main += sum(h.count for h in record.holds if not h.in_waiting_list)  # held places are in the counters
        waiting += sum(h.count for h in record.holds if h.in_waiting_list)
        if (record.reserved, record.waiting_list_reserved) != (main, waiting):
            found.append(f'{event}: counters {(record.reserved, record.waiting_list_reserved)} '
                         f'!= live legs {(main, waiting)}')
        if record.reserved > record.spec.places and 'accept' not in succeeded:
            found.append(f'{event}: {record.reserved} places reserved of {record.spec.places}')
        if record.waiting_list_reserved > record.spec.waiting_list_places and 'suspend' not in succeeded:
            found.append(f'{event}: {record.waiting_list_reserved} waiting of {record.spec.waiting_list_places}')
        if event == r.event and 'event-cancel' in succeeded and live:
            found.append(f'{event}: cancelled, yet {len(live)} live legs remain')
        if agenda == PROMOTING and 'suspend' not in succeeded and not record.spec.cancelled:
            found += promotion_violations(event, record, live, setup={b['id'] for b in r.bookings.values()})
        keys = [(user_event_pk(agenda, event, user), 'count') for user in sorted(r.users)]
        counts = {item.pk: int(item.bookings or 0)
                  for item in UserEventBookings.batch_get(keys, consistent_read=True)}
        for user in r.users:
            held = sum(1 for leg in live if leg.user_external_id == user)
            counted = counts.get(user_event_pk(agenda, event, user), 0)
            if counted != held:
                found.append(f'{event}: user {user} counted {counted}, holds {held}')
    return found


def promotion_violations(event: str, record, live: list, setup: set[int]) -> list[str]:
    """What breaks the promotion rule (domain/promotion_rules.py, strict FIFO) on an event: the head of
    the waiting queue fits in the free places (a place left empty while the one whose turn it is fits),
    or a leg moved up past a booking that was waiting before the race began (`setup`: bookings committed
    before it; those made during the race enter the queue by their id, drawn just before they commit,
    so their order against a concurrent promotion is not known afterwards)."""
    from chalicelib.store.models import Booking, booking_pk, leg_sk

    found = []
    queue = sorted((leg for leg in live if leg.in_waiting_list), key=lambda leg: (leg.booking_id, leg.leg))
    # A live hold's places are taken (its lock code may still confirm them): not free for the queue.
    now = datetime.now(timezone.utc)
    held = sum(h.count for h in record.holds if not h.in_waiting_list and not h.expired(now))
    free = record.spec.places - sum(leg.count for leg in live if not leg.in_waiting_list) - held
    if queue and queue[0].count <= free:
        found.append(f'{event}: the head of the queue ({queue[0].count} places) fits in {free} free places')
    promoted = [leg for leg in live if not leg.in_waiting_list
                and Booking.get(booking_pk(leg.booking_id), leg_sk(leg.leg), consistent_read=True).promoted_at]
    for waiting in (leg for leg in queue if leg.booking_id in setup):
        passed = [leg.booking_id for leg in promoted if (leg.booking_id, leg.leg) > (waiting.booking_id, waiting.leg)]
        if passed:
            found.append(f'{event}: {passed} moved up past {waiting.booking_id}, waiting since before the race')
    return found


@dataclass
class Outcome:
    rounds: int = 0
    violations: list[str] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)


def run_rounds(api, plan: list[tuple[tuple[str, str], tuple[str, str]]], seed: int, first_number: int = 0,
               workers: int = 3, agenda: str = AGENDA) -> Outcome:
    """Play each planned race in its own round (rounds touch separate events: `workers` run at once);
    the outcomes count what each operation answered."""
    def play(number: int, first: tuple[str, str], second: tuple[str, str]) -> Round:
        r = new_round(api, number, agenda)
        race(r, first, second, random.Random(seed * 1_000_003 + number))
        return r
    outcome = Outcome()
    with ThreadPoolExecutor(workers) as pool:
        rounds = pool.map(lambda args: play(*args),
                          [(number, first, second) for number, (first, second) in enumerate(plan, first_number)])
        for (first, second), r in zip(plan, rounds):
            outcome.rounds += 1
            outcome.violations += [f'round {r.number} {first} x {second}: {v}' for v in violations(r)]
            for name, status, answer in r.answers:
                outcome.outcomes[(name, answer.get('err_class') or 'ok')] += 1
    return outcome


def bounded_plan(seed: int) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Every pair of operations once, each on one pair of targets (taken in turn, from a shuffled start):
    what `make test` runs; `make soak` plays the whole matrix over and over."""
    rng = random.Random(seed)
    offset = rng.randrange(len(TARGETS))
    return [((a, TARGETS[(i + offset) % len(TARGETS)][0]), (b, TARGETS[(i + offset) % len(TARGETS)][1]))
            for i, (a, b) in enumerate(PAIRS)]


def matrix_plan(repeat: int = 1) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Every pair of operations on every pair of targets, `repeat` times."""
    return [((a, ta), (b, tb)) for _ in range(repeat) for a, b in PAIRS for ta, tb in TARGETS]


def main() -> int:
    parser = argparse.ArgumentParser(prog='make soak', description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=1000, help='rounds to run (default 1000)')
    parser.add_argument('--seconds', type=float, default=None, help='or run for this long instead')
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--promoting', action='store_true', help='on an agenda that promotes automatically')
    args = parser.parse_args()
    agenda = PROMOTING if args.promoting else AGENDA
    seed = args.seed if args.seed is not None else random.randrange(2 ** 32)

    from tests.soak_stack import soak_api  # DynamoDB Local and the HTTP server, as the conformance tests
    rng = random.Random(seed)
    plan = matrix_plan()
    rng.shuffle(plan)
    started, total = time.monotonic(), Outcome()

    def more() -> int:
        if args.seconds is not None:
            return 50 if time.monotonic() - started < args.seconds else 0
        return min(50, args.rounds - total.rounds)
    with soak_api() as api:
        setup_agenda(api, agenda)
        while (size := more()) > 0:
            batch = [plan[(total.rounds + i) % len(plan)] for i in range(size)]
            outcome = run_rounds(api, batch, rng.randrange(2 ** 32), first_number=total.rounds, agenda=agenda)
            total.rounds += outcome.rounds
            total.violations += outcome.violations
            total.outcomes.update(outcome.outcomes)
            print(f'{total.rounds} rounds, {len(total.violations)} violations', flush=True)
        elapsed = time.monotonic() - started
    for line in total.violations[:50]:
        print('VIOLATION', line)
    busy = sum(n for (_, err), n in total.outcomes.items() if err == 'busy')
    print(f'\nrace matrix soak: {total.rounds} rounds ({len(OPERATIONS)} operations, {len(PAIRS)} pairs x '
          f'{len(TARGETS)} targets), {len(total.violations)} violations, {busy} busy answers, '
          f'{elapsed:.0f} s, seed {seed}')
    return 1 if total.violations else 0


if __name__ == '__main__':
    raise SystemExit(main())
