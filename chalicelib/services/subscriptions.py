"""Use cases of subscriptions (spec chrono-api.md §2.5): list, create, read, change and delete a user's
subscription to an events agenda, and the agendas and periods a user is subscribed to (`subscribed=` on
the multi-agenda routes).

Deleting a subscription cancels the user's bookings of that agenda on events from then on (from now,
or from the subscription's start if later) to its end, each as an agent's cancellation (its cancel
callback), through the one cancel path (store.cancel in the retry loop); nothing else. It runs in three
steps so that an interruption is finished by the same DELETE again: the subscription leaves the user's
periods (no booking through `subscribed=` can rely on it any more) and is marked ending, the bookings
are cancelled, then it is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import store
from chalicelib.domain.booking_rules import MAX_USER_ID, Leg
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.specs import AgendaSpec
from chalicelib.domain.subscription_rules import SubscriptionSpec, UserPeriods, read_filters, read_subscription
from chalicelib.errors import BadRequest, InvalidPayload, NotFound
from chalicelib.parsing import SLUG_RE, Payload
from chalicelib.services import agent
from chalicelib.services.lookup import SHOWN, events_agenda_or_404
from chalicelib.services.retry import until_written
from chalicelib.store import billing_records, subscription_items

ID_MAX_DIGITS = 19


def _overlap_refusal(idents: list[int]) -> BadRequest:
    return BadRequest(
        'another subscription overlapping this period already exists',
        f'the user is already subscribed to this agenda over part of this period (subscription '
        f'{", ".join(str(i) for i in idents)})',
    )


def _subscription_or_404(agenda: str, ident: str, ending: bool = False) -> SubscriptionSpec:
    """The subscription named in a path (an integer id); one being deleted only when `ending`."""
    text = ident.strip()
    found = None
    if text.isascii() and text.isdigit() and len(text) <= ID_MAX_DIGITS:
        found = subscription_items.get_subscription(agenda, int(text))
    if found is None or (found.ending and not ending):
        raise NotFound('unknown subscription', f'subscription {ident[:SHOWN]} does not exist in agenda {agenda}')
    return found


def list_subscriptions(agenda_slug: str, query: Payload) -> list[SubscriptionSpec]:
    """`GET /api/agenda/<agenda>/subscription/`: by `user_external_id`, and those sharing a day with
    [`date_start`, `date_end`); by start, end, last and first name."""
    agenda = events_agenda_or_404(agenda_slug)
    user, start, end = read_filters(query)
    if user is not None:
        found = subscription_items.subscriptions_by_id(
            agenda.slug, subscription_items.user_periods(user, agenda.slug).periods
        )
    else:
        found = subscription_items.agenda_subscriptions(agenda.slug)
    kept = [
        s for s in found if not s.ending and (user is None or s.user_external_id == user) and s.overlaps(start, end)
    ]
    return sorted(kept, key=lambda s: (s.date_start, s.date_end, s.user_last_name or '', s.user_first_name or '', s.id))


def create_subscription(agenda_slug: str, body: Payload) -> SubscriptionSpec:
    """`POST /api/agenda/<agenda>/subscription/`: refused (400) when it overlaps another subscription
    of the user to the agenda, a condition on the user's periods as read."""
    agenda = events_agenda_or_404(agenda_slug)
    spec = read_subscription(body, agenda.slug)

    def attempt(stale: store.Stale | None) -> SubscriptionSpec:
        read = subscription_items.user_periods(spec.user_external_id, agenda.slug)
        overlapping = read.overlapping(spec.date_start, spec.date_end)
        if overlapping:
            raise _overlap_refusal(overlapping)
        ident = subscription_items.create(spec, read, answer_of=lambda new: replace(spec, id=new, version=1))
        return replace(spec, id=ident, version=1)

    return until_written(attempt)


def get_subscription(agenda_slug: str, ident: str) -> SubscriptionSpec:
    agenda = events_agenda_or_404(agenda_slug)
    return _subscription_or_404(agenda.slug, ident)


def update_subscription(agenda_slug: str, ident: str, body: Payload) -> SubscriptionSpec:
    """`PATCH`: the keys given change (`extra_data` is merged); new dates may not overlap another of the
    user's subscriptions to the agenda. Bookings are left as they are (docs/api.md)."""
    agenda = events_agenda_or_404(agenda_slug)
    current = _subscription_or_404(agenda.slug, ident)
    read_subscription(Payload(dict(body.data)), agenda.slug, current)  # bad input: a 400 before anything

    def attempt(stale: store.Stale | None) -> SubscriptionSpec:
        nonlocal current
        if stale is not None:
            current = _subscription_or_404(agenda.slug, ident)
        new = read_subscription(Payload(dict(body.data)), agenda.slug, current)
        read = subscription_items.user_periods(current.user_external_id, agenda.slug)
        overlapping = read.overlapping(new.date_start, new.date_end, other_than=current.id)
        if overlapping:
            raise _overlap_refusal(overlapping)
        changed = replace(new, version=current.version + 1)
        subscription_items.update(current, new, read, answer=changed)
        return changed

    return until_written(attempt)


