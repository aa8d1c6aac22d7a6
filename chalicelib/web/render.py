"""Every answer shape of the API and every URL in it (spec chrono-api.md; design.md §3.6: every `api.*`
URL on the host of CHRONO_BASE_URL or of the request, never a `[` or `]`).

The use cases return what happened (specs, records, legs, small result classes); a route names its
renderer (`Api.route(render=...)`) and gets `(result, call)`: the request's base URL, time zone and
clock. The same renderer turns the result of an idempotent call into the answer its transaction
keeps (store.idempotency_records.commit), so the answer kept is the answer sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chalice import Response

from chalicelib.domain.booking_rules import TEXT_FIELDS, URL_FIELDS, Leg
from chalicelib.domain.calendar import CONTENT_TYPE
from chalicelib.domain.callback_rules import CallbackRecord
from chalicelib.domain.closures import UnavailabilityCalendarSpec
from chalicelib.domain.event_rules import EventRecord, event_text, is_bookable
from chalicelib.domain.partial_bookings import durations, hours_text
from chalicelib.domain.places import can_take
from chalicelib.domain.recurrence import WEEKDAYS, RecurringSlot
from chalicelib.domain.specs import AgendaSpec, EventSpec, MeetingTypeSpec, local_text, time_text
from chalicelib.domain.subscription_rules import SubscriptionSpec

if TYPE_CHECKING:
    from chalicelib.services.billing import EventStatus
    from chalicelib.services.booking import Booked, BookingView, Held, MeetingBooked
    from chalicelib.services.bulk_booking import BulkResult
    from chalicelib.services.ics_sources import SourceOutcome
    from chalicelib.services.listings import ListedEvent, ListedSlot
    from chalicelib.services.range_booking import FreeRangeDays
    from chalicelib.web.api import Call


# ---- URLs -------------------------------------------------------------------------------------


def agenda_url(base_url: str, agenda: str) -> str:
    return f'{base_url}/api/agenda/{agenda}'


def booking_urls(base_url: str, booking_id: int) -> dict[str, str]:
    url = f'{base_url}/api/booking/{booking_id}'
    return {
        'booking_url': f'{url}/',
        'cancel_url': f'{url}/cancel/',
        'ics_url': f'{url}/ics/',
        'anonymize_url': f'{url}/anonymize/',
        'accept_url': f'{url}/accept/',
        'suspend_url': f'{url}/suspend/',
    }


# ---- agendas and their configuration (spec §4.1, §5.3-5.5) ---------------------------------------


def resource_items(agenda: AgendaSpec, resources: dict[str, dict]) -> list[dict[str, Any]]:
    """The resources a meetings agenda uses (spec §5.5), in its order; a vanished one keeps its slug."""
    return [
        {
            'id': slug,
            'text': resources.get(slug, {}).get('label', slug),
            'description': resources.get(slug, {}).get('description'),
        }
        for slug in agenda.resources
    ]


def agenda_item(agenda: AgendaSpec, base_url: str, resources: dict[str, dict] | None = None) -> dict[str, Any]:
    """An item of `GET /api/agenda/` (spec §4.1): every key clients index is always present."""
    url = agenda_url(base_url, agenda.slug)
    item: dict[str, Any] = {
        'id': agenda.slug,
        'slug': agenda.slug,
        'text': agenda.label,
        'kind': agenda.kind,
        'category': agenda.category,
        'category_label': agenda.category_label if agenda.category else None,
        'minimal_booking_delay': agenda.minimal_booking_delay,
        'minimal_booking_delay_in_working_days': agenda.minimal_booking_delay_in_working_days,
        'maximal_booking_delay': agenda.maximal_booking_delay,
        'minimal_booking_time': time_text(agenda.minimal_booking_time) if agenda.minimal_booking_time else None,
        'admin_role': agenda.admin_role,
        'edit_role': agenda.edit_role,
        'view_role': agenda.view_role,
        'events_type': agenda.events_type,
        'booking_form_url': agenda.booking_form_url,
    }
    if agenda.kind == 'events':
        item.update(
            minimal_cancellation_delay=agenda.minimal_cancellation_delay,
            minimal_cancellation_delay_in_working_days=agenda.minimal_cancellation_delay_in_working_days,
            partial_bookings=agenda.partial_bookings,
            absence_reasons=[
                {'id': s, 'slug': s, 'text': label, 'label': label} for s, label in agenda.absence_reasons
            ],
            api={'datetimes_url': f'{url}/datetimes/', 'fillslots_url': f'{url}/fillslots/'},
        )
    else:
        shared = resource_items(agenda, resources or {})
        item.update(
            free_range=agenda.free_range if agenda.kind == 'meetings' else False,
            resources=shared,
            shared_resources=shared,
            api={
                'meetings_url': f'{url}/meetings/',
                'desks_url': f'{url}/desks/',
                'resources_url': f'{url}/resources/',
                'shared_resources_url': f'{url}/shared-resources/',
                'fillslots_url': f'{url}/fillslots/',
            },
        )
        if agenda.free_range:
            # w.c.s. reads `api.datetimes_url` of every free-range agenda (spec §4.1).
            item['api']['datetimes_url'] = f'{url}/free-range/datetimes/'
        if agenda.kind == 'virtual':
            item['real_agendas'] = list(agenda.real_agendas)
    return item


def agendas(result: tuple[list[AgendaSpec], dict[str, dict]], call: Call) -> dict[str, Any]:
    """`GET /api/agenda/`: (the agendas listed, the resources they name)."""
    listed, resources = result
    return {'data': [agenda_item(agenda, call.base_url, resources) for agenda in listed]}


def agenda(result: tuple[AgendaSpec, dict[str, dict]], call: Call) -> dict[str, Any]:
    """One agenda (read or created): (the agenda, the resources it names)."""
    spec, resources = result
    return {'data': agenda_item(spec, call.base_url, resources)}


def meeting_type_item(agenda: str, meeting_type: MeetingTypeSpec, base_url: str) -> dict[str, Any]:
    return {
        'id': meeting_type.slug,
        'slug': meeting_type.slug,
        'text': meeting_type.label,
        'duration': meeting_type.duration,
        'api': {'datetimes_url': f'{agenda_url(base_url, agenda)}/meetings/{meeting_type.slug}/datetimes/'},
    }


def meeting_types(result: tuple[AgendaSpec, list[MeetingTypeSpec]], call: Call) -> dict[str, Any]:
    spec, types = result
    return {'data': [meeting_type_item(spec.slug, meeting_type, call.base_url) for meeting_type in types]}


def meeting_type(result: tuple[AgendaSpec, MeetingTypeSpec], call: Call) -> dict[str, Any]:
    spec, found = result
    return {'data': meeting_type_item(spec.slug, found, call.base_url)}


def desks(result: AgendaSpec, call: Call) -> dict[str, Any]:
    return {'data': [{'id': desk.slug, 'text': desk.label} for desk in result.desks]}


def resources(result: tuple[AgendaSpec, dict[str, dict]], call: Call) -> dict[str, Any]:
    spec, known = result
    return {'data': resource_items(spec, known)}


# ---- unavailability calendars (docs/api.md "Closures") ---------------------------------------------


def calendar_detail(calendar: UnavailabilityCalendarSpec, tz: ZoneInfo) -> dict[str, Any]:
    """A calendar as the export gives it, plus every closure it makes (entered by hand: `source`
    null; read from `exceptions_sources[source]`)."""
    return {
        **calendar.export(tz),
        'closures': [{**e.export(tz), 'source': e.source} for e in calendar.exceptions],
    }


def unavailability_calendar(result: UnavailabilityCalendarSpec, call: Call) -> dict[str, Any]:
    return {'data': calendar_detail(result, call.tz)}


def unavailability_calendars(result: list[UnavailabilityCalendarSpec], call: Call) -> dict[str, Any]:
    return {'data': [calendar.export(call.tz) for calendar in result]}


def refreshed_sources(result: list[SourceOutcome], call: Call) -> dict[str, Any]:
    """`POST /api/exceptions-sources/refresh/`: what the run did to each enabled URL source."""
    return {
        'data': [
            {
                'unavailability_calendar': o.calendar,
                'agenda': o.agenda,
                'desk': o.desk,
                'source': o.index,
                'ics_url': o.url,
                'status': o.status,
                'error': o.error,
            }
            for o in result
        ]
    }


# ---- events (spec §5.2, §7.1, §7.4) --------------------------------------------------------------


def event_item(
    agenda: AgendaSpec, record: EventRecord, base_url: str, tz: ZoneInfo, now: datetime, disabled: bool | None = None
) -> dict[str, Any]:
    """The status shape of an event (spec §7.1), also the base of datetimes items (which
    decide `disabled` with their own parameters)."""
    spec = record.spec
    places = record.places
    url = agenda_url(base_url, agenda.slug)
    local = spec.start.astimezone(tz)
    return {
        'id': spec.slug,
        'slug': spec.slug,
        'text': event_text(spec, tz),
        'label': spec.label or '',
        'date': local.strftime('%Y-%m-%d'),
        'datetime': local_text(spec.start, tz),
        'end_datetime': local_text(record.end, tz) or '',
        'description': spec.description,
        'pricing': spec.pricing,
        'url': spec.url,
        'disabled': (not can_take(places, 1) or not is_bookable(agenda, spec, now, tz))
        if disabled is None
        else disabled,
        'checked': record.checked,
        'check_locked': record.check_locked,
        'invoiced': record.invoiced,
        'cancelled': spec.cancelled,
        'places': places.as_dict(),
        'api': {
            'bookings_url': f'{url}/bookings/{spec.slug}/',
            'fillslot_url': f'{url}/fillslot/{spec.slug}/',
            'status_url': f'{url}/status/{spec.slug}/',
            'check_url': f'{url}/check/{spec.slug}/',
        },
    }


def event_detail(agenda: AgendaSpec, record: EventRecord, base_url: str, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/event/<event>/`: the status shape plus the event's settings."""
    spec = record.spec
    item = event_item(agenda, record, base_url, tz, now)
    item.update(
        start_datetime=local_text(spec.start, tz),
        duration=spec.duration,
        waiting_list_places=spec.waiting_list_places,
        publication_datetime=local_text(spec.publication_datetime, tz),
        recurrence_days=list(spec.recurrence_days) if spec.recurrence_days is not None else None,
        recurrence_week_interval=spec.recurrence_week_interval,
        recurrence_end_date=spec.recurrence_end_date,
        primary_event=spec.primary_event,
        agenda=agenda.slug,
    )
    return item


