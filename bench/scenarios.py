"""The large agendas the figures measure, each built once per run (`bench.scenario(...)`), through
the API as a client would build them. The clock of the run is harness.NOW (Monday 4 March 2030)."""
from __future__ import annotations

import random
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .harness import Bench

FIRST_DAY = date(2030, 3, 5)  # the day after NOW: the first bookable day (minimal delay 1 day)

# A meetings agenda: 10 desks open Monday-Saturday 08:00-18:00, meeting types of 5, 10 and 15 minutes
# (a 5-minute grid), a few hundred bookings at random open times of the 90 days.
MEETINGS = 'guichets'
DESKS = 10
MEETING_TYPES = {'cinq': 5, 'dix': 10, 'quinze': 15}
OPENING = ('08:00', '18:00')
MEETING_BOOKINGS = 300

# An events agenda of 5,000 events: 20 a day (08:00 to 17:30, every half hour) over 250 days.
EVENTS = 'grand-programme'
EVENT_COUNT = 5000
EVENTS_PER_DAY = 20


@dataclass(frozen=True)
class MeetingsAgenda:
    slug: str
    booked: int  # bookings made, of MEETING_BOOKINGS tried (a time may have no desk left)
    seconds: float  # to make them


def meeting_slot(meeting_type: str, day: date, minutes: int) -> str:
    """The slot id of a fillslot: `<type>:<YYYY-MM-DD>-<HHMM>`, `minutes` after midnight."""
    return f'{meeting_type}:{day:%Y-%m-%d}-{minutes // 60:02d}{minutes % 60:02d}'


def meetings_agenda(bench: Bench) -> MeetingsAgenda:
    week = [{'weekday': day, 'start_time': OPENING[0], 'end_time': OPENING[1]} for day in range(6)]
    bench.call('post', '/api/import/', {'agendas': [{
        'slug': MEETINGS, 'label': 'Guichets', 'kind': 'meetings', 'minimal_booking_delay': 1,
        'maximal_booking_delay': 100,
        'meetingtypes': [{'slug': slug, 'label': slug, 'duration': minutes} for slug, minutes in MEETING_TYPES.items()],
        'desks': [{'slug': f'g{n}', 'label': f'Guichet {n}', 'timeperiods': week} for n in range(1, DESKS + 1)],
    }]})
    rng = random.Random(2030)
    opening, closing = int(OPENING[0][:2]) * 60, int(OPENING[1][:2]) * 60
    started, booked = clock.monotonic(), 0
    for n in range(MEETING_BOOKINGS):
        day = FIRST_DAY + timedelta(days=rng.randrange(90))
        if day.weekday() == 6:  # closed on Sundays
            day += timedelta(days=1)
        slug, minutes = rng.choice(list(MEETING_TYPES.items()))
        start = opening + 5 * rng.randrange((closing - minutes - opening) // 5 + 1)
        answer = bench.call('post', f'/api/agenda/{MEETINGS}/fillslot/{meeting_slot(slug, day, start)}/',
                            {'user_external_id': f'u{n % 50}'})
        booked += answer['err'] == 0
    return MeetingsAgenda(MEETINGS, booked, round(clock.monotonic() - started, 1))


@dataclass(frozen=True)
class EventsAgenda:
    slug: str
    count: int  # events
    seconds: float  # to import it

    @staticmethod
    def event(n: int) -> str:
        return f'seance-{n:04d}'


def event_start(n: int) -> datetime:
    day, rank = divmod(n, EVENTS_PER_DAY)
    return datetime.combine(FIRST_DAY + timedelta(days=day), time(8, 0)) + timedelta(minutes=30 * rank)


def large_events_agenda(bench: Bench) -> EventsAgenda:
    """5,000 events, all inside the booking window, imported in one document."""
    events = [{'slug': EventsAgenda.event(n), 'label': f'Séance {n + 1}', 'duration': 30, 'places': 20,
               'waiting_list_places': 5, 'start_datetime': f'{event_start(n):%Y-%m-%d %H:%M}'}
              for n in range(EVENT_COUNT)]
    started = clock.monotonic()
    bench.call('post', '/api/import/', {'agendas': [{
        'slug': EVENTS, 'label': 'Grand programme', 'kind': 'events', 'minimal_booking_delay': 1,
        'maximal_booking_delay': 400, 'events': events}]})
    return EventsAgenda(EVENTS, EVENT_COUNT, round(clock.monotonic() - started, 1))


# An events agenda of 2,000 events and two recurring ones: weekly until the summer, and a cancelled one.
RECURRING = 'activites'
RECURRING_OTHER_EVENTS = 2000


@dataclass(frozen=True)
class RecurringAgenda:
    slug: str
    count: int  # events in all: the plain ones, the primaries and their occurrences
    primary: str  # the weekly one
    occurrences: int  # of `primary`


def recurring_agenda(bench: Bench) -> RecurringAgenda:
    events = [{'slug': f'atelier-{n:04d}', 'label': f'Atelier {n + 1}', 'duration': 60, 'places': 12,
               'start_datetime': f'{event_start(n % EVENT_COUNT):%Y-%m-%d %H:%M}'}
              for n in range(RECURRING_OTHER_EVENTS)]
    end = FIRST_DAY + timedelta(days=120)
    events += [{'slug': 'natation', 'label': 'Natation', 'start_datetime': f'{FIRST_DAY} 17:00', 'places': 20,
                'recurrence_days': [0, 2], 'recurrence_end_date': f'{end}'},
               {'slug': 'plongee', 'label': 'Plongée', 'start_datetime': f'{FIRST_DAY} 18:00', 'places': 8,
                'recurrence_days': [4], 'recurrence_end_date': f'{end}', 'cancelled': True}]
    bench.call('post', '/api/import/', {'agendas': [{
        'slug': RECURRING, 'label': 'Activités', 'kind': 'events', 'minimal_booking_delay': 1,
        'maximal_booking_delay': 400, 'events': events}]})
    from chalicelib import store
    records = store.list_events(RECURRING)  # what was made (not measured)
    return RecurringAgenda(RECURRING, len(records), 'natation',
                           sum(record.spec.primary_event == 'natation' for record in records))
