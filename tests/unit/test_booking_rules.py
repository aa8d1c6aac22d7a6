"""Booking rules without I/O (chalicelib/domain/bookings.py): where places go (spec chrono-api.md §9.2), the
places an answer shows after a booking (§6.1), how a fillslot body is read (seed document, §1.3, §6.1), and
which booking `cancel_booking_id` may replace (§9.4)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.specs import EventSpec
from chalicelib.domain.booking_rules import BookingRequest, Leg, Placement, check_replaceable, read_booking_request
from chalicelib.domain.event_rules import EventRecord
from chalicelib.domain.places import Places, can_take, goes_to_waiting_list
from chalicelib.errors import BadRequest, BusinessError, InvalidPayload
from chalicelib.parsing import Payload
from chalicelib.web.api import status_of  # the edge gives each kind of error its HTTP status

UTC = timezone.utc
START = datetime(2030, 3, 10, 16, 0, tzinfo=UTC)
TEXT_FIELDS = ('label', 'user_display_label', 'user_name', 'user_first_name', 'user_last_name', 'user_email',
               'user_phone_number', 'sms_counter')
URL_FIELDS = ('backoffice_url', 'form_url', 'cancel_callback_url', 'presence_callback_url', 'absence_callback_url')
NO_FIELDS = {**{name: None for name in TEXT_FIELDS + URL_FIELDS}, 'user_external_id': None, 'extra_emails': None,
             'extra_phone_numbers': None, 'extra_data': None, 'client': None}


def decide(places: Places, count: int, force: bool = False) -> str:
    """'main', 'waiting' or the refusal's err_class."""
    try:
        return 'waiting' if goes_to_waiting_list(places, count, force) else 'main'
    except BusinessError as exc:
        return exc.err_class


def record(total=10, reserved=0, waiting_total=0, waiting=0, slug='e', agenda='a') -> EventRecord:
    return EventRecord(agenda, EventSpec(slug=slug, start=START, places=total, waiting_list_places=waiting_total),
                       reserved=reserved, waiting_list_reserved=waiting)


def leg(booking_id=7, index=0, legs=1, count=1, cancelled=False, agenda='a', event='e', waiting=False) -> Leg:
    return Leg(booking_id=booking_id, leg=index, legs=legs, agenda=agenda, event=event, count=count,
               in_waiting_list=waiting, start=START, end=None, created_at=START,
               cancelled_at=START if cancelled else None)


def read(body: dict) -> BookingRequest:
    return read_booking_request(Payload(body))


def invalid(body: dict) -> dict:
    with pytest.raises(InvalidPayload) as info:
        read(body)
    assert (status_of(info.value), info.value.err_class) == (400, 'invalid payload')
    return info.value.errors


def bad_request(body: dict) -> str:
    with pytest.raises(BadRequest) as info:
        read(body)
    assert status_of(info.value) == 400 and not isinstance(info.value, InvalidPayload)
    assert info.value.body() == {'err': 1, 'err_class': info.value.err_class, 'err_desc': info.value.err_class}
    return info.value.err_class


# ---- goes_to_waiting_list (§9.2) ---------------------------------------------------------------------

@pytest.mark.parametrize('places, count, force, expected', [
    # Without waiting list: the main list, or sold out.
    (Places(10, 0), 1, False, 'main'),
    (Places(10, 9), 1, False, 'main'),
    (Places(10, 10), 1, False, 'sold out'),
    (Places(10, 9), 2, False, 'sold out'),
    (Places(10, 8), 2, False, 'main'),
    (Places(3, 5), 1, False, 'sold out'),  # overbooked (accept)
    (Places(10, 0), 1, True, 'no waiting list'),
    (Places(10, 10), 1, True, 'no waiting list'),
    # With a waiting list: the main list while it has room and nobody waits.
    (Places(10, 0, 5, 0), 1, False, 'main'),
    (Places(10, 8, 5, 0), 2, False, 'main'),
    (Places(10, 9, 5, 0), 2, False, 'waiting'),  # the main list lacks `count` places
    (Places(10, 10, 5, 0), 1, False, 'waiting'),
    (Places(10, 0, 5, 1), 1, False, 'waiting'),  # someone already waits: first come, first served
    (Places(10, 0, 5, 0), 1, True, 'waiting'),  # forced
    (Places(10, 10, 5, 4), 1, False, 'waiting'),
    (Places(10, 10, 5, 4), 2, False, 'sold out'),  # the waiting list lacks `count` places
    (Places(10, 10, 5, 5), 1, False, 'sold out'),
    (Places(10, 0, 5, 5), 1, False, 'sold out'),  # people wait, the waiting list is full
    (Places(10, 0, 5, 5), 1, True, 'sold out'),
    (Places(10, 0, 2, 0), 3, True, 'sold out'),
    (Places(10, 10, 2, 3), 1, False, 'sold out'),  # overbooked waiting list
])
def test_goes_to_waiting_list(places, count, force, expected):
    assert decide(places, count, force) == expected


