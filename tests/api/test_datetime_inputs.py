"""Datetimes with an offset (issue 15 point 8): the 1900-2999 range is checked after the offset, in every
reading of the instant (as written, UTC, CHRONO_TIME_ZONE), and an offset is at most 23:59 either way
(tests/unit/test_parsing.py has the parser's cases)."""
from __future__ import annotations

import pytest

INVALID = {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload'}
OUT_OF_RANGE = 'Datetime out of range: years 1900 to 2999, as written, in UTC and in Europe/Paris.'
BAD_OFFSET = 'UTC offset out of range: use +HH:MM or -HH:MM, hours 00 to 23, minutes 00 to 59.'


@pytest.fixture
def agenda(api):
    assert api.post('/api/agenda/', {'label': 'X', 'slug': 'x'})[0] == 200
    return 'x'


@pytest.mark.parametrize('start', ['1900-01-01 00:00+23:59', '1900-01-01 00:00', '2999-12-31 23:00-05:00'],
                         ids=['UTC 1899-12-31 00:01', 'UTC 1899-12-31 23:50:39 (Paris time in 1900)', 'UTC 3000'])
def test_an_event_whose_instant_leaves_the_range_is_refused_and_not_stored(api, agenda, export, start):
    before = export()
    answer = api.post('/api/agenda/x/event/', {'slug': 'old', 'start_datetime': start, 'places': 1})
    assert answer == (400, {**INVALID, 'errors': {'start_datetime': [OUT_OF_RANGE]}})
    assert export() == before
    assert api.get('/api/agenda/x/event/old/')[0] == 404


@pytest.mark.parametrize('start', ['2030-03-05 10:00-00:60', '2030-03-05T10:00:00+24:00', '2030-03-05 10:00+0099'])
def test_an_offset_beyond_23_59_is_refused_on_create_and_on_patch(api, agenda, export, start):
    assert api.post('/api/agenda/x/event/', {'slug': 'e', 'start_datetime': '2030-03-05 10:00', 'places': 1})[0] == 200
    before = export()
    assert api.post('/api/agenda/x/event/', {'slug': 'f', 'start_datetime': start, 'places': 1}) == (
        400, {**INVALID, 'errors': {'start_datetime': [BAD_OFFSET]}})
    assert api.patch('/api/agenda/x/event/e/', {'start_datetime': start}) == (
        400, {**INVALID, 'errors': {'start_datetime': [BAD_OFFSET]}})
    assert export() == before


@pytest.mark.parametrize('start, stored', [('1900-01-01 00:00Z', '1900-01-01 00:09:21'),
                                           ('2030-03-05 10:00-23:59', '2030-03-06 10:59:00'),
                                           ('2999-12-31 22:59+00:00', '2999-12-31 23:59:00')])
def test_the_edges_are_stored_and_their_export_imports_back_unchanged(api, agenda, export, start, stored):
    assert api.post('/api/agenda/x/event/', {'slug': 'e', 'start_datetime': start, 'places': 1})[0] == 200
    document = export()
    (event,) = document['agendas'][0]['events']
    assert event['start_datetime'] == stored  # Paris wall time; Paris was 9 min 21 s ahead of UTC in 1900
    status, answer = api.post('/api/import/', document)
    assert (status, answer['err']) == (200, 0), answer
    assert export() == document
