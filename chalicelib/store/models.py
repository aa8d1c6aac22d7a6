"""The single DynamoDB table, declared as pynamodb models (docs/table-design.md).

One table, generic keys. An agenda and all its configuration share the partition
`AGENDA#<slug>`: one Query with `begins_with(sk, "cfg#")` loads an agenda with its meeting
types, desks, opening hours, closures; events sit beside them under `event#`, so a large
events agenda never slows down loading its configuration. Bookings have their own
partitions (`BOOKING#<id>`) so that concurrent bookings never contend on one item except
the counters of the event they book.

Only the store package imports this module (tests/unit/test_layers.py keeps it so).
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

_T = TypeVar('_T')


def _list_of(of: type[Attribute[_T]], null: bool = False) -> ListAttribute[_T]:
    """A list whose elements `of` reads: pynamodb's stubs type a ListAttribute's elements as `of` itself
    (list[UnicodeAttribute]) where it reads them as what `of` does (list[str])."""
    return ListAttribute(of=of, null=null)  # type: ignore[arg-type]  # the stubs' element type, as above


AGENDAS_PARTITION = 'AGENDAS'
RESOURCES_PARTITION = 'RESOURCES'
CALENDARS_PARTITION = 'CALENDARS'
CONFIG_PREFIX = 'cfg#'
EVENT_PREFIX = 'event#'


AGENDA_PREFIX = 'AGENDA#'


def agenda_pk(slug: str) -> str:
    return f'{AGENDA_PREFIX}{slug}'


def calendar_pk(slug: str) -> str:
    return f'CALENDAR#{slug}'


LEG_PREFIX = 'leg#'


def booking_pk(booking_id: int) -> str:
    return f'BOOKING#{booking_id}'


def leg_sk(leg: int) -> str:
    return f'{LEG_PREFIX}{leg:03d}'


def event_bookings_key(agenda: str, event: str) -> str:
    return f'EVENT#{agenda}#{event}'


def user_key(user_external_id: str) -> str:
    return f'USER#{user_external_id}'


def user_event_pk(agenda: str, event: str, user_external_id: str) -> str:
    return f'USEREVENT#{agenda}#{event}#{user_external_id}'


def user_meetings_pk(user_external_id: str) -> str:
    return f'USERMEETINGS#{user_external_id}'


def callback_pk(booking_id: int) -> str:
    return f'CALLBACK#{booking_id}'


def meeting_bookings_key(agenda: str) -> str:
    return f'MEETINGS#{agenda}'


LOCK_SK = 'lock'


def desk_lock_pk(agenda: str, desk: str, cell: str) -> str:
    return f'LOCK#DESK#{agenda}#{desk}#{cell}'


def resource_lock_pk(resource: str, cell: str) -> str:
    return f'LOCK#RESOURCE#{resource}#{cell}'


def resource_uses_key(resource: str) -> str:
    return f'RESOURCE#{resource}'


class ByGsi1(GlobalSecondaryIndex):
    """Agenda listing (`AGENDAS`) and bookings of a user (`USER#<id>`, by start time)."""

    class Meta:
        index_name = 'gsi1'
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ByGsi2(GlobalSecondaryIndex):
    """Bookings of an event (`EVENT#...`), meeting bookings of an agenda by start time (`MEETINGS#<agenda>`),
    a resource's bookings (`RESOURCE#<slug>`)."""

    class Meta:
        index_name = 'gsi2'
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


RECURRING_PREFIX = 'recurring#'
# What a listing of events reads besides its keys (the start is the index's sort key, the slug in `sk`).
LISTED_EVENT_ATTRIBUTES = [
    'label',
    'duration',
    'places',
    'waiting_list_places',
    'reserved',
    'waiting_list_reserved',
    'cancelled',
    'checked',
    'check_locked',
    'invoiced',
    'holds',
    'publication_datetime',
    'description',
    'pricing',
    'url',
    'primary_event',
    'recurrence_days',
    'recurrence_week_interval',
    'recurrence_end_date',
]


class ByGsi3(GlobalSecondaryIndex):
    """The listings' index of events: partition `gsi3pk`, the agenda's slug (`recurring#<slug>` for the
    primaries of its recurring events, listed apart), sorted by `start`; only what a listing reads is
    projected. Only events carry `gsi3pk`: bookings and closures, which have a `start` too, stay out."""

    class Meta:
        index_name = 'gsi3'
        projection = IncludeProjection(LISTED_EVENT_ATTRIBUTES)

    gsi3pk = UnicodeAttribute(hash_key=True)
    start = UTCDateTimeAttribute(range_key=True)


