"""A reference meetings agenda whose datetimes are checked against lists computed by hand
(spec chrono-api.md §5.1, §5.4, §9.5, §10), and what listing them costs in DynamoDB calls.

The agenda `reference` (Europe/Paris; meeting types `quinze` 15 min and `trente` 30 min, so a
15-minute grid), "now" Sunday 2030-03-24 00:30, booking window [Mon 25 March 00:00, Wed 3 April
00:00) (minimal delay 1 day, maximal 10 days):

    desk g1 "Guichet 1": Monday 09:00-11:00 minus the weekly closure 10:00-10:15 (team briefing),
                         Tuesday 09:00-10:00, Sunday 01:00-04:00 (across both DST changes)
    desk g2 "Guichet 2": Monday 10:00-12:00
    both desks:          closed all of Monday 1 April 2030 (a holiday: one exception per desk)

The weekly closure is modelled two ways, which must list the same times: as the absence of a
period (g1 opens Monday 09:00-10:00 and 10:15-11:00: the closure holds for every week, without
end), and as a desk exception (TimePeriodException) on each Monday the tests list (25 March,
1 April, 21 October), g1 then opening Monday 09:00-11:00. The first is what an agent should
configure: exceptions are one-off (ICS imports only cover 600 days, spec §9.5).

Bookings, made through fillslot in this order (the desk is the first free one in desk order):
    A trente 2030-03-25 09:00 (bob)    -> g1 [09:00, 09:30)
    B quinze 2030-03-25 10:30 (alice)  -> g1 [10:30, 10:45)
    C trente 2030-03-25 11:00          -> g2 [11:00, 11:30)   (g1 closes at 11:00)
    D quinze 2030-03-25 10:15          -> g1 [10:15, 10:30)
    E quinze 2030-03-25 10:15          -> g2 [10:15, 10:30)   (g1 taken by D)
    F quinze 2030-03-26 09:30 (bob)    -> g1 [09:30, 09:45)
    G trente 2030-03-31 01:45 (alice)  -> g1 [01:45 CET, 03:15 CEST) = [00:45, 01:15) UTC

DST (docs/api.md, "Meetings"): on Sunday 31 March 2030 02:00 CET becomes 03:00 CEST, so no start at
02:00-02:45 exists, and a meeting starting at 01:30 CET ends at 03:00 CEST (30 real minutes). On
Sunday 27 October 2030 03:00 CEST becomes 02:00 CET: the repeated hour gives its first
occurrence only (02:00-02:45 CEST = 00:00-00:45 UTC), so 02:30 + 30 min ends at "02:00" (CET).

Every expected list below is written by hand: (id, datetime, end_datetime, disabled).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.api.test_dynamodb_calls import count_calls

PARIS = ZoneInfo('Europe/Paris')
NOW = datetime(2030, 3, 24, 0, 30, tzinfo=PARIS)  # Sunday, before the Sunday period opens
URL = '/api/agenda/reference/meetings/{}/datetimes/'

QUINZE = [
    # Monday 25 March: g1 09:00-10:00 and 10:15-11:00, g2 10:00-12:00.
    ('quinze:2030-03-25-0900', '2030-03-25 09:00:00', '2030-03-25 09:15:00', True),  # A on g1, g2 closed
    ('quinze:2030-03-25-0915', '2030-03-25 09:15:00', '2030-03-25 09:30:00', True),  # A: its second quarter
    ('quinze:2030-03-25-0930', '2030-03-25 09:30:00', '2030-03-25 09:45:00', False),
    ('quinze:2030-03-25-0945', '2030-03-25 09:45:00', '2030-03-25 10:00:00', False),  # ends as g1 closes
    ('quinze:2030-03-25-1000', '2030-03-25 10:00:00', '2030-03-25 10:15:00', False),  # g2 (g1 closed), E touches
    ('quinze:2030-03-25-1015', '2030-03-25 10:15:00', '2030-03-25 10:30:00', True),  # D on g1, E on g2
    ('quinze:2030-03-25-1030', '2030-03-25 10:30:00', '2030-03-25 10:45:00', False),  # B on g1, g2 free
    ('quinze:2030-03-25-1045', '2030-03-25 10:45:00', '2030-03-25 11:00:00', False),
    ('quinze:2030-03-25-1100', '2030-03-25 11:00:00', '2030-03-25 11:15:00', True),  # C on g2, g1 closed
    ('quinze:2030-03-25-1115', '2030-03-25 11:15:00', '2030-03-25 11:30:00', True),  # C
    ('quinze:2030-03-25-1130', '2030-03-25 11:30:00', '2030-03-25 11:45:00', False),
    ('quinze:2030-03-25-1145', '2030-03-25 11:45:00', '2030-03-25 12:00:00', False),
    # Tuesday 26 March: g1 09:00-10:00.
    ('quinze:2030-03-26-0900', '2030-03-26 09:00:00', '2030-03-26 09:15:00', False),
    ('quinze:2030-03-26-0915', '2030-03-26 09:15:00', '2030-03-26 09:30:00', False),
    ('quinze:2030-03-26-0930', '2030-03-26 09:30:00', '2030-03-26 09:45:00', True),  # F
    ('quinze:2030-03-26-0945', '2030-03-26 09:45:00', '2030-03-26 10:00:00', False),
    # Sunday 31 March, spring DST change: g1 01:00-04:00, nothing at 02:00-02:45.
    ('quinze:2030-03-31-0100', '2030-03-31 01:00:00', '2030-03-31 01:15:00', False),
    ('quinze:2030-03-31-0115', '2030-03-31 01:15:00', '2030-03-31 01:30:00', False),
    ('quinze:2030-03-31-0130', '2030-03-31 01:30:00', '2030-03-31 01:45:00', False),  # ends as G starts
    ('quinze:2030-03-31-0145', '2030-03-31 01:45:00', '2030-03-31 03:00:00', True),  # G; 15 min across the gap
    ('quinze:2030-03-31-0300', '2030-03-31 03:00:00', '2030-03-31 03:15:00', True),  # G ends 03:15 CEST
    ('quinze:2030-03-31-0315', '2030-03-31 03:15:00', '2030-03-31 03:30:00', False),
    ('quinze:2030-03-31-0330', '2030-03-31 03:30:00', '2030-03-31 03:45:00', False),
    ('quinze:2030-03-31-0345', '2030-03-31 03:45:00', '2030-03-31 04:00:00', False),
    # Monday 1 April: holiday, both desks closed: not listed at all.
    # Tuesday 2 April: g1 09:00-10:00 (the window ends on Wednesday 3 April 00:00).
    ('quinze:2030-04-02-0900', '2030-04-02 09:00:00', '2030-04-02 09:15:00', False),
    ('quinze:2030-04-02-0915', '2030-04-02 09:15:00', '2030-04-02 09:30:00', False),
    ('quinze:2030-04-02-0930', '2030-04-02 09:30:00', '2030-04-02 09:45:00', False),
    ('quinze:2030-04-02-0945', '2030-04-02 09:45:00', '2030-04-02 10:00:00', False),
]

TRENTE = [
    # Monday 25 March (g1 offers no 09:45: it would end at 10:15, into the closure).
    ('trente:2030-03-25-0900', '2030-03-25 09:00:00', '2030-03-25 09:30:00', True),  # A
    ('trente:2030-03-25-0915', '2030-03-25 09:15:00', '2030-03-25 09:45:00', True),  # A
    ('trente:2030-03-25-0930', '2030-03-25 09:30:00', '2030-03-25 10:00:00', False),
    ('trente:2030-03-25-1000', '2030-03-25 10:00:00', '2030-03-25 10:30:00', True),  # E on g2, g1 closed
    ('trente:2030-03-25-1015', '2030-03-25 10:15:00', '2030-03-25 10:45:00', True),  # D + B on g1, E on g2
    ('trente:2030-03-25-1030', '2030-03-25 10:30:00', '2030-03-25 11:00:00', False),  # B on g1, g2 free
    ('trente:2030-03-25-1045', '2030-03-25 10:45:00', '2030-03-25 11:15:00', True),  # C (g1 would end 11:15)
    ('trente:2030-03-25-1100', '2030-03-25 11:00:00', '2030-03-25 11:30:00', True),  # C
    ('trente:2030-03-25-1115', '2030-03-25 11:15:00', '2030-03-25 11:45:00', True),  # C
    ('trente:2030-03-25-1130', '2030-03-25 11:30:00', '2030-03-25 12:00:00', False),
    # Tuesday 26 March.
    ('trente:2030-03-26-0900', '2030-03-26 09:00:00', '2030-03-26 09:30:00', False),  # ends as F starts
    ('trente:2030-03-26-0915', '2030-03-26 09:15:00', '2030-03-26 09:45:00', True),  # F
    ('trente:2030-03-26-0930', '2030-03-26 09:30:00', '2030-03-26 10:00:00', True),  # F
    # Sunday 31 March, spring DST change: no 02:00 nor 02:30 start; ends are 30 real minutes later.
    ('trente:2030-03-31-0100', '2030-03-31 01:00:00', '2030-03-31 01:30:00', False),
    ('trente:2030-03-31-0115', '2030-03-31 01:15:00', '2030-03-31 01:45:00', False),  # ends as G starts
    ('trente:2030-03-31-0130', '2030-03-31 01:30:00', '2030-03-31 03:00:00', True),  # G
    ('trente:2030-03-31-0145', '2030-03-31 01:45:00', '2030-03-31 03:15:00', True),  # G itself
    ('trente:2030-03-31-0300', '2030-03-31 03:00:00', '2030-03-31 03:30:00', True),  # G (01:00 UTC < 01:15 UTC)
    ('trente:2030-03-31-0315', '2030-03-31 03:15:00', '2030-03-31 03:45:00', False),
    ('trente:2030-03-31-0330', '2030-03-31 03:30:00', '2030-03-31 04:00:00', False),
    # Tuesday 2 April.
    ('trente:2030-04-02-0900', '2030-04-02 09:00:00', '2030-04-02 09:30:00', False),
    ('trente:2030-04-02-0915', '2030-04-02 09:15:00', '2030-04-02 09:45:00', False),
    ('trente:2030-04-02-0930', '2030-04-02 09:30:00', '2030-04-02 10:00:00', False),
]

# Sunday 24 March (winter time all day), before the window: listed only with bypass_delays.
TRENTE_SUNDAY_24 = [
    ('trente:2030-03-24-0100', '2030-03-24 01:00:00', '2030-03-24 01:30:00', False),
    ('trente:2030-03-24-0115', '2030-03-24 01:15:00', '2030-03-24 01:45:00', False),
    ('trente:2030-03-24-0130', '2030-03-24 01:30:00', '2030-03-24 02:00:00', False),
    ('trente:2030-03-24-0145', '2030-03-24 01:45:00', '2030-03-24 02:15:00', False),
    ('trente:2030-03-24-0200', '2030-03-24 02:00:00', '2030-03-24 02:30:00', False),
    ('trente:2030-03-24-0215', '2030-03-24 02:15:00', '2030-03-24 02:45:00', False),
    ('trente:2030-03-24-0230', '2030-03-24 02:30:00', '2030-03-24 03:00:00', False),
    ('trente:2030-03-24-0245', '2030-03-24 02:45:00', '2030-03-24 03:15:00', False),
    ('trente:2030-03-24-0300', '2030-03-24 03:00:00', '2030-03-24 03:30:00', False),
    ('trente:2030-03-24-0315', '2030-03-24 03:15:00', '2030-03-24 03:45:00', False),
    ('trente:2030-03-24-0330', '2030-03-24 03:30:00', '2030-03-24 04:00:00', False),
]

# The week of Monday 21 October 2030 (after the window: bypass_delays), no booking.
QUINZE_OCTOBER = [
    ('quinze:2030-10-21-0900', '2030-10-21 09:00:00', '2030-10-21 09:15:00', False),
    ('quinze:2030-10-21-0915', '2030-10-21 09:15:00', '2030-10-21 09:30:00', False),
    ('quinze:2030-10-21-0930', '2030-10-21 09:30:00', '2030-10-21 09:45:00', False),
    ('quinze:2030-10-21-0945', '2030-10-21 09:45:00', '2030-10-21 10:00:00', False),
    ('quinze:2030-10-21-1000', '2030-10-21 10:00:00', '2030-10-21 10:15:00', False),
    ('quinze:2030-10-21-1015', '2030-10-21 10:15:00', '2030-10-21 10:30:00', False),
    ('quinze:2030-10-21-1030', '2030-10-21 10:30:00', '2030-10-21 10:45:00', False),
    ('quinze:2030-10-21-1045', '2030-10-21 10:45:00', '2030-10-21 11:00:00', False),
    ('quinze:2030-10-21-1100', '2030-10-21 11:00:00', '2030-10-21 11:15:00', False),
    ('quinze:2030-10-21-1115', '2030-10-21 11:15:00', '2030-10-21 11:30:00', False),
    ('quinze:2030-10-21-1130', '2030-10-21 11:30:00', '2030-10-21 11:45:00', False),
    ('quinze:2030-10-21-1145', '2030-10-21 11:45:00', '2030-10-21 12:00:00', False),
    ('quinze:2030-10-22-0900', '2030-10-22 09:00:00', '2030-10-22 09:15:00', False),
    ('quinze:2030-10-22-0915', '2030-10-22 09:15:00', '2030-10-22 09:30:00', False),
    ('quinze:2030-10-22-0930', '2030-10-22 09:30:00', '2030-10-22 09:45:00', False),
    ('quinze:2030-10-22-0945', '2030-10-22 09:45:00', '2030-10-22 10:00:00', False),
    # Sunday 27 October, autumn DST change: 02:00-02:45 once, in summer time (00:00-00:45 UTC).
    ('quinze:2030-10-27-0100', '2030-10-27 01:00:00', '2030-10-27 01:15:00', False),
    ('quinze:2030-10-27-0115', '2030-10-27 01:15:00', '2030-10-27 01:30:00', False),
    ('quinze:2030-10-27-0130', '2030-10-27 01:30:00', '2030-10-27 01:45:00', False),
    ('quinze:2030-10-27-0145', '2030-10-27 01:45:00', '2030-10-27 02:00:00', False),
    ('quinze:2030-10-27-0200', '2030-10-27 02:00:00', '2030-10-27 02:15:00', False),
    ('quinze:2030-10-27-0215', '2030-10-27 02:15:00', '2030-10-27 02:30:00', False),
    ('quinze:2030-10-27-0230', '2030-10-27 02:30:00', '2030-10-27 02:45:00', False),
    ('quinze:2030-10-27-0245', '2030-10-27 02:45:00', '2030-10-27 02:00:00', False),  # 00:45-01:00 UTC
    ('quinze:2030-10-27-0300', '2030-10-27 03:00:00', '2030-10-27 03:15:00', False),  # 02:00 UTC
    ('quinze:2030-10-27-0315', '2030-10-27 03:15:00', '2030-10-27 03:30:00', False),
    ('quinze:2030-10-27-0330', '2030-10-27 03:30:00', '2030-10-27 03:45:00', False),
    ('quinze:2030-10-27-0345', '2030-10-27 03:45:00', '2030-10-27 04:00:00', False),
]

TRENTE_OCTOBER = [
    ('trente:2030-10-21-0900', '2030-10-21 09:00:00', '2030-10-21 09:30:00', False),
    ('trente:2030-10-21-0915', '2030-10-21 09:15:00', '2030-10-21 09:45:00', False),
    ('trente:2030-10-21-0930', '2030-10-21 09:30:00', '2030-10-21 10:00:00', False),
    ('trente:2030-10-21-1000', '2030-10-21 10:00:00', '2030-10-21 10:30:00', False),
    ('trente:2030-10-21-1015', '2030-10-21 10:15:00', '2030-10-21 10:45:00', False),
    ('trente:2030-10-21-1030', '2030-10-21 10:30:00', '2030-10-21 11:00:00', False),
    ('trente:2030-10-21-1045', '2030-10-21 10:45:00', '2030-10-21 11:15:00', False),
    ('trente:2030-10-21-1100', '2030-10-21 11:00:00', '2030-10-21 11:30:00', False),
    ('trente:2030-10-21-1115', '2030-10-21 11:15:00', '2030-10-21 11:45:00', False),
    ('trente:2030-10-21-1130', '2030-10-21 11:30:00', '2030-10-21 12:00:00', False),
    ('trente:2030-10-22-0900', '2030-10-22 09:00:00', '2030-10-22 09:30:00', False),
    ('trente:2030-10-22-0915', '2030-10-22 09:15:00', '2030-10-22 09:45:00', False),
    ('trente:2030-10-22-0930', '2030-10-22 09:30:00', '2030-10-22 10:00:00', False),
    # Sunday 27 October: one 02:00 and one 02:30 start (summer time); 02:30 + 30 min is 02:00 winter time.
    ('trente:2030-10-27-0100', '2030-10-27 01:00:00', '2030-10-27 01:30:00', False),
    ('trente:2030-10-27-0115', '2030-10-27 01:15:00', '2030-10-27 01:45:00', False),
    ('trente:2030-10-27-0130', '2030-10-27 01:30:00', '2030-10-27 02:00:00', False),
    ('trente:2030-10-27-0145', '2030-10-27 01:45:00', '2030-10-27 02:15:00', False),
    ('trente:2030-10-27-0200', '2030-10-27 02:00:00', '2030-10-27 02:30:00', False),
    ('trente:2030-10-27-0215', '2030-10-27 02:15:00', '2030-10-27 02:45:00', False),
    ('trente:2030-10-27-0230', '2030-10-27 02:30:00', '2030-10-27 02:00:00', False),  # 00:30-01:00 UTC
    ('trente:2030-10-27-0245', '2030-10-27 02:45:00', '2030-10-27 02:15:00', False),  # 00:45-01:15 UTC
    ('trente:2030-10-27-0300', '2030-10-27 03:00:00', '2030-10-27 03:30:00', False),
    ('trente:2030-10-27-0315', '2030-10-27 03:15:00', '2030-10-27 03:45:00', False),
    ('trente:2030-10-27-0330', '2030-10-27 03:30:00', '2030-10-27 04:00:00', False),
]

BOOKINGS = [  # (slot, user, desk the booking must land on)
    ('trente:2030-03-25-0900', 'bob', 'g1'),  # A
    ('quinze:2030-03-25-1030', 'alice', 'g1'),  # B
    ('trente:2030-03-25-1100', None, 'g2'),  # C
    ('quinze:2030-03-25-1015', None, 'g1'),  # D
    ('quinze:2030-03-25-1015', None, 'g2'),  # E
    ('quinze:2030-03-26-0930', 'bob', 'g1'),  # F
    ('trente:2030-03-31-0145', 'alice', 'g1'),  # G
]
HOLIDAY = {'label': 'Jour férié', 'start_datetime': '2030-04-01 00:00', 'end_datetime': '2030-04-02 00:00'}
BRIEFING_MONDAYS = ('2030-03-25', '2030-04-01', '2030-10-21')


def reference_agenda(closure: str) -> dict:
    """The agenda document; `closure` says how g1's weekly Monday closure 10:00-10:15 is given."""
    if closure == 'period':
        monday = [{'weekday': 0, 'start_time': '09:00', 'end_time': '10:00'},
                  {'weekday': 0, 'start_time': '10:15', 'end_time': '11:00'}]
        briefings = []
    else:
        monday = [{'weekday': 0, 'start_time': '09:00', 'end_time': '11:00'}]
        briefings = [{'label': 'Briefing', 'start_datetime': f'{day} 10:00', 'end_datetime': f'{day} 10:15'}
                     for day in BRIEFING_MONDAYS]
    return {
        'slug': 'reference', 'label': 'Référence', 'kind': 'meetings',
        'minimal_booking_delay': 1, 'maximal_booking_delay': 10,
        'meetingtypes': [{'slug': 'quinze', 'label': 'Quinze minutes', 'duration': 15},
                         {'slug': 'trente', 'label': 'Trente minutes', 'duration': 30}],
        'desks': [
            {'slug': 'g1', 'label': 'Guichet 1',
             'timeperiods': [*monday, {'weekday': 1, 'start_time': '09:00', 'end_time': '10:00'},
                             {'weekday': 6, 'start_time': '01:00', 'end_time': '04:00'}],
             'exceptions': [*briefings, HOLIDAY]},
            {'slug': 'g2', 'label': 'Guichet 2',
             'timeperiods': [{'weekday': 0, 'start_time': '10:00', 'end_time': '12:00'}],
             'exceptions': [HOLIDAY]},
        ],
    }


