"""Desks that keep ICS files, on DynamoDB Local (the real engine refuses an item over 400 KB)."""
from __future__ import annotations

import base64
import random
from datetime import datetime, timezone

from chalicelib import store
from chalicelib.domain.closures import ExceptionSpec, ExceptionsSourceSpec, MAX_PACKED_ICS, pack_ics
from chalicelib.domain.specs import AgendaSpec, DeskSpec
from chalicelib.store import configuration as agenda_store


def noisy_ics(seed: int, size: int) -> str:
    """An ICS file whose compressed form stays about as large as the file (random base64)."""
    noise = base64.b64encode(random.Random(seed).randbytes(size * 3 // 4)).decode()
    return ('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20300601\r\n'
            f'DESCRIPTION:{noise}\r\nEND:VEVENT\r\nEND:VCALENDAR')


def agenda_with_big_desks(count: int) -> AgendaSpec:
    closure = ExceptionSpec(datetime(2030, 5, 31, 22, tzinfo=timezone.utc),
                            datetime(2030, 6, 1, 22, tzinfo=timezone.utc), source=0)
    desks = []
    for n in range(count):
        packed = pack_ics(noisy_ics(n, 295_000))
        assert 290_000 < len(packed) <= MAX_PACKED_ICS
        desks.append(DeskSpec(slug=f'g{n}', label=f'G{n}', exceptions=(closure,),
                              exceptions_sources=(ExceptionsSourceSpec('fermetures.ics', packed),)))
    return AgendaSpec(slug='mairie', label='Mairie', kind='meetings', desks=tuple(desks))


def test_fourteen_desks_at_the_size_cap_are_written_and_read_back(ddb, monkeypatch):
    """DynamoDB Local refuses an item over 400 KB (it does not check the 4 MB of a transaction):
    a desk at the cap of compressed ICS fits; 14 of them (4.1 MB) go in two transactions."""
    spec = agenda_with_big_desks(14)
    ops = store.plan_agenda(spec, None)
    assert [len(batch) for batch in agenda_store.batches(ops)] == [21, 8]  # agenda, desks and closures
    assert all(sum(op.size for op in batch) <= 3_000_000 for batch in agenda_store.batches(ops))
    calls = []
    real = agenda_store.with_transaction
    monkeypatch.setattr(agenda_store, 'with_transaction', lambda build: calls.append(build) or real(build))
    store.apply_operations(ops)
    assert len(calls) == 2
    loaded = store.load_agenda('mairie')
    assert loaded.spec == spec
    assert store.plan_agenda(spec, loaded) == []
