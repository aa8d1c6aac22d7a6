"""The API described in OpenAPI 3.1, served by `GET /api/openapi.json` (docs/api.md, "OpenAPI").

Built from compact tables, so that describing a route is one `Operation` in OPERATIONS: its method and
path as app.py declares them (the document shows Chrono's trailing slash), its query parameters by name
(QUERY), its body by the name of a schema of INPUTS and its answer as a schema or the name of one of
ANSWERS. For example:

    Operation('POST', '/api/agendas/events/fillslots', 'Book events of several agendas', 'Booked',
              ('date_start',), body='Fillslots'),

tests/api/test_openapi.py checks that the operations are exactly app.py's routes and that the document is
valid; tests/api/test_fuzz.py sends what the document allows (and what it does not) and checks every
answer against it. Inputs are described in the lenient forms the API reads (parsing.py): numbers and
booleans also as strings ("2", "true"), lists also comma-joined ("a,b"), null or "" for an absent
optional value. app.py imports this module only when the description is asked for: compiling these
tables would cost every cold start about 6 ms.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chalicelib.domain.booking_rules import EVENTS_CHOICES, MAX_TEXT, MAX_URL, MAX_USER_ID, TEXT_FIELDS, URL_FIELDS
from chalicelib.domain.promotion_rules import MODES
from chalicelib.domain.reminder_rules import MESSAGE_KINDS
from chalicelib.domain.specs import KINDS

PARAM_RE = re.compile(r'{(\w+)}')
JSON = 'application/json'


def ref(name: str) -> dict[str, Any]:
    return {'$ref': f'#/components/schemas/{name}'}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {'type': 'array', 'items': items}


def obj(properties: dict[str, Any], required: tuple[str, ...] | None = None, **extra: Any) -> dict[str, Any]:
    """An object; every listed key is always present unless `required` says otherwise."""
    return {
        'type': 'object',
        'properties': properties,
        'required': list(properties if required is None else required),
        **extra,
    }


def answer(properties: dict[str, Any], required: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A success (`err: 0`) with these keys."""
    keys = tuple(properties) if required is None else required
    return obj({'err': {'const': 0}, **properties}, ('err', *keys))


def data(schema: dict[str, Any]) -> dict[str, Any]:
    return answer({'data': schema})


# Fields of answers.
S, S_ = {'type': 'string'}, {'type': ['string', 'null']}
I, I_ = {'type': 'integer'}, {'type': ['integer', 'null']}  # noqa: E741 - one letter per type, as S and B
B, B_ = {'type': 'boolean'}, {'type': ['boolean', 'null']}
URLS = {'type': 'object', 'additionalProperties': S}
BLANK = [{'type': 'null'}, {'const': ''}]  # an optional value given empty is absent

# ---- the value forms the API accepts ---------------------------------------------------------------------

VALUE_FORMS: dict[str, dict[str, Any]] = {
    'Integer': {
        'anyOf': [{'type': 'integer'}, {'type': 'string', 'pattern': r'^\s*[+-]?[0-9]{1,19}\s*$'}, *BLANK],
        'description': 'An integer, also as a string ("2").',
    },
    'Boolean': {
        'anyOf': [
            {'type': 'boolean'},
            {'enum': [0, 1]},
            {
                'type': 'string',
                'pattern': r'^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01]|'
                r'[Oo][Nn]|[Oo][Ff][Ff]|[Yy][Ee][Ss]|[Nn][Oo]|[TtFfYyNn])\s*$',
            },
            *BLANK,
        ],
        'description': 'A boolean, also as a string: true/false, 1/0, on/off, yes/no, t/f, y/n (any case).',
    },
    'List': {
        'anyOf': [array({'type': ['string', 'integer']}), {'type': 'string'}, {'type': 'null'}],
        'description': 'A list, or its items joined by commas ("a,b"); blank items are dropped.',
    },
    'Slug': {'anyOf': [{'type': 'string', 'pattern': '^[A-Za-z0-9_-]{1,160}$'}, *BLANK]},
    'Text': {'type': ['string', 'null'], 'maxLength': 10_000},
    'Date': {
        'anyOf': [{'type': 'string', 'pattern': r'^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$'}, *BLANK],
        'description': 'YYYY-MM-DD.',
    },
    'Time': {
        'anyOf': [{'type': 'string', 'pattern': r'^\s*[0-9]{2}:[0-9]{2}(:[0-9]{2})?\s*$'}, *BLANK],
        'description': 'hh:mm[:ss].',
    },
    'DateTime': {
        'anyOf': [
            {
                'type': 'string',
                'pattern': r'^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}'
                r'(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?\s*$',
            },
            *BLANK,
        ],
        'description': 'YYYY-MM-DD HH:MM[:SS]: a wall-clock time in CHRONO_TIME_ZONE unless an offset is '
        'given; a time of the spring DST gap is refused.',
    },
}

# ---- what the API answers ------------------------------------------------------------------------------

