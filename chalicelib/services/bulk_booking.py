"""Use cases that set a user's bookings over many events at once (the seed document; spec
chrono-api.md §5.7, §6.3-6.5): events fillslots on one agenda or several, and the recurring events'
fillslots (their listings are services/listings.py).

Each booked event gets a booking of its own (one leg), so that each can be cancelled alone.
The writes go in transactions of at most 33 events (3 writes each: the booking or leg, the
event's counters, the user's count), and each event's place decision stays a condition on
that event's counters: a transaction that finds an event changed hands back its counters and
only that event is decided again. Each transaction is whole; when one cannot be written after
its retries, the answer is a refusal that still lists what the earlier ones did (running the
same call again completes it: what is booked is not booked twice, what is cancelled stays so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.booking_rules import (
    BookingRequest,
    Leg,
    Placement,
    check_bookable,
    invalid_slots,
    place,
    read_booking_request,
)
from chalicelib.domain.cancellation import is_cancellable
from chalicelib.domain.event_rules import EventRecord, clashes, is_bookable
from chalicelib.domain.recurrence import occurrence_weekday, read_recurring_slot, slug_of_occurrence_id
from chalicelib.domain.specs import AgendaSpec
from chalicelib.domain.window import FIRST_DAY, LAST_DAY, LAST_INSTANT, booking_window, local_midnight
from chalicelib.errors import BadRequest, BusinessError, ChronoError, PartlyDone
from chalicelib.parsing import SLUG_RE, Payload, is_blank
from chalicelib.services import promotion, reminders
from chalicelib.services.listings import read_scope
from chalicelib.services.lookup import events_agenda_or_404
from chalicelib.services.retry import DECISIONS, until_written
from chalicelib.services.subscriptions import Scope

MAX_SLOTS = 1000
BATCH_EVENTS = 33  # 3 writes per event: a transaction holds at most 100
MAX_CHANGES = 2000  # events booked or cancelled by one call: about 61 transactions
ACTIONS = ('book', 'unbook', 'update')

Key = tuple[str, str]  # (agenda, event slug)


@dataclass
class Changes:
    """What a call does, then what it did."""

    to_book: list[EventRecord] = field(default_factory=list)
    to_cancel: list[Leg] = field(default_factory=list)
    booked: list[tuple[Placement, int]] = field(default_factory=list)
    cancelled: list[Leg] = field(default_factory=list)
    full: list[EventRecord] = field(default_factory=list)
    # The cancellations were allowed from the legs' start (a cancellation deadline): they hold only
    # while their events still start then.
    cancel_on_start: bool = False


# ---- reading the call --------------------------------------------------------------------------


def _read_request(body: Payload, client: str) -> tuple[list[str], BookingRequest]:
    """`slots` (a list or a comma-joined string; blank: none) and the §6.1 fields, with the
    user required: the call sets that user's bookings."""
    slots = list(dict.fromkeys(body.list('slots') or []))
    if len(slots) > MAX_SLOTS:
        body.error('slots', f'Ensure this list has no more than {MAX_SLOTS} slots.')
    if is_blank(body.data.get('user_external_id')):  # as Payload reads it: '  ' is no user either
        body.error('user_external_id', 'This field is required.')
    body.read.update(('date_start', 'date_end', 'check_overlaps'))
    # These calls book: `lock_code` holds only through fillslot (spec §9.9), so it is not theirs to use.
    return slots, replace(read_booking_request(body, client), lock_code=None, confirm_after_lock=False)


