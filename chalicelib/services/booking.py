"""Use cases of booking: fillslot and fillslots on events and meetings agendas, and a booking's
lifecycle (read, cancel, accept, suspend). Each decision is taken by the domain on what one
read returned, then written as one transaction whose conditions say the decision still holds:
an event's counters, a desk's lock items. When they no longer do, the decision is taken again
(events: on the fresh counters the transaction hands back; meetings: on the next desk).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.booking_rules import (
    BookingRequest,
    Leg,
    Placement,
    already_booked,
    check_replaceable,
    invalid_slots,
    place,
    read_booking_request,
    read_slots,
    require_events_booking,
    require_live,
)
from chalicelib.domain.event_rules import EventRecord
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
    longest,
    overlaps,
    read_meeting_slots,
    read_resources,
    utc_days,
)
from chalicelib.domain.recurrence import slug_of_occurrence_id
from chalicelib.domain.specs import AgendaSpec, DeskSpec, MeetingTypeSpec
from chalicelib.domain.window import LAST_INSTANT, booking_window, local_midnight
from chalicelib.errors import BadRequest, BusinessError
from chalicelib.parsing import SLUG_RE, Payload
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


@dataclass(frozen=True)
class MeetingBooked:
    """A meeting booked: the real agenda and desk that took it, its slots, the booking it replaced."""

    agenda: AgendaSpec
    desk: DeskSpec
    meeting_type: MeetingTypeSpec
    legs: list[MeetingLeg]
    booking_id: int
    replaced: list[Leg]


def fillslot(
    agenda_slug: str, slot: str, body: Payload, tz: ZoneInfo, now: datetime, client: str
) -> Booked | MeetingBooked:
    """`POST /api/agenda/<agenda>/fillslot/<event>/` (the seed document)."""
    return _book(agenda_slug, [slot], read_booking_request(body, client), tz, now, group=False)


def fillslots(agenda_slug: str, body: Payload, tz: ZoneInfo, now: datetime, client: str) -> Booked | MeetingBooked:
    """`POST /api/agenda/<agenda>/fillslots/` (spec §6.2): one booking over several events,
    all or nothing; the first refusal, in the order of `slots`, is the answer."""
    slots = read_slots(body, MAX_GROUP_EVENTS)
    return _book(agenda_slug, slots, read_booking_request(body, client), tz, now, group=True)


def _book(
    agenda_slug: str, slots: list[str], request: BookingRequest, tz: ZoneInfo, now: datetime, group: bool
) -> Booked | MeetingBooked:
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
    snapshot = store.read_for_booking(agenda_slug, slugs, request.user_external_id, request.cancel_booking_id)
    agenda = snapshot.agenda
    if agenda is None:
        raise unknown_agenda(agenda_slug)
    if agenda.kind != 'events':  # an event slug on a meetings agenda: `invalid slot`
        return _book_meeting(configured_agenda_or_404(agenda.slug), slots, request, tz, now)
    unknown = [sent[slug] for slug in slugs if slug not in snapshot.events]
    if unknown:
        raise invalid_slots(unknown) if group else unknown_event(agenda.slug, unknown[0])
    replaced = check_replaceable(snapshot.replaced, request.count) if request.cancel_booking_id is not None else []
    events = [snapshot.events[slug] for slug in slugs]

    def attempt(stale: store.Stale | None) -> Booked:
        nonlocal events, replaced
        if isinstance(stale, store.EventsChanged):  # the counters as the transaction found them: no read
            events = [_fresh(agenda.slug, event, stale.events) for event in events]
        elif isinstance(stale, store.BookingChanged):  # the booking to replace changed: is it still replaceable?
            replaced = check_replaceable(store.get_legs(request.cancel_booking_id), request.count)
        # The first refusal in the order of `slots` is the answer.
        placements = [
            place(agenda, event, request, now, tz, snapshot.user_bookings.get(event.slug, 0) > 0) for event in events
        ]

        def answer(booking_id: int) -> Booked:
            return Booked(agenda, booking_id, placements, replaced)

        try:
            return answer(store.book(agenda.slug, placements, request, replaced, now, answer=answer))
        except store.AlreadyBookedByUser as exc:
            raise already_booked(exc.event) from None

    return until_written(attempt, DECISIONS, 'places')


def _book_meeting(
    spec: AgendaSpec, slots: list[str], request: BookingRequest, tz: ZoneInfo, now: datetime
) -> MeetingBooked:
    """Meetings (spec §6.1-6.2, §9.5-9.6): every slot on one desk, the first desk in desk order
    that opens then and holds no booking; through a virtual agenda, its real agendas with the
    fewest bookings that day first. The desk's lock items make the choice safe; when another
    booking took them meanwhile, the next desk is tried."""
    agenda, reals = serving_agendas(spec)
    meeting_type, starts = read_meeting_slots(slots, agenda, tz)
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
    end = starts[-1] + length
    # Its desks' time, the user's days and the booking it replaces in one read, when it must read either.
    at_once = agenda.kind == 'meetings' and (
        request.cancel_booking_id is not None or bool(user and request.exclude_user)
    )
    cells = _desk_cells(reals[0], meeting_type, starts, tz) if at_once else {}

    def attempt(stale: store.Stale | None) -> MeetingBooked:
        snapshot = None
        if at_once:
            snapshot = store.read_for_meeting(reals[0].slug, cells, user, starts[0], end, request.cancel_booking_id)
        if snapshot is None:
            replaced = _replaced(request)
        else:
            replaced = [] if request.cancel_booking_id is None else check_replaceable(snapshot.replaced, request.count)
        days = None  # the user's meetings, read consistently when a decision needs them
        if user and (request.exclude_user or _replaces_same_day(replaced, user, starts[0], end)):
            days = snapshot.days if snapshot is not None else store.user_meeting_days(user, starts[0], end)
        if request.exclude_user and days is not None:
            _check_user_free(days, starts, length, replaced)
        if resources:
            _check_resources_free(resources, starts, length, replaced)
        free = (
            _free_desks(reals, meeting_type, starts, tz, replaced)
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

            def answer(booking_id: int) -> MeetingBooked:
                return MeetingBooked(real, desk, meeting_type, legs, booking_id, replaced)

            try:
                return answer(store.book(real.slug, legs, request, replaced, now, user_days=days, answer=answer))
            except store.DeskTaken:  # taken since the read: the next desk
                continue
            except store.ResourceTaken:
                raise BusinessError(NO_DESK, 'a requested resource is taken at that time') from None
        raise BusinessError(NO_DESK)

    return until_written(attempt, DECISIONS, 'places')


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
    resources: tuple[str, ...], starts: list[datetime], length: timedelta, replaced: list[Leg]
) -> None:
    """Each requested resource is free for every slot, in every agenda (spec §9.5); the booking
    being replaced still holds its own (as its desk)."""
    uses = store.resource_uses(resources, starts[0], starts[-1] + length)
    uses += [(leg.start, leg.end) for leg in replaced if set(leg.resources) & set(resources) and leg.end]
    if any(overlaps(start, start + length, b, e) for start in starts for b, e in uses):
        raise BusinessError(NO_DESK, 'a requested resource is taken at that time')


def _free_desks(
    reals: list[AgendaSpec], meeting_type: MeetingTypeSpec, starts: list[datetime], tz: ZoneInfo, replaced: list[Leg]
) -> list[tuple[AgendaSpec, DeskSpec]]:
    """The (agenda, desk) pairs that can take every slot, in the order they are tried: real
    agendas by fewest bookings on the first slot's day (then their order in the virtual agenda),
    desks in desk order. The replaced booking still holds its desk (as in Chrono)."""
    first_day = starts[0].astimezone(tz).date()
    day_start = local_midnight(first_day, tz)
    day_end = local_midnight(starts[-1].astimezone(tz).date() + timedelta(days=1), tz)
    ranked = []
    for index, real in enumerate(reals):
        legs = store.meeting_legs(real.slug, day_start, day_end, longest(real))
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


def get_booking(booking_id: str) -> list[Leg]:
    """`GET /api/booking/<id>/` (spec §8.3): its live legs."""
    return require_live(booking_or_404(booking_id))


def cancel_booking(booking_id: str, now: datetime) -> dict[str, Any]:
    """The client's own cancellation: frees the places; no cancel callback (spec §9.8)."""

    def decide(legs: list[Leg], stale: store.Stale | None) -> dict[str, Any]:
        live = require_live(legs, 'already cancelled')
        answer = {'booking_id': live[0].booking_id}
        store.cancel(live, now, answer=answer)
        return answer

    return on_booking(booking_id, decide)


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