PLACES = obj(
    {
        'total': I,
        'reserved': I,
        'available': I,
        'full': B,
        'has_waiting_list': B,
        'waiting_list_total': I,
        'waiting_list_reserved': I,
        'waiting_list_available': I,
        'waiting_list_activated': B,
    },
    ('total', 'reserved', 'available', 'full', 'has_waiting_list'),
)
EVENT_ITEM = {
    'id': S,
    'slug': S,
    'text': S,
    'label': S,
    'date': S,
    'datetime': S,
    'end_datetime': S,
    'description': S_,
    'pricing': S_,
    'url': S_,
    'disabled': B,
    'checked': B,
    'check_locked': B,
    'invoiced': B,
    'cancelled': B,
    'places': ref('Places'),
    'api': URLS,
}
PARTIAL = {  # a partial booking's keys (agendas with partial_bookings)
    'start_time': S,
    'end_time': S,
    'user_check_start_time': S_,
    'user_check_end_time': S_,
    'computed_duration': I_,
    'adjusted_duration': I_,
}
BOOKING_STATE = {
    'booking_id': I,
    'id': I,
    'in_waiting_list': B,
    'user_was_present': B_,
    'user_absence_reason': S,
    'user_check_type_slug': S_,
    'user_check_type_label': S_,
    'extra_data': {'type': ['object', 'null']},
    'count': I,
}
PERSON = (
    'label',
    'user_display_label',
    'user_first_name',
    'user_last_name',
    'user_email',
    'user_phone_number',
    'user_external_id',
)
BOOKING_TEXTS = (*TEXT_FIELDS, *URL_FIELDS, 'user_external_id')
AGENDA_ITEM = {
    'id': S,
    'slug': S,
    'text': S,
    'kind': {'enum': list(KINDS)},
    'category': S_,
    'category_label': S_,
    'minimal_booking_delay': I_,
    'minimal_booking_delay_in_working_days': B,
    'maximal_booking_delay': I_,
    'minimal_booking_time': S_,
    'admin_role': S_,
    'edit_role': S_,
    'view_role': S_,
    'events_type': S_,
    'booking_form_url': S_,
    'api': URLS,
}
RESOURCE = obj({'id': S, 'text': S, 'description': S_})
NAMED = obj({'slug': S, 'label': S})
SLOTS_META = obj(
    {
        'no_bookable_datetimes': B,
        'bookable_datetimes_number_total': I,
        'bookable_datetimes_number_available': I,
        'first_bookable_slot': {'type': ['object', 'null']},
    }
)