@pytest.fixture(params=['period', 'exceptions'], ids=['closure-as-missing-period', 'closure-as-exceptions'])
def reference(request, api, clock):
    clock(NOW)
    status, answer = api.post('/api/import/', {'agendas': [reference_agenda(request.param)]})
    assert status == 200, answer
    for slot, user, desk in BOOKINGS:
        status, answer = api.post(f'/api/agenda/reference/fillslot/{slot}/',
                                  {'user_external_id': user} if user else {})
        assert (status, answer['err'], answer['desk']['slug']) == (200, 0, desk), (slot, answer)
    return request.param


def listing(api, meeting_type, query=''):
    status, answer = api.get(URL.format(meeting_type) + (f'?{query}' if query else ''))
    assert status == 200 and answer['err'] == 0, answer
    return answer


def rows(answer):
    for item in answer['data']:  # the keys not compared below follow from `id` and `datetime`
        assert item['date'] == item['datetime'][:10] and item['text'] == item['datetime'], item
        assert item['api'] == {'fillslot_url': f"http://localhost/api/agenda/reference/fillslot/{item['id']}/"}
    return [(i['id'], i['datetime'], i['end_datetime'], i['disabled']) for i in answer['data']]


def free(expected):
    return [row for row in expected if not row[3]]


def disable(expected, *ids):
    assert set(ids) <= {row[0] for row in expected}
    return [(i, start, end, disabled or i in ids) for i, start, end, disabled in expected]


