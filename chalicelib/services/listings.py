"""Use cases that list: what can be booked (events datetimes, meeting times, over one agenda or several,
recurring events), an event's status and a user's bookings on it, and a user's bookings (JSON and
iCalendar) (spec chrono-api.md §5, §7.1-7.2, §8.1-8.2, §8.11). They return what they found; the web
layer renders it (web/render.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.booking_rules import EVENTS_CHOICES, MAX_USER_ID, Leg, require_live
from chalicelib.domain.calendar import calendar
from chalicelib.domain.event_rules import EventRecord, clashes, is_bookable, is_recurring_primary
from chalicelib.domain.free_range import reach
from chalicelib.domain.holds import MAX_LOCK_CODE, as_seen, hold_key
from chalicelib.domain.meeting_slots import (
    Intervals,
    busy_by_desk,
    desk_slots,
    excluded,
    grid_step,
    meeting_times,
    read_resources,
    slot_id,
)
from chalicelib.domain.places import can_take
from chalicelib.domain.specs import AgendaSpec, EventSpec
from chalicelib.domain.window import FIRST_DAY, LAST_DAY, LAST_INSTANT, booking_window, local_midnight
from chalicelib.errors import InvalidPayload
from chalicelib.parsing import SLUG_RE, Payload
from chalicelib.services.lookup import (
    booking_or_404,
    event_or_404,
    events_agenda_or_404,
    meeting_type_or_404,
    serving_agendas_or_404,
)
from chalicelib.services.subscriptions import Scope, check_no_agendas_with_subscribed, subscribed_scope

MAX_LISTED_DAYS = 366
MAX_AGENDAS = 50  # agendas of one multi-agenda call


@dataclass(frozen=True)
class SlotQuery:
    """The parameters common to every datetimes listing (spec §5.1)."""

    start: datetime | None  # first instant listed
    end: datetime | None  # excluded
    user: str | None
    excluded_user: str | None
    hide_disabled: bool
    bypass_delays: bool
    hold: str | None = None  # the digest of `lock_code`: its own holds are free to it (spec §9.9)

    def for_agenda(self, agenda: AgendaSpec, tz: ZoneInfo, now: datetime, events: str = 'future') -> SlotQuery:
        """The range narrowed to what `events` asks and to the booking window: `date_start` and
        `date_end` never widen it unless `bypass_delays`."""
        start, end = self.start, self.end
        if events == 'future':
            start = max(start, now) if start else now
            if not self.bypass_delays:
                window = booking_window(agenda, now, tz)
                start = max(start, window.start)
                end = min(end, window.end) if end and window.end else (end or window.end)
        elif events == 'past':
            end = min(end, now) if end else now
        return replace(self, start=start, end=end)


def read_slot_params(query: Payload, tz: ZoneInfo) -> SlotQuery:
    """Read §5.1's parameters (the caller reads its own first), the range as asked."""
    date_start, date_end = query.date('date_start'), query.date('date_end')
    # Clamp, so that any valid date answers.
    date_start = min(max(date_start, FIRST_DAY), LAST_DAY) if date_start else None
    date_end = min(max(date_end, FIRST_DAY), LAST_DAY) if date_end else None
    user = query.str('user_external_id', max_length=MAX_USER_ID)
    excluded_user = query.str('exclude_user_external_id', max_length=MAX_USER_ID)
    hide_disabled = query.bool('hide_disabled')
    bypass_delays = query.bool('bypass_delays')
    lock_code = query.str('lock_code', max_length=MAX_LOCK_CODE)  # w.c.s. sends it on every call (spec §9.9)
    query.check()
    return SlotQuery(
        local_midnight(date_start, tz) if date_start else None,
        local_midnight(date_end, tz) if date_end else None,
        user,
        excluded_user,
        hide_disabled,
        bypass_delays,
        hold_key(lock_code) if lock_code else None,
    )


def read_slot_query(
    query: Payload, agenda: AgendaSpec, tz: ZoneInfo, now: datetime, events: str = 'future'
) -> SlotQuery:
    return read_slot_params(query, tz).for_agenda(agenda, tz, now, events)


