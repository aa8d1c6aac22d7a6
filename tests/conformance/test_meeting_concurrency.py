"""No burst of requests puts two meetings on one desk's time: parallel fillslots, moves and
cancels over HTTP against DynamoDB Local (moto is no concurrency oracle: it oversells).

A meeting leg holds its desk time by Lock items (one per time cell) put with
`attribute_not_exists` in the booking transaction: these tests check the answers, the booking
legs and the Lock items left in the table, and, through a spy on the in-process server, that
the races were really decided by the locks (both requests read a free desk) and not by the read.
"""
from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from chalicelib.store.models import Booking, Lock
from chalicelib.store import tables
from tests.concurrency import parallel

TZ = ZoneInfo('Europe/Paris')
NO_DESK = 'no more desk available'
ALREADY_REPLACED = 'cancel booking: booking already cancelled'
DURATIONS = {'court': 15, 'long': 30}
CELL = timedelta(minutes=15)  # the lock step: GCD of 15, 30 minutes, the 08:00 opening and the UTC offsets
# A day a few days ahead (the server reads the real clock), and the same weekday a week later.
DAY = datetime.now(TZ).date() + timedelta(days=3)
NEXT_WEEK = DAY + timedelta(days=7)


def setup_agenda(http_api, desks, types=DURATIONS, warm=True):
    """A meetings agenda `rdv` with `types` (slug -> minutes; court 15 and long 30), `desks` desks
    g1, g2... open 08:00-20:00 on DAY's weekday, bookable from now (and then again, changed).

    `warm`: one booking, cancelled, far from the times tested (next week at 19:45), so that the
    server's DynamoDB clients exist before a burst (under a cold burst, every thread builds its own)."""
    period = {'weekday': DAY.weekday(), 'start_time': '08:00', 'end_time': '20:00'}
    document = {'agendas': [{
        'slug': 'rdv', 'label': 'Rdv', 'kind': 'meetings', 'minimal_booking_delay': 0, 'maximal_booking_delay': 30,
        'meetingtypes': [{'slug': slug, 'label': slug.title(), 'duration': minutes} for slug, minutes in types.items()],
        'desks': [{'slug': f'g{n}', 'label': f'Guichet {n}', 'timeperiods': [period]} for n in range(1, desks + 1)],
    }]}
    status, answer = http_api.post('/api/import/', document)
    assert status == 200, answer
    if warm:
        booking_id = book(http_api, 'court', at(19, 45, NEXT_WEEK), 'g1')
        assert cancel(http_api, booking_id)(None)[1]['err'] == 0


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A local time on `day` (wall-clock arithmetic: no DST change between 08:00 and 20:00)."""
    return datetime.combine(day, time(hour), TZ) + timedelta(minutes=minute)


def slot(meeting_type: str, start: datetime) -> str:
    return f"{meeting_type}:{start.strftime('%Y-%m-%d-%H%M')}"


def fillslot(http_api, meeting_type, start, **body):
    return lambda session: http_api.post(f'/api/agenda/rdv/fillslot/{slot(meeting_type, start)}/', body,
                                         session=session)


def cancel(http_api, booking_id):
    return lambda session: http_api.post(f'/api/booking/{booking_id}/cancel/', session=session)


def outcome(result):
    """'booked' or the err_class of a refusal; any other status is kept whole, to be seen."""
    status, answer = result
    if status != 200:
        return (status, answer.get('err_class'))
    return 'booked' if answer['err'] == 0 else answer['err_class']


def book(http_api, meeting_type, start, desk):
    status, answer = fillslot(http_api, meeting_type, start)(None)
    assert (status, answer['err'], answer['desk']['slug']) == (200, 0, desk), answer
    return answer['booking_id']


def expected_locks(bookings):
    """The Lock items of (booking id, desk, meeting type, start): one per 15-minute cell."""
    locks = {}
    for booking_id, desk, meeting_type, start in bookings:
        for n in range(DURATIONS[meeting_type] // 15):
            cell = (start + n * CELL).astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
            locks[f'LOCK#DESK#rdv#{desk}#{cell}'] = booking_id
    return locks


def table_locks():
    return {item.pk: int(item.booking_id) for item in Lock.scan(consistent_read=True)}


def live_legs():
    """booking id -> (desk, start) of every live meeting leg in the table."""
    return {int(item.booking_id): (item.desk, item.start) for item in Booking.scan(consistent_read=True)
            if item.cancelled_at is None}


def won(answer, meeting_type, start):
    return int(answer['booking_id']), answer['desk']['slug'], meeting_type, start


@pytest.fixture
def spy(monkeypatch):
    """Counts, in the in-process server, the bookings refused by a taken lock (DeskTaken: the
    request had read the desk free) and the transactions cancelled by a conflict (retried)."""
    seen = Counter()
    book_, is_conflict = store.book, tables.is_conflict

    def counting_book(*args, **kwargs):
        try:
            return book_(*args, **kwargs)
        except store.DeskTaken:
            seen['desk taken'] += 1
            raise
        except store.BookingChanged:
            seen['booking changed'] += 1
            raise

    def counting_conflict(exc):
        conflict = is_conflict(exc)
        seen['conflict'] += conflict
        return conflict

    monkeypatch.setattr(store, 'book', counting_book)
    monkeypatch.setattr(tables, 'is_conflict', counting_conflict)
    return seen


def listed(http_api, meeting_type, day=DAY):
    """id -> disabled, of the meeting type's times on `day`."""
    status, answer = http_api.get(f'/api/agenda/rdv/meetings/{meeting_type}/datetimes/'
                                  f'?date_start={day}&date_end={day + timedelta(days=1)}')
    assert status == 200, answer
    return {item['id']: item['disabled'] for item in answer['data']}