class TableItem(Model):
    class Meta:
        table_name = os.environ.get('CHRONO_TABLE') or 'chrono'
        billing_mode = 'PAY_PER_REQUEST'

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    item_type = DiscriminatorAttribute(attr_name='type')
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_gsi1 = ByGsi1()
    by_gsi2 = ByGsi2()


class Agenda(TableItem, discriminator='agenda'):
    """pk AGENDA#<slug>, sk cfg#agenda; gsi1 AGENDAS/<slug> lists every agenda."""

    slug = UnicodeAttribute()
    label = UnicodeAttribute()
    kind = UnicodeAttribute()  # events | meetings | virtual
    category = UnicodeAttribute(null=True)
    category_label = UnicodeAttribute(null=True)
    minimal_booking_delay = NumberAttribute(null=True)
    minimal_booking_delay_in_working_days = BooleanAttribute(default=False)
    maximal_booking_delay = NumberAttribute(null=True)
    minimal_booking_time = UnicodeAttribute(null=True)  # HH:MM:SS
    minimal_cancellation_delay = NumberAttribute(null=True)
    minimal_cancellation_delay_in_working_days = BooleanAttribute(default=False)
    anonymize_delay = NumberAttribute(null=True)
    admin_role = UnicodeAttribute(null=True)
    edit_role = UnicodeAttribute(null=True)
    view_role = UnicodeAttribute(null=True)
    events_type = UnicodeAttribute(null=True)
    booking_form_url = UnicodeAttribute(null=True)
    partial_bookings = BooleanAttribute(default=False)
    free_range = BooleanAttribute(default=False)
    absence_reasons = JSONAttribute(null=True)  # [{"slug", "label"}]
    resources = _list_of(UnicodeAttribute, null=True)  # resource slugs (meetings)
    real_agendas = _list_of(UnicodeAttribute, null=True)  # virtual agendas
    excluded_timeperiods = JSONAttribute(null=True)  # virtual: [{"weekday", "start_time", "end_time"}]
    past_lock_steps = _list_of(NumberAttribute, null=True)  # meetings: earlier lock grids (seconds)
    reminder_settings = JSONAttribute(null=True)  # domain/reminder_rules.py ReminderSettings.export()
    waiting_list_promotion = UnicodeAttribute(null=True)  # absent: manual; 'automatic' (domain/promotion_rules.py)
    # A new random value at every write of this item (configuration._agenda_item): a fillslot decided from a
    # cached copy of the agenda holds only while it is the value cached (store/decision_cache.py). Absent on
    # items written before it existed.
    version = NumberAttribute(null=True)


class Event(TableItem, discriminator='event'):
    """pk AGENDA#<agenda>, sk event#<slug>; gsi3 <agenda>/<start> (`recurring#<agenda>` for a recurring
    primary), the listings' index.

    `reserved` and `waiting_list_reserved` are the place counters: every booking changes
    them in the same transaction that writes the booking, under a condition on them.

    Lean, so that a Query's megabyte holds 5,000 of them (DynamoDB Local pages an index's Query on the
    table's items): the agenda and slug are read from the keys, and a flag is stored once set.
    """

    agenda = UnicodeAttribute(null=True)  # not written any more: the agenda is in pk
    slug = UnicodeAttribute(null=True)  # not written any more: the slug is in sk
    label = UnicodeAttribute(null=True)
    start = UTCDateTimeAttribute()
    duration = NumberAttribute(null=True)  # minutes
    places = NumberAttribute()
    waiting_list_places = NumberAttribute(default=0)
    reserved = NumberAttribute(default=0)
    waiting_list_reserved = NumberAttribute(default=0)
    publication_datetime = UTCDateTimeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    pricing = UnicodeAttribute(null=True)
    url = UnicodeAttribute(null=True)
    cancelled = BooleanAttribute(default=False)  # always stored: the booking conditions read it
    checked = BooleanAttribute(null=True)
    check_locked = BooleanAttribute(null=True)
    invoiced = BooleanAttribute(null=True)
    recurrence_days = _list_of(NumberAttribute, null=True)
    recurrence_week_interval = NumberAttribute(null=True)
    recurrence_end_date = UnicodeAttribute(null=True)  # YYYY-MM-DD
    primary_event = UnicodeAttribute(null=True)
    custom_fields = JSONAttribute(null=True)
    # Moved on by every booking write that changes the counters: equal before and after a read of the
    # event's bookings (an eventually consistent index), nothing changed them in between.
    counters_version = NumberAttribute(null=True)
    # Places held by lock codes (spec §9.9), counted in the counters above until released:
    # {<lock code digest>: {"count", "waiting" (the list), "until" (epoch seconds)}}. Readers count a hold
    # past its `until` as free; a writer that needs its places releases it (REMOVE, conditioned on
    # its `until` as read) in the transaction that takes them.
    holds: MapAttribute[str, Any] = MapAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    by_gsi3 = ByGsi3()