@dataclass(frozen=True)
class ListedEvent:
    """An event as a datetimes listing shows it: `disabled` as the listing's parameters decide, and
    whether the user named by `user_external_id` holds it (None: no user named). Listings over
    several agendas name it `agenda@event`, and, with `check_overlaps`, the ids it overlaps."""

    agenda: AgendaSpec
    record: EventRecord
    disabled: bool
    booked_for_user: bool | None = None
    overlaps: tuple[str, ...] | None = None
    status: str | None = None  # with_status: the user's booking status there

    @property
    def ident(self) -> str:
        return f'{self.agenda.slug}@{self.record.slug}'


@dataclass(frozen=True)
class ListedSlot:
    """A meeting time: free on a desk of some `serving` agendas (none: disabled)."""

    ident: str
    start: datetime
    end: datetime
    disabled: bool
    serving: tuple[AgendaSpec, ...]
    booked_for_user: bool | None = None


def datetimes(agenda_slug: str, query: Payload, tz: ZoneInfo, now: datetime) -> list[ListedEvent]:
    """`GET /api/agenda/<agenda>/datetimes/`: the bookable events, each `disabled` when a
    booking of `min_places` would be refused or the excluded user holds one already."""
    agenda = events_agenda_or_404(agenda_slug)
    min_places = query.int('min_places', default=1, minimum=1)
    events = query.choice('events', EVENTS_CHOICES, default='future')
    q = read_slot_query(query, agenda, tz, now, events)
    return listed_events(agenda, q, min_places, events, tz, now)


def listed_events(
    agenda: AgendaSpec, q: SlotQuery, min_places: int, events: str, tz: ZoneInfo, now: datetime
) -> list[ListedEvent]:
    """An events agenda's datetimes items over the range of `q`: places held by lock codes are taken,
    unless expired or held by `q`'s own lock code."""
    records = sorted(
        (
            as_seen(r, now, q.hold)
            for r in store.events_between(agenda.slug, q.start, q.end)
            if not is_recurring_primary(r.spec)
            and not r.spec.cancelled
            and is_bookable(agenda, r.spec, now, tz, q.bypass_delays, events)
        ),
        key=lambda r: (r.spec.start, r.spec.label or '', r.slug),
    )  # spec §5.2: start, then label

    booked: dict[str | None, set[str | None]] = {}  # by user (None: no user asked for)
    for name in {user for user in (q.user, q.excluded_user) if user is not None}:
        legs = store.user_legs(name, q.start, q.end) if records else []
        booked[name] = {leg.event for leg in legs if leg.agenda == agenda.slug and not leg.cancelled}
    listed = []
    for record in records:
        disabled = not can_take(record.places, min_places) or record.slug in booked.get(q.excluded_user, ())
        if disabled and q.hide_disabled:
            continue
        listed.append(ListedEvent(agenda, record, disabled, record.slug in booked[q.user] if q.user else None))
    return listed


def with_statuses(listed: list[ListedEvent], user: str) -> list[ListedEvent]:
    """`with_status`: the user's booking status on each listed event (the user index, as
    `booked_for_external_user`): `booked`, `waiting-list`, `cancelled` (only cancelled bookings) or
    `not-booked`."""
    if not listed:
        return listed
    legs = store.user_legs(
        user, listed[0].record.spec.start, max(e.record.spec.start for e in listed) + timedelta(seconds=1)
    )
    held: dict[tuple[str, str | None], list[Leg]] = {}
    for leg in legs:
        held.setdefault((leg.agenda, leg.event), []).append(leg)

    def status_of(found: list[Leg]) -> str:
        live = [leg for leg in found if not leg.cancelled]
        if any(not leg.in_waiting_list for leg in live):
            return 'booked'
        if live:
            return 'waiting-list'
        return 'cancelled' if found else 'not-booked'

    return [replace(e, status=status_of(held.get((e.agenda.slug, e.record.slug), []))) for e in listed]