ANSWERS: dict[str, dict[str, Any]] = {
    'Error': obj(
        {
            'err': {'type': 'integer', 'minimum': 1},
            'err_class': S,
            'err_desc': S,
            'errors': {
                'type': 'object',
                'additionalProperties': array(S),
                'description': 'Invalid payload: the messages of each field (nested fields dotted: '
                '`agendas.0.events.2.places`).',
            },
        },
        ('err', 'err_class', 'err_desc'),
        description="Chrono's error shape: a refusal (HTTP 200, `err` > 0), invalid input (400, "
        '`err_class` "invalid payload" and `errors`), no authentication (401), unknown agenda, '
        'event or booking (404), wrong method (405).',
    ),
    'Places': PLACES,
    'AgendaItem': obj(
        {
            **AGENDA_ITEM,
            'minimal_cancellation_delay': I_,
            'minimal_cancellation_delay_in_working_days': B,
            'partial_bookings': B,
            'absence_reasons': array(obj({'id': S, 'slug': S, 'text': S, 'label': S})),
            'free_range': B,
            'resources': array(RESOURCE),
            'shared_resources': array(RESOURCE),
            'real_agendas': array(S),
        },
        tuple(AGENDA_ITEM),
    ),
    'EventItem': obj(
        {
            **EVENT_ITEM,
            'booked_for_external_user': B,
            'status': {
                'enum': ['booked', 'waiting-list', 'cancelled', 'not-booked'],
                'description': "`with_status`: the user's booking status on the event.",
            },
        },
        tuple(EVENT_ITEM),
    ),
    'EventDetail': obj(
        {
            **EVENT_ITEM,
            'start_datetime': S,
            'duration': I_,
            'waiting_list_places': I,
            'publication_datetime': S_,
            'recurrence_days': {'type': ['array', 'null'], 'items': I},
            'recurrence_week_interval': I_,
            'recurrence_end_date': S_,
            'primary_event': S_,
            'agenda': S,
        }
    ),
    'MeetingType': obj({'id': S, 'slug': S, 'text': S, 'duration': I, 'api': URLS}),
    'MeetingSlot': obj(
        {
            'id': S,
            'date': S,
            'datetime': S,
            'end_datetime': S,
            'text': S,
            'disabled': B,
            'api': URLS,
            'booked_for_external_user': B,
            'agendas': array(obj({'id': S, 'text': S, 'api': URLS})),
        },
        ('id', 'date', 'datetime', 'end_datetime', 'text', 'disabled', 'api'),
    ),
    'Datetimes': answer({'data': array({'anyOf': [ref('EventItem'), ref('MeetingSlot')]}), 'meta': SLOTS_META}),
    'FreeRangeDays': answer(
        {
            'data': array(
                obj(
                    {
                        'id': S,
                        'text': S,
                        'verbose_label': S,
                        'opening_hours': array(obj({'hour': S, 'status': {'enum': ['free', 'booked', 'closed']}})),
                        'disabled': B,
                    }
                )
            ),
            'meta': obj({'minimal_booking_slots': I, 'maximal_booking_slots': I, 'api': URLS}),
        }
    ),
    'Booked': answer(
        {
            'booking_id': I,
            'datetime': S,
            'end_datetime': S_,
            'in_waiting_list': B,
            'agenda': NAMED,
            'api': URLS,
            'places': ref('Places'),
            'cancelled_booking_id': I,
            'cancellable_until': S,
            'duration': I,
            'desk': NAMED,
            'resources': array(S),
            'events': array(
                obj({'slug': S, 'text': S, 'datetime': S, 'end_datetime': S_, 'description': S_, 'in_waiting_list': B})
            ),
        },
        ('booking_id', 'datetime', 'end_datetime', 'in_waiting_list', 'agenda', 'api'),
    ),
    'Held': answer(
        {
            'held_until': S,
            'datetime': S,
            'end_datetime': S_,
            'in_waiting_list': B,
            'agenda': NAMED,
            'places': ref('Places'),
            'duration': I,
            'desk': NAMED,
            'resources': array(S),
            'events': array(obj({'slug': S, 'datetime': S, 'in_waiting_list': B})),
        },
        ('held_until', 'datetime', 'end_datetime', 'in_waiting_list', 'agenda'),
    ),
    'Booking': obj(
        {
            **BOOKING_STATE,
            'agenda': S,
            'event': S_,
            'datetime': S,
            'end_datetime': S_,
            'creation_datetime': S,
            'anonymization_datetime': S_,
            'cancellable_until': S,
            **{name: S_ for name in BOOKING_TEXTS},
            'extra_emails': array(S),
            'extra_phone_numbers': array(S),
            'api': URLS,
            'desk': S_,
            'meeting_type': S_,
            'use_color_for': S_,
            'resources': array(S),
            'events': array(obj({'agenda': S, 'event': S, 'datetime': S, 'in_waiting_list': B})),
            **PARTIAL,
        },
        (
            *BOOKING_STATE,
            'agenda',
            'event',
            'datetime',
            'end_datetime',
            'creation_datetime',
            'anonymization_datetime',
            *BOOKING_TEXTS,
            'extra_emails',
            'extra_phone_numbers',
            'api',
        ),
    ),
    'UserBooking': obj(
        {
            **BOOKING_STATE,
            **{name: S_ for name in PERSON},
            'creation_datetime': S,
            'datetime': S,
            'end_datetime': S_,
            'agenda': obj({'slug': S, 'label': S_}),
            'event': {'anyOf': [obj({'slug': S, 'label': S_, 'datetime': S, 'agenda': S}), {'type': 'null'}]},
            'api': URLS,
            'desk': S_,
            'meeting_type': S_,
            **PARTIAL,
        },
        (*BOOKING_STATE, *PERSON, 'creation_datetime', 'datetime', 'end_datetime', 'agenda', 'event', 'api'),
    ),
    'Changed': answer(
        {
            'booking_count': I,
            'booked_events': array({'type': 'object'}),
            'waiting_list_events': array({'type': 'object'}),
            'cancelled_booking_count': I,
            'cancelled_events': array({'type': 'object'}),
            'full_events': array({'type': 'object'}),
        }
    ),
    'BillingEvent': {
        'allOf': [
            ref('EventDetail'),
            obj({'agenda_slug': S, 'agenda_label': S}),
        ],
        'description': 'An event as Lingo reads it: `id` is `agenda@event`, `start_datetime` ISO 8601 with its offset.',
    },
    'BillingBooking': obj(
        {
            **BOOKING_STATE,
            **PARTIAL,
            'label': S_,
            'user_first_name': S_,
            'user_last_name': S_,
            'user_external_id': S_,
            'creation_datetime': S,
            'cancellation_datetime': S_,
        },
        (
            *BOOKING_STATE,
            'label',
            'user_first_name',
            'user_last_name',
            'user_external_id',
            'creation_datetime',
            'cancellation_datetime',
        ),
    ),
    'CheckStatus': obj(
        {
            'event': ref('BillingEvent'),
            'check_status': obj(
                {
                    'status': {'enum': ['not-booked', 'cancelled', 'presence', 'absence', 'error']},
                    'check_type': S_,
                    'error_reason': {
                        'enum': ['event-not-checked', 'booking-not-checked', 'too-many-bookings-found', None]
                    },
                }
            ),
            'booking': {'anyOf': [ref('BillingBooking'), obj({})]},
        }
    ),
    'Subscription': obj(
        {
            'id': I,
            'user_external_id': S,
            'user_first_name': S_,
            'user_last_name': S_,
            'user_email': S_,
            'user_phone_number': S_,
            'date_start': S,
            'date_end': S,
            'extra_data': {'type': ['object', 'null']},
        },
        description='A subscription: `date_end` is excluded.',
    ),
    'UnavailabilityCalendarItem': obj(
        {
            'label': S,
            'slug': S,
            'permissions': obj({'view': S_, 'edit': S_}),
            'exceptions': array(obj({'label': S_, 'start_datetime': S, 'end_datetime': S})),
            'exceptions_sources': array(
                obj(
                    {
                        'ics_filename': S_,
                        'ics_file': S_,
                        'ics_url': S_,
                        'enabled': B,
                        'last_fetch': S_,
                        'last_attempt': S_,
                        'last_error': S_,
                    },
                    ('ics_filename', 'ics_file', 'ics_url', 'enabled'),
                )
            ),
            'closures': array(obj({'label': S_, 'start_datetime': S, 'end_datetime': S, 'source': I_})),
        },
        ('label', 'slug', 'permissions', 'exceptions', 'exceptions_sources'),
    ),
    'FailedCallback': obj(
        {
            'id': S,
            'booking_id': I,
            'kind': {'enum': ['cancel', 'presence', 'absence', *MESSAGE_KINDS]},
            'url': S_,
            'attempts': I,
            'last_error': S_,
        }
    ),
}

# ---- what the API reads ------------------------------------------------------------------------------