def between(expected, first_day, end_day):
    return [row for row in expected if first_day <= row[1][:10] < end_day]


@pytest.mark.parametrize('meeting_type, expected, available, first', [
    ('quinze', QUINZE, 20, 'quinze:2030-03-25-0930'),
    ('trente', TRENTE, 11, 'trente:2030-03-25-0930'),
])
def test_the_reference_agenda_lists_the_hand_computed_times(api, reference, meeting_type, expected, available,
                                                            first):
    answer = listing(api, meeting_type)
    assert rows(answer) == expected
    assert answer['meta'] == {'no_bookable_datetimes': False, 'bookable_datetimes_number_total': len(expected),
                              'bookable_datetimes_number_available': available,
                              'first_bookable_slot': next(i for i in answer['data'] if i['id'] == first)}
    assert not any(i['disabled'] for i in answer['data'] if i['id'] == first)


@pytest.mark.parametrize('meeting_type, expected', [('quinze', QUINZE), ('trente', TRENTE)])
def test_hide_disabled_drops_the_disabled_times(api, reference, meeting_type, expected):
    assert rows(listing(api, meeting_type, 'hide_disabled=true')) == free(expected)
    assert rows(listing(api, meeting_type, 'hide_disabled=false')) == expected


@pytest.mark.parametrize('meeting_type, expected, alice', [
    # alice holds B (25 March 10:30-10:45, g1) and G (31 March 01:45-03:15, already disabling its times).
    ('quinze', QUINZE, ['quinze:2030-03-25-1030']),
    ('trente', TRENTE, ['trente:2030-03-25-1030']),
])
def test_a_time_the_excluded_user_holds_a_meeting_is_disabled(api, reference, meeting_type, expected, alice):
    assert rows(listing(api, meeting_type, 'exclude_user_external_id=alice')) == disable(expected, *alice)
    assert rows(listing(api, meeting_type, 'exclude_user_external_id=alice&hide_disabled=true')) == \
        free(disable(expected, *alice))
    # bob's meetings (A, F) only touch the free times next to them; nobody holds none.
    assert rows(listing(api, meeting_type, 'exclude_user_external_id=bob')) == expected
    assert rows(listing(api, meeting_type, 'exclude_user_external_id=nobody')) == expected