def status(agenda_slug: str, event_slug: str, now: datetime) -> tuple[AgendaSpec, EventRecord]:
    """`GET /api/agenda/<agenda>/status/<event>/` (spec §7.1), read consistently; a hold counts while live."""
    agenda = events_agenda_or_404(agenda_slug)
    return agenda, as_seen(event_or_404(agenda.slug, event_slug), now)


def event_bookings(agenda_slug: str, event_slug: str, query: Payload) -> list[Leg]:
    """`GET /api/agenda/<agenda>/bookings/<event>/?user_external_id=` (spec §7.2)."""
    agenda = events_agenda_or_404(agenda_slug)
    user = query.checked(query.str('user_external_id', required=True, max_length=MAX_USER_ID))
    record = event_or_404(agenda.slug, event_slug)
    legs = store.user_legs(user, record.spec.start, record.spec.start + timedelta(seconds=1))
    return [leg for leg in legs if leg.agenda == agenda.slug and leg.event == record.slug and not leg.cancelled]


def meeting_datetimes(
    agenda_slug: str, type_slug: str, query: Payload, tz: ZoneInfo, now: datetime
) -> tuple[AgendaSpec, list[ListedSlot]]:
    """`GET /api/agenda/<agenda>/meetings/<type>/datetimes/` (spec §5.4, §9.5): the start times of
    the meeting type on the agenda's grid, `disabled` when no desk is free then. A virtual agenda
    lists the union of its real agendas' times, minus its excluded periods."""
    agenda, reals = serving_agendas_or_404(agenda_slug)
    meeting_type = meeting_type_or_404(agenda, type_slug)
    resources = read_resources(query.list('resources'), agenda)
    q = read_slot_query(query, agenda, tz, now)
    start = q.start or now
    end = min(q.end or start + timedelta(days=MAX_LISTED_DAYS), LAST_INSTANT)  # no bound: bypass, no maximal delay
    if start >= end:
        return agenda, []
    first_day, last_day = start.astimezone(tz).date(), end.astimezone(tz).date()
    unavailable = []  # for every desk: the excluded user's meetings, the requested resources' bookings
    if q.excluded_user:
        unavailable = [
            (leg.start, leg.end) for leg in store.user_meetings(q.excluded_user, start, end) if leg.end is not None
        ]
    if resources:
        unavailable += store.resource_uses(resources, start, end, now, q.hold)
    held = None  # the user_external_id's meetings in these agendas: `booked_for_external_user`
    if q.user:
        serving_slugs = {real.slug for real in reals}
        held = Intervals(
            (leg.start, leg.end)
            for leg in store.user_meetings(q.user, start, end)
            if leg.agenda in serving_slugs and leg.end is not None
        )
    ends: dict[datetime, datetime] = {}
    serving: dict[datetime, list[AgendaSpec]] = {}  # start -> the real agendas with a free desk then
    for real in reals:
        candidates = [
            s
            for desk in real.desks
            for s in desk_slots(desk, meeting_type.duration, grid_step(real), first_day, last_day, tz)
            if start <= s.start < end and not excluded(agenda, s.start, s.end, tz)
        ]
        busy = busy_by_desk(store.meeting_legs(real.slug, start, end, reach(real), now, q.hold))
        for time in meeting_times(candidates, busy, unavailable, [d.slug for d in real.desks]):
            ends[time.start] = time.end
            serving.setdefault(time.start, []).extend([real] if time.free_desks else [])
    slots = []
    for start in sorted(ends):
        disabled = not serving[start]
        if disabled and q.hide_disabled:
            continue
        slots.append(
            ListedSlot(
                slot_id(meeting_type.slug, start, tz),
                start,
                ends[start],
                disabled,
                tuple(serving[start]),
                held.overlap(start, ends[start]) if held is not None else None,
            )
        )
    return agenda, slots


# ---- several agendas (spec §5.7, §6.5) ------------------------------------------------------------


