"""Use cases of booking: fillslot and fillslots on events and meetings agendas, and a booking's
lifecycle (read, cancel, accept, suspend). Each decision is taken by the domain on what one
read returned, then written as one transaction whose conditions say the decision still holds:
an event's counters, a desk's lock items. When they no longer do, the decision is taken again
(events: on the fresh counters the transaction hands back; meetings: on the next desk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import config, store
from chalicelib.domain.booking_rules import (
    BookingRequest,
    Leg,
    Placement,
    already_booked,
    as_hold,
    check_replaceable,
    invalid_slots,
    place,
    read_booking_request,
    read_slots,
    require_events_booking,
    require_live,
)
from chalicelib.domain.cancellation import booking_deadline, check_cancellable
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.free_range import reach
from chalicelib.domain.holds import HoldRecord, hold_until
from chalicelib.domain.meeting_slots import (
    MAX_BOOKING_WRITES,
    NO_DESK,
    MeetingLeg,
    bookings_on_day,
    busy_by_desk,
    desk_takes,
    excluded,
    grid_step,
    lock_step,
    overlaps,
    read_meeting_slots,
    read_resources,
    utc_days,
)
from chalicelib.domain.promotion_rules import AUTOMATIC
from chalicelib.domain.recurrence import slug_of_occurrence_id
from chalicelib.domain.reminder_rules import ReminderPlan
from chalicelib.domain.specs import AgendaSpec, DeskSpec, MeetingTypeSpec
from chalicelib.domain.window import LAST_INSTANT, booking_window, local_midnight
from chalicelib.errors import BadRequest, BusinessError
from chalicelib.parsing import SLUG_RE, Payload
from chalicelib.services import promotion, reminders
from chalicelib.services.lookup import (
    booking_or_404,
    configured_agenda_or_404,
    serving_agendas,
    unknown_agenda,
    unknown_event,
)
from chalicelib.services.retry import DECISIONS, on_booking, until_written

# A fillslots group is one transaction of at most 100 writes: per event a booking leg, the counters and
# the user's count, and as many for each leg of a replaced booking (16 * 3 * 2 = 96).
MAX_GROUP_EVENTS = 16


@dataclass(frozen=True)
class Booked:
    """An events booking made: where its places went, and the booking it replaced."""

    agenda: AgendaSpec
    booking_id: int
    placements: list[Placement]
    replaced: list[Leg]
    cancellable_until: datetime | None = None  # a user's cancellation deadline (domain/cancellation.py)


@dataclass(frozen=True)
class Held:
    """What a lock code holds until `until` (spec §9.9): an events agenda's places (`placements`), or a
    meeting's desk time (`desk`, `meeting_type`, `legs`)."""

    agenda: AgendaSpec
    until: datetime
    placements: list[Placement] = field(default_factory=list)
    desk: DeskSpec | None = None
    meeting_type: MeetingTypeSpec | None = None
    legs: list[MeetingLeg] = field(default_factory=list)


@dataclass(frozen=True)
class MeetingBooked:
    """A meeting booked: the real agenda and desk that took it, its slots, the booking it replaced."""

    agenda: AgendaSpec
    desk: DeskSpec
    meeting_type: MeetingTypeSpec
    legs: list[MeetingLeg]
    booking_id: int
    replaced: list[Leg]
    cancellable_until: datetime | None = None


def fillslot(
    agenda_slug: str, slot: str, body: Payload, tz: ZoneInfo, now: datetime, client: str
) -> Booked | MeetingBooked | Held:
    """`POST /api/agenda/<agenda>/fillslot/<event>/` (the seed document)."""
    return _book(agenda_slug, [slot], read_booking_request(body, client), tz, now, group=False)


def fillslots(
    agenda_slug: str, body: Payload, tz: ZoneInfo, now: datetime, client: str
) -> Booked | MeetingBooked | Held:
    """`POST /api/agenda/<agenda>/fillslots/` (spec §6.2): one booking over several events,
    all or nothing; the first refusal, in the order of `slots`, is the answer."""
    slots = read_slots(body, MAX_GROUP_EVENTS)
    return _book(agenda_slug, slots, read_booking_request(body, client), tz, now, group=True)