def test_50_parallel_fillslots_on_two_desks_book_each_desk_once(http_api, spy):
    """Three bursts of 50 fillslots on one time each (the first one also warms DynamoDB Local up)."""
    setup_agenda(http_api, desks=2)
    booked = []
    for start in (at(10), at(14), at(17, 30)):
        results = parallel([fillslot(http_api, 'long', start, user_external_id=f'u{n}') for n in range(50)],
                           threads=50)
        assert Counter(outcome(r) for r in results) == {'booked': 2, NO_DESK: 48}
        burst = [won(a, 'long', start) for _, a in results if a['err'] == 0]
        assert sorted(desk for _, desk, _, _ in burst) == ['g1', 'g2']
        booked += burst
        disabled = listed(http_api, 'long')
        assert disabled[slot('long', start)] is True
        assert disabled[slot('long', start + CELL)] is True  # overlaps the booked half hour on both desks
        assert disabled[slot('long', start - 2 * CELL)] is disabled[slot('long', start + 2 * CELL)] is False
    assert spy['desk taken'] > 0  # some requests read a desk free and met its lock
    assert sorted(live_legs()) == sorted(booking_id for booking_id, _, _, _ in booked)
    assert table_locks() == expected_locks(booked)


def test_overlapping_30_and_15_minute_bookings_on_one_desk_one_wins_each_round(http_api, spy):
    """20 rounds: long 30-min at T and court 15-min at T+15 (they share the cell T+15) race on
    the only desk; rounds are 30 minutes apart, so a round's winner never touches the next."""
    setup_agenda(http_api, desks=1)
    winners = []
    for n in range(20):
        start = at(8, 30 * n)
        pair = [fillslot(http_api, 'long', start), fillslot(http_api, 'court', start + CELL)]
        results = parallel(pair if n % 2 else pair[::-1], threads=2)
        assert sorted(outcome(r) for r in results) == ['booked', NO_DESK], (n, results)
        answer = next(a for _, a in results if a['err'] == 0)
        meeting_type = 'long' if answer['duration'] == 30 else 'court'
        winners.append(won(answer, meeting_type, start if meeting_type == 'long' else start + CELL))
    assert spy['desk taken'] > 0  # some rounds were decided by the locks, not by the read
    assert sorted(live_legs()) == sorted(booking_id for booking_id, _, _, _ in winners)
    assert table_locks() == expected_locks(winners)


