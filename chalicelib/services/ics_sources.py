"""Remote ICS sources fetched again (spec chrono-api.md §2.3 "a remote ICS URL kept in sync"; docs/api.md
"Closures"): every enabled `exceptions_sources[].ics_url` of the unavailability calendars and of the desks
of meetings agendas, daily (the `refresh_closures` schedule) and on demand (`POST
/api/exceptions-sources/refresh/`).

Each URL is fetched once per run, only from a host of CHRONO_ICS_HOSTS, through the guarded client of
callbacks (services/guarded_http.py: https or loopback http, public addresses, the address checked, no
redirect, bounded time and size). A fetched file replaces the source's text and closures; a failed fetch
(refused host, network, HTTP status, a file that cannot be read or is too large) keeps the last good
ones and says why in the source's status (`last_attempt`, `last_error`). A run stops fetching at its
time budget: the sources tried least recently go first, so that runs cut short still make progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib import config, store
from chalicelib.domain import closures
from chalicelib.domain.closures import ExceptionsSourceSpec
from chalicelib.domain.http_targets import TargetRefused, loggable_url
from chalicelib.domain.specs import AgendaSpec, DeskSpec
from chalicelib.services import guarded_http

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 10.0  # seconds for one file, all of it
SCHEDULE_SECONDS = 240.0  # the daily function's fetching time (its Lambda: 300 s, infra/template.yml)
REQUEST_SECONDS = 15.0  # the admin route's (the API's Lambda: 28 s)

UPDATED, UNCHANGED, FAILED, SKIPPED = 'updated', 'unchanged', 'failed', 'skipped'


@dataclass(frozen=True)
class SourceOutcome:
    """What a run did to one source: `updated` (its closures changed), `unchanged`, `failed` (the
    last good closures kept, `error` says why) or `skipped` (not reached within the run's time)."""

    calendar: str | None
    agenda: str | None
    desk: str | None
    index: int
    url: str
    status: str
    error: str | None = None


@dataclass(frozen=True)
class _Holder:
    """A calendar, or a desk of a meetings agenda: what has sources."""

    calendar: store.LoadedCalendar | None = None
    agenda: store.LoadedAgenda | None = None
    desk: str | None = None

    @property
    def exceptions(self) -> tuple[closures.ExceptionSpec, ...]:
        if self.calendar is not None:
            return self.calendar.spec.exceptions
        return self._desk().exceptions

    @property
    def sources(self) -> tuple[ExceptionsSourceSpec, ...]:
        if self.calendar is not None:
            return self.calendar.spec.exceptions_sources
        return self._desk().exceptions_sources

    def _desk(self) -> DeskSpec:
        assert self.agenda is not None
        return next(d for d in self.agenda.spec.desks if d.slug == self.desk)

    def outcome(self, index: int, status: str, error: str | None = None) -> SourceOutcome:
        return SourceOutcome(
            self.calendar.spec.slug if self.calendar else None,
            self.agenda.spec.slug if self.agenda else None,
            self.desk,
            index,
            self.sources[index].ics_url or '',
            status,
            error,
        )


def _holders() -> list[_Holder]:
    """Every calendar and desk with an enabled URL source (consistent reads of each)."""
    holders = []
    for slug in store.list_calendars():
        calendar = store.load_calendar(slug)
        if calendar is not None:
            holders.append(_Holder(calendar=calendar))
    for summary in store.list_agendas():
        if summary.kind != 'meetings':
            continue
        agenda = store.load_agenda(summary.slug, with_events=False)
        if agenda is not None:
            holders += [_Holder(agenda=agenda, desk=d.slug) for d in agenda.spec.desks]
    return [h for h in holders if any(s.ics_url and s.enabled for s in h.sources)]


Fetched = str | Exception  # the file's text, or why there is none


def _fetch(url: str, timeout: float) -> Fetched:
    """The text of the ICS file at `url`, or the reason it could not be had (a short text: no URL)."""
    try:
        target = guarded_http.target(url, config.settings().ics_hosts, 'CHRONO_ICS_HOSTS')
        raw = guarded_http.get(target, timeout, closures.MAX_ICS_BYTES)
    except TargetRefused as refused:
        return Exception(f'refused: {refused}')
    except guarded_http.FetchFailed as failed:
        return Exception(str(failed))
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError:
        text = raw.decode('cp1252', errors='replace')  # as an uploaded file (closures.decode_content)
    try:
        return closures.decode_content(text)
    except closures.IcsError as exc:
        return Exception(' '.join(exc.messages))


def refresh(
    tz: ZoneInfo, now: datetime, seconds: float, clock: Callable[[], float] = time.monotonic
) -> list[SourceOutcome]:
    """Fetch every enabled URL source again (each URL once, the least recently tried first, within
    `seconds`) and record what each gave: new closures, or the failure beside the last good ones."""
    deadline = clock() + seconds
    holders = _holders()
    never = datetime.min.replace(tzinfo=now.tzinfo)
    wanted = sorted(
        ((h, i, s) for h in holders for i, s in enumerate(h.sources) if s.ics_url and s.enabled),
        key=lambda found: found[2].last_attempt or never,
    )
    fetched: dict[str, Fetched] = {}
    for _, _, source in wanted:
        url = source.ics_url or ''
        left = deadline - clock()
        if url in fetched or left <= 0:
            continue
        fetched[url] = _fetch(url, min(FETCH_TIMEOUT, left))
    outcomes = []
    for holder in holders:
        outcomes += _apply(holder, fetched, tz, now)
    return outcomes


def _apply(holder: _Holder, fetched: dict[str, Fetched], tz: ZoneInfo, now: datetime) -> list[SourceOutcome]:
    """Write what the run found for one holder's sources (one plan, conditioned on the holder as read)."""
    exceptions, sources = holder.exceptions, holder.sources
    outcomes = []
    for index, source in enumerate(holder.sources):
        if not (source.ics_url and source.enabled):
            continue
        found = fetched.get(source.ics_url)
        if found is None:
            outcomes.append(holder.outcome(index, SKIPPED, 'not reached within the time of this run'))
            continue
        error = str(found) if isinstance(found, Exception) else None
        if error is None:
            try:
                before = [e for e in exceptions if e.source == index]
                exceptions, sources = closures.with_fetched(exceptions, sources, index, str(found), tz, now)
            except closures.IcsError as exc:
                error = ' '.join(exc.messages)
            else:
                changed = before != [e for e in exceptions if e.source == index]
                outcomes.append(holder.outcome(index, UPDATED if changed else UNCHANGED))
        if error is not None:
            sources = closures.with_failure(sources, index, error, now)
            outcomes.append(holder.outcome(index, FAILED, sources[index].last_error))
    if all(o.status == SKIPPED for o in outcomes):
        return outcomes  # nothing learnt: nothing to write
    try:
        _write(holder, exceptions, sources)
    except store.Refused:  # changed since the read (an import, an admin change): the next run tries again
        return [
            o if o.status == SKIPPED else replace(o, status=FAILED, error='not written: changed meanwhile')
            for o in outcomes
        ]
    for outcome in outcomes:
        fields = {'source': loggable_url(outcome.url), 'status': outcome.status}
        if outcome.status == FAILED:
            log.warning('ICS source not refreshed: %s', outcome.error, extra=fields)
        else:
            log.info('ICS source refreshed', extra=fields)
    return outcomes


def _write(
    holder: _Holder, exceptions: tuple[closures.ExceptionSpec, ...], sources: tuple[ExceptionsSourceSpec, ...]
) -> None:
    if holder.calendar is not None:
        spec = replace(holder.calendar.spec, exceptions=exceptions, exceptions_sources=sources)
        store.apply_operations(store.plan_calendar(spec, holder.calendar))
        return
    agenda = holder.agenda
    assert agenda is not None
    desks = tuple(
        replace(d, exceptions=exceptions, exceptions_sources=sources) if d.slug == holder.desk else d
        for d in agenda.spec.desks
    )
    new: AgendaSpec = replace(agenda.spec, desks=desks)
    store.apply_operations(store.plan_desk_sources(new, agenda))


def counts(outcomes: list[SourceOutcome]) -> dict[str, int]:
    """How many sources ended in each state (the daily function's answer)."""
    return {status: sum(1 for o in outcomes if o.status == status) for status in (UPDATED, UNCHANGED, FAILED, SKIPPED)}