def _book(
    agenda_slug: str, slots: list[str], request: BookingRequest, tz: ZoneInfo, now: datetime, group: bool
) -> Booked | MeetingBooked | Held:
    if not any(SLUG_RE.match(slot) for slot in slots):  # `<type>:<date>`: a meetings agenda, by its configuration
        spec = configured_agenda_or_404(agenda_slug)
        if spec.kind != 'events':
            return _book_meeting(spec, slots, request, tz, now)
    # On an events agenda, `<primary>:<date>` names an occurrence of a recurring event (spec §9.10); both
    # spellings of one event are one event.
    sent: dict[str, str] = {}  # each event's slug -> the slot as the client named it first
    for slot in slots:
        sent.setdefault(slug_of_occurrence_id(slot) or slot, slot)
    slugs = list(sent)
    replacing = request.cancel_booking_id if not request.holding else None  # a hold replaces at its confirmation
    key = request.hold
    if request.lock_code is None and request.cancel_booking_id is None and not request.subscriptions:
        cached = store.cached_for_booking(agenda_slug, slugs)
        if cached is not None:
            done = _book_cached(cached, slugs, request, tz, now)
            if done is not None:
                return done
    snapshot = store.read_for_booking(agenda_slug, slugs, request.user_external_id, replacing, key)
    agenda = snapshot.agenda
    if agenda is None:
        raise unknown_agenda(agenda_slug)
    if agenda.kind != 'events':  # an event slug on a meetings agenda: `invalid slot`
        return _book_meeting(configured_agenda_or_404(agenda.slug), slots, request, tz, now)
    unknown = [sent[slug] for slug in slugs if slug not in snapshot.events]
    if unknown:
        raise invalid_slots(unknown) if group else unknown_event(agenda.slug, unknown[0])
    replaced = check_replaceable(snapshot.replaced, request.count) if replacing is not None else []
    events = [snapshot.events[slug] for slug in slugs]
    held = snapshot.hold
    planner = promotion.Planner(now, [agenda])

    def attempt(stale: store.Stale | None) -> Booked | Held:
        nonlocal events, replaced, held
        if isinstance(stale, store.EventsChanged):  # the counters as the transaction found them: no read
            events = [_fresh(agenda.slug, event, stale.events) for event in events]
        elif isinstance(stale, store.BookingChanged) and request.cancel_booking_id is not None:
            # the booking to replace changed: is it still replaceable?
            replaced = check_replaceable(store.get_legs(request.cancel_booking_id), request.count)
        if key is not None and stale is not None:  # the lock code's hold may have changed too
            held = store.get_hold(key)
        on_start = check_deadline(replaced, now, tz, request.bypass_delays, 'cancel booking: ', agenda)
        planner.begin(stale)
        # Where the replaced booking frees places, or this booking gives back expired holds while someone waits:
        # places that promote, on an agenda that promotes automatically.
        expiring = [
            (agenda.slug, e.slug) for e in events if e.waiting_list_reserved and any(h.expired(now) for h in e.holds)
        ]
        read = planner.records(replaced, expiring)
        decided_on = [read.get((agenda.slug, event.slug), event) for event in events]  # the same read
        # The first refusal in the order of `slots` is the answer.
        placements = [
            place(agenda, event, request, now, tz, snapshot.user_bookings.get(event.slug, 0) > 0)
            for event in decided_on
        ]
        if key is not None and request.holding:
            return _hold_places(agenda, placements, key, held, now)
        deadline = booking_deadline(agenda, [p.event.spec.start for p in placements], tz)
        promotions = planner.after([(leg, 0) for leg in replaced], list(enumerate(placements)), list(read))
        placements = promotion.placed(placements, promotions)
        plans = reminder_plans(agenda, [(i, p.event.spec.start) for i, p in enumerate(placements)], request, tz, now)

        def answer(booking_id: int) -> Booked:
            return Booked(agenda, booking_id, placements, replaced, deadline)

        try:
            booking_id = store.book(
                agenda.slug,
                placements,
                request,
                replaced,
                now,
                answer=answer,
                replaced_on_start=on_start,
                held=held,
                reminders=plans,
                promotions=promotions,
            )
        except store.AlreadyBookedByUser as exc:
            raise already_booked(exc.event) from None
        return answer(booking_id)

    booked = until_written(attempt, DECISIONS, 'places')
    planner.settle()
    return booked