INT, BOOL, LIST, SLUG, TEXT = ref('Integer'), ref('Boolean'), ref('List'), ref('Slug'), ref('Text')
DATE, TIME, DATETIME = ref('Date'), ref('Time'), ref('DateTime')
EXCEPTION = obj(
    {'label': TEXT, 'start_datetime': DATETIME, 'end_datetime': DATETIME},
    ('start_datetime', 'end_datetime'),
    description='A closure: from `start_datetime` to `end_datetime` (excluded).',
)
EXCEPTIONS_SOURCE = obj(
    {
        'ics_filename': TEXT,
        'ics_file': TEXT,
        'ics_url': TEXT,
        'enabled': BOOL,
        'last_fetch': DATETIME,
        'last_attempt': DATETIME,
        'last_error': TEXT,
    },
    (),
    description='An ICS file (`ics_file`, text or base64) or a URL fetched by the refresh (only from hosts of '
    'CHRONO_ICS_HOSTS); an export gives a fetched source its last good file and its status (`last_fetch`, '
    '`last_attempt`, UTC, and `last_error`).',
)
TIME_PERIOD = obj(
    {'weekday': INT, 'weekday_indexes': LIST, 'date': DATE, 'start_time': TIME, 'end_time': TIME},
    ('start_time', 'end_time'),
    description='Opening hours: a weekday (0 is Monday), optionally its weeks in the month (1-5), or one date.',
)
BOOKING_FIELDS = {
    'count': INT,
    'cancel_booking_id': INT,
    'user_external_id': {'type': ['string', 'null'], 'maxLength': MAX_USER_ID},
    **{name: {'type': ['string', 'null'], 'maxLength': MAX_TEXT} for name in TEXT_FIELDS},
    **{name: {'type': ['string', 'null'], 'maxLength': MAX_URL} for name in URL_FIELDS},
    'extra_emails': LIST,
    'extra_phone_numbers': LIST,
    'exclude_user': BOOL,
    'bypass_delays': BOOL,
    'force_waiting_list': BOOL,
    'events': {'enum': [*EVENTS_CHOICES, '', None]},
    'use_color_for': TEXT,
    'resources': LIST,
    'lock_code': TEXT,
    'start_time': TIME,
    'end_time': TIME,
    'confirm_after_lock': BOOL,
}