def test_touching_bookings_on_one_desk_both_win(http_api, spy):
    """10:00-10:30 and 10:30-10:45 share no cell (and 10:00-10:15 with 10:15-10:45): 8 rounds,
    both bookings of every round win."""
    setup_agenda(http_api, desks=1)
    expected = []
    for n in range(8):
        start = at(8, 45 * n)
        if n % 2:
            pairs = [('long', start), ('court', start + 2 * CELL)]
        else:
            pairs = [('court', start), ('long', start + CELL)]
        results = parallel([fillslot(http_api, meeting_type, moment) for meeting_type, moment in pairs], threads=2)
        assert [outcome(r) for r in results] == ['booked', 'booked'], (n, results)
        expected += [won(answer, meeting_type, moment) for (_, answer), (meeting_type, moment) in zip(results, pairs)]
    assert {desk for _, desk, _, _ in expected} == {'g1'}
    assert spy['desk taken'] == 0
    assert sorted(live_legs()) == sorted(booking_id for booking_id, _, _, _ in expected)
    assert table_locks() == expected_locks(expected)


def race_moves(http_api, booking_id, targets):
    """Move one booking to each of `targets` (long slots, free) at once: exactly one move wins."""
    results = parallel([fillslot(http_api, 'long', target, cancel_booking_id=str(booking_id))
                        for target in targets], threads=len(targets))
    assert Counter(outcome(r) for r in results) == {'booked': 1, ALREADY_REPLACED: len(targets) - 1}, results
    index, answer = next((i, a) for i, (_, a) in enumerate(results) if a['err'] == 0)
    assert answer['cancelled_booking_id'] == booking_id
    assert http_api.get(f'/api/booking/{booking_id}/')[1]['err_class'] == 'booking is cancelled'
    return won(answer, 'long', targets[index])


def test_parallel_moves_of_one_booking_one_wins(http_api, spy):
    """6 rounds: a booking at T moved at once to T+30 and to T+60; then one booking moved at once
    to 8 free times. The old booking is cancelled and its locks gone; only the winner's exist."""
    setup_agenda(http_api, desks=1)
    winners = []
    for n in range(6):
        start = at(8, 90 * n)
        booking_id = book(http_api, 'long', start, 'g1')
        winners.append(race_moves(http_api, booking_id, [start + 2 * CELL, start + 4 * CELL]))
    booking_id = book(http_api, 'long', at(8, 0, NEXT_WEEK), 'g1')
    winners.append(race_moves(http_api, booking_id, [at(9, 30 * n, NEXT_WEEK) for n in range(8)]))
    assert spy['booking changed'] > 0  # some losers had read the booking live: their transaction refused them
    assert sorted(live_legs()) == sorted(booking_id for booking_id, _, _, _ in winners)
    assert table_locks() == expected_locks(winners)


def test_two_bookings_moved_onto_one_time_at_once_one_wins(http_api, spy):
    """4 rounds: bookings at T and T+30 both moved at once to T+60 (one desk): one move wins,
    the other is refused and leaves its booking and its locks as they were."""
    setup_agenda(http_api, desks=1)
    standing = []
    for n in range(4):
        start = at(8, 90 * n)
        first, second = book(http_api, 'long', start, 'g1'), book(http_api, 'long', start + 2 * CELL, 'g1')
        target = start + 4 * CELL
        results = parallel([fillslot(http_api, 'long', target, cancel_booking_id=str(booking_id))
                            for booking_id in (first, second)], threads=2)
        assert sorted(outcome(r) for r in results) == ['booked', NO_DESK], (n, results)
        moved = next(a for _, a in results if a['err'] == 0)
        kept = (first, start) if moved['cancelled_booking_id'] == second else (second, start + 2 * CELL)
        standing += [won(moved, 'long', target), (kept[0], 'g1', 'long', kept[1])]
    assert sorted(live_legs()) == sorted(booking_id for booking_id, _, _, _ in standing)
    assert table_locks() == expected_locks(standing)