@pytest.mark.parametrize('meeting_type, expected', [('quinze', QUINZE), ('trente', TRENTE)])
def test_user_external_id_and_lock_code_are_accepted_and_change_no_time(api, reference, meeting_type, expected):
    assert rows(listing(api, meeting_type, 'user_external_id=alice')) == expected
    assert rows(listing(api, meeting_type, 'lock_code=0c9a5e1b')) == expected
    assert rows(listing(api, meeting_type, 'user_external_id=alice&lock_code=0c9a5e1b&hide_disabled=true')) == \
        free(expected)


@pytest.mark.parametrize('meeting_type, expected', [('quinze', QUINZE), ('trente', TRENTE)])
def test_date_start_and_date_end_narrow_the_window_and_never_widen_it(api, reference, meeting_type, expected):
    tuesday = listing(api, meeting_type, 'date_start=2030-03-26&date_end=2030-03-31')  # date_end excluded
    assert rows(tuesday) == between(expected, '2030-03-26', '2030-03-27') != []
    sunday = listing(api, meeting_type, 'date_start=2030-03-31&date_end=2030-04-02')  # Monday 1st: holiday
    assert rows(sunday) == between(expected, '2030-03-31', '2030-04-01') != []
    assert rows(listing(api, meeting_type, 'date_start=2030-03-20&date_end=2030-06-01')) == expected
    assert rows(listing(api, meeting_type, 'date_end=2030-03-25')) == []
    assert rows(listing(api, meeting_type, 'date_start=2030-04-03')) == []
    assert rows(listing(api, meeting_type, 'date_start=2030-10-21&date_end=2030-10-28')) == []


