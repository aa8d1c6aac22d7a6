"""The repository: the only package that talks to DynamoDB (docs/table-design.md).

It turns pynamodb items into the domain's dataclasses and back, and it owns every
condition: a write that a capacity or consistency rule guards carries its condition here,
next to the write. `tables` holds the table and transactions, `agendas` the configuration
and events, `bookings` the bookings and their place counters.
"""
from chalicelib.store.agendas import (
    LoadedAgenda,
    Operation,
    apply_operations,
    create_agenda,
    create_event,
    delete_event,
    get_agenda,
    get_event,
    list_agendas,
    list_events,
    list_resources,
    load_agenda,
    mark_event,
    plan_agenda,
    plan_events,
    save_resources,
    update_event,
)
from chalicelib.store.bookings import (
    AlreadyBookedByUser,
    BookingChanged,
    BookingSnapshot,
    DeskTaken,
    EventsChanged,
    ResourceTaken,
    Stale,
    UserDays,
    UserMeetingsChanged,
    book,
    book_each,
    cancel,
    event_legs,
    events_between,
    follow_event,
    get_legs,
    legs_by_key,
    live_event_legs,
    meeting_legs,
    move,
    read_for_booking,
    resource_uses,
    user_legs,
    user_meeting_days,
    user_meetings,
)
from chalicelib.store.bookings import anonymize, get_events, resize, update_legs  # booking changes (spec §8.4, §8.9-8.10)
from chalicelib.store.tables import NONCE_TTL, Refused, claim_nonce, connection, create_table, reset, with_transaction

__all__ = [
    'LoadedAgenda', 'Operation', 'apply_operations', 'create_agenda', 'create_event', 'delete_event', 'get_agenda',
    'get_event', 'list_agendas', 'list_events', 'list_resources', 'load_agenda', 'mark_event', 'plan_agenda',
    'plan_events', 'save_resources', 'update_event', 'AlreadyBookedByUser', 'BookingChanged', 'BookingSnapshot',
    'DeskTaken', 'EventsChanged', 'ResourceTaken', 'Stale', 'UserDays', 'UserMeetingsChanged', 'anonymize', 'book',
    'book_each', 'cancel', 'event_legs', 'events_between', 'follow_event', 'get_events', 'get_legs', 'legs_by_key',
    'live_event_legs', 'meeting_legs', 'move', 'read_for_booking', 'resize', 'resource_uses', 'update_legs',
    'user_legs', 'user_meeting_days', 'user_meetings', 'NONCE_TTL', 'Refused', 'claim_nonce', 'connection',
    'create_table', 'reset', 'with_transaction',
]
