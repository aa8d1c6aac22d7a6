"""Reminder rules (domain/reminder_rules.py): the settings as read, who is reached, when a reminder goes
out (DST days included), which reminders a booking is written with, what the messages say."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.reminder_rules import (
    Appointment,
    ReminderPlan,
    ReminderSettings,
    compose,
    due_time,
    email_recipients,
    notice_kinds,
    phone_recipients,
    plan_reminders,
    read_reminder_settings,
    reminder_dues,
)
from chalicelib.parsing import Payload

PARIS = ZoneInfo('Europe/Paris')
BOTH = ReminderSettings(days_before_email=2, days_before_sms=1, hour=18, email_extra_info=' Bonnet. ',
                        sms_extra_info='Bonnet.', notify_promotion=True)


def test_settings_read_leniently_and_absent_means_none():
    p = Payload({'reminder_settings': {'days_before_email': '2', 'days_before_sms': '', 'hour': '8',
                                       'notify_promotion': 'true'}})
    assert read_reminder_settings(p) == ReminderSettings(days_before_email=2, hour=8, notify_promotion=True)
    assert p.errors == {}
    for absent in ({}, {'reminder_settings': None}, {'reminder_settings': ''}, {'reminder_settings': {}}):
        assert read_reminder_settings(Payload(absent)) is None
    assert BOTH.channels == ('email', 'sms') and ReminderSettings().channels == ()
    assert ReminderSettings(**{k: v for k, v in BOTH.export().items()}) == BOTH  # the export reads back


def test_recipients_are_the_plausible_ones_each_once():
    fields = {'user_email': 'Anne@Example.org', 'extra_emails': ['anne@example.org', 'nothing', 'bob@example.org',
                                                                 'a b@example.org', 'c@localhost']}
    assert email_recipients(fields) == ['Anne@Example.org', 'bob@example.org']
    assert email_recipients({'extra_emails': [f'u{n}@example.org' for n in range(60)]})[-1] == 'u49@example.org'
    fields = {'user_phone_number': '+33 6 11 22 33 44', 'extra_phone_numbers': ['06.11.22.33.55', 'none', '12']}
    assert phone_recipients(fields) == ['+33 6 11 22 33 44', '06.11.22.33.55']
    assert email_recipients({}) == phone_recipients({}) == []


@pytest.mark.parametrize('start, days, hour, expected', [
    (datetime(2030, 3, 8, 9, tzinfo=timezone.utc), 2, 9, datetime(2030, 3, 6, 9, tzinfo=PARIS)),
    # The event's local day counts: 00:30 in Paris on the 8th is still the 7th in UTC.
    (datetime(2030, 3, 7, 23, 30, tzinfo=timezone.utc), 1, 9, datetime(2030, 3, 7, 9, tzinfo=PARIS)),
    # Across the spring change: 09:00 local, whatever the offset the day before.
    (datetime(2030, 3, 31, 8, tzinfo=timezone.utc), 1, 9, datetime(2030, 3, 30, 9, tzinfo=PARIS)),
    (datetime(2030, 3, 31, 8, tzinfo=timezone.utc), 2, 0, datetime(2030, 3, 29, 0, tzinfo=PARIS)),
])
def test_due_time_is_the_local_hour_days_before_the_local_day(start, days, hour, expected):
    due = due_time(start, days, hour, PARIS)
    assert due == expected and due.astimezone(PARIS).hour == hour


def test_a_booking_gets_one_reminder_per_leg_and_configured_channel_still_to_come():
    now = datetime(2030, 3, 1, 12, tzinfo=PARIS)
    starts = [(0, datetime(2030, 3, 8, 10, tzinfo=PARIS)), (1, datetime(2030, 3, 2, 10, tzinfo=PARIS))]
    fields = {'user_email': 'a@example.org', 'user_phone_number': '0611223344'}
    assert plan_reminders(BOTH, starts, fields, ('email', 'sms'), PARIS, now) == [
        ReminderPlan(0, 'reminder-email', datetime(2030, 3, 6, 18, tzinfo=PARIS)),
        ReminderPlan(0, 'reminder-sms', datetime(2030, 3, 7, 18, tzinfo=PARIS)),
        ReminderPlan(1, 'reminder-sms', datetime(2030, 3, 1, 18, tzinfo=PARIS)),  # the e-mail's time has passed
    ]
    assert [p.kind for p in plan_reminders(BOTH, starts[:1], fields, ('email',), PARIS, now)] == ['reminder-email']
    assert plan_reminders(BOTH, starts, {'user_email': 'nothing'}, ('email', 'sms'), PARIS, now) == []
    assert plan_reminders(None, starts, fields, ('email', 'sms'), PARIS, now) == []
    assert reminder_dues(BOTH, starts[0][1], PARIS) == {'reminder-email': datetime(2030, 3, 6, 18, tzinfo=PARIS),
                                                        'reminder-sms': datetime(2030, 3, 7, 18, tzinfo=PARIS)}
    assert notice_kinds(BOTH, fields, ('sms',)) == ['promotion-sms']
    assert notice_kinds(ReminderSettings(days_before_email=1), fields, ('email',)) == []  # not asked for


def test_messages_say_what_where_when_and_link_the_form():
    appointment = Appointment('Dépôt de dossier', 'Passeports, Guichet 2', datetime(2030, 3, 8, 9, 30, tzinfo=PARIS),
                              'https://demarches.example.org/passeport/7/')
    email = compose('reminder-email', appointment, BOTH, PARIS)
    assert email.subject == 'Rappel : Dépôt de dossier, vendredi 8 mars 2030 à 09:30'
    assert email.text == ('Rappel : vous avez rendez-vous « Dépôt de dossier » le vendredi 8 mars 2030 à 09:30.\n\n'
                          'Lieu : Passeports, Guichet 2\n\nBonnet.\n\n'
                          'Modifier ou annuler le rendez-vous : https://demarches.example.org/passeport/7/\n')
    sms = compose('promotion-sms', appointment, BOTH, PARIS)
    assert sms.text == ("Une place s'est libérée : votre réservation « Dépôt de dossier » du vendredi 8 mars 2030 à "
                        "09:30 passe de la liste d'attente à la liste principale. Lieu : Passeports, Guichet 2. Bonnet.")
    bare = compose('reminder-email', Appointment('Cours', 'Piscine', appointment.start), None, PARIS)
    assert 'Modifier' not in bare.text and bare.text.endswith('Lieu : Piscine\n')