def test_goes_to_waiting_list_refusals_are_business_errors():
    with pytest.raises(BusinessError) as info:
        goes_to_waiting_list(Places(1, 1), 1)
    assert (status_of(info.value), info.value.body()) == (200, {'err': 1, 'err_class': 'sold out',
                                                            'err_desc': 'sold out'})
    with pytest.raises(BusinessError) as info:
        goes_to_waiting_list(Places(1, 0), 1, True)
    assert info.value.body() == {'err': 1, 'err_class': 'no waiting list', 'err_desc': 'no waiting list'}


@pytest.mark.parametrize('places, count, expected', [
    (Places(10, 9), 1, True),
    (Places(10, 9), 2, False),
    (Places(10, 10), 1, False),
    (Places(10, 10, 2, 0), 2, True),
    (Places(10, 10, 2, 1), 2, False),
    (Places(10, 0, 2, 2), 1, False),  # free places, but the waiting list is active and full
    (Places(10, 0, 2, 1), 1, True),
])
def test_can_take(places, count, expected):
    assert can_take(places, count) is expected


# ---- Placement.places_after (§6.1: the answer's places) ------------------------------------------------

def test_places_after_adds_the_count_to_the_chosen_list():
    event = record(10, 4, 3, 1)
    assert Placement(event, 2, in_waiting_list=False).places_after() == Places(10, 6, 3, 1)
    assert Placement(event, 2, in_waiting_list=True).places_after() == Places(10, 4, 3, 3)
    assert Placement(event, 1, in_waiting_list=True, forced=True).places_after() == Places(10, 4, 3, 2)
    assert event.places == Places(10, 4, 3, 1)  # the event record is unchanged


def test_places_after_gives_back_the_places_of_a_replaced_booking_on_the_same_event():
    event = record(10, 4, 3, 1)
    same = [leg(count=2, waiting=False)]
    waiting = [leg(count=1, waiting=True)]
    elsewhere = [leg(count=2, event='other'), leg(count=2, agenda='b')]
    assert Placement(event, 2, in_waiting_list=False).places_after(same) == Places(10, 4, 3, 1)
    assert Placement(event, 2, in_waiting_list=False).places_after(waiting) == Places(10, 6, 3, 0)
    assert Placement(event, 2, in_waiting_list=False).places_after(elsewhere) == Places(10, 6, 3, 1)


# ---- read_booking_request (seed parameters, §1.3 string values, §6.1) ---------------------------------

def test_an_empty_body_is_one_place_in_the_future_and_stores_nothing():
    assert read({}) == BookingRequest(count=1, exclude_user=False, bypass_delays=False, force_waiting_list=False,
                                      events='future', cancel_booking_id=None, user_external_id=None,
                                      fields=NO_FIELDS)


def test_the_client_stored_is_the_authenticated_caller_never_a_body_key():
    """The booking's client owns its callbacks (design.md §3.2): a body cannot name another one."""
    request = read_booking_request(Payload({'client': 'basic:other', 'label': 'L'}), 'signature:wcs.example.org')
    assert request.fields == {**NO_FIELDS, 'label': 'L', 'client': 'signature:wcs.example.org',
                              'extra_data': {'client': 'basic:other'}}