class MeetingType(TableItem, discriminator='meetingtype'):
    """pk AGENDA#<agenda>, sk cfg#meetingtype#<slug>."""

    agenda = UnicodeAttribute()
    slug = UnicodeAttribute()
    label = UnicodeAttribute()
    duration = NumberAttribute()  # minutes
    position = NumberAttribute(default=0)


class Desk(TableItem, discriminator='desk'):
    """pk AGENDA#<agenda>, sk cfg#desk#<slug>; `position` is the desk order used by fillslot."""

    agenda = UnicodeAttribute()
    slug = UnicodeAttribute()
    label = UnicodeAttribute()
    position = NumberAttribute(default=0)
    unavailability_calendars = _list_of(UnicodeAttribute, null=True)  # slugs (UnavailabilityCalendar)
    # [{"ics_filename", "ics_file_zlib" (the ICS text, zlib then base64), "ics_url", "enabled", and for a
    # fetched source "last_fetch", "last_attempt" (UTC, ISO 8601), "last_error"}]
    exceptions_sources = JSONAttribute(null=True)


class TimePeriod(TableItem, discriminator='timeperiod'):
    """pk AGENDA#<agenda>, sk cfg#desk#<desk>#period#<position>: opening hours of a desk.

    Weekly (`weekday`, optionally only some `weekday_indexes` of the month: 1 = first) or
    on a single `date`.
    """

    agenda = UnicodeAttribute()
    desk = UnicodeAttribute()
    position = NumberAttribute()
    weekday = NumberAttribute(null=True)  # 0 = Monday
    weekday_indexes = _list_of(NumberAttribute, null=True)
    date = UnicodeAttribute(null=True)  # YYYY-MM-DD
    start_time = UnicodeAttribute()  # HH:MM:SS
    end_time = UnicodeAttribute()


class TimePeriodException(TableItem, discriminator='exception'):
    """pk AGENDA#<agenda>, sk cfg#desk#<desk>#exception#<start utc>#<position>: a closure.

    `source`: the position, in the desk's `exceptions_sources`, of the ICS file it was read
    from at import time; absent for a closure entered by hand. The sk of such a closure ends
    with `s<source>-<position among that file's closures with the same start>`."""

    agenda = UnicodeAttribute()
    desk = UnicodeAttribute()
    position = NumberAttribute()
    label = UnicodeAttribute(null=True)
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    source = NumberAttribute(null=True)


class UnavailabilityCalendar(TableItem, discriminator='unavailability_calendar'):
    """pk CALENDAR#<slug>, sk cfg#calendar; gsi1 CALENDARS/<slug> lists every calendar. Its closures
    sit beside it (CalendarException): desks name it by slug (Desk.unavailability_calendars).
    `version` moves on with every write, each conditioned on the version it read."""

    slug = UnicodeAttribute()
    label = UnicodeAttribute()
    view_role = UnicodeAttribute(null=True)
    edit_role = UnicodeAttribute(null=True)
    # As a desk's: [{"ics_filename", "ics_file_zlib", "ics_url", "enabled", "last_fetch", "last_attempt", "last_error"}]
    exceptions_sources = JSONAttribute(null=True)
    version = NumberAttribute(default=0)


class CalendarException(TableItem, discriminator='calendar_exception'):
    """pk CALENDAR#<calendar>, sk cfg#exception#<start utc>#<position>: a closure of an unavailability
    calendar, numbered as a desk's (TimePeriodException). One Query `begins_with(sk, "cfg#exception#")`
    reads a calendar's closures without its (large) calendar item."""

    position = NumberAttribute()
    label = UnicodeAttribute(null=True)
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    source = NumberAttribute(null=True)


class Resource(TableItem, discriminator='resource'):
    """pk RESOURCES, sk <slug>: shared by every meetings agenda that lists it."""

    slug = UnicodeAttribute()
    label = UnicodeAttribute()
    description = UnicodeAttribute(null=True)


