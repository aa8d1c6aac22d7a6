"""Data retention (spec chrono-api.md §9.12): an agenda's `anonymize_delay` (days) is a promise: its
bookings are anonymised (as `POST /api/booking/<id>/anonymize/` does) once every one of their legs
ended more than that many days ago. A scheduled function runs it (app.py `anonymize_past_bookings`,
hourly); an operator can run it at once (`POST /api/retention/anonymize/`).

How a run goes, per agenda with a delay: the candidates are the bookings whose legs start between the
agenda's mark (how far earlier runs looked) and the cutoff (now minus the delay), read from the indexes
by start time; each is read again consistently and anonymised when all its legs ended before the
cutoff (a leg still running is left for a later run). The mark then moves to the cutoff minus the
longest event or meeting (a leg that started before the cutoff may end after it: it is looked at
again). Every step is idempotent (an anonymised booking writes nothing), so a run that stops half-way
(an error, the time budget) leaves the mark where it was and the next run completes the work.
"""

from __future__ import annotations

import logging
import time as clock
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib import store
from chalicelib.domain.booking_rules import Leg
from chalicelib.domain.specs import MAX_DURATION
from chalicelib.errors import ChronoError
from chalicelib.services.booking_changes import anonymize_booking

log = logging.getLogger(__name__)

RUN_BUDGET = 20.0  # seconds of work per run: a Lambda has 28; what is left waits for the next run
LONGEST = timedelta(minutes=MAX_DURATION)  # an event or a meeting lasts at most this long


@dataclass
class RetentionRun:
    """What a run did: bookings anonymised, agendas looked at, agendas left for a later run."""

    anonymized: int = 0
    agendas: int = 0
    unfinished: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {'anonymized': self.anonymized, 'agendas': self.agendas, 'unfinished': self.unfinished}


def _ended_before(legs: list[Leg], cutoff: datetime) -> bool:
    return all((leg.end or leg.start) < cutoff for leg in legs)


def anonymize_past_bookings(now: datetime, budget: float = RUN_BUDGET) -> RetentionRun:
    """One run over every agenda with an `anonymize_delay` (docstring above)."""
    run = RetentionRun()
    deadline = clock.monotonic() + budget
    for agenda in store.list_agendas():
        if not agenda.anonymize_delay or agenda.kind == 'virtual':  # a virtual agenda holds no booking
            continue
        run.agendas += 1
        cutoff = now - timedelta(days=agenda.anonymize_delay)
        mark = store.retention_mark(agenda.slug)
        finished = True
        for _, booking_id in store.booking_ids_starting(agenda.slug, agenda.kind, mark, cutoff):
            if clock.monotonic() > deadline:
                finished = False
                break
            legs = store.get_legs(booking_id)
            if not (legs and _ended_before(legs, cutoff) and any(leg.anonymized_at is None for leg in legs)):
                continue
            try:
                anonymize_booking(str(booking_id), now)
            except ChronoError as exc:  # busy or unavailable: the mark stays, a later run takes it again
                log.warning('retention: booking not anonymised (%s)', exc.err_class, extra={'booking_id': booking_id})
                finished = False
                continue
            run.anonymized += 1
        if not finished:
            run.unfinished.append(agenda.slug)
            continue
        until = cutoff - LONGEST
        if mark is None or until > mark:
            store.advance_retention(agenda.slug, mark, until)
    log.info(
        'retention run: %d bookings anonymised over %d agendas',
        run.anonymized,
        run.agendas,
        extra={'anonymized': run.anonymized, 'agendas': run.agendas, 'unfinished': run.unfinished},
    )
    return run