def _book_cached(
    snapshot: store.BookingSnapshot, slugs: list[str], request: BookingRequest, tz: ZoneInfo, now: datetime
) -> Booked | None:
    """A warm process's events fillslot (docs/api.md, "The decision cache"): decided from the cache, as the
    read would have been, and written in one transaction that holds only while what it decided from still
    holds (the agenda's version, each event's configuration and holds, the capacity conditions; the user's
    bookings with `exclude_user` are a condition already). None when this cannot answer as a cold process
    would: a refusal (decided again on a read, which may not refuse), a failed condition (the cache was
    behind). Nothing is written then, and the caller reads and decides again: no lock code, no booking
    replaced, no subscription here (their reads stay the slow path's)."""
    agenda = snapshot.agenda
    if agenda is None:
        return None
    try:
        placements = [place(agenda, snapshot.events[slug], request, now, tz) for slug in slugs]
    except (BusinessError, BadRequest):
        return None
    if agenda.waiting_list_promotion == AUTOMATIC and any(
        p.released and p.event.waiting_list_reserved for p in placements
    ):
        return None  # expired holds given back while someone waits: a promotion, decided on the slow path's read
    deadline = booking_deadline(agenda, [p.event.spec.start for p in placements], tz)
    plans = reminder_plans(agenda, [(i, p.event.spec.start) for i, p in enumerate(placements)], request, tz, now)

    def answer(booking_id: int) -> Booked:
        return Booked(agenda, booking_id, placements, [], deadline)

    try:
        booking_id = store.book(
            agenda.slug, placements, request, [], now, answer=answer, reminders=plans, cached=snapshot.cached
        )
    except store.Stale:
        return None
    return answer(booking_id)


def _hold_places(
    agenda: AgendaSpec, placements: list[Placement], key: str, held: HoldRecord | None, now: datetime
) -> Held:
    """Hold the places a booking would take, for the lock code `key`, replacing what it held."""
    until = hold_until(now, config.settings().hold_seconds)
    placements = [as_hold(p, key, until) for p in placements]
    result = Held(agenda, until, placements)
    store.hold(agenda.slug, placements, key, held, until, now, answer=result)
    return result


def _book_meeting(
    spec: AgendaSpec, slots: list[str], request: BookingRequest, tz: ZoneInfo, now: datetime
) -> MeetingBooked | Held:
    """Meetings (spec §6.1-6.2, §9.5-9.6): every slot on one desk, the first desk in desk order
    that opens then and holds no booking; through a virtual agenda, its real agendas with the
    fewest bookings that day first. The desk's lock items make the choice safe; when another
    booking took them meanwhile, the next desk is tried."""
    agenda, reals = serving_agendas(spec)
    meeting_type, starts = read_meeting_slots(slots, agenda, tz)
    return book_desk_time(spec, agenda, reals, meeting_type, starts, request, tz, now)