class Booking(TableItem, discriminator='booking'):
    """One leg of a booking: pk BOOKING#<id>, sk leg#<nnn>.

    A booking is one partition; its legs are the events it holds (one for a plain fillslot,
    several for a `fillslots` group, leg#000 being the primary). A leg of `count` places is
    one item; the places are counted on the event in the same transaction.
    gsi1 USER#<user>/<start utc>#<id>#<leg>: bookings of a user by date;
    gsi2 EVENT#<agenda>#<event>/<id>#<leg>: bookings of an event, or, for a meeting,
    MEETINGS#<agenda>/<start utc>#<id>#<leg>: the meetings of an agenda by date (every desk).
    A meeting leg holds its desk time with Lock items, cut on `lock_step` seconds.
    """

    booking_id = NumberAttribute()
    leg = NumberAttribute(default=0)
    legs = NumberAttribute(default=1)
    agenda = UnicodeAttribute()
    event = UnicodeAttribute(null=True)
    # Hides Model.count() (a Query's count), which no code calls on this item type: the stored name stays.
    count = NumberAttribute(default=1)  # type: ignore[assignment]
    in_waiting_list = BooleanAttribute(default=False)
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute(null=True)
    desk = UnicodeAttribute(null=True)
    meeting_type = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    cancelled_at = UTCDateTimeAttribute(null=True)
    anonymized_at = UTCDateTimeAttribute(null=True)
    label = UnicodeAttribute(null=True)
    user_display_label = UnicodeAttribute(null=True)
    user_name = UnicodeAttribute(null=True)
    user_first_name = UnicodeAttribute(null=True)
    user_last_name = UnicodeAttribute(null=True)
    user_email = UnicodeAttribute(null=True)
    user_phone_number = UnicodeAttribute(null=True)
    user_external_id = UnicodeAttribute(null=True)
    extra_emails = _list_of(UnicodeAttribute, null=True)
    extra_phone_numbers = _list_of(UnicodeAttribute, null=True)
    backoffice_url = UnicodeAttribute(null=True)
    form_url = UnicodeAttribute(null=True)
    cancel_callback_url = UnicodeAttribute(null=True)
    presence_callback_url = UnicodeAttribute(null=True)
    absence_callback_url = UnicodeAttribute(null=True)
    sms_counter = UnicodeAttribute(null=True)
    color = UnicodeAttribute(null=True)  # use_color_for (meetings)
    lock_step = NumberAttribute(null=True)  # seconds: the cells of its Lock items (meetings)
    resources = _list_of(UnicodeAttribute, null=True)  # resource slugs booked with the meeting
    extra_data = JSONAttribute(null=True)
    user_was_present = BooleanAttribute(null=True)
    user_absence_reason = UnicodeAttribute(null=True)
    user_check_type_slug = UnicodeAttribute(null=True)
    user_check_type_label = UnicodeAttribute(null=True)
    client = UnicodeAttribute(null=True)  # who booked (`basic:<user>`, `signature:<orig>`): owns its callbacks
    # Partial bookings (HH:MM): the hours booked inside the event, the real arrival and departure.
    start_time = UnicodeAttribute(null=True)
    end_time = UnicodeAttribute(null=True)
    check_start_time = UnicodeAttribute(null=True)
    check_end_time = UnicodeAttribute(null=True)
    # Moved on by every write to the leg (store/bookings.py `_write_leg`), each conditioned on the version
    # it read: a decision taken on a leg (its count, list, state, user) never lands on a leg changed since.
    version = NumberAttribute(null=True)
    # The kinds of the reminders written with the leg (CALLBACK#<id>, <kind>#<leg>): its cancel deletes them.
    reminders = _list_of(UnicodeAttribute, null=True)
    promoted_at = UTCDateTimeAttribute(null=True)  # moved off the waiting list by an automatic promotion


class UserEventBookings(TableItem, discriminator='user_event'):
    """pk USEREVENT#<agenda>#<event>#<user>, sk count: how many live bookings a user holds on an
    event. Every booking with a `user_external_id` changes it in its transaction, so that
    `exclude_user` is a condition (two parallel requests of one user cannot both pass)."""

    bookings = NumberAttribute(default=0)