INPUTS: dict[str, dict[str, Any]] = {
    'Event': obj(
        {
            'slug': SLUG,
            'label': TEXT,
            'start_datetime': DATETIME,
            'places': INT,
            'duration': INT,
            'waiting_list_places': INT,
            'publication_datetime': DATETIME,
            'description': TEXT,
            'pricing': TEXT,
            'url': TEXT,
            'cancelled': BOOL,
            'recurrence_days': LIST,
            'recurrence_week_interval': INT,
            'recurrence_end_date': DATE,
            'primary_event': SLUG,
        },
        (),
        description='An event; PATCH changes only the keys given. `slug` is derived from the label or '
        'the date when absent.',
    ),
    'Agenda': obj(
        {
            'label': TEXT,
            'slug': SLUG,
            'kind': {'enum': [*KINDS, '', None]},
            'category': SLUG,
            'category_label': TEXT,
            'permissions': obj({'admin': TEXT, 'edit': TEXT, 'view': TEXT}, ()),
            'admin_role': TEXT,
            'edit_role': TEXT,
            'view_role': TEXT,
            'minimal_booking_delay': INT,
            'minimal_booking_delay_in_working_days': BOOL,
            'maximal_booking_delay': INT,
            'minimal_booking_time': TIME,
            'minimal_cancellation_delay': INT,
            'minimal_cancellation_delay_in_working_days': BOOL,
            'anonymize_delay': INT,
            'events_type': SLUG,
            'booking_form_url': TEXT,
            'partial_bookings': BOOL,
            'free_range': BOOL,
            'absence_reasons': array(obj({'slug': SLUG, 'label': TEXT, 'text': TEXT}, ())),
            'reminder_settings': {
                'anyOf': [
                    obj(
                        {
                            'days_before_email': INT,
                            'days_before_sms': INT,
                            'hour': INT,
                            'email_extra_info': TEXT,
                            'sms_extra_info': TEXT,
                            'notify_promotion': BOOL,
                        },
                        (),
                        description='E-mail and SMS reminders (docs/api.md, Reminders); null: none.',
                    ),
                    {'type': 'null'},
                ]
            },
            'waiting_list_promotion': {'enum': [*MODES, '', None]},
            'events': array({'allOf': [ref('Event'), {'required': ['slug', 'start_datetime', 'places']}]}),
            'meetingtypes': array(obj({'slug': SLUG, 'label': TEXT, 'duration': INT}, ('label', 'duration'))),
            'desks': array(
                obj(
                    {
                        'slug': SLUG,
                        'label': TEXT,
                        'timeperiods': array(TIME_PERIOD),
                        'exceptions': array(EXCEPTION),
                        'exceptions_sources': array(EXCEPTIONS_SOURCE),
                        'unavailability_calendars': {'anyOf': [LIST, array(obj({'slug': SLUG}, ('slug',)))]},
                    },
                    ('label',),
                )
            ),
            'resources': LIST,
            'real_agendas': array({'anyOf': [SLUG, obj({'slug': SLUG, 'kind': S}, ('slug',))]}),
            'excluded_timeperiods': array(obj({'weekday': INT, 'start_time': TIME, 'end_time': TIME})),
        },
        ('label',),
        description="An agenda in Chrono's export shape: its settings and its whole content (events, "
        'meeting types and desks, or the real agendas of a virtual agenda).',
    ),
    'UnavailabilityCalendar': obj(
        {
            'label': TEXT,
            'slug': SLUG,
            'permissions': obj({'view': TEXT, 'edit': TEXT}, ()),
            'view_role': TEXT,
            'edit_role': TEXT,
            'exceptions': array(EXCEPTION),
            'exceptions_sources': array(EXCEPTIONS_SOURCE),
        },
        (),
        description='An unavailability calendar: closures shared by the desks that name it. `label` is required '
        'to create one; PATCH changes only the keys given.',
    ),
    'Document': obj(
        {
            'agendas': array(ref('Agenda')),
            'categories': array(obj({'slug': SLUG, 'label': TEXT}, ())),
            'resources': array(obj({'slug': SLUG, 'label': TEXT, 'description': TEXT}, ())),
            'unavailability_calendars': array({'allOf': [ref('UnavailabilityCalendar'), {'required': ['label']}]}),
        },
        ('agendas',),
        description='An export: each agenda replaces the stored one, all or nothing.',
    ),
    'Fillslot': obj(
        BOOKING_FIELDS,
        (),
        additionalProperties=True,
        description="Any other key is stored in the booking's `extra_data`.",
    ),
    'Fillslots': {'allOf': [ref('Fillslot'), obj({'slots': LIST}, ('slots',))]},
    'FreeRangeFillslot': {
        'allOf': [
            ref('Fillslot'),
            obj(
                {'start_datetime': DATETIME, 'end_datetime': DATETIME, 'resource': SLUG},
                ('start_datetime', 'end_datetime'),
            ),
        ],
        'description': 'A range of whole steps (`meta` of the free-range datetimes) on one local day.',
    },
    'Cancel': obj(
        {'bypass_delays': BOOL},
        (),
        additionalProperties=True,
        description="`bypass_delays`: cancel past the agenda's cancellation deadline (an agent's form).",
    ),
    'BookingPatch': obj(
        {
            'user_was_present': BOOL,
            'user_absence_reason': TEXT,
            'user_check_type_slug': TEXT,
            'user_check_type_label': TEXT,
            'use_color_for': TEXT,
            'user_check_start_time': TIME,
            'user_check_end_time': TIME,
        },
        (),
        additionalProperties=True,
        description='null or "" clears a value; any other key is merged into `extra_data`.',
    ),
    'Resize': obj({'count': INT}, ('count',)),
    'SubscriptionInput': obj(
        {
            'user_external_id': {'type': ['string', 'null'], 'maxLength': MAX_USER_ID},
            **{
                name: {'type': ['string', 'null'], 'maxLength': MAX_TEXT}
                for name in ('user_first_name', 'user_last_name', 'user_email', 'user_phone_number')
            },
            'date_start': DATE,
            'date_end': DATE,
            'extra_data': {'type': ['object', 'null']},
        },
        (),
        additionalProperties=True,
        description='POST requires `user_external_id`, `date_start` and `date_end` (excluded); PATCH changes '
        'the keys given (not the user). Other keys are merged into `extra_data`.',
    ),
    'Slots': obj({'slots': LIST}, ('slots',), description='Events named `agenda@event`.'),
    'Period': obj(
        {'agendas': LIST, 'date_start': DATE, 'date_end': DATE},
        description='The events of these events agendas starting from `date_start` to `date_end` (excluded).',
    ),
    'CheckLock': {'allOf': [ref('Period'), obj({'check_locked': BOOL})]},
    'Invoiced': {'allOf': [ref('Period'), obj({'invoiced': BOOL})]},
    'CheckStatusQuery': {
        'allOf': [ref('Period'), obj({'user_external_id': {'type': 'string', 'maxLength': MAX_USER_ID}})]
    },
    'EventsFillslots': {
        'allOf': [
            ref('Fillslot'),
            obj({'slots': LIST, 'date_start': DATE, 'date_end': DATE, 'check_overlaps': BOOL}, ('user_external_id',)),
        ]
    },
}

# ---- query parameters, by name ----------------------------------------------------------------------

