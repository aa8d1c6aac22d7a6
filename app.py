"""The route table of the Chrono booking API: each handler parses, calls the core, renders.

Paths are declared without their trailing slash: Chalice then serves both spellings
(Chrono's clients always write the slash). Authentication, path decoding, lenient body
parsing and error rendering happen in `chalicelib.web.api.Api`.
"""

import gc
import os
from typing import TYPE_CHECKING

# A cold start allocates tens of thousands of objects that live as long as the process, and frees almost
# none: collecting them meanwhile only costs time. Frozen at the end, they are never scanned again.
gc.disable()

from chalice import Chalice, Rate

from chalicelib import config, services
from chalicelib.web import api as web
from chalicelib.web import render
from chalicelib.web.api import Api, Call
from chalicelib.web.gateway import http_api_handler
from chalicelib.web.logs import configure as configure_logs

if TYPE_CHECKING:
    from chalicelib.services import (
        agendas,
        agent,
        billing,
        booking,
        booking_changes,
        bulk_booking,
        callbacks,
        events,
        ics_sources,
        listings,
        range_booking,
        reminders,
        retention,
        subscriptions,
        transfer,
        unavailability,
    )
else:  # each imported on its first call: a cold start imports only what its first request needs
    (
        agendas,
        agent,
        billing,
        booking,
        booking_changes,
        bulk_booking,
        callbacks,
        events,
        ics_sources,
        listings,
        range_booking,
        reminders,
        retention,
        subscriptions,
        transfer,
        unavailability,
    ) = services.on_first_use(
        'agendas',
        'agent',
        'billing',
        'booking',
        'booking_changes',
        'bulk_booking',
        'callbacks',
        'events',
        'ics_sources',
        'listings',
        'range_booking',
        'reminders',
        'retention',
        'subscriptions',
        'transfer',
        'unavailability',
    )

configure_logs()  # JSON lines at CHRONO_LOG_LEVEL, on Lambda's own handler (docs/deploy.md "Logs")
# configure_logs=False: Chalice's logger would otherwise write plain text to stdout, past our formatter.
app = Chalice(app_name='chrono', configure_logs=False)
api = Api(app)
web.warm_up()  # on Lambda: the AWS clients are made in the init phase, not in the first request


# ---- agendas (spec §4, design.md §3.4) ---------------------------------------------------


@api.route('/api/agenda', methods=('GET',), render=render.agendas)
def agenda_list(call: Call):
    return agendas.list_agendas(call.query, call.tz, call.now)


@api.route('/api/agenda', methods=('POST',), render=render.agenda)
def agenda_create(call: Call):
    return agendas.create_agenda(call.body, call.tz, call.now)


@api.route('/api/agenda/{agenda}', methods=('GET',), render=render.agenda)
def agenda_detail(call: Call, agenda: str):
    return agendas.get_agenda(agenda)


# ---- meetings configuration (spec §5.3-5.5) -----------------------------------------------


@api.route('/api/agenda/{agenda}/meetings', methods=('GET',), render=render.meeting_types)
def meeting_types(call: Call, agenda: str):
    return agendas.meeting_types(agenda)


@api.route('/api/agenda/{agenda}/meetings/{meeting_type}', methods=('GET',), render=render.meeting_type)
def meeting_type(call: Call, agenda: str, meeting_type: str):
    return agendas.meeting_type(agenda, meeting_type)


@api.route('/api/agenda/{agenda}/meetings/{meeting_type}/datetimes', methods=('GET',), render=render.meeting_datetimes)
def meeting_datetimes(call: Call, agenda: str, meeting_type: str):
    return listings.meeting_datetimes(agenda, meeting_type, call.query, call.tz, call.now)


@api.route('/api/agenda/{agenda}/desks', methods=('GET',), render=render.desks)
def desks(call: Call, agenda: str):
    return agendas.desks(agenda)


@api.route('/api/agenda/{agenda}/resources', methods=('GET',), render=render.resources)
def resources(call: Call, agenda: str):
    return agendas.resources(agenda)


@api.route('/api/agenda/{agenda}/shared-resources', methods=('GET',), render=render.resources)
def shared_resources(call: Call, agenda: str):
    return agendas.resources(agenda)


# ---- free-range agendas (spec §5.6, §6.6) --------------------------------------------------


@api.route('/api/agenda/{agenda}/free-range/datetimes', methods=('GET',), render=render.free_range_datetimes)
def free_range_datetimes(call: Call, agenda: str):
    return range_booking.datetimes(agenda, call.query, call.tz, call.now)