def _range(
    agenda: AgendaSpec, p: Payload, request: BookingRequest, tz: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """Where a call may book and cancel on an agenda: `date_start`..`date_end` (end excluded),
    within the booking window (from now, with `bypass_delays`)."""
    date_start, date_end = p.date('date_start'), p.date('date_end')
    p.check()
    window = booking_window(agenda, now, tz)
    start = now if request.bypass_delays else window.start
    end = LAST_INSTANT if request.bypass_delays or window.end is None else window.end
    if date_start:
        start = max(start, local_midnight(min(max(date_start, FIRST_DAY), LAST_DAY), tz))
    if date_end:
        end = min(end, local_midnight(min(max(date_end, FIRST_DAY), LAST_DAY), tz))
    return start, end


# ---- the answer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    """What a call over many events did (web/render.py `bulk` shows it): `events` has every event
    named by a cancelled leg; `multi` names events `agenda@event`."""

    changes: Changes
    agendas: dict[str, AgendaSpec]
    events: dict[Key, EventRecord]
    multi: bool


# ---- writing ---------------------------------------------------------------------------------------


def _apply(
    changes: Changes,
    agendas: dict[str, AgendaSpec],
    request: BookingRequest,
    tz: ZoneInfo,
    now: datetime,
    answer: Callable[[Changes], BulkResult],
) -> None:
    """Write the changes by batches; a full event is skipped and reported. The last batch's
    transaction keeps the call's answer (an idempotent call: store.idempotency.commit)."""
    items: list[EventRecord | Leg] = [*changes.to_cancel, *changes.to_book]
    # A booking's reminders are written in its transaction, and a subscribed agenda's check: fewer events
    # per transaction then (3 writes each otherwise).
    reminder_writes = max(
        [len(a.reminder_settings.channels) for a in agendas.values() if a.reminder_settings]
        + [len(leg.reminders) for leg in changes.to_cancel],
        default=0,
    )
    size = (BATCH_EVENTS * 3 - len(request.subscriptions)) // (3 + reminder_writes)
    planner = promotion.Planner(now)
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        last = start + size >= len(items)
        _apply_batch(
            planner,
            [i for i in batch if isinstance(i, EventRecord)],
            [i for i in batch if isinstance(i, Leg)],
            changes,
            agendas,
            request,
            tz,
            now,
            answer if last else None,
        )
    planner.settle()


def _apply_batch(
    planner: promotion.Planner,
    to_book: list[EventRecord],
    to_cancel: list[Leg],
    changes: Changes,
    agendas: dict[str, AgendaSpec],
    request: BookingRequest,
    tz: ZoneInfo,
    now: datetime,
    answer: Callable[[Changes], BulkResult] | None,
) -> None:
    cancelled_events = {(leg.agenda, leg.event) for leg in to_cancel}

    def attempt(stale: store.Stale | None) -> None:
        nonlocal to_book, to_cancel
        if isinstance(stale, store.EventsChanged):
            to_book = [_fresh(record, stale.events) for record in to_book]
        elif isinstance(stale, store.AlreadyBookedByUser):  # booked by the same user meanwhile: done already
            to_book = [record for record in to_book if (record.agenda, record.slug) not in stale.events]
        elif isinstance(stale, store.BookingChanged):  # cancelled or changed meanwhile: look again
            changed = [(leg.booking_id, leg.leg) for leg in to_cancel if leg.booking_id in stale.booking_ids]
            to_cancel = [leg for leg in to_cancel if leg.booking_id not in stale.booking_ids]
            to_cancel += [
                leg
                for leg in store.legs_by_key(changed)
                if not leg.cancelled and (leg.agenda, leg.event) in cancelled_events
            ]
        placements, full = [], []
        for record in to_book:
            try:
                placements.append(place(agendas[record.agenda], record, request, now, tz))
            except BusinessError as exc:
                if exc.err_class not in ('sold out', 'no waiting list'):
                    raise
                full.append(record)

        def after(booking_ids: list[int]) -> Changes:
            return Changes(
                booked=[*changes.booked, *zip(placements, booking_ids, strict=True)],
                cancelled=[*changes.cancelled, *to_cancel],
                full=[*changes.full, *full],
            )

        booking_ids = []
        if placements or to_cancel:
            kept = (lambda ids: answer(after(ids))) if answer else None
            planner.begin(stale)
            plans = [
                plan
                for index, p in enumerate(placements)
                for plan in reminders.plan(
                    agendas[p.event.agenda], [(index, p.event.spec.start)], request.fields, tz, now
                )
            ]
            promotions = planner.after([(leg, 0) for leg in to_cancel])  # events apart from those booked
            booking_ids = store.book_each(
                placements,
                request,
                to_cancel,
                now,
                kept,
                changes.cancel_on_start,
                reminders=plans,
                promotions=promotions,
            )
        done = after(booking_ids)
        changes.booked, changes.cancelled, changes.full = done.booked, done.cancelled, done.full

    until_written(attempt, DECISIONS, 'events')


def _fresh(record: EventRecord, changed: dict[Key, EventRecord | None]) -> EventRecord:
    key = (record.agenda, record.slug)
    if key not in changed:
        return record
    fresh = changed[key]
    if fresh is None:
        raise BusinessError('event not bookable', f'event {record.slug} was deleted')
    return fresh


def _run(
    changes: Changes,
    agendas: dict[str, AgendaSpec],
    events: dict[Key, EventRecord],
    request: BookingRequest,
    tz: ZoneInfo,
    now: datetime,
    multi: bool,
) -> BulkResult:
    if len(changes.to_book) + len(changes.to_cancel) > MAX_CHANGES:  # a Lambda has 28 s
        raise BadRequest(
            'too many events',
            f'this call would book or cancel {len(changes.to_book)} + '
            f'{len(changes.to_cancel)} events, more than {MAX_CHANGES}: narrow '
            'date_start and date_end',
        )
    try:
        _apply(changes, agendas, request, tz, now, lambda done: BulkResult(done, agendas, events, multi))
    except ChronoError as exc:
        if not changes.booked and not changes.cancelled:
            raise
        raise PartlyDone(exc, BulkResult(changes, agendas, events, multi)) from exc
    return BulkResult(changes, agendas, events, multi)


def _user_legs(user: str, agendas: Iterable[str], start: datetime, end: datetime) -> list[Leg]:
    """The user's live event legs in these agendas starting in [start, end) (gsi1: eventually
    consistent; the user's count items, written with each booking, keep a booking single)."""
    names = set(agendas)
    return [
        leg
        for leg in store.user_legs(user, start, end)
        if leg.agenda in names and leg.event is not None and leg.meeting_type is None and not leg.cancelled
    ]


def _plan(
    wanted: list[EventRecord],
    held: list[Leg],
    cancellable,
    agendas: dict[str, AgendaSpec],
    request: BookingRequest,
    tz: ZoneInfo,
    now: datetime,
) -> Changes:
    """Book what is wanted and not held yet; cancel what is held, cancellable and not wanted. A
    booking past its agenda's cancellation deadline is kept, unless `bypass_delays`
    (domain/cancellation.py): the call sets the rest."""
    wanted_keys = {(r.agenda, r.slug) for r in wanted}
    held_keys = {(leg.agenda, leg.event) for leg in held}
    on_start = not request.bypass_delays and any(
        agendas[leg.agenda].minimal_cancellation_delay is not None for leg in held
    )
    return Changes(
        to_book=[r for r in wanted if (r.agenda, r.slug) not in held_keys],
        to_cancel=[
            leg
            for leg in held
            if (leg.agenda, leg.event) not in wanted_keys
            and cancellable(leg)
            and (request.bypass_delays or is_cancellable(agendas[leg.agenda], leg.start, now, tz))
        ],
        cancel_on_start=on_start,
    )


def _check_overlaps(records: list[EventRecord], agendas_named: bool) -> None:
    """`check_overlaps` (spec §6.4): no two requested events overlap."""
    names = sorted(
        {
            f'{r.agenda}@{r.slug}' if agendas_named else r.slug
            for pair in clashes([(r, r.spec.start, r.end) for r in records])
            for r in pair
        }
    )
    if names:
        raise BadRequest(f'Some events occur at the same time: {", ".join(names)}')


# ---- events fillslots (spec §6.3, §6.4) -------------------------------------------------------


def events_fillslots(agenda_slug: str, body: Payload, tz: ZoneInfo, now: datetime, client: str) -> BulkResult:
    """`POST /api/agenda/<agenda>/events/fillslots/`: the user's bookings on this agenda, in
    the range, become exactly `slots`."""
    agenda = events_agenda_or_404(agenda_slug)
    return _events_fillslots([agenda], body, tz, now, client, multi=False)


def agendas_events_fillslots(query: Payload, body: Payload, tz: ZoneInfo, now: datetime, client: str) -> BulkResult:
    """`POST /api/agendas/events/fillslots/?agendas=a,b`: the same over several agendas, with
    `agenda@event` slots; only the listed agendas' bookings are cancelled."""
    scope = read_scope(query, tz, _body_user(body))
    return _events_fillslots(scope.agendas, body, tz, now, client, multi=True, scope=scope)


def _body_user(body: Payload) -> str | None:
    """The user a fillslots body books for, as `subscribed=` needs it (the body is read later)."""
    user = body.data.get('user_external_id')
    return user if isinstance(user, str) and user.strip() else None


def _events_fillslots(
    agendas: list[AgendaSpec],
    body: Payload,
    tz: ZoneInfo,
    now: datetime,
    client: str,
    multi: bool,
    scope: Scope | None = None,
) -> BulkResult:
    slots, request = _read_request(body, client)
    if scope is not None:  # `subscribed=`: each booking holds only while the subscriptions it relied on do
        request = replace(request, subscriptions=scope.versions)
    check_overlaps = body.bool('check_overlaps')
    by_slug = {a.slug: a for a in agendas}
    sent: dict[Key, str] = {}  # each event as the client named it, for errors
    invalid = []
    for slot in slots:
        agenda_slug, _, event = slot.partition('@') if multi else (agendas[0].slug, '', slot)
        event = slug_of_occurrence_id(event) or event
        if agenda_slug in by_slug and SLUG_RE.match(event):
            sent.setdefault((agenda_slug, event), slot)
        else:
            invalid.append(slot)
    keys = list(sent)
    ranges = {a.slug: _range(a, body, request, tz, now) for a in agendas}
    events = store.get_events(keys)
    invalid += [slot for key, slot in sent.items() if key not in events or (scope and not scope.admits(events[key]))]
    if invalid:
        raise invalid_slots(invalid)
    if not agendas:  # subscribed to nothing: nothing to book nor to cancel
        return _run(Changes(), by_slug, events, request, tz, now, multi)
    wanted = [events[key] for key in keys]
    if check_overlaps:
        _check_overlaps(wanted, multi)
    start = min([r[0] for r in ranges.values()] + [r.spec.start for r in wanted])
    end = max([r[1] for r in ranges.values()] + [r.spec.start + timedelta(seconds=1) for r in wanted])
    held = _user_legs(body.checked(request.user_external_id), by_slug, start, end)  # required: _read_request

    def cancellable(leg: Leg) -> bool:
        low, high = ranges[leg.agenda]
        return low <= leg.start < high and (scope is None or scope.admits_at(leg.agenda, leg.start))

    changes = _plan(wanted, held, cancellable, by_slug, request, tz, now)
    # The first event to book that cannot be booked at all refuses the call, before any write (one the
    # user holds already is kept as it is, even out of the window now).
    for record in changes.to_book:
        check_bookable(by_slug[record.agenda], record, now, tz, request)
    events.update(store.get_events((leg.agenda, leg.event_slug) for leg in changes.to_cancel))
    return _run(changes, by_slug, events, request, tz, now, multi)


# ---- recurring events (spec §6.5) -------------------------------------------------------------


def recurring_fillslots(query: Payload, body: Payload, tz: ZoneInfo, now: datetime, client: str) -> BulkResult:
    """`POST /api/agendas/recurring-events/fillslots/?agendas=...&action=...` (the seed):
    `book` books every occurrence of the listed (event, weekday) pairs in the range, `unbook`
    cancels the user's bookings on them, `update` does both and cancels the user's bookings on
    the other recurring events' occurrences of these agendas in the range. Occurrences that
    cannot be booked (cancelled, outside the window) are left out; full ones are listed."""
    action = query.choice('action', ACTIONS, required=True)
    scope = read_scope(query, tz, _body_user(body))
    agendas = scope.agendas
    slots, request = _read_request(body, client)
    request = replace(request, subscriptions=scope.versions)
    by_slug = {a.slug: a for a in agendas}
    pairs, invalid = set(), []
    for slot in slots:
        parsed = read_recurring_slot(slot)
        if parsed is None or parsed.agenda not in by_slug:
            invalid.append(slot)
        else:
            pairs.add((parsed.agenda, parsed.event, parsed.weekday))
    query_dates = Payload({k: v for k, v in query.data.items() if k in ('date_start', 'date_end')})
    ranges = {a.slug: _range(a, query_dates, request, tz, now) for a in agendas}
    primaries = store.get_events((agenda, event) for agenda, event, _ in pairs)
    invalid += sorted(
        f'{a}@{e}:{d}'
        for a, e, d in pairs
        if (a, e) not in primaries or d not in (primaries[(a, e)].spec.recurrence_days or ())
    )
    if invalid:
        raise invalid_slots(invalid)
    if not agendas:  # subscribed to nothing
        return _run(Changes(), by_slug, {}, request, tz, now, multi=True)
    occurrences: dict[Key, EventRecord] = {}
    for agenda in agendas:
        low, high = ranges[agenda.slug]
        occurrences.update(
            ((agenda.slug, r.slug), r)
            for r in store.events_between(agenda.slug, low, high)
            if r.spec.primary_event and scope.admits(r)
        )

    def pair(record: EventRecord) -> tuple[str, str | None, int]:
        return record.agenda, record.spec.primary_event, occurrence_weekday(record.spec, tz)

    wanted = (
        []
        if action == 'unbook'
        else [
            r
            for r in occurrences.values()
            if pair(r) in pairs
            and not r.spec.cancelled
            and is_bookable(by_slug[r.agenda], r.spec, now, tz, request.bypass_delays)
        ]
    )
    held = _user_legs(
        body.checked(request.user_external_id),  # required: _read_request
        by_slug,
        min(r[0] for r in ranges.values()),
        max(r[1] for r in ranges.values()),
    )
    held = [leg for leg in held if (leg.agenda, leg.event) in occurrences]

    def cancellable(leg: Leg) -> bool:
        listed = pair(occurrences[(leg.agenda, leg.event_slug)]) in pairs
        return action == 'update' and not listed or action == 'unbook' and listed

    wanted = sorted(wanted, key=lambda r: (r.spec.start, r.agenda, r.slug))
    changes = _plan(wanted, held, cancellable, by_slug, request, tz, now)
    if action == 'unbook':
        changes.to_book = []
    return _run(changes, by_slug, occurrences, request, tz, now, multi=True)
