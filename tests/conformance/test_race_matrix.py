"""Every operation that changes places raced against every other one, on the same booking and on
bookings of the same event, on DynamoDB Local over HTTP (tests/race_matrix.py says what a round is and
which invariants it checks). `make soak` runs the same rounds for as long as asked.
"""
from __future__ import annotations

import random
from collections import Counter

import pytest

from tests import race_matrix
from tests.concurrency import parallel

SEED = random.randrange(2 ** 32)


def test_the_matrix_covers_every_pair_of_operations_on_every_pair_of_targets():
    plan = race_matrix.matrix_plan()
    assert len(race_matrix.OPERATIONS) == 20
    assert len(plan) == 210 * 3
    pairs = {(a, b) for (a, _), (b, _) in plan}
    assert pairs == set(race_matrix.PAIRS)
    assert {(ta, tb) for (_, ta), (_, tb) in plan} == {('B', 'B'), ('B', 'C'), ('D', 'B')}


def test_every_pair_of_operations_keeps_every_invariant(http_api):
    """Every pair once (each on one pair of targets, in turn; `make soak` plays them all, many times):
    counters equal the live legs, user counts equal the user's live legs, no list beyond its places,
    nothing live on a cancelled event, no HTTP error."""
    race_matrix.setup_agenda(http_api)
    plan = race_matrix.bounded_plan(SEED)
    assert {(a, b) for (a, _), (b, _) in plan} == set(race_matrix.PAIRS)
    print(f'race matrix seed {SEED}')
    outcome = race_matrix.run_rounds(http_api, plan, SEED)
    assert outcome.rounds == len(plan)
    assert outcome.violations == []
    sent = Counter()
    for (name, _), count in outcome.outcomes.items():
        sent[name] += count
    assert set(sent) == set(race_matrix.OPERATIONS)
    assert sum(sent.values()) == 2 * len(plan)


def test_every_pair_of_operations_keeps_every_invariant_on_an_agenda_that_promotes(http_api):
    """The same races on an agenda whose waiting list moves up on its own (domain/promotion_rules.py): the
    invariants above, and after each round the head of the waiting queue does not fit in the free places
    and nobody moved up past a booking waiting since before the race."""
    race_matrix.setup_agenda(http_api, race_matrix.PROMOTING)
    plan = race_matrix.bounded_plan(SEED + 1)
    print(f'race matrix (promoting) seed {SEED + 1}')
    outcome = race_matrix.run_rounds(http_api, plan, SEED + 1, first_number=5000, agenda=race_matrix.PROMOTING)
    assert outcome.rounds == len(plan)
    assert outcome.violations == []
    assert {name for name, _ in outcome.outcomes} == set(race_matrix.OPERATIONS)


@pytest.mark.parametrize('agenda', [race_matrix.AGENDA, race_matrix.PROMOTING])
def test_each_operation_alone_does_what_it_says_on_a_promoting_agenda_too(http_api, agenda):
    """Alone on a fresh round of the promoting agenda: every operation succeeds; those that free a place
    where the waiting booking D (2 places) fits move it up in their own transaction."""
    race_matrix.setup_agenda(http_api, agenda)
    moved_up = set()
    for number, name in enumerate(sorted(race_matrix.OPERATIONS), start=4000):
        r = race_matrix.new_round(http_api, number, agenda)
        status, answer = race_matrix.OPERATIONS[name](r, ALONE.get(name, 'B'), None)
        r.answers.append((name, status, answer))
        assert (name, status, answer['err']) == (name, 200, 0), answer
        assert race_matrix.violations(r) == []
        d = http_api.get(f"/api/booking/{r.bookings['D']['id']}/")[1]
        if d['err'] == 0 and not d['in_waiting_list']:
            moved_up.add(name)
    if agenda == race_matrix.AGENDA:
        assert moved_up == {'accept'}  # only an agent moves D up
    else:
        # B's 2 places freed (cancelled, moved, unbooked, its subscription deleted), C's 1 (moved onto the same
        # event: it goes behind D), B resized to 1 or one more place: 2 free, D fits; a suspend of B is an agent's
        # choice: nobody moves up.
        assert moved_up == {'accept', 'agent-cancel', 'cancel', 'delete', 'move', 'move-same', 'raise-places',
                            'recurring-unbook', 'resize-down', 'unbook', 'unsubscribe'}


# The target on which each operation, alone, succeeds (the others take B: 2 places, main list).
ALONE = {'resize-up': 'D', 'move-same': 'C', 'accept': 'D'}


def test_each_operation_alone_does_what_it_says(http_api):
    """Without a race, every operation of the matrix succeeds on a fresh round and keeps the invariants:
    the races above really race changes, not refusals."""
    race_matrix.setup_agenda(http_api)
    for number, name in enumerate(sorted(race_matrix.OPERATIONS), start=3000):
        r = race_matrix.new_round(http_api, number)
        status, answer = race_matrix.OPERATIONS[name](r, ALONE.get(name, 'B'), None)
        r.answers.append((name, status, answer))
        assert (name, status, answer['err']) == (name, 200, 0), answer
        assert race_matrix.violations(r) == []


def test_resize_racing_cancel_gives_back_exactly_what_the_booking_held(http_api):
    """The reproduction of the issue: a 3-place booking resized to 1 while being cancelled, many times
    over: the counters end equal to the live bookings every time, never below zero."""
    race_matrix.setup_agenda(http_api)
    rng = random.Random(SEED)
    outcomes = Counter()
    for number in range(20):
        r = race_matrix.new_round(http_api, 1000 + number)
        race_matrix.race(r, ('resize-down', 'B'), ('cancel', 'B'), rng)
        assert race_matrix.violations(r) == []
        outcomes.update(f"{name}:{answer.get('err_class') or 'ok'}" for name, _, answer in r.answers)
    assert outcomes['cancel:ok'] == 20  # the cancel always wins in the end (after the resize, or first)


@pytest.mark.parametrize('operation', ['cancel', 'agent-cancel', 'resize-down', 'suspend', 'move', 'anonymize'])
def test_many_parallel_copies_of_one_operation_on_one_booking(http_api, operation):
    """Eight copies of the same operation at once on one booking, beside fillslots on its event."""
    race_matrix.setup_agenda(http_api)
    r = race_matrix.new_round(http_api, 2000)
    calls = [lambda s: race_matrix.OPERATIONS[operation](r, 'B', s)] * 8
    calls += [lambda s: race_matrix.OPERATIONS['fillslot'](r, 'B', s)] * 4
    for answer in parallel(calls, threads=12):
        r.answers.append((operation, *answer))
    assert race_matrix.violations(r) == []