def test_bypass_delays_lists_before_and_after_the_window(api, reference):
    # From now (Sunday 24 March 00:30), not from the minimal delay's 25 March 00:00.
    assert rows(listing(api, 'trente', 'bypass_delays=true&date_end=2030-03-25')) == TRENTE_SUNDAY_24
    assert rows(listing(api, 'trente', 'bypass_delays=true&date_end=2030-04-03')) == TRENTE_SUNDAY_24 + TRENTE
    # Beyond the maximal delay: the October week, with its DST change.
    october = 'bypass_delays=true&date_start=2030-10-21&date_end=2030-10-28'
    assert rows(listing(api, 'quinze', october)) == QUINZE_OCTOBER
    assert rows(listing(api, 'trente', october)) == TRENTE_OCTOBER
    assert rows(listing(api, 'trente', 'bypass_delays=false&date_start=2030-10-21&date_end=2030-10-28')) == []


def test_no_start_in_the_spring_gap_and_one_in_the_repeated_autumn_hour(api, reference):
    """The DST rows of the lists above, on their own (spec §10)."""
    spring = [row[0] for row in rows(listing(api, 'trente', 'date_start=2030-03-31&date_end=2030-04-01'))]
    assert spring == ['trente:2030-03-31-0100', 'trente:2030-03-31-0115', 'trente:2030-03-31-0130',
                      'trente:2030-03-31-0145', 'trente:2030-03-31-0300', 'trente:2030-03-31-0315',
                      'trente:2030-03-31-0330']
    autumn = [row[0] for row in rows(listing(api, 'trente', 'bypass_delays=true&date_start=2030-10-27'
                                                            '&date_end=2030-10-28'))]
    assert [i for i in autumn if i.endswith(('-0200', '-0230'))] == ['trente:2030-10-27-0200',
                                                                      'trente:2030-10-27-0230']
    assert len(autumn) == len(set(autumn)) == 11
    # Booking the 02:30 of October holds 00:30-01:00 UTC: the 02:15 (00:15-00:45 UTC) is then taken.
    status, booked = api.post('/api/agenda/reference/fillslot/trente:2030-10-27-0230/', {'bypass_delays': 'true'})
    assert (status, booked['datetime'], booked['end_datetime']) == (200, '2030-10-27 02:30:00', '2030-10-27 02:00:00')
    after = rows(listing(api, 'trente', 'bypass_delays=true&date_start=2030-10-27&date_end=2030-10-28'))
    assert [row[0] for row in after if row[3]] == ['trente:2030-10-27-0215', 'trente:2030-10-27-0230',
                                                   'trente:2030-10-27-0245']