def test_a_cancel_and_a_move_of_one_booking_at_once_one_wins(http_api, spy):
    """8 rounds: a booking at T cancelled and moved to T+30 at once: one of them wins; the
    other learns that the booking is already cancelled."""
    setup_agenda(http_api, desks=1)
    moved = []
    winners = Counter()
    for n in range(8):
        start = at(8, 60 * n)
        booking_id = book(http_api, 'long', start, 'g1')
        calls = {'cancel': cancel(http_api, booking_id),
                 'move': fillslot(http_api, 'long', start + 2 * CELL, cancel_booking_id=str(booking_id))}
        order = ['cancel', 'move'] if n % 2 else ['move', 'cancel']
        results = dict(zip(order, parallel([calls[name] for name in order], threads=2)))
        if results['move'][1]['err'] == 0:
            winners['move'] += 1
            assert outcome(results['cancel']) == 'already cancelled', (n, results)
            moved.append(won(results['move'][1], 'long', start + 2 * CELL))
        else:
            winners['cancel'] += 1
            assert results['cancel'][1]['err'] == 0, (n, results)
            assert outcome(results['move']) == ALREADY_REPLACED, (n, results)
    assert sum(winners.values()) == 8
    assert sorted(live_legs()) == sorted(booking_id for booking_id, _, _, _ in moved)
    assert table_locks() == expected_locks(moved)


def test_parallel_cancels_of_one_meeting_free_its_desk_once(http_api, spy):
    setup_agenda(http_api, desks=2)
    first = book(http_api, 'long', at(10), 'g1')
    second = book(http_api, 'long', at(10), 'g2')
    results = parallel([cancel(http_api, first) for _ in range(20)], threads=20)
    assert Counter('cancelled' if r[1]['err'] == 0 else outcome(r) for r in results) == {
        'cancelled': 1, 'already cancelled': 19}
    assert live_legs() == {second: ('g2', at(10).astimezone(timezone.utc))}
    assert table_locks() == expected_locks([(second, 'g2', 'long', at(10))])
    again = book(http_api, 'long', at(10), 'g1')  # the first desk is free again
    assert table_locks() == expected_locks([(second, 'g2', 'long', at(10)), (again, 'g1', 'long', at(10))])


def test_a_random_burst_never_overlaps_and_refuses_only_taken_times(http_api, spy):
    """80 fillslots of both types at random times between 10:00 and 12:00 on 2 desks, 40 at once:
    no two live legs overlap on a desk, the locks are exactly the winners' cells, and every
    refused time is taken on both desks at the end (nothing is cancelled, so a refusal stays true)."""
    setup_agenda(http_api, desks=2)
    draw = random.Random(20240611)
    types = [draw.choice(['court', 'long']) for _ in range(80)]
    # Starts on the 15-minute grid, the meeting over by 12:00.
    requests = [(meeting_type, at(10, 15 * draw.randrange(8 if meeting_type == 'court' else 7)))
                for meeting_type in types]
    results = parallel([fillslot(http_api, meeting_type, start) for meeting_type, start in requests], threads=40)
    outcomes = Counter(outcome(r) for r in results)
    assert set(outcomes) == {'booked', NO_DESK}, outcomes
    booked = [won(a, meeting_type, start) for (meeting_type, start), (_, a) in zip(requests, results) if a['err'] == 0]
    by_desk = {}
    for _, desk, meeting_type, start in booked:
        by_desk.setdefault(desk, []).append((start, start + timedelta(minutes=DURATIONS[meeting_type])))
    for spans in by_desk.values():
        spans.sort()
        assert all(end <= later for (_, end), (later, _) in zip(spans, spans[1:])), spans
    assert sorted(live_legs()) == sorted(booking_id for booking_id, _, _, _ in booked)
    assert table_locks() == expected_locks(booked)
    disabled = {meeting_type: listed(http_api, meeting_type) for meeting_type in DURATIONS}
    refused = {(meeting_type, start) for (meeting_type, start), (_, a) in zip(requests, results) if a['err']}
    assert all(disabled[meeting_type][slot(meeting_type, start)] for meeting_type, start in refused)


