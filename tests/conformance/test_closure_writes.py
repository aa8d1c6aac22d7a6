"""The conditions that keep a refresh of remote ICS sources from undoing an import or an admin change
(services/ics_sources.py), on DynamoDB Local: a desk item is written only if its sources (a JSON string of up
to 300 KB) are as read; a calendar only at the version read."""
from __future__ import annotations

import pytest
from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.closures import (
    ExceptionsSourceSpec,
    UnavailabilityCalendarSpec,
    pack_ics,
    with_failure,
    with_fetched,
)
from chalicelib.domain.specs import AgendaSpec, DeskSpec
from tests.conformance.test_ics_storage import noisy_ics

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 1, 8, tzinfo=timezone.utc)
URL = 'https://ics.example.org/feries.ics'
FERIES = ('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Pont\r\nDTSTART;VALUE=DATE:20300311\r\n'
          'END:VEVENT\r\nEND:VCALENDAR')


def agenda(*sources: ExceptionsSourceSpec) -> AgendaSpec:
    return AgendaSpec(slug='mairie', label='Mairie', kind='meetings', desks=(
        DeskSpec(slug='g1', label='G1', exceptions_sources=sources), DeskSpec(slug='g2', label='G2')))


def refreshed(loaded: store.LoadedAgenda) -> AgendaSpec:
    desk = loaded.spec.desks[0]
    exceptions, sources = with_fetched(desk.exceptions, desk.exceptions_sources, 1, FERIES, PARIS, NOW)
    return replace(loaded.spec, desks=(replace(desk, exceptions=exceptions, exceptions_sources=sources),
                                       loaded.spec.desks[1]))


def test_a_desk_is_refreshed_only_while_its_sources_are_as_read(ddb):
    big = ExceptionsSourceSpec('gros.ics', pack_ics(noisy_ics(1, 290_000)))  # near the 300 KB a desk keeps
    store.apply_operations(store.plan_agenda(agenda(big, ExceptionsSourceSpec(ics_url=URL)), None))
    read = store.load_agenda('mairie')
    store.apply_operations(store.plan_desk_sources(refreshed(read), read))
    first = store.load_agenda('mairie')
    assert first.spec.desks[0].exceptions_sources[1].last_fetch == NOW
    assert [(e.label, e.source) for e in first.spec.desks[0].exceptions] == [('Pont', 1)]

    # An import changes the desk's sources after the refresh read them: the refresh is refused, whole.
    stale = first
    changed = agenda(big, ExceptionsSourceSpec(ics_url=URL, enabled=False))
    store.apply_operations(store.plan_agenda(changed, first))
    desk = stale.spec.desks[0]
    failed = replace(stale.spec, desks=(replace(desk, exceptions_sources=with_failure(
        desk.exceptions_sources, 1, 'HTTP 500', NOW)), stale.spec.desks[1]))
    with pytest.raises(store.Refused):
        store.apply_operations(store.plan_desk_sources(failed, stale))
    assert store.load_agenda('mairie').spec == changed

    # Read again: written.
    fresh = store.load_agenda('mairie')
    desk = fresh.spec.desks[0]
    failed = replace(fresh.spec, desks=(replace(desk, exceptions_sources=with_failure(
        desk.exceptions_sources, 1, 'HTTP 500', NOW)), fresh.spec.desks[1]))
    store.apply_operations(store.plan_desk_sources(failed, fresh))
    assert store.load_agenda('mairie').spec.desks[0].exceptions_sources[1].last_error == 'HTTP 500'


def test_a_calendar_is_written_only_at_the_version_read(ddb):
    calendar = UnavailabilityCalendarSpec(slug='feries', label='Fériés',
                                          exceptions_sources=(ExceptionsSourceSpec(ics_url=URL),))
    store.apply_operations(store.plan_calendar(calendar, None))
    with pytest.raises(store.Refused):  # created twice
        store.apply_operations(store.plan_calendar(calendar, None))
    read = store.load_calendar('feries')
    assert read.spec.version == 1
    exceptions, sources = with_fetched((), read.spec.exceptions_sources, 0, FERIES, PARIS, NOW)
    store.apply_operations(store.plan_calendar(replace(read.spec, label='Jours fériés'), read))  # an admin change
    with pytest.raises(store.Refused):
        store.apply_operations(store.plan_calendar(
            replace(read.spec, exceptions=exceptions, exceptions_sources=sources), read))
    now = store.load_calendar('feries')
    assert (now.spec.label, now.spec.version, now.spec.exceptions) == ('Jours fériés', 2, ())
    store.apply_operations(store.plan_calendar(replace(now.spec, exceptions=exceptions, exceptions_sources=sources),
                                               now))
    assert [(e.label, e.source) for e in store.load_calendar('feries').spec.exceptions] == [('Pont', 0)]
    assert store.calendar_closures(['feries', 'nope']) == {'feries': exceptions, 'nope': ()}
    store.apply_operations(store.plan_calendar(None, store.load_calendar('feries')))
    assert store.load_calendar('feries') is None and store.calendar_closures(['feries']) == {'feries': ()}