def test_a_meeting_the_excluded_user_began_before_the_listing_start_still_disables(api, reference, clock):
    """The listing starts at "now" (bypass_delays here; a minimal delay of 0 alike): alice's meeting
    that began before still overlaps the times after it, in the listing as in fillslot's exclude_user."""
    status, answer = api.post('/api/agenda/reference/fillslot/trente:2030-10-21-1015/',
                              {'bypass_delays': 'true', 'user_external_id': 'alice'})
    assert (status, answer['desk']['slug']) == (200, 'g1')  # alice holds g1 [10:15, 10:45)
    clock(datetime(2030, 10, 21, 10, 20, tzinfo=PARIS))
    query = 'bypass_delays=true&date_end=2030-10-22&exclude_user_external_id=alice'
    assert rows(listing(api, 'quinze', query)) == [
        ('quinze:2030-10-21-1030', '2030-10-21 10:30:00', '2030-10-21 10:45:00', True),  # g2 free, alice busy
        ('quinze:2030-10-21-1045', '2030-10-21 10:45:00', '2030-10-21 11:00:00', False),
        ('quinze:2030-10-21-1100', '2030-10-21 11:00:00', '2030-10-21 11:15:00', False),
        ('quinze:2030-10-21-1115', '2030-10-21 11:15:00', '2030-10-21 11:30:00', False),
        ('quinze:2030-10-21-1130', '2030-10-21 11:30:00', '2030-10-21 11:45:00', False),
        ('quinze:2030-10-21-1145', '2030-10-21 11:45:00', '2030-10-21 12:00:00', False),
    ]
    assert rows(listing(api, 'quinze', 'bypass_delays=true&date_end=2030-10-22'))[0] == \
        ('quinze:2030-10-21-1030', '2030-10-21 10:30:00', '2030-10-21 10:45:00', False)
    refused = api.post('/api/agenda/reference/fillslot/quinze:2030-10-21-1030/',
                       {'bypass_delays': 'true', 'user_external_id': 'alice', 'exclude_user': 'true'})[1]
    assert (refused['err'], refused['err_class']) == (1, 'no more desk available')