def delete_subscription(agenda_slug: str, ident: str, now: datetime, tz: ZoneInfo, orig: str | None) -> dict[str, Any]:
    """`DELETE /api/agenda/<agenda>/subscription/<id>/`: the subscription ends, the user's bookings of the
    agenda on its events from then on to its end are cancelled as an agent cancels them (each booking's
    cancel callback), then it is deleted. Answer `{"cancelled_bookings": n}`."""
    agenda = events_agenda_or_404(agenda_slug)
    current = _subscription_or_404(agenda.slug, ident, ending=True)

    def end(stale: store.Stale | None) -> SubscriptionSpec:
        nonlocal current
        if stale is not None:
            current = _subscription_or_404(agenda.slug, ident, ending=True)
        if not current.ending:
            subscription_items.end(current, subscription_items.user_periods(current.user_external_id, agenda.slug))
        return current

    current = until_written(end)
    start, stop = current.span(tz)
    cancelled = 0
    for leg in _live_legs(agenda, current.user_external_id, max(start, now), stop):
        if agent.cancel_leg(leg.booking_id, leg.leg, now, orig):
            cancelled += 1
    answer = {'cancelled_bookings': cancelled}
    try:
        subscription_items.drop(current, answer=answer)
    except subscription_items.SubscriptionsChanged:  # a DELETE run at the same time deleted it first
        raise NotFound('unknown subscription', f'subscription {ident[:SHOWN]} was deleted meanwhile') from None
    return answer


def _live_legs(agenda: AgendaSpec, user: str, start: datetime, end: datetime) -> list[Leg]:
    """The user's live bookings of the agenda's events starting in [start, end), none missed (the user's
    count items complete the user index)."""
    if start >= end:
        return []
    events = billing_records.period_events(agenda.slug, start, end)
    legs = billing_records.user_event_legs(user, events, start, end) if events else {}
    return sorted(
        (leg for found in legs.values() for leg in found if not leg.cancelled),
        key=lambda leg: (leg.start, leg.booking_id),
    )


# ---- subscribed= on the multi-agenda routes ----------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The agendas a multi-agenda call covers and, with `subscribed=`, the user's periods on each (only
    events starting within them are listed or booked); `versions` are what a booking relies on."""

    agendas: list[AgendaSpec]
    periods: dict[str, list[tuple[datetime, datetime]]] | None = None  # None: every event
    versions: tuple[tuple[str, int], ...] = ()

    def admits(self, record: EventRecord) -> bool:
        return self.admits_at(record.agenda, record.spec.start)

    def admits_at(self, agenda: str, moment: datetime) -> bool:
        if self.periods is None:
            return True
        return any(start <= moment < end for start, end in self.periods.get(agenda, ()))

    def admits_span(self, agenda: str, start: datetime, end: datetime | None) -> bool:
        """A recurring event's rule (from `start`, to `end`) shares time with a period of the agenda."""
        if self.periods is None:
            return True
        return any((end is None or s < end) and e > start for s, e in self.periods.get(agenda, ()))


def subscribed_scope(query: Payload, tz: ZoneInfo, user: str | None = None) -> Scope:
    """`subscribed=all` or `subscribed=<category>,...` with the user (`user_external_id` of the query, or
    `user` given by the caller: the body's of a fillslots): the events agendas the user is subscribed to
    (of those categories), each with the periods of the subscriptions, read consistently."""
    categories = query.list('subscribed', required=True) or []
    if 'subscribed' not in query.errors and not categories:
        query.error('subscribed', 'This field is required.')
    asked = query.str('user_external_id', max_length=MAX_USER_ID)
    if user is not None and asked is not None and asked != user:
        query.error('user_external_id', 'Not the user of the body.')
    user = user or asked
    if user is None and 'user_external_id' not in query.errors:
        query.error('user_external_id', 'Required with subscribed.')
    if categories and categories != ['all'] and ('all' in categories or not all(SLUG_RE.match(c) for c in categories)):
        query.error('subscribed', '"all" or category slugs.')
    query.check()
    assert user is not None
    found: list[tuple[AgendaSpec, UserPeriods]] = []
    for read in subscription_items.user_agendas(user):
        agenda = store.get_agenda(read.agenda) if read.periods else None
        if agenda is None or agenda.kind != 'events':
            continue
        if categories != ['all'] and agenda.category not in categories:
            continue
        found.append((agenda, read))
    found.sort(key=lambda pair: pair[0].slug)
    return Scope(
        agendas=[agenda for agenda, _ in found],
        periods={agenda.slug: read.spans(tz) for agenda, read in found},
        versions=tuple((agenda.slug, read.version or 0) for agenda, read in found),
    )