def book_desk_time(
    spec: AgendaSpec,
    agenda: AgendaSpec,
    reals: list[AgendaSpec],
    meeting_type: MeetingTypeSpec,
    starts: list[datetime],
    request: BookingRequest,
    tz: ZoneInfo,
    now: datetime,
) -> MeetingBooked | Held:
    """Book (or hold, with a lock code) `meeting_type`'s length from each start on one desk of `reals`
    (`spec` as the URL names it, `agenda` with its meeting types): meetings, and free ranges."""
    resources = read_resources(list(request.resources), agenda)
    length = timedelta(minutes=meeting_type.duration)
    window = booking_window(agenda, now, tz)
    if any(
        start < now
        or start >= LAST_INSTANT
        or (not request.bypass_delays and not window.contains(start))
        or excluded(agenda, start, start + length, tz)
        for start in starts
    ):
        raise BusinessError(NO_DESK, 'outside the bookable period')
    user = request.user_external_id
    key = request.hold
    end = starts[-1] + length
    # Its desks' time, the user's days and the booking it replaces in one read, when it must read either (a
    # hold replaces nothing: its confirmation does).
    replacing = request.cancel_booking_id if not request.holding else None
    at_once = agenda.kind == 'meetings' and (replacing is not None or bool(user and request.exclude_user))
    cells = _desk_cells(reals[0], meeting_type, starts, tz) if at_once else {}

    def attempt(stale: store.Stale | None) -> MeetingBooked | Held:
        held = store.get_hold(key) if key is not None else None
        snapshot = None
        if at_once:
            snapshot = store.read_for_meeting(reals[0].slug, cells, user, starts[0], end, replacing, now, key)
        if snapshot is None:
            replaced = _replaced(request) if not request.holding else []
        else:
            replaced = [] if replacing is None else check_replaceable(snapshot.replaced, request.count)
        on_start = check_deadline(replaced, now, tz, request.bypass_delays, 'cancel booking: ', spec)
        days = None  # the user's meetings, read consistently when a decision needs them
        if user and (request.exclude_user or _replaces_same_day(replaced, user, starts[0], end)):
            days = snapshot.days if snapshot is not None else store.user_meeting_days(user, starts[0], end)
        if request.exclude_user and days is not None:
            _check_user_free(days, starts, length, replaced)
        if resources:
            _check_resources_free(resources, starts, length, replaced, now, key)
        free = (
            _free_desks(reals, meeting_type, starts, tz, replaced, now, key)
            if snapshot is None
            else [(reals[0], desk) for desk in reals[0].desks if _unheld(cells.get(desk.slug), desk, snapshot.held)]
        )
        for real, desk in free:
            step = lock_step(real, tz)
            past = tuple(p for p in real.past_lock_steps if p != step)
            legs = [
                MeetingLeg(real.slug, desk.slug, meeting_type.slug, start, start + length, step, resources, past)
                for start in starts
            ]
            if sum(leg.writes for leg in legs) > MAX_BOOKING_WRITES:
                raise BadRequest(
                    'too many slots',
                    f'a booking writes at most {MAX_BOOKING_WRITES} items (its '
                    'slots, their desk and resource time cells): book fewer slots '
                    'at once',
                )

            deadline = booking_deadline(real, starts, tz)

            def answer(booking_id: int) -> MeetingBooked:
                return MeetingBooked(real, desk, meeting_type, legs, booking_id, replaced, deadline)

            plans = reminder_plans(real, [(i, leg.start) for i, leg in enumerate(legs)], request, tz, now)
            try:
                if key is not None and request.holding:
                    until = hold_until(now, config.settings().hold_seconds)
                    result = Held(real, until, desk=desk, meeting_type=meeting_type, legs=legs)
                    store.hold(real.slug, legs, key, held, until, now, answer=result)
                    return result
                booking_id = store.book(
                    real.slug,
                    legs,
                    request,
                    replaced,
                    now,
                    user_days=days,
                    answer=answer,
                    replaced_on_start=on_start,
                    held=held,
                    reminders=plans,
                )
                return answer(booking_id)
            except store.DeskTaken:  # taken since the read: the next desk
                continue
            except store.ResourceTaken:
                raise BusinessError(NO_DESK, 'a requested resource is taken at that time') from None
        raise BusinessError(NO_DESK)

    return until_written(attempt, DECISIONS, 'places')


def check_deadline(
    legs: list[Leg],
    now: datetime,
    tz: ZoneInfo,
    bypass_delays: bool,
    prefix: str = '',
    known: AgendaSpec | None = None,
) -> bool:
    """A user's cancellation of `legs` (a booking's live legs) respects its agenda's minimal
    cancellation delay (domain/cancellation.py), unless `bypass_delays`. True when the decision was
    taken from their start: the write must then hold only while their events still start then.
    `known`: an agenda read already (the legs' own saves a read)."""
    if bypass_delays or not legs:
        return False
    agenda = known if known is not None and known.slug == legs[0].agenda else store.get_agenda(legs[0].agenda)
    if agenda is None or agenda.minimal_cancellation_delay is None:
        return False
    check_cancellable(agenda, legs[0].booking_id, [leg.start for leg in legs], now, tz, prefix)
    return True


