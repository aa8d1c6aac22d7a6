"""The store's conditional writes on DynamoDB Local, the real engine (moto does not isolate writes)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib import store
from chalicelib.domain.specs import AgendaSpec, EventSpec
from chalicelib.store.models import Event, Nonce, agenda_pk

TZ = ZoneInfo('Europe/Paris')
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def events_agenda(slug='piscine', count=0, places=10):
    events = tuple(EventSpec(slug=f'e{n:03d}', start=NOW + timedelta(days=1, hours=n), places=places)
                   for n in range(count))
    return AgendaSpec(slug=slug, label=slug.title(), kind='events', events=events)


def set_counters(agenda, event, reserved=0, waiting=0):
    Event(agenda_pk(agenda), f'event#{event}').update(
        actions=[Event.reserved.set(reserved), Event.waiting_list_reserved.set(waiting)])


def test_nonce_is_claimed_once_then_refused_until_it_expires(ddb):
    assert store.claim_nonce('wcs.example.org', 'abc', NOW) is True
    assert store.claim_nonce('wcs.example.org', 'abc', NOW + timedelta(seconds=5)) is False
    assert store.claim_nonce('other.example.org', 'abc', NOW) is True
    # TTL deletion is lazy: past its expiry the record no longer blocks the nonce.
    assert store.claim_nonce('wcs.example.org', 'abc', NOW + store.NONCE_TTL + timedelta(seconds=1)) is True
    item = Nonce.get('NONCE#wcs.example.org#abc', 'nonce')
    assert item.expires_at == NOW + 2 * store.NONCE_TTL + timedelta(seconds=1)


def test_parallel_replays_of_one_nonce_let_exactly_one_through(ddb):
    barrier = threading.Barrier(16)

    def claim(_):
        barrier.wait()
        return store.claim_nonce('wcs.example.org', 'race', NOW)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(claim, range(16)))
    assert results.count(True) == 1
    assert results.count(False) == 15


def test_create_event_refuses_a_taken_slug(ddb):
    store.apply_operations(store.plan_agenda(events_agenda(), None))
    event = EventSpec(slug='cours', start=NOW + timedelta(days=2), places=5)
    assert store.create_event('piscine', event) is True
    assert store.create_event('piscine', EventSpec(slug='cours', start=NOW, places=99)) is False
    assert store.get_event('piscine', 'cours').spec == event


def test_update_event_keeps_counters_and_refuses_to_shrink_below_bookings(ddb):
    store.apply_operations(store.plan_agenda(events_agenda(count=1), None))
    set_counters('piscine', 'e000', reserved=3, waiting=0)
    record = store.get_event('piscine', 'e000')
    with pytest.raises(store.Refused):
        store.update_event('piscine', EventSpec(**{**record.spec.__dict__, 'places': 2}))
    assert store.get_event('piscine', 'e000').spec.places == 10
    store.update_event('piscine', EventSpec(**{**record.spec.__dict__, 'places': 3, 'label': 'Cours'}))
    after = store.get_event('piscine', 'e000')
    assert (after.spec.places, after.spec.label, after.reserved) == (3, 'Cours', 3)


def test_delete_event_is_refused_while_it_has_bookings(ddb):
    store.apply_operations(store.plan_agenda(events_agenda(count=1), None))
    set_counters('piscine', 'e000', waiting=1)
    with pytest.raises(store.Refused):
        store.delete_event('piscine', 'e000')
    set_counters('piscine', 'e000')
    store.delete_event('piscine', 'e000')
    assert store.get_event('piscine', 'e000') is None


def test_an_import_larger_than_one_transaction_is_written_whole(ddb):
    spec = events_agenda(count=150)
    operations = store.plan_agenda(spec, None)
    assert len(operations) == 151
    store.apply_operations(operations)
    loaded = store.load_agenda('piscine')
    assert loaded.spec == spec
    assert [r.slug for r in loaded.events] == [f'e{n:03d}' for n in range(150)]


def test_a_failed_later_chunk_undoes_the_chunks_already_written(ddb):
    store.apply_operations(store.plan_agenda(events_agenda(count=150), None))
    set_counters('piscine', 'e149', reserved=1)  # its deletion, in the second chunk, must fail
    before = store.load_agenda('piscine')
    renamed = AgendaSpec(**{**before.spec.__dict__, 'label': 'Renamed', 'events': tuple(
        EventSpec(**{**e.__dict__, 'label': 'changed'}) for e in before.spec.events[:120])})
    operations = store.plan_agenda(renamed, before)
    assert len(operations) == 1 + 120 + 30
    with pytest.raises(store.Refused):
        store.apply_operations(operations)
    after = store.load_agenda('piscine')
    assert after.spec == before.spec
    assert store.get_event('piscine', 'e149').reserved == 1


def test_shrinking_races_with_bookings_without_ever_overbooking(ddb):
    """Bookings (conditional increments) and a shrink (conditional update) on one event:
    whatever the interleaving, reserved never exceeds places."""
    store.apply_operations(store.plan_agenda(events_agenda(count=1, places=20), None))
    key = (agenda_pk('piscine'), 'event#e000')
    barrier = threading.Barrier(21)

    def book(_):
        barrier.wait()
        try:
            Event(*key).update(actions=[Event.reserved.add(1)], condition=Event.reserved < Event.places)
            return True
        except Exception:  # noqa: BLE001 - a refused condition
            return False

    def shrink():
        barrier.wait()
        spec = store.get_event('piscine', 'e000').spec
        try:
            store.update_event('piscine', EventSpec(**{**spec.__dict__, 'places': 8}))
            return True
        except store.Refused:
            return False

    with ThreadPoolExecutor(21) as pool:
        bookings = [pool.submit(book, n) for n in range(20)]
        shrunk = pool.submit(shrink)
        booked = sum(f.result() for f in bookings)
    record = store.get_event('piscine', 'e000')
    assert record.reserved == booked
    assert record.reserved <= record.spec.places
    assert record.spec.places == (8 if shrunk.result() else 20)


@pytest.mark.parametrize('failing', ['update', 'put', 'delete'])
def test_transaction_failures_name_the_write_that_failed(ddb, failing):
    """pynamodb sends checks, deletes, puts, updates in that order whatever the call order:
    the tags must still name the failed write (store.tables.Transaction)."""
    from chalicelib.store.tables import Transaction, run_guarded
    store.create_event('piscine', EventSpec(slug='a', start=NOW, places=1))
    store.create_event('piscine', EventSpec(slug='b', start=NOW, places=1))
    tx = Transaction()
    # Added in the reverse of pynamodb's order, each failing only when chosen.
    tx.update(Event(agenda_pk('piscine'), 'event#a'), [Event.reserved.add(1)],
              condition=Event.places == (5 if failing == 'update' else 1), tag='update')
    tx.put(Event(agenda_pk('piscine'), 'event#new', agenda='piscine', slug='new', start=NOW, places=1),
           condition=Event.pk.exists() if failing == 'put' else Event.pk.does_not_exist(), tag='put')
    tx.delete(Event(agenda_pk('piscine'), 'event#b'),
              condition=Event.places == (5 if failing == 'delete' else 1), tag='delete')
    failures = run_guarded(tx)
    assert [(tag, reason.code) for tag, reason in failures] == [(failing, 'ConditionalCheckFailed')]
    assert store.get_event('piscine', 'a').reserved == 0