def read_scope(query: Payload, tz: ZoneInfo, user: str | None = None) -> Scope:
    """`agendas=a,b`, or `subscribed=all|<category>,...` with the user (services/subscriptions.py): the
    agendas of a multi-agenda call, and with `subscribed` the periods its events must start in.
    `guardian_external_id` (shared custody) is read: without custody calendars here, every day is each
    guardian's, so it narrows nothing (docs/api.md)."""
    query.str('guardian_external_id', max_length=MAX_USER_ID)
    if 'subscribed' not in query:
        return Scope(read_agendas(query))
    check_no_agendas_with_subscribed(query)
    scope = subscribed_scope(query, tz, user)
    if len(scope.agendas) > MAX_AGENDAS:
        raise InvalidPayload({'subscribed': [f'The user is subscribed to more than {MAX_AGENDAS} agendas: list them.']})
    return scope


def read_agendas(query: Payload) -> list[AgendaSpec]:
    """`agendas=a,b` (required): events agendas, in the given order."""
    slugs = list(dict.fromkeys(query.list('agendas', required=True) or []))
    if not slugs and 'agendas' not in query.errors:
        query.error('agendas', 'This field is required.')
    if len(slugs) > MAX_AGENDAS:
        query.error('agendas', f'Ensure this list has no more than {MAX_AGENDAS} agendas.')
    query.read.update(('guardian_external_id',))
    query.check()
    return events_agendas(slugs)


def events_agendas(slugs: list[str]) -> list[AgendaSpec]:
    """The events agendas named, in that order; a 400 naming those that are not one."""
    agendas, unknown = [], []
    for slug in slugs:
        agenda = store.get_agenda(slug) if SLUG_RE.match(slug) else None
        if agenda is None or agenda.kind != 'events':
            unknown.append(slug)
        else:
            agendas.append(agenda)
    if unknown:
        raise InvalidPayload({'agendas': [f'Unknown events agendas: {", ".join(unknown)}.']})
    return agendas


def agendas_datetimes(query: Payload, tz: ZoneInfo, now: datetime) -> list[ListedEvent]:
    """`GET /api/agendas/datetimes/?agendas=a,b`: the events of several agendas, ids `agenda@event`,
    by start time; with `check_overlaps`, each item lists the ids of the items it overlaps."""
    min_places = query.int('min_places', default=1, minimum=1)
    events = query.choice('events', EVENTS_CHOICES, default='future')
    if query.bool('show_past_events') and events == 'future':
        events = 'all'
    check_overlaps = query.bool('check_overlaps')
    with_status = query.bool('with_status')
    scope = read_scope(query, tz)
    params = read_slot_params(query, tz)
    if with_status and params.user is None:
        raise InvalidPayload({'with_status': ['Requires user_external_id.']})
    found = []
    for position, agenda in enumerate(scope.agendas):
        for listed in listed_events(agenda, params.for_agenda(agenda, tz, now, events), min_places, events, tz, now):
            if scope.admits(listed.record):
                found.append((listed.record.spec.start, position, listed))
    found.sort(key=lambda entry: entry[:2])
    listed_all = [listed for _, _, listed in found]
    if with_status and params.user is not None:
        listed_all = with_statuses(listed_all, params.user)
    if not check_overlaps:
        return listed_all
    overlapping: dict[str, set[str]] = {listed.ident: set() for listed in listed_all}
    for a, b in clashes([(listed.ident, listed.record.spec.start, listed.record.end) for listed in listed_all]):
        overlapping[a].add(b)
        overlapping[b].add(a)
    return [
        replace(listed, overlaps=tuple(other.ident for other in listed_all if other.ident in overlapping[listed.ident]))
        for listed in listed_all
    ]