QUERY: dict[str, dict[str, Any]] = {
    'q': S,
    'category': S,
    'kind': S,
    'with_open_events': BOOL,
    'date_start': DATE,
    'date_end': DATE,
    'user_external_id': S,
    'exclude_user_external_id': S,
    'hide_disabled': BOOL,
    'bypass_delays': BOOL,
    'lock_code': S,
    'resource': S,
    'min_places': INT,
    'events': {'enum': [*EVENTS_CHOICES, '']},
    'resources': LIST,
    'agenda': SLUG,
    'agendas': LIST,
    'show_past_events': BOOL,
    'check_overlaps': BOOL,
    'sort': {'enum': ['day', '']},
    'action': {'enum': ['book', 'unbook', 'update']},
    'subscribed': LIST,
    'guardian_external_id': S,
    'with_status': BOOL,
}
# The agendas of a multi-agenda call: listed, or those the user is subscribed to (`all` or categories).
SCOPE_QUERY = ('agendas', 'subscribed', 'user_external_id', 'guardian_external_id')
SLOT_QUERY = (
    'date_start',
    'date_end',
    'user_external_id',
    'exclude_user_external_id',
    'hide_disabled',
    'bypass_delays',
    'lock_code',
)
PATH_PARAMS = {
    'agenda': 'An agenda slug.',
    'event': 'An event slug.',
    'meeting_type': 'A meeting type slug.',
    'booking_id': 'A booking id (an integer).',
    'slot': 'An event slug, or `<meeting type>:<YYYY-MM-DD-HHMM>` on a meetings or virtual agenda.',
    'subscription_id': 'A subscription id (an integer).',
    'calendar': 'An unavailability calendar slug.',
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as app.py declares it
    summary: str
    answer: dict[str, Any] | str  # a schema, or the name of one
    query: tuple[str, ...] = ()  # names in QUERY; `name!`: required
    body: str | None = None  # the name of an input schema
    form: bool = True  # the body may also be form-encoded (flat bodies)
    media_type: str = JSON


AGENDA, BOOKING = '/api/agenda/{agenda}', '/api/booking/{booking_id}'
CALENDARS = '/api/unavailability-calendar'
CALENDAR = 'text/calendar'
BOOKED = answer({'booking_id': I})
BOOKED_OR_HELD = {'anyOf': [ref('Booked'), ref('Held')]}  # a hold (`lock_code`) books nothing yet
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        'GET',
        '/api/agenda',
        'List the agendas',
        data(array(ref('AgendaItem'))),
        ('q', 'category', 'kind', 'with_open_events'),
    ),
    Operation(
        'POST',
        '/api/agenda',
        'Create an agenda (settings and content)',
        data(ref('AgendaItem')),
        body='Agenda',
        form=False,
    ),
    Operation('GET', AGENDA, 'An agenda', data(ref('AgendaItem'))),
    Operation('GET', f'{AGENDA}/meetings', 'Meeting types', data(array(ref('MeetingType')))),
    Operation('GET', f'{AGENDA}/meetings/{{meeting_type}}', 'A meeting type', data(ref('MeetingType'))),
    Operation(
        'GET', f'{AGENDA}/meetings/{{meeting_type}}/datetimes', 'Meeting times', 'Datetimes', (*SLOT_QUERY, 'resources')
    ),
    Operation('GET', f'{AGENDA}/desks', 'Desks', data(array(obj({'id': S, 'text': S})))),
    Operation('GET', f'{AGENDA}/resources', 'Resources', data(array(RESOURCE))),
    Operation('GET', f'{AGENDA}/shared-resources', 'Resources (alias)', data(array(RESOURCE))),
    Operation('GET', f'{AGENDA}/datetimes', 'Bookable events', 'Datetimes', (*SLOT_QUERY, 'min_places', 'events')),
    Operation(
        'GET',
        f'{AGENDA}/free-range/datetimes',
        'Days and steps of a free-range agenda',
        'FreeRangeDays',
        (*SLOT_QUERY, 'resource'),
    ),
    Operation(
        'POST', f'{AGENDA}/free-range/fillslot', 'Book (or hold) a time range', BOOKED_OR_HELD, body='FreeRangeFillslot'
    ),
    Operation('GET', f'{AGENDA}/status/{{event}}', "An event's places", {'allOf': [answer({}), ref('EventItem')]}),
    Operation(
        'GET',
        f'{AGENDA}/bookings/{{event}}',
        "A user's bookings on an event",
        data(array(obj({'id': I, 'in_waiting_list': B}))),
        ('user_external_id!',),
    ),
    Operation(
        'POST',
        f'{AGENDA}/fillslot/{{slot}}',
        'Book (or hold) an event or a meeting time',
        BOOKED_OR_HELD,
        body='Fillslot',
    ),
    Operation(
        'POST',
        f'{AGENDA}/fillslots',
        'Book (or hold) several events or times as one booking',
        BOOKED_OR_HELD,
        body='Fillslots',
    ),
    Operation('GET', BOOKING, 'A booking', {'allOf': [answer({'data': ref('Booking')}), ref('Booking')]}),
    Operation('POST', f'{BOOKING}/cancel', 'Cancel a booking (no callback)', BOOKED, body='Cancel'),
    Operation('DELETE', BOOKING, 'Cancel a booking (no callback)', BOOKED, ('bypass_delays',)),
    Operation(
        'POST', f'{BOOKING}/accept', 'Waiting list to main list', answer({'booking_id': I, 'overbooked_places': I})
    ),
    Operation('POST', f'{BOOKING}/suspend', 'Main list to waiting list', BOOKED),
    Operation('PATCH', BOOKING, 'Attendance, colour, extra data', BOOKED, body='BookingPatch'),
    Operation('POST', f'{BOOKING}/resize', 'Change the number of places', BOOKED, body='Resize'),
    Operation('POST', f'{BOOKING}/anonymize', 'Blank the personal fields', BOOKED),
    Operation('GET', f'{BOOKING}/ics', 'The booking as iCalendar', S, media_type=CALENDAR),
    Operation(
        'GET',
        '/api/bookings',
        "A user's live bookings",
        data(array(ref('UserBooking'))),
        ('user_external_id!', 'agenda', 'category', 'date_start', 'date_end'),
    ),
    Operation(
        'GET',
        '/api/bookings/ics',
        "A user's live bookings as iCalendar",
        S,
        ('user_external_id!', 'agenda', 'category', 'date_start', 'date_end'),
        media_type=CALENDAR,
    ),
    Operation('POST', f'{AGENDA}/event', 'Create an event', data(ref('EventDetail')), body='EventCreate'),
    Operation('GET', f'{AGENDA}/event/{{event}}', 'An event', data(ref('EventDetail'))),
    Operation('PATCH', f'{AGENDA}/event/{{event}}', 'Change an event', data(ref('EventDetail')), body='Event'),
    Operation('DELETE', f'{AGENDA}/event/{{event}}', 'Delete an event without bookings', answer({})),
    Operation(
        'POST',
        '/api/import',
        'Import agendas (all or nothing)',
        data(
            obj(
                {
                    'created': array(S),
                    'updated': array(S),
                    'unavailability_calendars': obj({'created': array(S), 'updated': array(S)}),
                },
                ('created', 'updated'),
            )
        ),
        body='Document',
        form=False,
    ),
    Operation(
        'GET',
        '/api/export',
        'Export every agenda',
        answer(
            {
                'agendas': array(ref('Agenda')),
                'categories': array(NAMED),
                'resources': array(obj({'slug': S, 'label': S, 'description': S_})),
                'unavailability_calendars': array(ref('UnavailabilityCalendar')),
            }
        ),
    ),
    Operation('GET', CALENDARS, 'List the unavailability calendars', data(array(ref('UnavailabilityCalendarItem')))),
    Operation(
        'POST',
        CALENDARS,
        'Create an unavailability calendar',
        data(ref('UnavailabilityCalendarItem')),
        body='CalendarCreate',
        form=False,
    ),
    Operation(
        'GET', f'{CALENDARS}/{{calendar}}', 'An unavailability calendar', data(ref('UnavailabilityCalendarItem'))
    ),
    Operation(
        'PATCH',
        f'{CALENDARS}/{{calendar}}',
        'Change an unavailability calendar',
        data(ref('UnavailabilityCalendarItem')),
        body='UnavailabilityCalendar',
        form=False,
    ),
    Operation('DELETE', f'{CALENDARS}/{{calendar}}', 'Delete an unavailability calendar no desk names', answer({})),
    Operation(
        'POST',
        '/api/exceptions-sources/refresh',
        'Fetch the remote ICS sources again (hosts of CHRONO_ICS_HOSTS)',
        data(
            array(
                obj(
                    {
                        'unavailability_calendar': S_,
                        'agenda': S_,
                        'desk': S_,
                        'source': I,
                        'ics_url': S,
                        'status': {'enum': ['updated', 'unchanged', 'failed', 'skipped']},
                        'error': S_,
                    }
                )
            )
        ),
    ),
    Operation(
        'POST',
        f'{AGENDA}/check/{{event}}',
        'Mark an event checked; send attendance callbacks',
        answer({'checked': B, 'callbacks': I}),
    ),
    Operation(
        'POST',
        f'{AGENDA}/event/{{event}}/cancel',
        'Cancel an event and its bookings (callbacks)',
        answer({'cancelled_bookings': I}),
    ),
    Operation('POST', f'{BOOKING}/agent-cancel', 'An agent cancels a booking (callback)', BOOKED),
    Operation('GET', '/api/callbacks/failed', 'Callbacks given up', data(array(ref('FailedCallback')))),
    Operation('POST', '/api/callbacks/failed/redrive', 'Send the failed callbacks again', data(obj({'redriven': I}))),
    Operation(
        'POST',
        '/api/retention/anonymize',
        "Anonymise now the bookings past their agenda's anonymize_delay",
        answer({'anonymized': I, 'agendas': I, 'unfinished': array(S)}),
    ),
    Operation('GET', '/api/openapi.json', 'This description', {'type': 'object'}),
    Operation(
        'POST',
        f'{AGENDA}/events/fillslots',
        "The user's bookings here become `slots`",
        'Changed',
        body='EventsFillslots',
    ),
    Operation(
        'POST',
        '/api/agendas/events/fillslots',
        'The same over several agendas (`agenda@event`)',
        'Changed',
        SCOPE_QUERY,
        body='EventsFillslots',
    ),
    Operation(
        'GET',
        '/api/agendas/datetimes',
        'Events of several agendas',
        'Datetimes',
        (
            *SCOPE_QUERY[:2],
            SCOPE_QUERY[3],
            *SLOT_QUERY,
            'min_places',
            'events',
            'show_past_events',
            'check_overlaps',
            'with_status',
        ),
    ),
    Operation(
        'GET',
        '/api/agendas/recurring-events',
        'Recurring events by weekday',
        data(
            array(
                obj(
                    {
                        'id': S,
                        'text': S,
                        'label': S,
                        'day': S,
                        'weekday': I,
                        'slug': S,
                        'agenda_slug': S,
                        'agenda_label': S,
                        'description': S_,
                        'recurrence_end_date': S_,
                    }
                )
            )
        ),
        (*SCOPE_QUERY, 'sort'),
    ),
    Operation(
        'POST',
        '/api/agendas/recurring-events/fillslots',
        'Book, unbook or update weekly occurrences',
        'Changed',
        (*SCOPE_QUERY, 'action!', 'date_start', 'date_end'),
        body='EventsFillslots',
    ),
)
OPERATIONS += (
    Operation(
        'POST',
        '/api/agendas/events',
        'Event details by `agenda@event` (Lingo)',
        data(array(ref('BillingEvent'))),
        body='Slots',
    ),
    Operation(
        'POST',
        '/api/agendas/events/check-lock',
        "Lock or unlock the attendance of a period's events (Lingo)",
        answer({}),
        body='CheckLock',
    ),
    Operation(
        'POST',
        '/api/agendas/events/invoiced',
        "Mark a period's events invoiced (Lingo)",
        answer({}),
        body='Invoiced',
    ),
    Operation(
        'POST',
        '/api/agendas/events/check-status',
        "A user's check status on each event of a period (Lingo)",
        data(array(ref('CheckStatus'))),
        body='CheckStatusQuery',
    ),
)
SUBSCRIPTION = f'{AGENDA}/subscription'
SUBSCRIBED = answer({'id': I, 'data': ref('Subscription')}, ('id', 'data'))
OPERATIONS += (
    Operation(
        'GET',
        SUBSCRIPTION,
        "An agenda's subscriptions",
        data(array(ref('Subscription'))),
        ('user_external_id', 'date_start', 'date_end'),
    ),
    Operation('POST', SUBSCRIPTION, 'Subscribe a user', SUBSCRIBED, body='SubscriptionInput', form=False),
    Operation('GET', f'{SUBSCRIPTION}/{{subscription_id}}', 'A subscription', SUBSCRIBED),
    Operation(
        'PATCH',
        f'{SUBSCRIPTION}/{{subscription_id}}',
        'Change a subscription',
        SUBSCRIBED,
        body='SubscriptionInput',
        form=False,
    ),
    Operation(
        'DELETE',
        f'{SUBSCRIPTION}/{{subscription_id}}',
        "Delete a subscription; cancel the user's bookings of its days to come (callbacks)",
        answer({'cancelled_bookings': I}),
    ),
)
EXTRA_INPUTS = {
    'EventCreate': {'allOf': [ref('Event'), {'required': ['start_datetime', 'places']}]},
    'CalendarCreate': {'allOf': [ref('UnavailabilityCalendar'), {'required': ['label']}]},
}

