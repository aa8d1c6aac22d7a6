"""The route table of the Chrono booking API: each handler parses, calls the core, renders.

Paths are declared without their trailing slash: Chalice then serves both spellings
(Chrono's clients always write the slash). Authentication, path decoding, lenient body
parsing and error rendering happen in `chalicelib.http.Api`.
"""
from chalice import Chalice

from chalicelib import admin
from chalicelib.gateway import http_api_handler
from chalicelib.http import Api, Call

app = Chalice(app_name='chrono')
api = Api(app)


# ---- agendas (spec §4, design.md §3.4) ---------------------------------------------------

@api.route('/api/agenda', methods=('GET',))
def agenda_list(call: Call):
    return {'data': admin.list_agendas(call.query, call.base_url)}


@api.route('/api/agenda', methods=('POST',))
def agenda_create(call: Call):
    return {'data': admin.create_agenda(call.body, call.base_url, call.tz)}


@api.route('/api/agenda/{agenda}', methods=('GET',))
def agenda_detail(call: Call, agenda: str):
    return {'data': admin.get_agenda(agenda, call.base_url)}


# ---- events (spec §7.4) ------------------------------------------------------------------

@api.route('/api/agenda/{agenda}/event', methods=('POST',))
def event_create(call: Call, agenda: str):
    return {'data': admin.create_event(agenda, call.body, call.base_url, call.tz, call.now)}


@api.route('/api/agenda/{agenda}/event/{event}', methods=('GET',))
def event_detail(call: Call, agenda: str, event: str):
    return {'data': admin.get_event(agenda, event, call.base_url, call.tz, call.now)}


@api.route('/api/agenda/{agenda}/event/{event}', methods=('PATCH',))
def event_update(call: Call, agenda: str, event: str):
    return {'data': admin.update_event(agenda, event, call.body, call.base_url, call.tz, call.now)}


@api.route('/api/agenda/{agenda}/event/{event}', methods=('DELETE',))
def event_delete(call: Call, agenda: str, event: str):
    return admin.delete_event(agenda, event)


# ---- import and export (spec §11.1) ------------------------------------------------------

@api.route('/api/import', methods=('POST',))
def import_agendas(call: Call):
    return {'data': admin.import_document(call.body, call.tz)}


@api.route('/api/export', methods=('GET',))
def export_agendas(call: Call):
    return admin.export_document(call.tz)


# The Lambda handler behind an HTTP API or a function URL (README: signatures and the raw query).
http_handler = http_api_handler(app)