def test_user_external_id_tells_which_times_the_user_booked(api, reference):
    """Spec §5.1: `user_external_id` adds `booked_for_external_user` to every slot (a parameter
    common to events and meetings datetimes). Only the unambiguous cases are asserted: the very
    slots alice booked (B, G), and times far from any of her meetings."""
    for meeting_type, booked, elsewhere in (('quinze', 'quinze:2030-03-25-1030', 'quinze:2030-04-02-0900'),
                                            ('trente', 'trente:2030-03-31-0145', 'trente:2030-04-02-0900')):
        items = {i['id']: i for i in listing(api, meeting_type, 'user_external_id=alice')['data']}
        assert all('booked_for_external_user' in item for item in items.values()), meeting_type
        assert (items[booked]['booked_for_external_user'], items[elsewhere]['booked_for_external_user']) == \
            (True, False)


def test_a_meeting_across_the_spring_gap_ends_by_closing_time(api, clock):
    """Spec §9.5 step 2: starts while `s + D <= end_time`. A desk open 01:00-03:00 on Sunday 31
    March 2030 is open one real hour (01:00 CET to 03:00 CEST = 00:00-01:00 UTC): a 30-minute
    meeting at 01:45 CET ends at 03:15 CEST, after closing, and must not be offered nor booked."""
    clock(NOW)
    night = {'slug': 'nuit', 'label': 'Nuit', 'kind': 'meetings',
             'meetingtypes': [{'slug': 'quinze', 'label': 'Quinze', 'duration': 15},
                              {'slug': 'trente', 'label': 'Trente', 'duration': 30}],
             'desks': [{'slug': 'n1', 'label': 'N1',
                        'timeperiods': [{'weekday': 6, 'start_time': '01:00', 'end_time': '03:00'}]}]}
    assert api.post('/api/import/', {'agendas': [night]})[0] == 200
    status, answer = api.get('/api/agenda/nuit/meetings/trente/datetimes/?date_start=2030-03-31&date_end=2030-04-01')
    assert status == 200
    assert [(i['id'], i['datetime'], i['end_datetime'], i['disabled']) for i in answer['data']] == [
        ('trente:2030-03-31-0100', '2030-03-31 01:00:00', '2030-03-31 01:30:00', False),
        ('trente:2030-03-31-0115', '2030-03-31 01:15:00', '2030-03-31 01:45:00', False),
        ('trente:2030-03-31-0130', '2030-03-31 01:30:00', '2030-03-31 03:00:00', False),  # ends at closing
    ]
    refused = api.post('/api/agenda/nuit/fillslot/trente:2030-03-31-0145/', {})[1]
    assert (refused['err'], refused['err_class']) == (1, 'no more desk available')