@api.route('/api/agenda/{agenda}/free-range/fillslot', methods=('POST',), render=render.booked)
def free_range_fillslot(call: Call, agenda: str):
    return range_booking.fillslot(agenda, call.body, call.tz, call.now, call.caller.client)


# ---- events datetimes and status (spec §5.2, §7.1-7.2) -------------------------------------


@api.route('/api/agenda/{agenda}/datetimes', methods=('GET',), render=render.datetimes)
def datetimes(call: Call, agenda: str):
    return listings.datetimes(agenda, call.query, call.tz, call.now)


@api.route('/api/agenda/{agenda}/status/{event}', methods=('GET',), render=render.status)
def event_status(call: Call, agenda: str, event: str):
    return listings.status(agenda, event, call.now)


@api.route('/api/agenda/{agenda}/bookings/{event}', methods=('GET',), render=render.event_bookings)
def event_bookings(call: Call, agenda: str, event: str):
    return listings.event_bookings(agenda, event, call.query)


# ---- booking (the seed document; spec §6.1-6.2) ---------------------------------------------


@api.route('/api/agenda/{agenda}/fillslot/{slot}', methods=('POST',), render=render.booked)
def fillslot(call: Call, agenda: str, slot: str):
    return booking.fillslot(agenda, slot, call.body, call.tz, call.now, call.caller.client)


@api.route('/api/agenda/{agenda}/fillslots', methods=('POST',), render=render.booked)
def fillslots(call: Call, agenda: str):
    return booking.fillslots(agenda, call.body, call.tz, call.now, call.caller.client)


# ---- a booking's lifecycle (spec §8.3, §8.5-8.8) ---------------------------------------------


@api.route('/api/booking/{booking_id}', methods=('GET',), render=render.booking)
def booking_detail(call: Call, booking_id: str):
    return booking.get_booking(booking_id, call.tz)


@api.route('/api/booking/{booking_id}/cancel', methods=('POST',))
def booking_cancel(call: Call, booking_id: str):
    return booking.cancel_booking(booking_id, call.now, call.tz, call.body)


@api.route('/api/booking/{booking_id}', methods=('DELETE',))
def booking_delete(call: Call, booking_id: str):
    return booking.cancel_booking(booking_id, call.now, call.tz, query=call.query)


@api.route('/api/booking/{booking_id}/accept', methods=('POST',))
def booking_accept(call: Call, booking_id: str):
    return booking.accept_booking(booking_id)


@api.route('/api/booking/{booking_id}/suspend', methods=('POST',))
def booking_suspend(call: Call, booking_id: str):
    return booking.suspend_booking(booking_id)


# ---- changing a booking, a user's bookings, iCalendar (spec §8.1-8.2, §8.4, §8.9-8.11) ------------


@api.route('/api/booking/{booking_id}', methods=('PATCH',))
def booking_patch(call: Call, booking_id: str):
    return booking_changes.patch_booking(booking_id, call.body)


@api.route('/api/booking/{booking_id}/resize', methods=('POST',))
def booking_resize(call: Call, booking_id: str):
    return booking_changes.resize_booking(booking_id, call.body, call.now)


@api.route('/api/booking/{booking_id}/anonymize', methods=('POST',))
def booking_anonymize(call: Call, booking_id: str):
    return booking_changes.anonymize_booking(booking_id, call.now)


@api.route('/api/booking/{booking_id}/ics', methods=('GET',), render=render.ics)
def booking_ics(call: Call, booking_id: str):
    return listings.booking_ics(booking_id, call.tz, call.now)


@api.route('/api/bookings', methods=('GET',), render=render.user_bookings)
def user_bookings(call: Call):
    return listings.user_bookings(call.query, call.tz)


@api.route('/api/bookings/ics', methods=('GET',), render=render.ics)
def user_bookings_ics(call: Call):
    return listings.user_bookings_ics(call.query, call.tz, call.now)


# ---- several events at once (spec §5.7, §6.3-6.5) ------------------------------------------


@api.route('/api/agenda/{agenda}/events/fillslots', methods=('POST',), render=render.bulk)
def events_fillslots(call: Call, agenda: str):
    return bulk_booking.events_fillslots(agenda, call.body, call.tz, call.now, call.caller.client)