def _desk_cells(
    real: AgendaSpec, meeting_type: MeetingTypeSpec, starts: list[datetime], tz: ZoneInfo
) -> dict[str, list[datetime]]:
    """The lock cells (of the agenda's grid, and of its earlier grids) that each desk opening at every start
    would hold: a meetings agenda's fillslot that must read the user's days (exclude_user) or the booking it
    replaces reads these cells with them in one BatchGetItem, rather than both reads beside the Query of the
    agenda's legs: three calls in all (docs/api.md, "Meetings"). Not for a virtual agenda: its real agendas
    are ranked by their legs of the day."""
    length = timedelta(minutes=meeting_type.duration)
    step = lock_step(real, tz)
    past = tuple(p for p in real.past_lock_steps if p != step)
    cells = {}
    for desk in real.desks:
        if desk_takes(desk, meeting_type.duration, grid_step(real), starts, tz, []):
            legs = [MeetingLeg(real.slug, desk.slug, meeting_type.slug, s, s + length, step, (), past) for s in starts]
            cells[desk.slug] = [cell for leg in legs for cell in (*leg.cells, *leg.past_cells)]
    return cells


def _unheld(cells: list[datetime] | None, desk: DeskSpec, held: frozenset[tuple[str, datetime]]) -> bool:
    """The desk opens at every start (it has cells) and no booking holds any of them (the booking being
    replaced still holds its own, as in Chrono)."""
    return cells is not None and not any((desk.slug, cell) in held for cell in cells)


def _replaced(request: BookingRequest) -> list[Leg]:
    if request.cancel_booking_id is None:
        return []
    return check_replaceable(store.get_legs(request.cancel_booking_id), request.count)


def _replaces_same_day(replaced: list[Leg], user: str, start: datetime, end: datetime) -> bool:
    """The booking replaced is the user's, on a UTC day of the new one: the store then sets that
    day's meetings from a read (store.bookings `_Shared.meeting`)."""
    days = set(utc_days(start, end))
    return any(
        leg.user_external_id == user and leg.end and days & set(utc_days(leg.start, leg.end)) for leg in replaced
    )


def _check_user_free(days: store.UserDays, starts: list[datetime], length: timedelta, replaced: list[Leg]) -> None:
    """exclude_user (spec §9.3): the user holds no meeting, in any agenda, overlapping a slot;
    the booking being replaced does not count (it is cancelled in the same transaction)."""
    replaced_id = replaced[0].booking_id if replaced else None
    for booking_id, start, end in days.meetings():
        if booking_id != replaced_id and any(overlaps(s, s + length, start, end) for s in starts):
            raise BusinessError(NO_DESK, 'the user already has a meeting at that time')


def _check_resources_free(
    resources: tuple[str, ...],
    starts: list[datetime],
    length: timedelta,
    replaced: list[Leg],
    now: datetime,
    hold: str | None,
) -> None:
    """Each requested resource is free for every slot, in every agenda (spec §9.5), and held by no other
    lock code; the booking being replaced still holds its own (as its desk)."""
    uses = store.resource_uses(resources, starts[0], starts[-1] + length, now, hold)
    uses += [(leg.start, leg.end) for leg in replaced if set(leg.resources) & set(resources) and leg.end]
    if any(overlaps(start, start + length, b, e) for start in starts for b, e in uses):
        raise BusinessError(NO_DESK, 'a requested resource is taken at that time')


def _free_desks(
    reals: list[AgendaSpec],
    meeting_type: MeetingTypeSpec,
    starts: list[datetime],
    tz: ZoneInfo,
    replaced: list[Leg],
    now: datetime,
    hold: str | None,
) -> list[tuple[AgendaSpec, DeskSpec]]:
    """The (agenda, desk) pairs that can take every slot, in the order they are tried: real
    agendas by fewest bookings on the first slot's day (then their order in the virtual agenda),
    desks in desk order. The replaced booking still holds its desk (as in Chrono); a time another lock
    code holds is taken, the caller's own hold (`hold`) is free."""
    first_day = starts[0].astimezone(tz).date()
    day_start = local_midnight(first_day, tz)
    day_end = local_midnight(starts[-1].astimezone(tz).date() + timedelta(days=1), tz)
    ranked = []
    for index, real in enumerate(reals):
        legs = store.meeting_legs(real.slug, day_start, day_end, reach(real), now, hold)
        ids = {leg.booking_id for leg in legs}
        legs += [leg for leg in replaced if leg.agenda == real.slug and leg.booking_id not in ids]
        ranked.append((bookings_on_day(legs, first_day, tz), index, real, busy_by_desk(legs)))
    free = []
    for _, _, real, busy in sorted(ranked, key=lambda r: r[:2]):
        for desk in real.desks:
            if desk_takes(desk, meeting_type.duration, grid_step(real), starts, tz, busy.get(desk.slug, [])):
                free.append((real, desk))
    return free