class UserMeetings(TableItem, discriminator='user_meetings'):
    """pk USERMEETINGS#<user>, sk <UTC day YYYY-MM-DD>: the user's live meetings that touch that day,
    in any agenda (`spans`, each `<start utc>|<end utc>|<booking id>#<leg>`). A meeting booking of
    the user sets the day's spans under a condition on the `version` it read, and a cancel removes
    its own and moves `version` on: `exclude_user` is decided on a consistent read and holds until
    the write (two parallel bookings of one user on two desks cannot both pass). TTL after the day."""

    spans = UnicodeSetAttribute(null=True)
    version = NumberAttribute(default=0)


class Lock(TableItem, discriminator='lock'):
    """pk LOCK#DESK#<agenda>#<desk>#<cell start utc> (or LOCK#RESOURCE#<resource>#<cell>), sk lock:
    one cell of a desk's (a resource's) time held by a meeting leg. Put with `attribute_not_exists`
    in the booking transaction, so that two bookings overlapping on a desk (a resource) cannot both
    be written; deleted when the booking is cancelled. A cell held by a lock code (`hold`, until
    `held_until`; booking_id 0) is free again for every writer once `held_until` has passed."""

    booking_id = NumberAttribute()
    leg = NumberAttribute()
    hold = UnicodeAttribute(null=True)  # the lock code's digest
    held_until = UTCDateTimeAttribute(null=True)


class ResourceUse(TableItem, discriminator='resource_use'):
    """pk BOOKING#<id>, sk res#<leg>#<resource>: a resource booked with a meeting leg, beside it;
    gsi2 RESOURCE#<resource>/<start utc>#<id>#<leg> lists a resource's bookings by date, in every
    agenda. Deleted when the booking is cancelled."""

    booking_id = NumberAttribute()
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()


class Callback(TableItem, discriminator='callback'):
    """pk CALLBACK#<booking id>, sk <kind>#<leg>: a callback to send (the outbox). Put in the
    transaction that makes the change it reports, with `attribute_not_exists`: one per booking,
    kind and leg, so that an interrupted action run again adds none twice. All of a booking's
    callbacks share a partition, read consistently to send them in order.
    gsi1 CALLBACKS#pending/<next_at utc>#<booking>#<sk>: what is due; CALLBACKS#failed/...: parked.
    Messages to people (reminders and promotion notices, domain/reminder_rules.py) are items of the same
    shape with an empty `url`, due in MESSAGES#pending, parked in the same CALLBACKS#failed."""

    booking_id = NumberAttribute()
    kind = UnicodeAttribute()  # cancel | presence | absence | reminder-email | reminder-sms | promotion-...
    leg = NumberAttribute(default=0)
    url = UnicodeAttribute()
    body = JSONAttribute(null=True)
    state = UnicodeAttribute()  # pending | failed | done
    attempts = NumberAttribute(default=0)
    next_at = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    leased_until = UTCDateTimeAttribute(null=True)  # one sender at a time
    orig = UnicodeAttribute(null=True)  # our host as the request that made it saw it (CHRONO_ORIG's default)
    client = UnicodeAttribute(null=True)  # the booking's client: only the hosts it owns are called back
    last_error = UnicodeAttribute(null=True)


class RetentionMark(TableItem, discriminator='retention'):
    """pk AGENDA#<slug>, sk retention: the retention job's progress on an agenda: every booking whose
    legs start before `until` has been looked at (services/retention.py). Updated with a condition
    on the value read, so that two runs never move it back."""

    until = UTCDateTimeAttribute()


def hold_pk(key: str) -> str:
    return f'HOLD#{key}'


HOLD_SK = 'hold'


class Hold(TableItem, discriminator='hold'):
    """pk HOLD#<lock code digest>, sk hold: what a lock code holds (spec §9.9), until `until`: an event's
    places (`events`: [{"agenda", "event", "count", "waiting"}], the entries of the events' `holds`)
    or a meeting's desk time (`meetings`: the legs, whose cells are Lock items marked with the hold).
    One per lock code: a new hold replaces it, a confirmation deletes it, each under a condition on
    `version`. TTL a day after `until` (expiry itself is compared by every reader and writer)."""

    until = UTCDateTimeAttribute()
    version = NumberAttribute(default=1)
    events = JSONAttribute(null=True)
    meetings = JSONAttribute(null=True)
    spans = _list_of(UnicodeAttribute, null=True)  # the sks of its HeldSpan items