@api.route('/api/agendas/events/fillslots', methods=('POST',), render=render.bulk)
def agendas_events_fillslots(call: Call):
    return bulk_booking.agendas_events_fillslots(call.query, call.body, call.tz, call.now, call.caller.client)


@api.route('/api/agendas/datetimes', methods=('GET',), render=render.agendas_datetimes)
def agendas_datetimes(call: Call):
    return listings.agendas_datetimes(call.query, call.tz, call.now)


@api.route('/api/agendas/recurring-events', methods=('GET',), render=render.recurring_events)
def recurring_events(call: Call):
    return listings.recurring_events(call.query, call.tz, call.now)


@api.route('/api/agendas/recurring-events/fillslots', methods=('POST',), render=render.bulk)
def recurring_fillslots(call: Call):
    return bulk_booking.recurring_fillslots(call.query, call.body, call.tz, call.now, call.caller.client)


# ---- billing: Lingo's calls (spec §7.5) ------------------------------------------------------


@api.route('/api/agendas/events', methods=('POST',), render=render.events_details)
def agendas_events(call: Call):
    return billing.events_details(call.body)


@api.route('/api/agendas/events/check-lock', methods=('POST',))
def agendas_events_check_lock(call: Call):
    return billing.check_lock(call.body, call.tz)


@api.route('/api/agendas/events/invoiced', methods=('POST',))
def agendas_events_invoiced(call: Call):
    return billing.mark_invoiced(call.body, call.tz)


@api.route('/api/agendas/events/check-status', methods=('POST',), render=render.check_statuses)
def agendas_events_check_status(call: Call):
    return billing.check_statuses(call.body, call.tz)


# ---- subscriptions (spec §2.5) ------------------------------------------------------------


@api.route('/api/agenda/{agenda}/subscription', methods=('GET',), render=render.subscriptions)
def subscription_list(call: Call, agenda: str):
    return subscriptions.list_subscriptions(agenda, call.query)


@api.route('/api/agenda/{agenda}/subscription', methods=('POST',), render=render.subscription)
def subscription_create(call: Call, agenda: str):
    return subscriptions.create_subscription(agenda, call.body)


@api.route('/api/agenda/{agenda}/subscription/{subscription_id}', methods=('GET',), render=render.subscription)
def subscription_detail(call: Call, agenda: str, subscription_id: str):
    return subscriptions.get_subscription(agenda, subscription_id)


@api.route('/api/agenda/{agenda}/subscription/{subscription_id}', methods=('PATCH',), render=render.subscription)
def subscription_update(call: Call, agenda: str, subscription_id: str):
    return subscriptions.update_subscription(agenda, subscription_id, call.body)


@api.route('/api/agenda/{agenda}/subscription/{subscription_id}', methods=('DELETE',))
def subscription_delete(call: Call, agenda: str, subscription_id: str):
    return subscriptions.delete_subscription(agenda, subscription_id, call.now, call.tz, call.host)


# ---- events (spec §7.4) ------------------------------------------------------------------


@api.route('/api/agenda/{agenda}/event', methods=('POST',), render=render.event)
def event_create(call: Call, agenda: str):
    return events.create_event(agenda, call.body, call.tz, call.now)


@api.route('/api/agenda/{agenda}/event/{event}', methods=('GET',), render=render.event)
def event_detail(call: Call, agenda: str, event: str):
    return events.get_event(agenda, event, call.now)


@api.route('/api/agenda/{agenda}/event/{event}', methods=('PATCH',), render=render.event)
def event_update(call: Call, agenda: str, event: str):
    return events.update_event(agenda, event, call.body, call.tz, call.now)


@api.route('/api/agenda/{agenda}/event/{event}', methods=('DELETE',))
def event_delete(call: Call, agenda: str, event: str):
    return events.delete_event(agenda, event, call.tz, call.now)


# ---- import and export (spec §11.1) ------------------------------------------------------


@api.route('/api/import', methods=('POST',))
def import_agendas(call: Call):
    return {'data': transfer.import_document(call.body, call.tz, call.now)}


@api.route('/api/export', methods=('GET',))
def export_agendas(call: Call):
    return transfer.export_document(call.tz)


# ---- unavailability calendars and remote ICS sources (spec §2.3; docs/api.md "Closures") ---------


@api.route('/api/unavailability-calendar', methods=('GET',), render=render.unavailability_calendars)
def calendar_list(call: Call):
    return unavailability.list_calendars()