def test_blank_values_are_absent():
    body = {'count': '', 'cancel_booking_id': ' ', 'exclude_user': '', 'bypass_delays': None,
            'force_waiting_list': '', 'events': '', 'label': '', 'user_external_id': None, 'extra_emails': '',
            'extra_phone_numbers': ' , '}
    assert read(body) == read({})


def test_every_field_read_from_strings_as_wcs_sends_them():
    text = {name: f'{name} value' for name in TEXT_FIELDS}
    text['user_email'] = 'nothing'  # never checked (spec §1.3: w.c.s. sends "nothing")
    urls = {name: f'https://wcs.example.org/{name}/' for name in URL_FIELDS}
    body = {
        'count': '2', 'cancel_booking_id': '374729686357582', 'exclude_user': 'true', 'bypass_delays': 'True',
        'force_waiting_list': '1', 'events': 'past', 'user_external_id': 'nameid-42',
        'extra_emails': ' a@example.com,b@example.com ', 'extra_phone_numbers': ['+33122334455', ' +33122334466 '],
        'lock_code': 'abc', 'confirm_after_lock': 'true', 'use_color_for': 'x', 'resources': 'r1', 'slots': 'e',
        'form_number': '12-3', 'nested': {'a': [1, 'b']}, **text, **urls,
    }
    assert read(body) == BookingRequest(
        count=2, exclude_user=True, bypass_delays=True, force_waiting_list=True, events='past',
        cancel_booking_id=374729686357582, user_external_id='nameid-42', color='x', resources=('r1',),
        lock_code='abc', confirm_after_lock=True,
        fields={**text, **urls, 'user_external_id': 'nameid-42', 'extra_emails': ['a@example.com', 'b@example.com'],
                'extra_phone_numbers': ['+33122334455', '+33122334466'],
                'extra_data': {'form_number': '12-3', 'nested': {'a': [1, 'b']}}, 'client': None})


@pytest.mark.parametrize('body, expected', [
    ({'count': 3}, 3), ({'count': ' 4 '}, 4), ({'count': '+5'}, 5), ({'count': 2.0}, 2), ({'count': None}, 1),
    ({'count': '100000'}, 100000),
])
def test_count_values(body, expected):
    assert read(body).count == expected


@pytest.mark.parametrize('value, shown', [
    ('abc', 'abc'), ('1.5', '1.5'), (1.5, '1.5'), ('2 places', '2 places'), (True, 'True'), ('100001', '100001'),
    (['2'], '...'), ({'n': 2}, '...'), ('x' * 101, '...'),
])
def test_count_not_an_integer(value, shown):
    assert bad_request({'count': value}) == f'invalid value for count ({shown})'


@pytest.mark.parametrize('value', ['0', '-1', 0, -3, '-0'])
def test_count_not_positive(value):
    assert bad_request({'count': value}) == 'count cannot be less than or equal to zero'


@pytest.mark.parametrize('value, expected', [('45', 45), (45, 45), (' 45 ', 45), ('9223372036854775807', 2 ** 63 - 1)])
def test_cancel_booking_id_values(value, expected):
    assert read({'cancel_booking_id': value}).cancel_booking_id == expected


@pytest.mark.parametrize('value', ['x', '4.5', '-1', [45], True, '9223372036854775808'])
def test_cancel_booking_id_not_an_integer(value):
    assert bad_request({'cancel_booking_id': value}) == 'cancel_booking_id is not an integer'


@pytest.mark.parametrize('value, expected', [('true', True), ('True', True), ('on', True), (True, True), ('1', True),
                                             ('false', False), ('False', False), ('0', False), (False, False)])
def test_booleans(value, expected):
    request = read({'exclude_user': value, 'bypass_delays': value, 'force_waiting_list': value})
    assert (request.exclude_user, request.bypass_delays, request.force_waiting_list) == (expected,) * 3


