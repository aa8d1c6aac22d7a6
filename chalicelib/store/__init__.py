"""The repository: the only package that talks to DynamoDB (docs/table-design.md).

It turns pynamodb items into the domain's dataclasses and back, and it owns every condition: a write
that a capacity or consistency rule guards carries its condition here, next to the write. `models`
declares the table, `tables` binds it and runs transactions, `configuration` holds agendas and
events, `closure_calendars` the unavailability calendars, `legs` reads bookings, `booking_writes`
writes them with the place counters they move (from the parts of `transaction_parts`), `hold_writes` lock
codes' holds, `leg_changes` a booking's lifecycle, `outbox` the callbacks to send,
`idempotency_records` the answers of idempotent calls, `decision_cache` what a warm process decides an
events fillslot from.
"""

from chalicelib.store.booking_writes import book, book_each, follow_event
from chalicelib.store.closure_calendars import (
    LoadedCalendar,
    calendar_closures,
    existing_calendars,
    list_calendars,
    load_calendar,
    plan_calendar,
)
from chalicelib.store.configuration import (
    LoadedAgenda,
    Operation,
    apply_operations,
    create_event,
    delete_event,
    get_agenda,
    get_event,
    list_agendas,
    list_events,
    list_primaries,
    list_resources,
    load_agenda,
    mark_event,
    occurrences,
    plan_agenda,
    plan_desk_sources,
    plan_events,
    plan_resources,
    update_event,
)
from chalicelib.store.hold_writes import hold, release_holds
from chalicelib.store.leg_changes import (
    advance_retention,
    anonymize,
    cancel,
    move,
    promote,
    resize,
    update_event_promoting,
    update_legs,
)
from chalicelib.store.legs import (
    BookingSnapshot,
    MeetingSnapshot,
    UserDays,
    booking_ids_starting,
    cached_for_booking,
    event_legs,
    events_between,
    get_events,
    get_hold,
    get_legs,
    legs_by_key,
    live_event_legs,
    meeting_legs,
    read_for_booking,
    read_for_meeting,
    resource_uses,
    retention_mark,
    user_legs,
    user_meeting_days,
    user_meetings,
    waiting_legs,
)
from chalicelib.store.tables import (
    NONCE_TTL,
    Refused,
    claim_nonce,
    connection,
    create_table,
    reset,
    warm,
    with_transaction,
)
from chalicelib.store.transaction_parts import (
    AgendaChanged,
    AlreadyBookedByUser,
    BookingChanged,
    DeskTaken,
    EventsChanged,
    HoldChanged,
    PromotionTooLarge,
    ResourceTaken,
    Stale,
    UserMeetingsChanged,
)