def event(result: tuple[AgendaSpec, EventRecord], call: Call) -> dict[str, Any]:
    """An event of the admin API (created, read, changed): under `data`."""
    spec, record = result
    return {'data': event_detail(spec, record, call.base_url, call.tz, call.now)}


def status(result: tuple[AgendaSpec, EventRecord], call: Call) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/status/<event>/` (spec §7.1): the event's status at the top level."""
    spec, record = result
    return event_item(spec, record, call.base_url, call.tz, call.now)


def event_bookings(result: list[Leg], call: Call) -> dict[str, Any]:
    return {'data': [{'id': leg.booking_id, 'in_waiting_list': leg.in_waiting_list} for leg in result]}


# ---- datetimes (spec §5.1-5.2, §5.4, §5.7) ---------------------------------------------------------


def with_meta(data: list[dict[str, Any]]) -> dict[str, Any]:
    available = [item for item in data if not item['disabled']]
    return {
        'data': data,
        'meta': {
            'no_bookable_datetimes': not available,
            'bookable_datetimes_number_total': len(data),
            'bookable_datetimes_number_available': len(available),
            'first_bookable_slot': available[0] if available else None,
        },
    }


def _listed_event(listed: ListedEvent, call: Call) -> dict[str, Any]:
    item = event_item(listed.agenda, listed.record, call.base_url, call.tz, call.now, disabled=listed.disabled)
    if listed.booked_for_user is not None:
        item['booked_for_external_user'] = listed.booked_for_user
    return item


def datetimes(result: list[ListedEvent], call: Call) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/datetimes/`."""
    return with_meta([_listed_event(listed, call) for listed in result])


def agendas_datetimes(result: list[ListedEvent], call: Call) -> dict[str, Any]:
    """`GET /api/agendas/datetimes/`: ids `agenda@event`, with the agenda named, and `overlaps` when asked."""
    items = []
    for listed in result:
        item = _listed_event(listed, call)
        item.update(id=listed.ident, agenda_slug=listed.agenda.slug, agenda_label=listed.agenda.label)
        if listed.overlaps is not None:
            item['overlaps'] = list(listed.overlaps)
        if listed.status is not None:
            item['status'] = listed.status
        items.append(item)
    return with_meta(items)


def meeting_datetimes(result: tuple[AgendaSpec, list[ListedSlot]], call: Call) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/meetings/<type>/datetimes/`: a virtual agenda's items name the real
    agendas that can take each time, each with its own fillslot URL (spec §5.4)."""
    spec, slots = result
    tz, base_url = call.tz, call.base_url
    data = []
    for slot in slots:
        item = {
            'id': slot.ident,
            'date': slot.start.astimezone(tz).strftime('%Y-%m-%d'),
            'datetime': local_text(slot.start, tz),
            'end_datetime': local_text(slot.end, tz),
            'text': local_text(slot.start, tz),
            'disabled': slot.disabled,
            'api': {'fillslot_url': f'{agenda_url(base_url, spec.slug)}/fillslot/{slot.ident}/'},
        }
        if slot.booked_for_user is not None:
            item['booked_for_external_user'] = slot.booked_for_user
        if spec.kind == 'virtual':
            item['agendas'] = [
                {
                    'id': real.slug,
                    'text': real.label,
                    'api': {'fillslot_url': f'{agenda_url(base_url, real.slug)}/fillslot/{slot.ident}/'},
                }
                for real in slot.serving
            ]
        data.append(item)
    return with_meta(data)