def test_invalid_booleans_and_events_are_all_reported():
    assert invalid({'exclude_user': 'maybe', 'bypass_delays': 2, 'force_waiting_list': 'oui', 'events': 'bogus'}) == {
        'exclude_user': ['Must be a valid boolean.'], 'bypass_delays': ['Must be a valid boolean.'],
        'force_waiting_list': ['Must be a valid boolean.'], 'events': ['"bogus" is not a valid choice.']}


@pytest.mark.parametrize('value', ['future', 'past', 'all'])
def test_events_choices(value):
    assert read({'events': value}).events == value


@pytest.mark.parametrize('value', ['Past', 'FUTURE', 'any', 1, ['past']])
def test_events_other_values(value):
    assert set(invalid({'events': value})) == {'events'}


def test_text_and_url_limits():
    url = 'https://example.org/'
    at_limit = {**{name: 'x' * 1000 for name in TEXT_FIELDS}, **{name: url.ljust(2048, 'u') for name in URL_FIELDS},
                'user_external_id': 'i' * 250}
    assert read(at_limit).fields == {**NO_FIELDS, **at_limit}
    over = {**{name: 'x' * 1001 for name in TEXT_FIELDS}, **{name: url.ljust(2049, 'u') for name in URL_FIELDS},
            'user_external_id': 'i' * 251}
    assert invalid(over) == {
        **{name: ['Ensure this field has no more than 1000 characters.'] for name in TEXT_FIELDS},
        **{name: ['Ensure this field has no more than 2048 characters.'] for name in URL_FIELDS},
        'user_external_id': ['Ensure this field has no more than 250 characters.']}


def test_numbers_are_read_as_text_and_structures_refused():
    assert read({'label': 12, 'user_phone_number': 33122334455}).fields['label'] == '12'
    assert read({'user_phone_number': 33122334455}).fields['user_phone_number'] == '33122334455'
    assert invalid({'label': ['a'], 'user_name': {'x': 1}, 'form_url': True, 'cancel_callback_url': 12}) == {
        'label': ['Not a valid string.'], 'user_name': ['Not a valid string.'], 'form_url': ['Enter a valid URL.'],
        'cancel_callback_url': ['Enter a valid URL.']}


def test_extra_contacts_limits():
    fifty = [f'{n}@example.com' for n in range(50)]
    assert read({'extra_emails': fifty, 'extra_phone_numbers': ','.join(fifty)}).fields['extra_phone_numbers'] == fifty
    message = ['Ensure this list has no more than 50 values of 254 characters.']
    assert invalid({'extra_emails': fifty + ['x@example.com']}) == {'extra_emails': message}
    assert invalid({'extra_phone_numbers': ['1' * 255]}) == {'extra_phone_numbers': message}
    assert read({'extra_phone_numbers': ['1' * 254]}).fields['extra_phone_numbers'] == ['1' * 254]
    assert invalid({'extra_emails': [{'a': 1}]}) == {'extra_emails': ['Expected a list of strings.']}
    assert invalid({'extra_emails': 3}) == {'extra_emails': ['Expected a list of items or a comma-separated string.']}


def test_extra_data_size_limit():
    key = 'k'
    overhead = len('{"k": ""}')
    assert read({key: 'x' * (32_000 - overhead)}).fields['extra_data'] == {key: 'x' * (32_000 - overhead)}
    assert invalid({key: 'x' * (32_001 - overhead)}) == {
        'non_field_errors': ['The extra keys (extra_data) exceed 32000 bytes.']}


def test_extra_data_size_limit_counts_bytes_as_its_message_says():
    """MAX_EXTRA_DATA is documented as "bytes of JSON" and the refusal says "exceed 32000 bytes": 16,000 'é'
    are 32,000 bytes of UTF-8 (plus the key), beyond the limit, although only 16,009 characters."""
    payload = Payload({'k': '\u00e9' * 16_000})
    with pytest.raises(InvalidPayload) as info:
        read_booking_request(payload)
    assert info.value.errors == {'non_field_errors': ['The extra keys (extra_data) exceed 32000 bytes.']}