class HeldSpan(TableItem, discriminator='held_span'):
    """pk HOLD#<lock code digest>, sk span#<nnn> (a desk's time) or res#<nnn>#<resource>: a meeting time held
    by a lock code, listed beside the bookings it competes with (gsi2 MEETINGS#<agenda> or RESOURCE#<resource>,
    sort key <start utc>#hold#<digest>#<nnn>) so that other callers' datetimes show it taken until `until`."""

    agenda = UnicodeAttribute()
    desk = UnicodeAttribute(null=True)
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    until = UTCDateTimeAttribute()
    hold = UnicodeAttribute()


class Nonce(TableItem, discriminator='nonce'):
    """pk NONCE#<orig>#<nonce>, sk nonce: a used signature nonce, kept past the clock window (TTL)."""


# ---- idempotent retries (design.md §3.5; web/idempotency.py) --------------------------


def idempotency_pk(client: str, key: str) -> str:
    """`client` is `basic:<user>` or `signature:<orig>`; the key holds no `#`, so that no two
    (client, key) pairs share an item."""
    return f'IDEMPOTENCY#{client}#{key}'


class IdempotentRequest(TableItem, discriminator='idempotency'):
    """pk IDEMPOTENCY#<client>#<key>, sk idempotency: a POST sent with `X-Idempotency-Key`.

    Claimed (`running`, `owner`, a lease) before the handler runs, with a condition, so that one
    request of the key runs at a time; then `done` with the answer to replay, until `expires_at`
    (24 hours after the claim; TTL). A lease past its time (a crashed run) may be taken over."""

    fingerprint = UnicodeAttribute()  # sha256 of the route, its path values, the query and the body
    owner = UnicodeAttribute()  # the run that holds the claim
    state = UnicodeAttribute()  # running | done
    leased_until = UTCDateTimeAttribute()
    status = NumberAttribute(null=True)
    headers = JSONAttribute(null=True)
    answer = UnicodeAttribute(null=True)  # the body exactly as it was sent


# ---- subscriptions (spec §2.5; docs/table-design.md) -----------------------------------------------------


def subscriptions_pk(agenda: str) -> str:
    return f'SUBSCRIPTIONS#{agenda}'


def subscriber_pk(user_external_id: str) -> str:
    return f'SUBSCRIBER#{user_external_id}'


SUBSCRIPTION_PREFIX = 'sub#'


class Subscription(TableItem, discriminator='subscription'):
    """pk SUBSCRIPTIONS#<agenda>, sk sub#<id 16 digits>: a user's subscription to an events agenda, from
    `date_start` to `date_end` (excluded). Written with its user's periods item, in one transaction.
    `ending`: being deleted (its bookings being cancelled); `version` moves on with every write."""

    subscription_id = NumberAttribute()
    agenda = UnicodeAttribute()
    user_external_id = UnicodeAttribute()
    user_first_name = UnicodeAttribute(null=True)
    user_last_name = UnicodeAttribute(null=True)
    user_email = UnicodeAttribute(null=True)
    user_phone_number = UnicodeAttribute(null=True)
    date_start = UnicodeAttribute()  # YYYY-MM-DD
    date_end = UnicodeAttribute()  # YYYY-MM-DD, excluded
    extra_data = JSONAttribute(null=True)
    ending = BooleanAttribute(null=True)
    version = NumberAttribute(default=0)


class UserSubscriptions(TableItem, discriminator='user_subscriptions'):
    """pk SUBSCRIBER#<user>, sk <agenda>: the periods of the user's subscriptions to that agenda, read
    consistently (overlaps are refused on it; `subscribed=` lists the user's agendas with one Query of
    the partition). Every subscription write sets it under a condition on `version` and moves that on; a
    booking made through `subscribed=` checks the version it read. Never deleted (a version that started
    again from 0 would let a stale read pass)."""

    periods = JSONAttribute(null=True)  # {"<id>": ["YYYY-MM-DD", "YYYY-MM-DD"]}
    version = NumberAttribute(default=0)


# Every model of the table (tables._bind points them all at the configured table).
MODELS: tuple[type[TableItem], ...] = (
    TableItem,
    Agenda,
    Event,
    MeetingType,
    Desk,
    TimePeriod,
    TimePeriodException,
    UnavailabilityCalendar,
    CalendarException,
    Resource,
    Booking,
    UserEventBookings,
    UserMeetings,
    Lock,
    ResourceUse,
    Callback,
    Hold,
    HeldSpan,
    RetentionMark,
    Nonce,
    IdempotentRequest,
    Subscription,
    UserSubscriptions,
)