@api.route('/api/unavailability-calendar', methods=('POST',), render=render.unavailability_calendar)
def calendar_create(call: Call):
    return unavailability.create_calendar(call.body, call.tz, call.now)


@api.route('/api/unavailability-calendar/{calendar}', methods=('GET',), render=render.unavailability_calendar)
def calendar_detail(call: Call, calendar: str):
    return unavailability.get_calendar(calendar)


@api.route('/api/unavailability-calendar/{calendar}', methods=('PATCH',), render=render.unavailability_calendar)
def calendar_update(call: Call, calendar: str):
    return unavailability.update_calendar(calendar, call.body, call.tz, call.now)


@api.route('/api/unavailability-calendar/{calendar}', methods=('DELETE',))
def calendar_delete(call: Call, calendar: str):
    return unavailability.delete_calendar(calendar)


@api.route('/api/exceptions-sources/refresh', methods=('POST',), render=render.refreshed_sources)
def sources_refresh(call: Call):
    return ics_sources.refresh(call.tz, call.now, ics_sources.REQUEST_SECONDS)


# ---- agent actions and callbacks (spec §7.3, §9.8; design.md §3.4) -------------------------


@api.route('/api/agenda/{agenda}/check/{event}', methods=('POST',))
def event_check(call: Call, agenda: str, event: str):
    return agent.check_event(agenda, event, call.now, call.host)


@api.route('/api/agenda/{agenda}/event/{event}/cancel', methods=('POST',))
def event_cancel(call: Call, agenda: str, event: str):
    return agent.cancel_event(agenda, event, call.now, call.host)


@api.route('/api/booking/{booking_id}/agent-cancel', methods=('POST',))
def booking_agent_cancel(call: Call, booking_id: str):
    return agent.cancel_booking(booking_id, call.now, call.host)


@api.route('/api/callbacks/failed', methods=('GET',), render=render.failed_callbacks)
def callbacks_failed(call: Call):
    return callbacks.failed_list()


@api.route('/api/retention/anonymize', methods=('POST',))
def retention_anonymize(call: Call):
    return retention.anonymize_past_bookings(call.now).as_dict()


@api.route('/api/callbacks/failed/redrive', methods=('POST',))
def callbacks_redrive(call: Call):
    return {'data': callbacks.redrive(call.now)}


# ---- the API's description (docs/api.md, "OpenAPI") -------------------------------------


@api.route('/api/openapi.json', methods=('GET',))
def openapi_document(call: Call):
    from chalicelib.web import openapi  # here: compiling its tables would cost every cold start ~6 ms

    return web.answer(openapi.document(call.base_url))


# One message per invocation: an attempt may take its 15 s timeout, well within the Lambda's.
@app.on_sqs_message(queue=os.environ.get('CHRONO_CALLBACK_QUEUE') or 'chrono-callbacks', batch_size=1)
def deliver_callbacks(event):
    """One attempt per queued callback; the partial batch response gives back what failed."""
    return callbacks.handle_messages([record.to_dict() for record in event], web.utcnow)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_callbacks(event):
    """Queue the pending callbacks whose time has come (retries beyond SQS's 15 minutes, lost messages)."""
    return {'queued': callbacks.sweep(web.utcnow())}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def send_reminders(event):
    """Send the reminders and promotion notices whose time has come (services/reminders.py)."""
    return reminders.send_due(web.utcnow())


@app.schedule(Rate(1, unit=Rate.DAYS))
def extend_recurrences(event):
    """Occurrences of the open-ended recurring events for the year ahead (domain/recurrence.py)."""
    return {'created': events.extend_recurrences(config.settings().time_zone, web.utcnow())}


@app.schedule(Rate(1, unit=Rate.HOURS))
def anonymize_past_bookings(event):
    """Anonymise the bookings past their agenda's anonymize_delay (services/retention.py)."""
    return retention.anonymize_past_bookings(web.utcnow()).as_dict()


@app.schedule(Rate(1, unit=Rate.DAYS))
def refresh_closures(event):
    """The remote ICS sources of calendars and desks fetched again (services/ics_sources.py)."""
    outcomes = ics_sources.refresh(config.settings().time_zone, web.utcnow(), ics_sources.SCHEDULE_SECONDS)
    return ics_sources.counts(outcomes)


# The Lambda handler behind an HTTP API or a function URL (docs/api.md: signatures and the raw query).
http_handler = http_api_handler(app)

gc.freeze()
gc.enable()
