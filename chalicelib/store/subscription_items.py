"""Subscriptions in the table (docs/table-design.md): the subscription items of an agenda
(`SUBSCRIPTIONS#<agenda>`), and per user the periods of their subscriptions to each agenda
(`SUBSCRIBER#<user>`), every write of one conditioned on the version of the other as read: two
overlapping subscriptions of one user to one agenda cannot both be written, and a booking that relied
on a subscription (`subscribed=`) is refused when it changed meanwhile (booking_writes.book_each)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from chalicelib.domain.subscription_rules import SubscriptionSpec, UserPeriods
from chalicelib.store.booking_writes import new_booking_id
from chalicelib.store.idempotency_records import commit
from chalicelib.store.models import (
    SUBSCRIPTION_PREFIX,
    Subscription,
    UserSubscriptions,
    subscriber_pk,
    subscriptions_pk,
)
from chalicelib.store.tables import Tag, Transaction, _bind
from chalicelib.store.transaction_parts import Stale


class SubscriptionsChanged(Stale):
    """The user's subscriptions to the agenda, or the subscription itself, changed since the read."""


def _sk(ident: int) -> str:
    return f'{SUBSCRIPTION_PREFIX}{ident:016d}'


def _spec(item: Subscription) -> SubscriptionSpec:
    return SubscriptionSpec(
        agenda=item.agenda,
        user_external_id=item.user_external_id,
        date_start=date.fromisoformat(item.date_start),
        date_end=date.fromisoformat(item.date_end),
        user_first_name=item.user_first_name,
        user_last_name=item.user_last_name,
        user_email=item.user_email,
        user_phone_number=item.user_phone_number,
        extra_data=item.extra_data,
        id=int(item.subscription_id),
        version=int(item.version or 0),
        ending=bool(item.ending),
    )


def _periods(user: str, agenda: str, item: UserSubscriptions | None) -> UserPeriods:
    if item is None:
        return UserPeriods(user, agenda, None, {})
    periods = {
        int(ident): (date.fromisoformat(start), date.fromisoformat(end))
        for ident, (start, end) in (item.periods or {}).items()
    }
    return UserPeriods(user, agenda, int(item.version or 0), periods)


# ---- reads (all consistent) ----------------------------------------------------------------------------


def get_subscription(agenda: str, ident: int) -> SubscriptionSpec | None:
    _bind()
    try:
        return _spec(Subscription.get(subscriptions_pk(agenda), _sk(ident), consistent_read=True))
    except Subscription.DoesNotExist:
        return None


def agenda_subscriptions(agenda: str) -> list[SubscriptionSpec]:
    """Every subscription to the agenda (one Query of its partition)."""
    _bind()
    items = Subscription.query(
        subscriptions_pk(agenda), Subscription.sk.startswith(SUBSCRIPTION_PREFIX), consistent_read=True
    )
    return [_spec(item) for item in items if isinstance(item, Subscription)]


def subscriptions_by_id(agenda: str, idents: Iterable[int]) -> list[SubscriptionSpec]:
    _bind()
    keys = [(subscriptions_pk(agenda), _sk(ident)) for ident in sorted(set(idents))]
    return [_spec(item) for item in Subscription.batch_get(keys, consistent_read=True)] if keys else []


def user_periods(user: str, agenda: str) -> UserPeriods:
    _bind()
    try:
        item = UserSubscriptions.get(subscriber_pk(user), agenda, consistent_read=True)
    except UserSubscriptions.DoesNotExist:
        item = None
    return _periods(user, agenda, item)


def user_agendas(user: str) -> list[UserPeriods]:
    """The user's periods on every agenda they ever subscribed to (one Query of the user's partition)."""
    _bind()
    return [
        _periods(user, item.sk, item)
        for item in UserSubscriptions.query(subscriber_pk(user), consistent_read=True)
        if isinstance(item, UserSubscriptions)
    ]


# ---- writes ----------------------------------------------------------------------------------------------


