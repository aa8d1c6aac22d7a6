"""Demo agendas of `make run`: one events agenda with a waiting list, one meetings agenda
with two desks and two meeting types. Loaded through the import use case, as a client would."""
from __future__ import annotations

from datetime import date, timedelta

from chalicelib import config
from chalicelib.services import transfer
from chalicelib.parsing import Payload


def demo_document(today: date) -> dict:
    first_tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    events = [{
        'slug': f'natation-{day:%Y-%m-%d}',
        'label': f'Cours de natation du {day:%d/%m/%Y}',
        'start_datetime': f'{day:%Y-%m-%d} 18:00:00',
        'duration': 60,
        'places': 20,
        'waiting_list_places': 5,
        'description': 'Cours collectif, bonnet obligatoire.',
    } for day in (first_tuesday + timedelta(weeks=n) for n in range(6))]
    weekdays = [{'weekday': d, 'start_time': start, 'end_time': end}
                for d in range(5) for start, end in (('09:00:00', '12:00:00'), ('14:00:00', '17:00:00'))]
    return {
        'categories': [{'slug': 'sport', 'label': 'Sport'}, {'slug': 'etat-civil', 'label': 'État civil'}],
        'agendas': [
            {'slug': 'piscine', 'label': 'Piscine municipale', 'kind': 'events', 'category': 'sport',
             'minimal_booking_delay': 0, 'maximal_booking_delay': 60, 'events': events,
             # Its waiting list moves up on its own, and those who move up are told (docs/api.md).
             'waiting_list_promotion': 'automatic',
             'reminder_settings': {'days_before_email': 1, 'days_before_sms': 1, 'hour': 9, 'notify_promotion': True,
                                   'email_extra_info': 'Bonnet obligatoire.'}},
            {'slug': 'passeports', 'label': 'Passeports et cartes d\'identité', 'kind': 'meetings',
             'category': 'etat-civil', 'minimal_booking_delay': 1, 'maximal_booking_delay': 56,
             'reminder_settings': {'days_before_email': 2, 'email_extra_info': 'Apportez votre dossier complet.'},
             'meetingtypes': [{'slug': 'depot', 'label': 'Dépôt de dossier', 'duration': 30},
                              {'slug': 'retrait', 'label': 'Retrait de titre', 'duration': 15}],
             'desks': [{'slug': 'guichet-1', 'label': 'Guichet 1', 'timeperiods': weekdays},
                       {'slug': 'guichet-2', 'label': 'Guichet 2', 'timeperiods': weekdays}]},
        ],
    }


def load(today: date | None = None) -> dict:
    return transfer.import_document(Payload(demo_document(today or date.today())), config.settings().time_zone)