# ---- what a listing costs in DynamoDB calls: bounded whatever the days and desks ----------------

def desks_agenda(slug: str, desks: int) -> dict:
    week = [{'weekday': day, 'start_time': '09:00', 'end_time': '12:00'} for day in range(6)]
    return {'slug': slug, 'label': slug, 'kind': 'meetings', 'minimal_booking_delay': 1, 'maximal_booking_delay': 120,
            'meetingtypes': [{'slug': 'quinze', 'label': 'Quinze', 'duration': 15},
                             {'slug': 'trente', 'label': 'Trente', 'duration': 30}],
            'desks': [{'slug': f'g{n}', 'label': f'Guichet {n}', 'timeperiods': week,
                       'exceptions': [HOLIDAY]} for n in range(1, desks + 1)]}


@pytest.fixture
def sized(api, clock):
    """`un` (1 desk) and `dix` (10 desks), open Monday-Saturday 09:00-12:00, each with bookings
    inside the first week and later on; `les-deux`, a virtual agenda over both."""
    clock(NOW)
    document = {'agendas': [desks_agenda('un', 1), desks_agenda('dix', 10),
                            {'slug': 'les-deux', 'label': 'Les deux', 'kind': 'virtual', 'real_agendas': ['un', 'dix'],
                             'minimal_booking_delay': 1, 'maximal_booking_delay': 120}]}
    assert api.post('/api/import/', document)[0] == 200
    for agenda in ('un', 'dix'):
        for slot in ('trente:2030-03-25-0900', 'quinze:2030-03-26-1000', 'trente:2030-04-15-1100',
                     'quinze:2030-05-20-0930', 'trente:2030-06-10-0900'):
            status, answer = api.post(f'/api/agenda/{agenda}/fillslot/{slot}/', {'user_external_id': 'alice'})
            assert (status, answer['err']) == (200, 0), answer


@pytest.mark.parametrize('agenda, reads', [
    ('un', {'Query': 2}),  # the configuration (agenda, types, desks, periods, exceptions), the meeting legs
    ('dix', {'Query': 2}),
    ('les-deux', {'Query': 5}),  # its configuration, then per real agenda: its configuration, its legs
])
def test_meeting_datetimes_cost_the_same_calls_whatever_the_days_and_desks(api, sized, monkeypatch, agenda, reads):
    """Calls counted at botocore's door (tests/api/test_dynamodb_calls.py). One page per Query here:
    a Query answers at most 1 MB, so a listing over more than ~2,000 meeting legs (or an agenda
    whose configuration passes 1 MB) costs one more Query per MB; no such boundary is reached."""
    calls = count_calls(monkeypatch)
    sizes = {}
    for days, date_end in ((7, '2030-04-01'), (90, '2030-06-23')):
        for query in (f'date_end={date_end}', f'date_end={date_end}&hide_disabled=true'):
            calls.clear()
            answer = api.get(f'/api/agenda/{agenda}/meetings/trente/datetimes/?{query}')[1]
            assert dict(calls) == reads, (days, query)
            sizes.setdefault(days, len(answer['data']))
        calls.clear()
        api.get(f'/api/agenda/{agenda}/meetings/quinze/datetimes/?date_end={date_end}&exclude_user_external_id=alice')
        assert dict(calls) == {'Query': reads['Query'] + 1}, days  # + the user's legs (gsi1), once
    # 6 and 77 open days (Monday-Saturday, but the holiday of Monday 1 April) of 11 times (09:00 to 11:30).
    assert sizes == {7: 6 * 11, 90: 77 * 11}