def check_no_agendas_with_subscribed(query: Payload) -> None:
    if 'subscribed' in query and 'agendas' in query:
        raise InvalidPayload({'subscribed': ['Give either agendas or subscribed, not both.']})


# ---- import and export (services/transfer.py) ------------------------------------------------------------


def export_agenda(agenda: str) -> list[dict[str, Any]]:
    """The agenda's subscriptions as an export lists them (by start; those being deleted left out)."""
    found = [s for s in subscription_items.agenda_subscriptions(agenda) if not s.ending]
    return [s.export() for s in sorted(found, key=lambda s: (s.date_start, s.id))]


def plan_import(raw_agendas: Any, agendas: list[AgendaSpec]) -> list[tuple[str, SubscriptionSpec]]:
    """The subscriptions an import document lists (`agendas.<i>.subscriptions`, as an export writes them),
    checked before anything is written: each readable, none overlapping another of the same user on the
    same agenda, in the document or stored (a stored one the document lists by its `id` is replaced),
    an `id` never another user's. An agenda without the key keeps its subscriptions; the listed ones are
    added or replaced, none is deleted (deleting cancels bookings: DELETE does that)."""
    errors: dict[str, list[str]] = {}
    found: list[tuple[str, SubscriptionSpec]] = []
    for index, (item, agenda) in enumerate(zip(raw_agendas or [], agendas, strict=False)):
        raw = item.get('subscriptions') if isinstance(item, dict) else None
        if raw is None:
            continue
        where = f'agendas.{index}.subscriptions'
        if not isinstance(raw, list):
            errors[where] = ['Expected a list of subscriptions.']
            continue
        if raw and agenda.kind != 'events':
            errors[where] = ['Only events agendas have subscriptions.']
            continue
        for position, value in enumerate(raw):
            path = f'{where}.{position}'
            if not isinstance(value, dict):
                errors[path] = ['Expected an object.']
                continue
            data = dict(value)
            ident = data.pop('id', None)
            if ident is not None and (isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident < 2**53):
                errors[f'{path}.id'] = ['A positive integer (a subscription id).']
                continue
            try:
                spec = read_subscription(Payload(data), agenda.slug)
            except InvalidPayload as exc:
                errors.update({f'{path}.{name}': messages for name, messages in (exc.errors or {}).items()})
                continue
            found.append((path, replace(spec, id=ident)))
    groups: dict[tuple[str, str], list[tuple[str, SubscriptionSpec]]] = {}
    for path, spec in found:
        groups.setdefault((spec.agenda, spec.user_external_id), []).append((path, spec))
    for (agenda_slug, user), listed in groups.items():
        read = subscription_items.user_periods(user, agenda_slug)
        replaced = {spec.id for _, spec in listed if spec.id is not None}
        stored = UserPeriods(
            user, agenda_slug, read.version, {k: v for k, v in read.periods.items() if k not in replaced}
        )
        others = {s.id: s for s in subscription_items.subscriptions_by_id(agenda_slug, replaced)}
        for number, (path, spec) in enumerate(listed):
            other = others.get(spec.id)
            if other is not None and other.user_external_id != user:
                errors[f'{path}.id'] = [f"Subscription {spec.id} is another user's."]
            clash = stored.overlapping(spec.date_start, spec.date_end) + [
                later.id or 0
                for _, later in listed[number + 1 :]
                if later.date_start < spec.date_end and later.date_end > spec.date_start
            ]
            if clash:
                errors[path] = ['Overlaps another subscription of this user to this agenda.']
    if errors:
        raise InvalidPayload(errors)
    return found


def apply_import(planned: list[tuple[str, SubscriptionSpec]]) -> int:
    """Write the subscriptions an import listed (after its agendas); one that is as stored is left.
    Returns how many were written. A change meanwhile that makes one overlap refuses it (400): the
    import's agendas are written, run it again."""
    written = 0
    for _, spec in planned:

        def attempt(stale: store.Stale | None, spec: SubscriptionSpec = spec) -> int:
            current = subscription_items.get_subscription(spec.agenda, spec.id) if spec.id is not None else None
            read = subscription_items.user_periods(spec.user_external_id, spec.agenda)
            overlapping = read.overlapping(spec.date_start, spec.date_end, other_than=spec.id)
            if overlapping:
                raise _overlap_refusal(overlapping)
            if current is None:
                subscription_items.create(spec, read, ident=spec.id)
                return 1
            if current.ending or replace(current, version=0) == replace(spec, version=0):
                return 0
            subscription_items.update(current, replace(spec, id=current.id), read)
            return 1

        written += until_written(attempt)
    return written