# ---- the document -----------------------------------------------------------------------------------

ERROR_RESPONSE = {'description': "Chrono's error shape", 'content': {'application/json': {'schema': ref('Error')}}}
SECURITY_SCHEMES = {
    'basic': {'type': 'http', 'scheme': 'basic', 'description': 'An API client of CHRONO_API_CLIENTS.'},
    **{
        f'publik_{name}': {'type': 'apiKey', 'in': 'query', 'name': name, 'description': text}
        for name, text in (
            ('orig', 'Publik signed URL: the caller (a key of CHRONO_SIGNATURE_KEYS).'),
            ('algo', 'sha256, sha1 or sha512.'),
            ('timestamp', 'UTC, within 30 s of our clock.'),
            ('nonce', 'Required; a URL cannot be replayed.'),
            ('signature', 'base64 HMAC of the query before it; the last parameter.'),
        )
    },
}
SIGNED: dict[str, list[str]] = {f'publik_{name}': [] for name in ('orig', 'algo', 'timestamp', 'nonce', 'signature')}
DESCRIPTION = (
    "The booking API of Chrono (Publik's agendas), served by AWS Lambda. Every path also answers without its "
    'trailing slash. Success: HTTP 200 with `err: 0`; a business refusal is HTTP 200 with `err` > 0, `err_class` '
    'and `err_desc`; see the `Error` schema for the other statuses. Bodies are JSON, or form-encoded where the '
    'operation says so; an empty body is `{}`. Values are read leniently: numbers and booleans also as strings, '
    'lists also comma-joined, null or "" for an absent optional value.'
)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {'name': name, 'in': 'path', 'required': True, 'description': PATH_PARAMS[name], 'schema': S}
        for name in PARAM_RE.findall(op.path)
    ]
    for name in op.query:
        required = name.endswith('!')
        name = name.rstrip('!')
        params.append({'name': name, 'in': 'query', 'required': required, 'schema': QUERY[name]})
    return params