def free_range_datetimes(result: FreeRangeDays, call: Call) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/free-range/datetimes/` (spec §5.6): the days and their steps, with the limits
    and the fillslot URL w.c.s.'s time-range field reads in `meta`."""
    return {
        'data': [
            {
                'id': day.day.isoformat(),
                'text': day.text,
                'verbose_label': day.verbose_label,
                'opening_hours': [{'hour': hour.hour, 'status': hour.status} for hour in day.hours],
                'disabled': day.disabled,
            }
            for day in result.days
        ],
        'meta': {
            'minimal_booking_slots': result.limits.minimal,
            'maximal_booking_slots': result.limits.maximal,
            'api': {'fillslot_url': f'{agenda_url(call.base_url, result.agenda.slug)}/free-range/fillslot/'},
        },
    }


def recurring_events(result: list[tuple[AgendaSpec, EventSpec, int]], call: Call) -> dict[str, Any]:
    """`GET /api/agendas/recurring-events/`: one item per (recurring event, weekday), in the order given."""
    return {
        'data': [
            {
                'id': RecurringSlot(agenda.slug, primary.slug, day).id,
                'text': f'{WEEKDAYS[day]}',
                'label': primary.label or primary.slug,
                'day': WEEKDAYS[day],
                'weekday': day,
                'slug': primary.slug,
                'agenda_slug': agenda.slug,
                'agenda_label': agenda.label,
                'description': primary.description,
                'recurrence_end_date': primary.recurrence_end_date,
            }
            for agenda, primary, day in result
        ]
    }


# ---- bookings (the seed document; spec §6.1-6.2, §8.1, §8.3) ------------------------------------------


def held(result: Held, call: Call) -> dict[str, Any]:
    """A hold taken (fillslot with `lock_code`, spec §9.9): no booking yet, so no `booking_id` nor `api`;
    `held_until` says until when it keeps the places (the desk time) for its lock code."""
    tz = call.tz
    answer: dict[str, Any] = {'held_until': local_text(result.until, tz), 'in_waiting_list': False}
    answer['agenda'] = {'label': result.agenda.label, 'slug': result.agenda.slug}
    if result.desk is not None and result.meeting_type is not None:
        answer.update(
            datetime=local_text(result.legs[0].start, tz),
            end_datetime=local_text(result.legs[-1].end, tz),
            duration=result.meeting_type.duration,
            desk={'label': result.desk.label, 'slug': result.desk.slug},
            resources=list(result.legs[0].resources),
        )
        return answer
    first = result.placements[0]
    answer.update(
        datetime=local_text(first.event.spec.start, tz),
        end_datetime=local_text(first.event.end, tz),
        in_waiting_list=first.in_waiting_list,
    )
    if len(result.placements) == 1:
        answer['places'] = first.places_after().as_dict()
    else:
        answer['events'] = [
            {'slug': p.event.slug, 'datetime': local_text(p.event.spec.start, tz), 'in_waiting_list': p.in_waiting_list}
            for p in result.placements
        ]
    return answer


def booked(result: Booked | MeetingBooked | Held, call: Call) -> dict[str, Any]:
    """The seed's fillslot answer. Events: `places` is the event's state right after this booking,
    as the transaction's condition saw it (others may have booked since). Meetings: `agenda` is the
    real agenda that took the booking (a virtual agenda's URL names another), `end_datetime` the
    end of the last slot. A hold: `held`."""
    from chalicelib.services.booking import Held, MeetingBooked

    if isinstance(result, Held):
        return held(result, call)
    tz = call.tz
    if isinstance(result, MeetingBooked):
        answer: dict[str, Any] = {
            'booking_id': result.booking_id,
            'datetime': local_text(result.legs[0].start, tz),
            'end_datetime': local_text(result.legs[-1].end, tz),
            'duration': result.meeting_type.duration,
            'in_waiting_list': False,
            'agenda': {'label': result.agenda.label, 'slug': result.agenda.slug},
            'desk': {'label': result.desk.label, 'slug': result.desk.slug},
            'resources': list(result.legs[0].resources),
            'api': booking_urls(call.base_url, result.booking_id),
        }
    else:
        first = result.placements[0]
        answer = {
            'booking_id': result.booking_id,
            'datetime': local_text(first.event.spec.start, tz),
            'end_datetime': local_text(first.event.end, tz),
            'in_waiting_list': first.in_waiting_list,
            'agenda': {'label': result.agenda.label, 'slug': result.agenda.slug},
            'api': booking_urls(call.base_url, result.booking_id),
        }
        if len(result.placements) == 1:
            answer['places'] = first.places_after(result.replaced).as_dict()
        else:
            answer['events'] = [
                {
                    'slug': p.event.slug,
                    'text': p.event.spec.label or local_text(p.event.spec.start, tz),
                    'datetime': local_text(p.event.spec.start, tz),
                    'end_datetime': local_text(p.event.end, tz),
                    'description': p.event.spec.description,
                    'in_waiting_list': p.in_waiting_list,
                }
                for p in result.placements
            ]
    if result.replaced:
        answer['cancelled_booking_id'] = result.replaced[0].booking_id
    if result.cancellable_until is not None:  # the agenda has a cancellation delay
        answer['cancellable_until'] = local_text(result.cancellable_until, tz)
    return answer


def booking_state(leg: Leg) -> dict[str, Any]:
    """The keys every view of a booking shows (spec §8.1, §8.3): its id, list and attendance; a partial
    booking also its hours, the real arrival and departure, and the durations billing reads."""
    state = {
        'booking_id': leg.booking_id,
        'id': leg.booking_id,
        'in_waiting_list': leg.in_waiting_list,
        'user_was_present': leg.user_was_present,
        'user_absence_reason': leg.user_absence_reason or '',
        'user_check_type_slug': leg.user_check_type_slug,
        'user_check_type_label': leg.user_check_type_label,
        'extra_data': leg.fields.get('extra_data'),
        'count': leg.count,
    }
    if leg.start_time is not None:
        spent = durations(leg.start_time, leg.end_time, leg.user_was_present, leg.check_start_time, leg.check_end_time)
        state.update(
            start_time=hours_text(leg.start_time),
            end_time=hours_text(leg.end_time),
            user_check_start_time=hours_text(leg.check_start_time),
            user_check_end_time=hours_text(leg.check_end_time),
            computed_duration=spent.computed,
            adjusted_duration=spent.adjusted,
        )
    return state


def booking(view: BookingView, call: Call) -> dict[str, Any]:
    """`GET /api/booking/<id>/` (spec §8.3): the documented keys, the stored fields, the event; under
    `data` and, as some clients read them, at the top level too."""
    tz = call.tz
    result = view.legs
    primary = result[0]
    fields = primary.fields
    data: dict[str, Any] = {
        **booking_state(primary),
        'agenda': primary.agenda,
        'event': primary.event,
        'datetime': local_text(primary.start, tz),
        'end_datetime': local_text(primary.end, tz),
        'creation_datetime': local_text(primary.created_at, tz),
        'anonymization_datetime': local_text(primary.anonymized_at, tz),
    }
    for name in (*TEXT_FIELDS, *URL_FIELDS, 'user_external_id'):
        data[name] = fields.get(name)
    data['extra_emails'] = fields.get('extra_emails') or []
    data['extra_phone_numbers'] = fields.get('extra_phone_numbers') or []
    if primary.meeting_type is not None:
        data.update(
            desk=primary.desk,
            meeting_type=primary.meeting_type,
            use_color_for=primary.color,
            resources=list(primary.resources),
            end_datetime=local_text(result[-1].end, tz),
        )
    elif len(result) > 1:
        data['events'] = [
            {
                'agenda': leg.agenda,
                'event': leg.event,
                'datetime': local_text(leg.start, tz),
                'in_waiting_list': leg.in_waiting_list,
            }
            for leg in result
        ]
    if view.cancellable_until is not None:  # the agenda has a cancellation delay
        data['cancellable_until'] = local_text(view.cancellable_until, tz)
    data['api'] = booking_urls(call.base_url, primary.booking_id)
    return {**data, 'data': data}


def listed_booking(
    leg: Leg, event: EventRecord | None, agenda: AgendaSpec | None, tz: ZoneInfo, base_url: str
) -> dict[str, Any]:
    """One booked event of `GET /api/bookings/` (a fillslots group gives one item per event, all with
    the booking's id)."""
    fields = leg.fields
    item: dict[str, Any] = {
        **booking_state(leg),
        'label': fields.get('label'),
        'user_display_label': fields.get('user_display_label'),
        'user_first_name': fields.get('user_first_name'),
        'user_last_name': fields.get('user_last_name'),
        'user_email': fields.get('user_email'),
        'user_phone_number': fields.get('user_phone_number'),
        'user_external_id': fields.get('user_external_id'),
        'creation_datetime': local_text(leg.created_at, tz),
        'datetime': local_text(leg.start, tz),
        'end_datetime': local_text(leg.end, tz),
        'agenda': {'slug': leg.agenda, 'label': agenda.label if agenda else None},
        'event': None,
        'api': booking_urls(base_url, leg.booking_id),
    }
    if leg.event is not None:
        item['event'] = {
            'slug': leg.event,
            'label': event.spec.label if event else None,
            'datetime': local_text(leg.start, tz),
            'agenda': leg.agenda,
        }
    else:
        item.update(desk=leg.desk, meeting_type=leg.meeting_type)
    return item


def user_bookings(
    result: tuple[list[Leg], dict[tuple[str, str], EventRecord], dict[str, AgendaSpec | None]], call: Call
) -> dict[str, Any]:
    """`GET /api/bookings/?user_external_id=` (spec §8.1): (the legs, their events, their agendas)."""
    legs, events, agendas_by_slug = result
    return {
        'data': [
            listed_booking(
                leg,
                events.get((leg.agenda, leg.event)) if leg.event is not None else None,  # a meeting has no event
                agendas_by_slug[leg.agenda],
                call.tz,
                call.base_url,
            )
            for leg in legs
        ]
    }


def ics(result: str, call: Call) -> Response:
    """An iCalendar file (spec §8.2, §8.11)."""
    return Response(body=result, status_code=200, headers={'Content-Type': CONTENT_TYPE})


# ---- bookings over many events (spec §6.3-6.5) ---------------------------------------------------------


def _summary(result: BulkResult, record: EventRecord, tz: ZoneInfo) -> dict[str, Any]:
    spec = record.spec
    agenda = result.agendas[record.agenda]
    return {
        'id': f'{agenda.slug}@{spec.slug}' if result.multi else spec.slug,
        'slug': spec.slug,
        'text': event_text(spec, tz),
        'label': spec.label or '',
        'datetime': local_text(spec.start, tz),
        'end_datetime': local_text(record.end, tz) or '',
        'description': spec.description,
        'primary_event': spec.primary_event,
        'agenda_slug': agenda.slug,
        'agenda_label': agenda.label,
    }


def bulk_changes(result: BulkResult, tz: ZoneInfo) -> dict[str, Any]:
    """What a call over many events did (also the body of a stop part-way, errors.PartlyDone)."""
    changes = result.changes
    booked_items = [
        {**_summary(result, p.event, tz), 'booking_id': booking_id, 'in_waiting_list': p.in_waiting_list}
        for p, booking_id in changes.booked
    ]
    cancelled = [
        {**_summary(result, result.events[(leg.agenda, leg.event_slug)], tz), 'booking_id': leg.booking_id}
        for leg in changes.cancelled
    ]
    return {
        'booking_count': len(booked_items),
        'booked_events': booked_items,
        'waiting_list_events': [item for item in booked_items if item['in_waiting_list']],
        'cancelled_booking_count': len(cancelled),
        'cancelled_events': cancelled,
        'full_events': [_summary(result, record, tz) for record in changes.full],
    }


def bulk(result: BulkResult, call: Call) -> dict[str, Any]:
    return bulk_changes(result, call.tz)


# ---- callbacks (design.md §3.4) ------------------------------------------------------------------------


def failed_callbacks(result: list[CallbackRecord], call: Call) -> dict[str, Any]:
    """`GET /api/callbacks/failed/`."""
    return {
        'data': [
            {
                'id': r.ident,
                'booking_id': r.booking_id,
                'kind': r.kind,
                'url': r.url,
                'attempts': r.attempts,
                'last_error': r.last_error,
            }
            for r in result
        ]
    }


# ---- billing (Lingo, spec §7.5) --------------------------------------------------------------------------


def billing_event(agenda: AgendaSpec, record: EventRecord, call: Call) -> dict[str, Any]:
    """An event as Lingo reads it: the event detail with `agenda`, `primary_event`, the recurrence, and
    `start_datetime` in ISO 8601 with the offset (Lingo parses it with `fromisoformat`); `id` is
    `agenda@event`, as in the multi-agenda listings."""
    item = event_detail(agenda, record, call.base_url, call.tz, call.now)
    item.update(
        id=f'{agenda.slug}@{record.slug}',
        start_datetime=record.spec.start.astimezone(call.tz).isoformat(),
        agenda_slug=agenda.slug,
        agenda_label=agenda.label,
    )
    return item


def events_details(result: list[tuple[AgendaSpec, EventRecord]], call: Call) -> dict[str, Any]:
    """`POST /api/agendas/events/`: the events in the order asked."""
    return {'data': [billing_event(agenda, record, call) for agenda, record in result]}


def billing_booking(leg: Leg, tz: ZoneInfo) -> dict[str, Any]:
    """The booking behind a check status: its state, attendance, person and `extra_data` (Lingo's payer
    templates read `booking`)."""
    fields = leg.fields
    return {
        **booking_state(leg),
        **{name: fields.get(name) for name in ('label', 'user_first_name', 'user_last_name', 'user_external_id')},
        'creation_datetime': local_text(leg.created_at, tz),
        'cancellation_datetime': local_text(leg.cancelled_at, tz),
    }


def check_statuses(result: list[EventStatus], call: Call) -> dict[str, Any]:
    """`POST /api/agendas/events/check-status/`: per event, the event, the status and the booking (`{}`
    when none is shown)."""
    return {
        'data': [
            {
                'event': billing_event(item.agenda, item.record, call),
                'check_status': {
                    'status': item.status.status,
                    'check_type': item.status.check_type,
                    'error_reason': item.status.error_reason,
                },
                'booking': billing_booking(item.booking, call.tz) if item.booking is not None else {},
            }
            for item in result
        ]
    }


# ---- subscriptions (spec §2.5) ---------------------------------------------------------------------------


def subscriptions(result: list[SubscriptionSpec], call: Call) -> dict[str, Any]:
    """`GET /api/agenda/<agenda>/subscription/`."""
    return {'data': [spec.export() for spec in result]}


def subscription(result: SubscriptionSpec, call: Call) -> dict[str, Any]:
    """One subscription (created, read, changed): under `data`, and at the top level (as a booking)."""
    item = result.export()
    return {**item, 'data': item}
