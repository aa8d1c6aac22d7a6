"""Lenient reading of what Publik clients send (spec chrono-api.md §1.3) and the DST rules."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.errors import InvalidPayload
from chalicelib.parsing import (MAX_INT, Payload, is_blank, localize, to_bool, to_date, to_datetime, to_int, to_list,
                                to_time, to_url)
from chalicelib.web.api import status_of  # the edge gives each kind of error its HTTP status

PARIS = ZoneInfo('Europe/Paris')
NEW_YORK = ZoneInfo('America/New_York')
UTC = timezone.utc
INT_REQUIRED = 'A valid integer is required.'
BOOL_INVALID = 'Must be a valid boolean.'
TOO_BIG = 'Ensure this value is less than or equal to 2147483647.'


# ---- scalars ------------------------------------------------------------------------------------

@pytest.mark.parametrize('value', [True, 'true', 'True', 'TRUE', ' on ', 'yes', '1', 't', 'y', 1])
def test_to_bool_true(value):
    assert to_bool(value) is True


@pytest.mark.parametrize('value', [False, 'false', 'False', 'off', 'no', '0', 'f', 'n', 0])
def test_to_bool_false(value):
    assert to_bool(value) is False


@pytest.mark.parametrize('value', ['', 'maybe', 2, -1, 1.0, None, [], {}, 'truee'])
def test_to_bool_refuses(value):
    with pytest.raises(ValueError, match=f'^{BOOL_INVALID}$'):
        to_bool(value)


@pytest.mark.parametrize('value, expected', [
    ('2', 2), (' 2 ', 2), ('+3', 3), ('-4', -4), ('0', 0), (7, 7), (2.0, 2), (-3.0, -3),
    ('2147483647', MAX_INT), (MAX_INT, MAX_INT),
])
def test_to_int_accepts(value, expected):
    result = to_int(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize('value', [True, False, 2.5, float('nan'), float('inf'), '2.5', '2.0', 'two', '', ' ',
                                   '1e3', None, [], {}, '0x10', '1 2', '99999999999999999999'])
def test_to_int_refuses_non_integers(value):
    with pytest.raises(ValueError, match=f'^{INT_REQUIRED}$'):
        to_int(value)


@pytest.mark.parametrize('value', [MAX_INT + 1, '2147483648', '999999999999', '9999999999999999999', 10 ** 30,
                                   1e20])
def test_to_int_refuses_huge_integers(value):
    with pytest.raises(ValueError, match=f'^{TOO_BIG}$'):
        to_int(value)


def test_to_int_bounds():
    assert to_int('5', minimum=5, maximum=5) == 5
    with pytest.raises(ValueError, match=r'^Ensure this value is greater than or equal to 1\.$'):
        to_int('0', minimum=1)
    with pytest.raises(ValueError, match=r'^Ensure this value is less than or equal to 6\.$'):
        to_int(7, minimum=0, maximum=6)


@pytest.mark.parametrize('value, expected', [
    (' a@example.com,b@example.com ', ['a@example.com', 'b@example.com']),
    ('a, b ,,c,', ['a', 'b', 'c']),
    ('single', ['single']),
    ('', []),
    (' , ', []),
    (['a', ' b ', ''], ['a', 'b']),
    ([1, 2], ['1', '2']),
    ([], []),
    (['a,b'], ['a,b']),
])
def test_to_list(value, expected):
    assert to_list(value) == expected


@pytest.mark.parametrize('value, message', [
    (5, 'Expected a list of items or a comma-separated string.'),
    ({'a': 1}, 'Expected a list of items or a comma-separated string.'),
    (None, 'Expected a list of items or a comma-separated string.'),
    ([['a']], 'Expected a list of strings.'),
    ([True], 'Expected a list of strings.'),
    ([None], 'Expected a list of strings.'),
    ([{'id': 1}], 'Expected a list of strings.'),
    ([1.5], 'Expected a list of strings.'),
])
def test_to_list_refuses(value, message):
    with pytest.raises(ValueError) as info:
        to_list(value)
    assert str(info.value) == message


def test_to_date():
    assert to_date('2026-02-28') == date(2026, 2, 28)
    assert to_date(' 2026-02-28 ') == date(2026, 2, 28)
    for bad in ('2026-02-30', '2026-2-3', '28/02/2026', '2026-02-28 10:00', 20260228, None, ''):
        with pytest.raises(ValueError) as info:
            to_date(bad)
        assert str(info.value) == 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'


def test_to_time():
    assert to_time('09:00') == time(9, 0)
    assert to_time(' 18:30:15 ') == time(18, 30, 15)
    assert to_time('00:00') == time(0, 0)
    for bad in ('9:00', '24:00', '12:60', '12h30', '12:00:00.5', 900, None):
        with pytest.raises(ValueError) as info:
            to_time(bad)
        assert str(info.value) == 'Time has wrong format. Use one of these formats instead: hh:mm[:ss].'


@pytest.mark.parametrize('text, expected', [
    ('2026-05-01 10:00', datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
    ('2026-05-01T10:00:00', datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
    ('2026-01-15 10:00:30', datetime(2026, 1, 15, 9, 0, 30, tzinfo=UTC)),
    ('2026-05-01 10:00:00.5', datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)),  # whole seconds, as exported
    ('2026-05-01T10:00:00Z', datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
    ('2026-05-01 10:00:00+02:00', datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
    ('2026-05-01 10:00:00+0200', datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
    ('2026-05-01 10:00-05:00', datetime(2026, 5, 1, 15, 0, tzinfo=UTC)),
])
def test_to_datetime(text, expected):
    """Naive text is Paris wall-clock time; the result is always the instant in UTC."""
    result = to_datetime(text, PARIS)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize('value', ['2026-05-01', '2026-13-01 10:00', '2026-05-01 25:00', '01/05/2026 10:00',
                                   '2026-05-01 10:00:00 +02:00', '', None, 1746086400])
def test_to_datetime_refuses(value):
    with pytest.raises(ValueError, match=r'^Datetime has wrong format\. Use one of these formats instead: '
                                         r'YYYY-MM-DD HH:MM\[:SS\]\.$'):
        to_datetime(value, PARIS)


@pytest.mark.parametrize('text, expected', [
    ('2026-05-01 10:00+23:59', datetime(2026, 4, 30, 10, 1, tzinfo=UTC)),
    ('2026-05-01 10:00-23:59', datetime(2026, 5, 2, 9, 59, tzinfo=UTC)),
    ('2026-05-01 10:00-2359', datetime(2026, 5, 2, 9, 59, tzinfo=UTC)),
    ('2026-05-01 10:00-00:59', datetime(2026, 5, 1, 10, 59, tzinfo=UTC)),
    ('2026-05-01 10:00+00:00', datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
    ('2026-05-01 10:00-00:00', datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
])
def test_offsets_up_to_23_59_either_way(text, expected):
    assert to_datetime(text, PARIS) == expected


@pytest.mark.parametrize('text', ['2026-05-01 10:00-00:60', '2026-05-01 10:00+00:99', '2026-05-01 10:00+24:00',
                                  '2026-05-01 10:00-24:00', '2026-05-01 10:00+2400', '2026-05-01 10:00-0060',
                                  '2026-05-01 10:00+99:00', '2026-05-01T10:00:00-12:75'])
def test_offsets_beyond_23_59_are_refused(text):
    """fromisoformat would read -00:60 as -01:00 and +00:99 as +01:39."""
    with pytest.raises(ValueError, match=r'^UTC offset out of range: use \+HH:MM or -HH:MM, hours 00 to 23, '
                                         r'minutes 00 to 59\.$'):
        to_datetime(text, PARIS)


@pytest.mark.parametrize('text', ['2026-05-01 10:00+1:00', '2026-05-01 10:00+01', '2026-05-01 10:00+01:0',
                                  '2026-05-01 10:00+01:00:00', '2026-05-01 10:00+01:00Z', '2026-05-01 10:00 +01:00',
                                  '2026-05-01 10:00+-1:00'])
def test_malformed_offsets_are_a_wrong_format(text):
    with pytest.raises(ValueError, match=r'^Datetime has wrong format\.'):
        to_datetime(text, PARIS)


OUT_OF_RANGE = r'^Datetime out of range: years 1900 to 2999, as written, in UTC and in {}\.$'


@pytest.mark.parametrize('text, why', [
    ('1900-01-01 00:00+23:59', 'UTC 1899-12-31 00:01'),
    ('1900-01-01 00:00+01:00', 'UTC 1899-12-31 23:00'),
    ('1900-01-01 00:00', 'Paris was 9 min 21 s ahead of UTC in 1900: UTC 1899-12-31 23:50:39'),
    ('1900-01-01 00:09:20', 'UTC 1899-12-31 23:59:59'),
    ('1899-12-31 23:00-02:00', 'as written (UTC and Paris read 1900-01-01)'),
    ('1899-12-31 23:59', 'as written'),
    ('2999-12-31 23:30Z', 'Paris 3000-01-01 00:30 (an export would write the year 3000)'),
    ('2999-12-31 23:00-05:00', 'UTC 3000-01-01 04:00'),
    ('3000-01-01 00:30+01:00', 'as written (UTC reads 2999)'),
    ('9999-12-31 23:00-05:00', 'as written: moved by its offset, it would overflow datetime'),
    ('0001-01-01 00:00+05:00', 'as written: moved by its offset, it would overflow datetime'),
])
def test_every_reading_of_the_instant_is_within_1900_and_2999(text, why):
    with pytest.raises(ValueError, match=OUT_OF_RANGE.format('Europe/Paris')):
        to_datetime(text, PARIS)


@pytest.mark.parametrize('text, tz, expected', [
    ('1900-01-01 00:00Z', PARIS, datetime(1900, 1, 1, 0, 0, tzinfo=UTC)),
    ('1900-01-01 00:09:21', PARIS, datetime(1900, 1, 1, 0, 0, tzinfo=UTC)),
    ('2999-12-31 22:59:59Z', PARIS, datetime(2999, 12, 31, 22, 59, 59, tzinfo=UTC)),
    ('2999-12-31 23:59:59', PARIS, datetime(2999, 12, 31, 22, 59, 59, tzinfo=UTC)),
    ('1900-01-01 05:00Z', NEW_YORK, datetime(1900, 1, 1, 5, 0, tzinfo=UTC)),
    ('2999-12-31 18:59', NEW_YORK, datetime(2999, 12, 31, 23, 59, tzinfo=UTC)),
])
def test_the_edges_of_the_range(text, tz, expected):
    assert to_datetime(text, tz) == expected


@pytest.mark.parametrize('text', ['1900-01-01 04:59Z', '2999-12-31 19:00', '2999-12-31 23:00'])
def test_the_range_in_a_zone_behind_utc(text):
    """New York: 04:59 UTC is still 1899 there; 19:00 on the last day is 3000 in UTC."""
    with pytest.raises(ValueError, match=OUT_OF_RANGE.format('America/New_York')):
        to_datetime(text, NEW_YORK)


# ---- DST ----------------------------------------------------------------------------------------

def test_spring_gap_wall_time_does_not_exist():
    message = r'^2026-03-29 02:30 does not exist in Europe/Paris \(daylight saving time change\)\.$'
    with pytest.raises(ValueError, match=message):
        localize(datetime(2026, 3, 29, 2, 30), PARIS)
    with pytest.raises(ValueError, match=message):
        to_datetime('2026-03-29 02:30', PARIS)
    with pytest.raises(ValueError, match=r'^2026-03-29 02:00 does not exist'):
        localize(datetime(2026, 3, 29, 2, 0), PARIS)


def test_around_the_spring_gap():
    before = localize(datetime(2026, 3, 29, 1, 59), PARIS)
    after = localize(datetime(2026, 3, 29, 3, 0), PARIS)
    assert before == datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    assert after == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # Same-zone subtraction is wall-clock arithmetic in Python; the real gap is one minute.
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(minutes=1)


def test_autumn_ambiguous_wall_time_is_the_first_occurrence():
    result = to_datetime('2026-10-25 02:30', PARIS)
    assert result == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert result.astimezone(PARIS).utcoffset() == timedelta(hours=2)
    assert localize(datetime(2026, 10, 25, 2, 30), PARIS).utcoffset() == timedelta(hours=2)
    assert localize(datetime(2026, 10, 25, 3, 0), PARIS).astimezone(UTC) == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    # The second occurrence exists (00:30 UTC + 1 h) but is never what a naive text means.
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC).astimezone(PARIS)
    assert (second.hour, second.minute, second.fold) == (2, 30, 1)


def test_ambiguous_wall_time_equals_the_same_instant_in_utc():
    """The parsed value must be the instant 00:30 UTC, and compare equal to it.

    `to_datetime` returns a Europe/Paris-aware datetime with fold=0; PEP 495 makes any datetime
    in the fold compare unequal to every datetime of another zone, so it is != the same instant
    in UTC. EventSpec.start is documented as "aware, UTC" and the store gives UTC values back.
    """
    result = to_datetime('2026-10-25 02:30', PARIS)
    assert result == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


# ---- URLs -------------------------------------------------------------------------------------

@pytest.mark.parametrize('value', [
    'https://wcs.example.org/api/forms/piscine/12/hooks/cancel/',
    'http://127.0.0.1:9000/hooks/cancel/?a=1&b=%C3%A9#top',
    'https://démarches.example.fr/été/?q=ça&n=日本',
    'https://wcs.example.org/backoffice/management/piscine/12/?filter=a%20b%0A',
    'HTTPS://WCS.example.org/Piscine/',
    'https://[::1]:8443/x',
    'https://agent@wcs.example.org/',
    'http://localhost',
])
def test_urls_as_wcs_sends_them_are_kept_as_given(value):
    assert to_url(value) == value


@pytest.mark.parametrize('value, stored', [
    (' https://wcs.example.org/12/ ', 'https://wcs.example.org/12/'),
    ('https://wcs.example.org/12/\n', 'https://wcs.example.org/12/'),
    ('\t\r\nhttps://wcs.example.org/12/\r\n', 'https://wcs.example.org/12/'),
])
def test_blanks_around_a_url_are_trimmed(value, stored):
    """As a Django URL field does (w.c.s. templates may end with a line break)."""
    assert to_url(value) == stored


@pytest.mark.parametrize('char', ['\n', '\r', '\t', '\x00', '\x1b', '\x7f', '\x85', '\x9f', ' ', '\xa0',
                                  '\u2028', '\u2029', '\u3000'],
                         ids=['LF', 'CR', 'tab', 'NUL', 'ESC', 'DEL', 'NEL (C1)', 'APC (C1)', 'space',
                              'no-break space', 'line separator', 'paragraph separator', 'ideographic space'])
@pytest.mark.parametrize('where', ['path', 'query', 'host'])
def test_a_space_or_control_character_inside_a_url_is_refused(char, where):
    url = {'path': f'https://wcs.example.org/a{char}b/', 'query': f'https://wcs.example.org/?a=1{char}Set-Cookie:x',
           'host': f'https://wcs{char}.example.org/'}[where]
    with pytest.raises(ValueError, match=r'^Enter a valid URL: no spaces or control characters\.$'):
        to_url(url)


@pytest.mark.parametrize('value', ['javascript:alert(1)', 'ftp://example.org/file', 'file:///etc/passwd',
                                   'mailto:a@example.org', 'data:text/html,x', 'https:///path', 'http:example.org',
                                   'http://:80/', 'http://user@/', '/relative/path', 'example.org/path',
                                   '//example.org/', 'nothing', 'wcs.example.org:443/x'])
def test_a_url_without_http_or_https_or_a_host_is_refused(value):
    with pytest.raises(ValueError, match=r'^Enter a valid URL: http or https, with a host\.$'):
        to_url(value)


@pytest.mark.parametrize('value', ['http://example.org:99999/', 'http://example.org:x/', 'http://[::1/', 12, 1.5,
                                   True, ['https://example.org/'], {'url': 'https://example.org/'}])
def test_a_malformed_url_or_not_a_string_is_refused(value):
    with pytest.raises(ValueError, match=r'^Enter a valid URL\.$'):
        to_url(value)


def test_the_length_of_a_url_is_read_once_trimmed():
    url = 'https://example.org/'.ljust(2048, 'u')
    assert to_url(f'  {url}\n', max_length=2048) == url
    with pytest.raises(ValueError, match=r'^Ensure this field has no more than 2048 characters\.$'):
        to_url(url + 'u', max_length=2048)


def test_payload_url_blank_is_absent_and_errors_name_the_field():
    p = Payload({'form_url': '  ', 'backoffice_url': None, 'cancel_callback_url': 'https://a.example.org/\nx',
                 'presence_callback_url': 'ftp://a.example.org/', 'absence_callback_url': 'https://a.example.org/'})
    assert [p.url(name) for name in ('form_url', 'backoffice_url', 'cancel_callback_url', 'presence_callback_url',
                                     'absence_callback_url', 'missing')] == [
        None, None, None, None, 'https://a.example.org/', None]
    assert p.url('required_url', required=True) is None
    assert p.errors == {'cancel_callback_url': ['Enter a valid URL: no spaces or control characters.'],
                        'presence_callback_url': ['Enter a valid URL: http or https, with a host.'],
                        'required_url': ['This field is required.']}
    assert p.unread() == {}


# ---- Payload ------------------------------------------------------------------------------------

def test_is_blank():
    assert [is_blank(v) for v in (None, '', '   ', '0', 0, False, [], {})] == \
        [True, True, True, False, False, False, False, False]


def test_payload_reads_strings_sent_by_wcs():
    p = Payload({'count': '2', 'force_waiting_list': 'True', 'exclude_user': 'on', 'bypass_delays': 'false',
                 'user_email': ' a@example.com,b@example.com ', 'slots': ['e1', 'e2'], 'date_start': '2026-03-02',
                 'start_time': '08:00', 'start_datetime': '2026-05-01 10:00', 'kind': 'events', 'slug': 'my_slug-1',
                 'label': 12})
    assert p.int('count', minimum=1) == 2
    assert p.bool('force_waiting_list') is True
    assert p.bool('exclude_user') is True
    assert p.bool('bypass_delays') is False
    assert p.list('user_email') == ['a@example.com', 'b@example.com']
    assert p.list('slots') == ['e1', 'e2']
    assert p.date('date_start') == date(2026, 3, 2)
    assert p.time('start_time') == time(8, 0)
    assert p.datetime('start_datetime', PARIS) == datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    assert p.choice('kind', ('events', 'meetings')) == 'events'
    assert p.slug('slug') == 'my_slug-1'
    assert p.str('label') == '12'
    assert p.errors == {}
    p.check()


def test_payload_empty_and_null_are_absent():
    p = Payload({'count': '', 'flag': None, 'lst': '  ', 'when': '', 'name': ''})
    assert p.int('count', default=1) == 1
    assert p.bool('flag', default=True) is True
    assert p.list('lst', default=['x']) == ['x']
    assert p.datetime('when', PARIS) is None
    assert p.str('name') is None
    assert p.int('missing') is None
    assert p.errors == {}
    assert ('count' in p, 'flag' in p, 'missing' in p) == (False, False, False)
    assert 'name' not in p
    p.check()


def test_payload_required_fields_blank_or_missing():
    p = Payload({'places': '', 'start_datetime': None})
    assert p.int('places', required=True) is None
    assert p.datetime('start_datetime', PARIS, required=True) is None
    assert p.str('label', required=True) is None
    assert p.errors == {'places': ['This field is required.'], 'start_datetime': ['This field is required.'],
                        'label': ['This field is required.']}


def test_payload_collects_every_error_and_raises_one_invalid_payload():
    p = Payload({'count': 'two', 'places': True, 'flag': 'maybe', 'slots': {'a': 1}, 'date_start': '02/03/2026',
                 'n': 2.5, 'big': 10 ** 12, 'slug': 'not a slug', 'kind': 'other', 'label': ['x'], 'ok': '3'})
    assert p.int('count') is None
    assert p.int('places', default=9) == 9
    assert p.bool('flag') is False
    assert p.list('slots') is None
    assert p.date('date_start') is None
    assert p.int('n') is None
    assert p.int('big') is None
    assert p.slug('slug') is None
    assert p.choice('kind', ('events', 'meetings'), default='events') == 'events'
    assert p.str('label') is None
    assert p.int('ok') == 3
    with pytest.raises(InvalidPayload) as info:
        p.check()
    exc = info.value
    expected = {
        'count': [INT_REQUIRED],
        'places': [INT_REQUIRED],
        'flag': [BOOL_INVALID],
        'slots': ['Expected a list of items or a comma-separated string.'],
        'date_start': ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'],
        'n': [INT_REQUIRED],
        'big': [TOO_BIG],
        'slug': ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
        'kind': ['"other" is not a valid choice.'],
        'label': ['Not a valid string.'],
    }
    assert status_of(exc) == 400
    assert exc.errors == expected
    assert exc.body() == {'err': 1, 'err_class': 'invalid payload', 'err_desc': 'invalid payload', 'errors': expected}


def test_payload_accepts_integral_floats_and_refuses_booleans_as_ints():
    p = Payload({'a': 2.0, 'b': 2.5, 'c': True, 'd': False, 'e': '7'})
    assert [p.int(name) for name in 'abcde'] == [2, None, None, None, 7]
    assert p.errors == {'b': [INT_REQUIRED], 'c': [INT_REQUIRED], 'd': [INT_REQUIRED]}


def test_payload_str_max_length_and_types():
    p = Payload({'short': 'abc', 'long': 'x' * 11, 'num': 1.5, 'flag': True, 'obj': {}})
    assert p.str('short', max_length=3) == 'abc'
    assert p.str('long', max_length=10) is None
    assert p.str('num') == '1.5'
    assert p.str('flag') is None
    assert p.str('obj') is None
    assert p.errors == {'long': ['Ensure this field has no more than 10 characters.'],
                        'flag': ['Not a valid string.'], 'obj': ['Not a valid string.']}


def test_payload_same_field_errors_accumulate():
    p = Payload({'x': 'y'})
    p.int('x')
    p.error('x', 'Another problem.')
    assert p.errors == {'x': [INT_REQUIRED, 'Another problem.']}


def test_unread_returns_the_keys_no_getter_read():
    p = Payload({'count': '1', 'user_external_id': 'u1', 'custom_field': 'x', 'other': '', 'empty': None})
    assert p.unread() == {'count': '1', 'user_external_id': 'u1', 'custom_field': 'x', 'other': '', 'empty': None}
    p.int('count')
    p.str('user_external_id')
    p.str('other')
    p.bool('not_sent')
    assert p.unread() == {'custom_field': 'x', 'empty': None}
    assert p.read == {'count', 'user_external_id', 'other', 'not_sent'}


def test_unread_counts_a_field_read_with_an_error_as_read():
    p = Payload({'count': 'x', 'extra': 'kept'})
    p.int('count')
    assert p.unread() == {'extra': 'kept'}
    assert p.errors == {'count': [INT_REQUIRED]}
