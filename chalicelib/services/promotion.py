"""Automatic waiting-list promotion, the use cases' side (domain/promotion_rules.py states the rule).

A write that frees places on an event of an agenda whose `waiting_list_promotion` is "automatic" (a
cancel, an agent's cancel, a resize down, a move, an unbooking, places raised) asks a Planner, in each
attempt of its retry loop, for the promotions it makes: the Planner reads the event and its waiting legs
as they were at one instant (store.waiting_legs; only the event item when nobody waits), decides with
the domain on the state the write leaves, and the store writes the decision in the same transaction, under
the condition that the event is exactly as read. When anything moved meanwhile the transaction fails
and the attempt decides again. What a transaction cannot hold (100 writes), or a leg the same write
changes, is promoted right after it (`settle`), in a transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from chalicelib import store
from chalicelib.domain.booking_rules import Leg, Placement
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.holds import MAX_RELEASED, HeldPlaces, releasable, without
from chalicelib.domain.promotion_rules import (
    AUTOMATIC,
    NEW,
    Change,
    Promotion,
    after_change,
    changing,
    frees_places,
    promoted,
)
from chalicelib.domain.reminder_rules import notice_kinds
from chalicelib.domain.specs import AgendaSpec, EventSpec
from chalicelib.errors import Busy
from chalicelib.services.reminders import configured_channels
from chalicelib.services.retry import DECISIONS, until_written

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (agenda, event slug)
# Shorter than the agent actions' patience: a promoting write decides again anyway when the event moves.
PATIENCE = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8)
SETTLE_ROUNDS = 20  # transactions of promotions after a write, at most (each up to ~90 legs)


class Planner:
    """The promotions of one write, decided again at each attempt (`begin`), and what is left to
    promote once it is written (`settle`)."""

    def __init__(self, now: datetime, known: Iterable[AgendaSpec] = ()) -> None:
        self.now = now
        self.cap: int | None = None
        self.left: set[Key] = set()
        self._agendas: dict[str, AgendaSpec | None] = {agenda.slug: agenda for agenda in known}  # read already
        self._reads: dict[Key, tuple[EventRecord, list[Leg]] | None] = {}

    def begin(self, stale: store.Stale | None) -> None:
        """A new attempt: read again; a promotion too large for the last transaction is cut to what fit."""
        self._reads = {}
        if isinstance(stale, store.PromotionTooLarge):
            self.cap = stale.fits

    def agenda(self, agenda: str) -> AgendaSpec | None:
        """The agenda's settings, read once per call (the use case may decide other things on them)."""
        if agenda not in self._agendas:
            self._agendas[agenda] = store.get_agenda(agenda)
        return self._agendas[agenda]

    def automatic(self, agenda: str) -> AgendaSpec | None:
        spec = self.agenda(agenda)
        return spec if spec is not None and spec.waiting_list_promotion == AUTOMATIC else None

    def read(self, key: Key) -> tuple[EventRecord, list[Leg]] | None:
        """The event and its live waiting legs, complete and read at one instant (once per attempt); only
        the event when nobody waits on it (nobody to promote but what the write itself adds)."""
        if key not in self._reads:
            record = store.get_events([key]).get(key)
            if record is not None and record.waiting_list_reserved > 0 and not record.spec.cancelled:
                self._reads[key] = store.waiting_legs(*key, patience=PATIENCE)
            else:
                self._reads[key] = (record, []) if record is not None else None
        return self._reads[key]

    def records(self, legs: Iterable[Leg], events: Iterable[Key] = ()) -> dict[Key, EventRecord]:
        """The events of `legs`, and `events`, that promote, as this attempt reads them (a booking on one of
        them is placed on the same read as the promotion)."""
        found = {}
        keys = [(leg.agenda, leg.event) for leg in legs if leg.event] + list(events)
        for key in keys:
            if self.automatic(key[0]):
                read = self.read(key)
                if read is not None:
                    found[key] = read[0]
        return found

    def after(
        self,
        changes: Iterable[tuple[Leg, int]],
        arriving: Sequence[tuple[int, Placement]] = (),
        releasing: Iterable[Key] = (),
    ) -> list[Promotion]:
        """The promotions a write makes: `changes` are live legs with their new count (0: cancelled),
        `arriving` the placements it writes (index, placement) on those events, `releasing` the events where
        it gives back expired holds (read by `records` first: its placements there were decided on that read)."""
        changes = list(changes)
        freed = {
            (leg.agenda, leg.event or ''): None
            for leg, count in changes
            if frees_places(leg, count) and self.automatic(leg.agenda)
        }  # the events where the write frees something, in order
        freed.update((key, None) for key in releasing if key in self._reads and self.automatic(key[0]))
        promotions: list[Promotion] = []
        budget = self.cap
        for key in freed:
            read = self.read(key)
            if read is None or read[0].spec.cancelled:
                continue
            record, live = read
            record, released = _without_expired_holds(record, self.now)
            mine = [(i, p) for i, p in arriving if (p.event.agenda, p.event.slug) == key]
            # Every leg the write changes on the event (a growth too), so that the places it takes count.
            change = changing(
                [(leg, count) for leg, count in changes if (leg.agenda, leg.event) == key],
                key[1],
                sum(p.count for _, p in mine if not p.in_waiting_list),
                [p.count for _, p in mine if p.in_waiting_list],
            )
            counts = change.counts
            free, queue = after_change(record, live, change)
            taken, capped = promoted(free, queue, budget)
            if any(w.key in counts for w in taken):  # a leg this write changes: promoted after it
                taken, capped = taken[: next(i for i, w in enumerate(taken) if w.key in counts)], True
            legs = {(leg.booking_id, leg.leg): leg for leg in live}
            chosen = tuple(legs[w.key] for w in taken if w.key[0] != NEW)
            waiting = [i for i, p in mine if p.in_waiting_list]
            spec = self.automatic(key[0])
            reminding = spec.reminder_settings if spec is not None else None
            configured = configured_channels()
            notices = {
                (leg.booking_id, leg.leg): tuple(notice_kinds(reminding, leg.fields, configured)) for leg in chosen
            }
            new_legs = tuple(waiting[w.key[1]] for w in taken if w.key[0] == NEW)
            promotions.append(Promotion(record, chosen, notices, new_legs, capped, released))
            if budget is not None:
                budget = max(0, budget - len(chosen))
            if capped:
                self.left.add(key)
        return promotions

    def settle(self) -> None:
        """Promote, each in its own transactions, what the write left (a cap, a leg it changed)."""
        for key in sorted(self.left):
            _after_a_write(*key, self.now)
        self.left = set()