def recurring_events(query: Payload, tz: ZoneInfo, now: datetime) -> list[tuple[AgendaSpec, EventSpec, int]]:
    """`GET /api/agendas/recurring-events/?agendas=a,b`: one item per (recurring event, weekday)
    whose rule has not ended, ids `agenda@event:weekday`, by agenda, time of day, event and
    weekday; `sort=day` orders them by weekday first."""
    by_day = query.choice('sort', ('day',)) == 'day'
    query.str('user_external_id', max_length=MAX_USER_ID)  # with `subscribed`: whose subscriptions
    scope = read_scope(query, tz)
    today = now.astimezone(tz).date().isoformat()
    items = []
    for position, agenda in enumerate(scope.agendas):
        for record in store.list_primaries(agenda.slug):
            spec = record.spec
            ends = (
                local_midnight(date.fromisoformat(spec.recurrence_end_date), tz) if spec.recurrence_end_date else None
            )
            if (
                is_recurring_primary(spec)
                and not spec.cancelled
                and (spec.recurrence_end_date or '9') > today
                and scope.admits_span(agenda.slug, spec.start, ends)
            ):
                local = spec.start.astimezone(tz)
                for day in spec.recurrence_days or ():
                    order = (
                        (day, local.time(), position, spec.slug) if by_day else (position, local.time(), spec.slug, day)
                    )
                    items.append((order, (agenda, spec, day)))
    return [item for _, item in sorted(items, key=lambda entry: entry[0])]


# ---- reading: a user's bookings, iCalendar (spec §8.1-8.2, §8.11) ----------------------------------


def _agendas(legs: list[Leg]) -> dict[str, AgendaSpec | None]:
    agendas = {}
    for slug in dict.fromkeys(leg.agenda for leg in legs):
        agendas[slug] = store.get_agenda(slug)
    return agendas


def _ics(legs: list[Leg], tz: ZoneInfo, now: datetime) -> str:
    labels = {slug: agenda.label for slug, agenda in _agendas(legs).items() if agenda}
    return calendar(legs, labels, tz, now)


def booking_ics(booking_id: str, tz: ZoneInfo, now: datetime) -> str:
    """`GET /api/booking/<id>/ics/` (spec §8.11): one VEVENT per leg; a cancelled booking is refused
    as by `GET /api/booking/<id>/`."""
    return _ics(require_live(booking_or_404(booking_id)), tz, now)


def _user_legs(query: Payload, tz: ZoneInfo) -> list[Leg]:
    """The live legs of `user_external_id` starting in [date_start, date_end) (local days; the end
    excluded), of agenda `agenda` and of agendas of category `category`, by start time."""
    user = query.str('user_external_id', required=True, max_length=MAX_USER_ID)
    agenda = query.slug('agenda')
    category = query.slug('category')
    date_start, date_end = query.date('date_start'), query.date('date_end')
    user = query.checked(user)  # raises with every error read above
    # Nothing is stored outside these years: clamp (year 1 in Paris is before year 1 in UTC).
    start = local_midnight(min(max(date_start, FIRST_DAY), LAST_DAY), tz) if date_start else None
    end = local_midnight(min(max(date_end, FIRST_DAY), LAST_DAY), tz) if date_end else None
    legs = [
        leg
        for leg in store.user_legs(user, start, end)
        if not leg.cancelled and (agenda is None or leg.agenda == agenda)
    ]
    if category is not None:
        categories = {slug: spec.category for slug, spec in _agendas(legs).items() if spec is not None}
        legs = [leg for leg in legs if categories.get(leg.agenda) == category]
    return legs


def user_bookings(
    query: Payload, tz: ZoneInfo
) -> tuple[list[Leg], dict[tuple[str, str], EventRecord], dict[str, AgendaSpec | None]]:
    """`GET /api/bookings/?user_external_id=` (spec §8.1): the user's legs, with their events and agendas."""
    legs = _user_legs(query, tz)
    return legs, store.get_events((leg.agenda, leg.event) for leg in legs if leg.event), _agendas(legs)


def user_bookings_ics(query: Payload, tz: ZoneInfo, now: datetime) -> str:
    """`GET /api/bookings/ics/?user_external_id=` (spec §8.2): the same bookings as an iCalendar file."""
    return _ics(_user_legs(query, tz), tz, now)