def _fresh(agenda: str, event: EventRecord, changed: dict[str, EventRecord | None]) -> EventRecord:
    if event.slug not in changed:
        return event
    fresh = changed[event.slug]
    if fresh is None:
        raise unknown_event(agenda, event.slug)
    return fresh


# ---- lifecycle (spec §8.3, §8.5-8.8) ------------------------------------------------------------


@dataclass(frozen=True)
class BookingView:
    """A booking as `GET /api/booking/<id>/` shows it: its live legs, and until when its user may cancel it."""

    legs: list[Leg]
    cancellable_until: datetime | None = None


def get_booking(booking_id: str, tz: ZoneInfo) -> BookingView:
    """`GET /api/booking/<id>/` (spec §8.3): its live legs."""
    legs = require_live(booking_or_404(booking_id))
    agenda = store.get_agenda(legs[0].agenda)
    return BookingView(legs, booking_deadline(agenda, [leg.start for leg in legs], tz))


def cancel_booking(
    booking_id: str, now: datetime, tz: ZoneInfo, body: Payload | None = None, query: Payload | None = None
) -> dict[str, Any]:
    """The client's own cancellation (POST .../cancel/, DELETE): frees the places (and promotes from the
    waiting list where the agenda does it automatically); no cancel callback (spec §9.8); refused past
    the agenda's cancellation deadline unless `bypass_delays` (in the body or, for a DELETE, the query)."""
    bypass_delays = any(p.bool('bypass_delays') for p in (body, query) if p is not None)
    for p in (body, query):
        if p is not None:
            p.check()
    planner = promotion.Planner(now)

    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        live = require_live(legs, 'already cancelled')
        known = planner.agenda(live[0].agenda) if not bypass_delays else None  # one read for both decisions
        on_start = check_deadline(live, now, tz, bypass_delays, known=known)
        answer = {'booking_id': live[0].booking_id}
        planner.begin(stale)
        store.cancel(live, now, answer=answer, on_start=on_start, promotions=planner.after([(leg, 0) for leg in live]))
        return answer

    answer = on_booking(booking_id, decide, DECISIONS)
    planner.settle()
    return answer


def reminder_plans(
    agenda: AgendaSpec, starts: list[tuple[int, datetime]], request: BookingRequest, tz: ZoneInfo, now: datetime
) -> list[ReminderPlan]:
    """The reminders written with a booking (services/reminders.py)."""
    return reminders.plan(agenda, starts, request.fields, tz, now)


def accept_booking(booking_id: str) -> dict[str, Any]:
    """Waiting list to main list, even beyond the places (spec §8.7)."""
    return _move(booking_id, to_waiting_list=False)


def suspend_booking(booking_id: str) -> dict[str, Any]:
    """Main list to waiting list (spec §8.8)."""
    return _move(booking_id, to_waiting_list=True)


def _move(booking_id: str, to_waiting_list: bool) -> dict[str, Any]:
    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        require_events_booking(legs)
        legs = _check_movable(legs, to_waiting_list)
        answer: dict[str, Any] = {'booking_id': legs[0].booking_id}
        if to_waiting_list:
            store.move(legs, to_waiting_list, answer=answer)
        else:  # the answer is read after the move (the places it overbooks)
            events = store.move(legs, to_waiting_list)
            answer['overbooked_places'] = sum(max(0, e.reserved - e.spec.places) for e in events)
        return answer

    return on_booking(booking_id, decide)


def _check_movable(legs: list[Leg], to_waiting_list: bool) -> list[Leg]:
    legs = require_live(legs)
    if to_waiting_list and all(leg.in_waiting_list for leg in legs):
        raise BusinessError('booking is already in waiting list', err=3)
    if not to_waiting_list and not any(leg.in_waiting_list for leg in legs):
        raise BusinessError('booking is not in waiting list', err=3)
    return legs