def test_an_accepted_request_fits_in_one_dynamodb_item():
    """A booking leg is one DynamoDB item (docs/table-design.md), limited to 400 KB of UTF-8; MAX_EXTRA_DATA says
    the limits keep "a booking item far below DynamoDB's 400 KB". A request at every limit, written with a 3-byte
    character, must then be refused (400) or fit: otherwise the write fails and the client gets a 500."""
    char = '\u20ac'  # the euro sign: 3 bytes in UTF-8
    body = {**{name: char * 1000 for name in TEXT_FIELDS}, **{name: char * 2048 for name in URL_FIELDS},
            'user_external_id': char * 250, 'extra_emails': [char * 1000] * 50,
            'extra_phone_numbers': [char * 1000] * 50, 'k': char * 31_990}
    try:
        request = read(body)
    except InvalidPayload:
        return
    size = len(json.dumps(request.fields, ensure_ascii=False).encode('utf-8'))
    assert size < 400 * 1024

# ---- check_replaceable (§9.4) ---------------------------------------------------------------------------

def test_check_replaceable_accepts_a_live_booking_of_the_same_count_and_gives_its_live_legs():
    assert check_replaceable([leg(count=1)], 1) == [leg(count=1)]
    assert check_replaceable([leg(count=2)], 2) == [leg(count=2)]
    group = [leg(index=0, legs=2, count=2), leg(index=1, legs=2, count=2, event='f')]
    assert check_replaceable(group, 2) == group
    # An agent cancelled one event of the group: the rest is replaced.
    partly = [leg(index=0, legs=2, cancelled=True), leg(index=1, legs=2, event='f')]
    assert check_replaceable(partly, 1) == [partly[1]]


@pytest.mark.parametrize('legs, count, err_class', [
    ([], 1, 'cancel booking: booking does not exist'),
    ([leg(cancelled=True)], 1, 'cancel booking: booking already cancelled'),
    ([leg(index=0, legs=2, cancelled=True), leg(index=1, legs=2, cancelled=True, event='f')], 1,
     'cancel booking: booking already cancelled'),
    ([leg(cancelled=True, count=2)], 1, 'cancel booking: booking already cancelled'),  # cancelled is reported first
    ([leg(count=2)], 1, 'cancel booking: count is different'),
    ([leg(count=1)], 3, 'cancel booking: count is different'),
])
def test_check_replaceable_refusals(legs, count, err_class):
    with pytest.raises(BusinessError) as info:
        check_replaceable(legs, count)
    assert (status_of(info.value), info.value.body()) == (200, {'err': 1, 'err_class': err_class, 'err_desc': err_class})


# ---- property: the §9.2 rule, stated independently --------------------------------------------------------

def rule_9_2(total, reserved, waiting_total, waiting, count, force):
    free = max(0, total - reserved)
    waiting_free = max(0, waiting_total - waiting)
    if waiting_total == 0:
        if force:
            return 'no waiting list'
        return 'main' if count <= free else 'sold out'
    if force or waiting > 0 or free < count:
        return 'waiting' if count <= waiting_free else 'sold out'
    return 'main'


@settings(max_examples=500, database=None, deadline=None)
@given(total=st.integers(1, 8), reserved=st.integers(0, 10), waiting_total=st.integers(0, 6),
       waiting=st.integers(0, 8), count=st.integers(1, 9), force=st.booleans())
def test_placement_property(total, reserved, waiting_total, waiting, count, force):
    places = Places(total, reserved, waiting_total, waiting)
    decision = decide(places, count, force)
    assert decision == rule_9_2(total, reserved, waiting_total, waiting, count, force)
    if not force:
        assert can_take(places, count) is (decision in ('main', 'waiting'))
    if decision in ('main', 'waiting'):
        placement = Placement(record(total, reserved, waiting_total, waiting), count,
                              in_waiting_list=decision == 'waiting', forced=force)
        after = placement.places_after()
        # The chosen list never goes beyond its capacity; only it moves, by `count`.
        if decision == 'main':
            assert after.reserved <= total
            assert (after.reserved, after.waiting_list_reserved) == (reserved + count, waiting)
        else:
            assert after.waiting_list_reserved <= waiting_total
            assert (after.reserved, after.waiting_list_reserved) == (reserved, waiting + count)