def _operation(op: Operation) -> dict[str, Any]:
    schema = ref(op.answer) if isinstance(op.answer, str) else op.answer
    content = {op.media_type: {'schema': schema}}
    if op.path != '/api/openapi.json':  # a refusal is HTTP 200 too
        content['application/json'] = {
            'schema': {'anyOf': [schema, ref('Error')]} if op.media_type == JSON else ref('Error')
        }
    described: dict[str, Any] = {
        'operationId': f'{op.method.lower()}{re.sub(r"[^A-Za-z0-9]+", "_", op.path)}',
        'summary': op.summary,
        'parameters': _parameters(op),
        'responses': {
            '200': {'description': op.summary, 'content': content},
            **{status: {'$ref': '#/components/responses/Error'} for status in ('400', '401', '404')},
            'default': {'$ref': '#/components/responses/Error'},
        },
    }
    if op.body:
        content = {'application/json': {'schema': ref(op.body)}}
        if op.form:
            content['application/x-www-form-urlencoded'] = {'schema': ref(op.body)}
        described['requestBody'] = {'required': False, 'content': content}
    return described


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path = op.path if op.path.endswith('.json') else f'{op.path}/'
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    return {
        'openapi': '3.1.0',
        'info': {'title': 'Chrono booking API', 'version': '1', 'description': DESCRIPTION},
        'paths': paths,
        'components': {
            'schemas': {**VALUE_FORMS, **ANSWERS, **INPUTS, **EXTRA_INPUTS},
            'responses': {'Error': ERROR_RESPONSE},
            'securitySchemes': SECURITY_SCHEMES,
        },
        'security': [{'basic': []}, SIGNED],
    }


def document(base_url: str | None = None) -> dict[str, Any]:
    """The description; with `base_url`, its server is the one the caller reached."""
    described = copy.deepcopy(_document())
    described['servers'] = [{'url': base_url or '/'}]
    return described