def _guard(tx: Transaction, read: UserPeriods, periods: dict[int, tuple[date, date]]) -> None:
    """The user's periods on the agenda set from what was read, only while they are as read."""
    item = UserSubscriptions(subscriber_pk(read.user), read.agenda)
    condition = (
        UserSubscriptions.pk.does_not_exist() if read.version is None else UserSubscriptions.version == read.version
    )
    tx.update(
        item,
        [
            UserSubscriptions.periods.set({str(k): [s.isoformat(), e.isoformat()] for k, (s, e) in periods.items()}),
            UserSubscriptions.version.set((read.version or 0) + 1),
            UserSubscriptions.item_type.set(UserSubscriptions),
        ],
        condition=condition,
        tag=Tag('user_subscriptions', read.agenda),
    )


def _item(spec: SubscriptionSpec, ident: int, version: int) -> Subscription:
    return Subscription(
        subscriptions_pk(spec.agenda),
        _sk(ident),
        subscription_id=ident,
        agenda=spec.agenda,
        user_external_id=spec.user_external_id,
        user_first_name=spec.user_first_name,
        user_last_name=spec.user_last_name,
        user_email=spec.user_email,
        user_phone_number=spec.user_phone_number,
        date_start=spec.date_start.isoformat(),
        date_end=spec.date_end.isoformat(),
        extra_data=spec.extra_data,
        version=version,
    )


def _run(tx: Transaction, answer: Any) -> None:
    if commit(tx, answer):
        raise SubscriptionsChanged()


def create(spec: SubscriptionSpec, read: UserPeriods, answer_of: Any = None, ident: int | None = None) -> int:
    """Write a new subscription (a new id, or `ident` when it is free) and its period, while the user's
    periods are as `read`; SubscriptionsChanged otherwise (or when `ident` is taken). `answer_of(id)`:
    the call's answer (an idempotent call). Returns its id."""
    _bind()
    for _ in range(5):
        new = ident if ident is not None else new_booking_id()
        tx = Transaction()
        tx.put(_item(spec, new, 1), condition=Subscription.pk.does_not_exist(), tag=Tag('subscription'))
        _guard(tx, read, read.with_period(new, spec.date_start, spec.date_end))
        failures = commit(tx, answer_of(new) if answer_of else None)
        if not failures:
            return new
        if ident is not None or any(tag.kind == 'user_subscriptions' for tag, _ in failures):
            raise SubscriptionsChanged()
        # Only the id was taken (another subscription drew it): draw again.
    raise SubscriptionsChanged()


def update(current: SubscriptionSpec, new: SubscriptionSpec, read: UserPeriods, answer: Any = None) -> None:
    """Replace a subscription that is as read (its version), and its period, while the user's periods
    are as `read`."""
    _bind()
    tx = Transaction()
    tx.put(
        _item(new, current.stored_id, current.version + 1),
        condition=(Subscription.version == current.version) & Subscription.ending.does_not_exist(),
        tag=Tag('subscription'),
    )
    _guard(tx, read, read.with_period(current.stored_id, new.date_start, new.date_end))
    _run(tx, answer)


def end(current: SubscriptionSpec, read: UserPeriods) -> None:
    """The first step of a deletion: the subscription leaves the user's periods (bookings through
    `subscribed=` can no longer rely on it) and is marked `ending` while its bookings are cancelled."""
    _bind()
    tx = Transaction()
    tx.update(
        Subscription(subscriptions_pk(current.agenda), _sk(current.stored_id)),
        [Subscription.ending.set(True), Subscription.version.add(1)],
        condition=Subscription.version == current.version,
        tag=Tag('subscription'),
    )
    _guard(tx, read, read.without(current.stored_id))
    _run(tx, None)


def drop(current: SubscriptionSpec, answer: Any = None) -> None:
    """The last step of a deletion: the `ending` subscription is deleted."""
    _bind()
    tx = Transaction()
    tx.delete(
        Subscription(subscriptions_pk(current.agenda), _sk(current.stored_id)),
        condition=Subscription.ending == True,  # noqa: E712 - a pynamodb condition
        tag=Tag('subscription'),
    )
    _run(tx, answer)