def test_with_a_lagging_read_the_locks_alone_keep_overlaps_off_a_desk(http_api, monkeypatch):
    """On AWS the read of the desks' bookings (gsi2) is eventually consistent: a booking just made
    may be missing from it. The locks must then refuse an overlapping booking on their own."""
    setup_agenda(http_api, desks=2)
    first = book(http_api, 'long', at(10), 'g1')
    monkeypatch.setattr(store, 'meeting_legs', lambda *args, **kwargs: [])  # the read sees no booking
    second = book(http_api, 'court', at(10, 15), 'g2')  # g1's lock refused it: the next desk
    assert outcome(fillslot(http_api, 'court', at(10, 15))(None)) == NO_DESK  # both desks' locks
    touching = book(http_api, 'court', at(10, 30), 'g1')
    assert table_locks() == expected_locks([(first, 'g1', 'long', at(10)), (second, 'g2', 'court', at(10, 15)),
                                            (touching, 'g1', 'court', at(10, 30))])


def test_locks_taken_before_a_change_of_the_cell_grid_still_keep_overlaps_off_a_desk(http_api, monkeypatch):
    """BUG (fails): the lock cells follow the agenda's grid (lock_step: GCD of the meeting type
    durations, opening times and UTC offsets), taken again at each booking. A 10-minute type added
    to a 15/30-minute agenda turns 15-minute cells into 5-minute ones: a booking 10:00-10:30 holds
    the cells 10:00 and 10:15, a 10-minute one at 10:20 asks for 10:20 and 10:25, so no lock
    refuses it and only the (eventually consistent) read keeps the two apart."""
    setup_agenda(http_api, desks=1)
    first = book(http_api, 'long', at(10), 'g1')
    setup_agenda(http_api, desks=1, types={**DURATIONS, 'mini': 10}, warm=False)
    assert outcome(fillslot(http_api, 'mini', at(10, 20))(None)) == NO_DESK  # the read sees `first`
    monkeypatch.setattr(store, 'meeting_legs', lambda *args, **kwargs: [])  # a read that lags behind
    assert outcome(fillslot(http_api, 'mini', at(10, 20))(None)) == NO_DESK
    assert list(live_legs()) == [first]


def test_parallel_meetings_of_one_user_with_exclude_user_never_overlap(http_api):
    """One user, exclude_user, several desks free: overlapping requests raced in pairs and in bursts;
    at most one wins each time (the user's day is a condition of the booking, not a read), and touching
    ones both win. The user's day item lists exactly the meetings the user holds."""
    from chalicelib.store.models import UserMeetings, user_meetings_pk
    setup_agenda(http_api, desks=3)
    rng = random.Random(5)
    for round_number in range(12):
        start = at(8 + round_number % 10, 30 * (round_number // 10))
        other = start + rng.choice([timedelta(0), CELL])  # the same time, or overlapping by 15 minutes
        user = f'person-{round_number}'
        results = parallel([fillslot(http_api, 'long', start, user_external_id=user, exclude_user='true'),
                            fillslot(http_api, 'long', other, user_external_id=user, exclude_user='true')], threads=2)
        assert sorted(map(outcome, results)) == ['booked', NO_DESK], (round_number, results)
    burst = parallel([fillslot(http_api, 'court', at(18, 15 * (n % 4)), user_external_id='burst', exclude_user='true')
                      for n in range(16)], threads=16)
    booked = [answer for _, answer in burst if answer['err'] == 0]
    # 18:00, 18:15, 18:30, 18:45 only touch each other: one of each at most, and none twice.
    assert len({answer['datetime'] for answer in booked}) == len(booked) <= 4
    assert Counter(map(outcome, burst))[NO_DESK] == 16 - len(booked)
    spans = UserMeetings.get(user_meetings_pk('burst'), at(18).astimezone(timezone.utc).date().isoformat(),
                             consistent_read=True).spans
    assert len(spans) == len(booked)
    assert {span.split('|')[2].split('#')[0] for span in spans} == {str(answer['booking_id']) for answer in booked}