def _after_a_write(agenda: str, slug: str, now: datetime) -> int:
    """`promote_event` once a write is done: its failure must not turn that write's answer into an error
    (the write landed); the next write that frees places there promotes."""
    try:
        return promote_event(agenda, slug, now)
    except Exception:  # noqa: BLE001 - logged; the write it follows is done and answered as such
        log.exception('promotion left for later', extra={'agenda': agenda, 'event': slug})
        return 0


def placed(placements: list[Placement], promotions: Sequence[Promotion]) -> list[Placement]:
    """The placements, those a promotion takes straight to the main list moved there (their event's
    condition is then the promotion's: the event exactly as read)."""
    moved = {index for promotion in promotions for index in promotion.new_legs}
    return [replace(p, in_waiting_list=False) if i in moved else p for i, p in enumerate(placements)]


def promote_event(agenda: str, slug: str, now: datetime) -> int:
    """Promote on one event what fits, in transactions of their own (after a write that could not
    hold it all, an import that raised places). Returns how many legs moved."""
    moved = 0
    for _ in range(SETTLE_ROUNDS):
        planner = Planner(now)
        if planner.automatic(agenda) is None:
            return moved

        def attempt(stale: store.Stale | None, planner: Planner = planner) -> Promotion | None:
            planner.begin(stale)
            read = planner.read((agenda, slug))
            if read is None or read[0].spec.cancelled:
                return None
            record, live = read
            record, released = _without_expired_holds(record, now)
            free, queue = after_change(record, live, Change({}))
            taken, capped = promoted(free, queue, planner.cap)
            if not taken:
                return None
            legs = {(leg.booking_id, leg.leg): leg for leg in live}
            chosen = tuple(legs[w.key] for w in taken)
            configured = configured_channels()
            spec = planner.automatic(agenda)
            settings = spec.reminder_settings if spec is not None else None
            notices = {
                (leg.booking_id, leg.leg): tuple(notice_kinds(settings, leg.fields, configured)) for leg in chosen
            }
            promotion = Promotion(record, chosen, notices, (), capped, released)
            store.promote([promotion], now)
            return promotion

        try:
            done = until_written(attempt, DECISIONS, 'places')
        except Busy:  # the event keeps changing: the next write that frees places there promotes
            log.warning('promotion left for later: the event keeps changing', extra={'agenda': agenda, 'event': slug})
            return moved
        if done is None:
            return moved
        moved += len(done.legs)
        if not done.capped:
            return moved
    return moved


def promote_events(keys: Iterable[Key], now: datetime) -> int:
    """`promote_event` on each event (an import: places raised, or the agenda turned automatic)."""
    return sum(_after_a_write(agenda, slug, now) for agenda, slug in sorted(set(keys)))


def raised_places(agenda: AgendaSpec, old: EventSpec, new: EventSpec) -> bool:
    """An admin's change that may let waiting bookings in."""
    return agenda.waiting_list_promotion == AUTOMATIC and new.places > old.places


def update_event(
    agenda: AgendaSpec, slug: str, new: EventSpec, now: datetime, problem: Callable[[EventRecord], None]
) -> EventRecord | None:
    """`PATCH` of an event whose places rise on an automatic agenda: the new configuration and the
    promotion it makes, in one transaction on the event as read; `problem(record)` says why the
    change no longer fits the bookings read (raised as it is). Returns the event after."""
    planner = Planner(now)

    def attempt(stale: store.Stale | None) -> None:
        planner.begin(stale)
        read = planner.read((agenda.slug, slug))
        if read is None:
            return None
        record, live = read
        problem(record)
        if record.spec.cancelled:  # cancelled meanwhile: nobody to promote
            store.update_event(agenda.slug, new)
            return None
        record, released = _without_expired_holds(record, now)
        free, queue = after_change(replace(record, spec=new), live, Change({}))
        taken, capped = promoted(free, queue, planner.cap)
        legs = {(leg.booking_id, leg.leg): leg for leg in live}
        chosen = tuple(legs[w.key] for w in taken)
        configured = configured_channels()
        notices = {
            (leg.booking_id, leg.leg): tuple(notice_kinds(agenda.reminder_settings, leg.fields, configured))
            for leg in chosen
        }
        planner.left = {(agenda.slug, slug)} if capped else set()
        store.update_event_promoting(agenda.slug, new, Promotion(record, chosen, notices, (), capped, released), now)
        return None

    until_written(attempt, DECISIONS, 'places')
    planner.settle()
    return store.get_event(agenda.slug, slug)


def _without_expired_holds(record: EventRecord, now: datetime) -> tuple[EventRecord, tuple[HeldPlaces, ...]]:
    """The event as a promotion counts it: the places of expired holds are free (the promotion's write
    gives them back, on the condition that they are still as read)."""
    released = releasable(record, now, None, MAX_RELEASED)
    return without(record, released), released
