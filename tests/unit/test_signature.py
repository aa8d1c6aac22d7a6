"""Publik signed URLs (spec auth-and-callbacks.md §1): the §1.9 vectors, the negative cases,
and the fallback that rebuilds the raw query from what API Gateway REST decoded."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

import pytest

from chalicelib.signature import SignatureError, SignedCaller, check, rebuild_queries, sign_query, sign_url, verify_raw

UTC = timezone.utc

# ---- the three spec vectors (§1.9) ------------------------------------------------------------

V1 = dict(
    url_in='https://chrono.example.org/api/agenda/piscine/datetimes/?orig=wcs.example.org',
    key='12345', orig='wcs.example.org', algo='sha256', now=datetime(2024, 1, 15, 10, 30, 0, tzinfo=UTC),
    nonce='0123456789abcdef0123456789abcdef',
    signed='orig=wcs.example.org&algo=sha256&timestamp=2024-01-15T10%3A30%3A00Z'
           '&nonce=0123456789abcdef0123456789abcdef',
    b64='l5r26Mc8oQ6JbdadAxetwJ4av1WY08auAOq+Ll/OXjo=',
    url_out='https://chrono.example.org/api/agenda/piscine/datetimes/?orig=wcs.example.org&algo=sha256'
            '&timestamp=2024-01-15T10%3A30%3A00Z&nonce=0123456789abcdef0123456789abcdef'
            '&signature=l5r26Mc8oQ6JbdadAxetwJ4av1WY08auAOq%2BLl/OXjo%3D',
)
V2 = dict(
    url_in='https://chrono.example.org/api/agenda/rdv-passeport/fillslot/2024-03-01-0900/'
           '?NameID=&email=&orig=wcs.example.org',
    key='a3f0c1d2e4b5968778695a4b3c2d1e0f', orig='wcs.example.org', algo='sha256',
    now=datetime(2024, 3, 1, 8, 0, 5, tzinfo=UTC), nonce='5d41402abc4b2a76b9719d911017c592',
    signed='NameID=&email=&orig=wcs.example.org&algo=sha256&timestamp=2024-03-01T08%3A00%3A05Z'
           '&nonce=5d41402abc4b2a76b9719d911017c592',
    b64='fdMFbKX1McW7wlvvswxVndUSq1XwN8l+SYZCkNV6gTE=',
    url_out='https://chrono.example.org/api/agenda/rdv-passeport/fillslot/2024-03-01-0900/'
            '?NameID=&email=&orig=wcs.example.org&algo=sha256&timestamp=2024-03-01T08%3A00%3A05Z'
            '&nonce=5d41402abc4b2a76b9719d911017c592&signature=fdMFbKX1McW7wlvvswxVndUSq1XwN8l%2BSYZCkNV6gTE%3D',
)
V3 = dict(
    url_in='https://wcs.example.org/api/forms/rdv/12/hooks/cancel-from-agenda/?NameID=&email=&orig=chrono.example.org',
    key='s3cr3t', orig='chrono.example.org', algo='sha1', now=datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC),
    nonce='deadbeef',
    signed='NameID=&email=&orig=chrono.example.org&algo=sha1&timestamp=2025-06-30T23%3A59%3A59Z&nonce=deadbeef',
    b64='YbVqEKp7nVoCcQFamwlA/a733EI=',
    url_out='https://wcs.example.org/api/forms/rdv/12/hooks/cancel-from-agenda/?NameID=&email=&orig=chrono.example.org'
            '&algo=sha1&timestamp=2025-06-30T23%3A59%3A59Z&nonce=deadbeef&signature=YbVqEKp7nVoCcQFamwlA/a733EI%3D',
)
VECTORS = pytest.mark.parametrize('v', [V1, V2, V3], ids=['V1', 'V2', 'V3'])


def query_of(url: str) -> str:
    return urlsplit(url).query


def keys_of(v) -> dict[str, str]:
    return {v['orig']: v['key']}


@VECTORS
def test_sign_url_gives_the_spec_url_byte_for_byte(v):
    assert sign_url(v['url_in'], v['key'], v['orig'], algo=v['algo'], now=v['now'], nonce=v['nonce']) == v['url_out']


@VECTORS
def test_sign_query_gives_the_spec_query_byte_for_byte(v):
    signed = sign_query(query_of(v['url_in']), v['key'], algo=v['algo'], now=v['now'], nonce=v['nonce'])
    assert signed == query_of(v['url_out'])
    assert signed == f"{v['signed']}&signature={quote(v['b64'])}"


def test_sign_url_adds_nameid_email_orig_first_when_orig_is_missing():
    url = sign_url('https://wcs.example.org/api/forms/rdv/12/hooks/cancel-from-agenda/', 's3cr3t',
                   'chrono.example.org', algo='sha1', now=V3['now'], nonce='deadbeef')
    assert url == V3['url_out']
    with_query = sign_url('https://wcs.example.org/hook/?a=1', 'k', 'chrono.example.org',
                          now=V3['now'], nonce='n')
    assert query_of(with_query).startswith('NameID=&email=&orig=chrono.example.org&a=1&algo=sha256&timestamp=')


@VECTORS
def test_verify_raw_accepts_each_vector_at_its_timestamp(v):
    assert verify_raw(query_of(v['url_out']), keys_of(v), v['now']) == SignedCaller(orig=v['orig'], nonce=v['nonce'])


@VECTORS
def test_check_accepts_each_vector_with_its_signature_encoded_or_not(v):
    caller = SignedCaller(orig=v['orig'], nonce=v['nonce'])
    assert check(v['signed'], quote(v['b64']), keys_of(v), v['now']) == caller
    assert check(v['signed'], v['b64'], keys_of(v), v['now']) == caller


@VECTORS
@pytest.mark.parametrize('seconds', [31, -31])
def test_rejected_31_seconds_away_from_the_timestamp(v, seconds):
    with pytest.raises(SignatureError, match='^timestamp out of the clock window$'):
        verify_raw(query_of(v['url_out']), keys_of(v), v['now'] + timedelta(seconds=seconds))


@VECTORS
@pytest.mark.parametrize('seconds', [30, -30])
def test_accepted_exactly_30_seconds_away(v, seconds):
    caller = verify_raw(query_of(v['url_out']), keys_of(v), v['now'] + timedelta(seconds=seconds))
    assert caller == SignedCaller(orig=v['orig'], nonce=v['nonce'])


@VECTORS
def test_tampered_query_is_a_bad_signature(v):
    query = query_of(v['url_out'])
    tampered = query.replace('orig=', 'x=1&orig=', 1)
    assert tampered != query
    with pytest.raises(SignatureError, match='^bad signature$'):
        verify_raw(tampered, keys_of(v), v['now'])


@VECTORS
def test_parameter_after_the_signature_is_refused(v):
    with pytest.raises(SignatureError, match='^parameters after the signature$'):
        verify_raw(query_of(v['url_out']) + '&x=1', keys_of(v), v['now'])


@VECTORS
def test_unknown_orig_is_refused(v):
    with pytest.raises(SignatureError, match='^unknown orig$'):
        verify_raw(query_of(v['url_out']), {'other.example.org': v['key']}, v['now'])


def test_wrong_key_for_a_known_orig_is_a_bad_signature():
    with pytest.raises(SignatureError, match='^bad signature$'):
        verify_raw(query_of(V1['url_out']), {'wcs.example.org': '123456'}, V1['now'])


def hand_signed(prefix: str, key: str, algo_name: str, hash_name: str = 'sha256') -> str:
    """HMAC a prefix whose `algo` says `algo_name`, independently of the module under test."""
    mac = base64.b64encode(hmac.new(key.encode(), prefix.encode(), getattr(hashlib, hash_name)).digest()).decode()
    return f'{prefix}&signature={quote(mac)}'


@pytest.mark.parametrize('algo', ['md5', '__getattribute__', 'SHA256', ''])
def test_algorithms_outside_the_allowlist_are_refused(algo):
    prefix = f'orig=wcs.example.org&algo={algo}&timestamp=2024-01-15T10%3A30%3A00Z&nonce=abc'
    hash_name = 'md5' if algo == 'md5' else 'sha256'
    with pytest.raises(SignatureError) as info:
        verify_raw(hand_signed(prefix, '12345', algo, hash_name), {'wcs.example.org': '12345'}, V1['now'])
    assert str(info.value) == ('missing or repeated algo' if algo == '' else 'algorithm not allowed')


@pytest.mark.parametrize('algo', ['sha1', 'sha256', 'sha512'])
def test_allowed_algorithms(algo):
    prefix = f'orig=wcs.example.org&algo={algo}&timestamp=2024-01-15T10%3A30%3A00Z&nonce=abc'
    assert verify_raw(hand_signed(prefix, '12345', algo, algo), {'wcs.example.org': '12345'}, V1['now']) == \
        SignedCaller('wcs.example.org', 'abc')


@pytest.mark.parametrize('v', [V1, V3], ids=['V1', 'V3'])
def test_slash_encoded_as_2f_in_the_signature_is_accepted(v):
    query = query_of(v['url_out'])
    assert '/' in query.split('&signature=')[1]
    encoded = query.replace('/', '%2F')
    assert verify_raw(encoded, keys_of(v), v['now']) == SignedCaller(orig=v['orig'], nonce=v['nonce'])


def test_old_urlencode_style_signature_is_accepted():
    """`urlencode({'signature': b64})` (older signers): `+`→%2B, `/`→%2F, `=`→%3D."""
    old = f"{V1['signed']}&{urlencode({'signature': V1['b64']})}"
    assert old.endswith('signature=l5r26Mc8oQ6JbdadAxetwJ4av1WY08auAOq%2BLl%2FOXjo%3D')
    assert verify_raw(old, keys_of(V1), V1['now']) == SignedCaller('wcs.example.org', V1['nonce'])


def test_missing_nonce_is_refused_even_with_a_valid_mac():
    prefix = 'orig=wcs.example.org&algo=sha256&timestamp=2024-01-15T10%3A30%3A00Z'
    with pytest.raises(SignatureError, match='^missing or repeated nonce$'):
        verify_raw(hand_signed(prefix, '12345', 'sha256'), {'wcs.example.org': '12345'}, V1['now'])


def test_empty_nonce_is_refused():
    prefix = 'orig=wcs.example.org&algo=sha256&timestamp=2024-01-15T10%3A30%3A00Z&nonce='
    with pytest.raises(SignatureError, match='^missing or repeated nonce$'):
        verify_raw(hand_signed(prefix, '12345', 'sha256'), {'wcs.example.org': '12345'}, V1['now'])


def test_repeated_orig_is_refused_even_with_a_valid_mac():
    prefix = ('orig=wcs.example.org&orig=lingo.example.org&algo=sha256'
              '&timestamp=2024-01-15T10%3A30%3A00Z&nonce=abc')
    keys = {'wcs.example.org': '12345', 'lingo.example.org': '12345'}
    with pytest.raises(SignatureError, match='^missing or repeated orig$'):
        verify_raw(hand_signed(prefix, '12345', 'sha256'), keys, V1['now'])


def test_no_signature_at_all():
    with pytest.raises(SignatureError, match='^no signature$'):
        verify_raw(V1['signed'], keys_of(V1), V1['now'])
    with pytest.raises(SignatureError, match='^no signature$'):
        verify_raw('signature=' + quote(V1['b64']), keys_of(V1), V1['now'])


def test_signature_that_is_not_base64_is_refused():
    with pytest.raises(SignatureError, match='^signature is not base64$'):
        verify_raw(V1['signed'] + '&signature=not*base64', keys_of(V1), V1['now'])


def test_bad_timestamp_format_is_refused():
    prefix = 'orig=wcs.example.org&algo=sha256&timestamp=2024-01-15+10%3A30%3A00&nonce=abc'
    with pytest.raises(SignatureError, match='^bad timestamp$'):
        verify_raw(hand_signed(prefix, '12345', 'sha256'), {'wcs.example.org': '12345'}, V1['now'])


def test_nonce_is_cut_to_128_characters():
    nonce = 'a' * 200
    prefix = f'orig=wcs.example.org&algo=sha256&timestamp=2024-01-15T10%3A30%3A00Z&nonce={nonce}'
    caller = verify_raw(hand_signed(prefix, '12345', 'sha256'), {'wcs.example.org': '12345'}, V1['now'])
    assert caller == SignedCaller('wcs.example.org', 'a' * 128)


# ---- fallback: rebuilding the raw query from decoded parameters --------------------------------

NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
TS = '2026-03-02T09%3A00%3A00Z'
KEYS = {'wcs.example.org': '12345', 'lingo.example.org': 'lingo-key'}


def sign_by_hand(query: str, key: str, nonce: str = 'cafe0123') -> str:
    """What a Publik client sends: its query as it wrote it, then algo/timestamp/nonce, then the MAC."""
    prefix = f'{query}&algo=sha256&timestamp={TS}&nonce={nonce}'
    mac = base64.b64encode(hmac.new(key.encode(), prefix.encode(), hashlib.sha256).digest()).decode()
    return f'{prefix}&signature={quote(mac)}'


def gateway_pairs(raw: str) -> list[tuple[str, str]]:
    """What API Gateway REST hands over: decoded values grouped by key, keys in first-appearance order."""
    grouped: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        grouped.setdefault(name, []).append(value)
    return [(name, value) for name, values in grouped.items() for value in values]


def verifying(pairs) -> list[SignedCaller]:
    found = []
    for signed, mac in rebuild_queries(pairs):
        try:
            found.append(verify_raw(f'{signed}&signature={mac}', KEYS, NOW))
        except SignatureError:
            pass
    return found


CLIENT_QUERIES = {
    'wcs-urlencode': urlencode([('q', 'piscine municipale'), ('user_external_id', 'user:1'),
                                ('orig', 'wcs.example.org')]),
    'percent-20': 'q=piscine%20municipale&date_start=2026-03-02&orig=wcs.example.org',
    'lingo-raw-colon-comma': 'NameID=&email=&orig=lingo.example.org&user_external_id=user:1&agendas=a,b',
    'repeated-keys': 'slots=a&slots=b&user_external_id=user%3A1&orig=wcs.example.org',
    'mixed': 'q=piscine%20municipale&user_external_id=user:1&slots=a,b&orig=wcs.example.org',
    'plus-and-percent-2B': 'user_name=Jean+Dupont&user_phone_number=%2B33+1+23&orig=wcs.example.org',
}


def test_client_queries_are_encoded_as_described():
    assert CLIENT_QUERIES['wcs-urlencode'] == 'q=piscine+municipale&user_external_id=user%3A1&orig=wcs.example.org'


@pytest.mark.parametrize('name', sorted(CLIENT_QUERIES))
def test_rebuild_finds_the_candidate_of_each_client_encoding(name):
    raw = sign_by_hand(CLIENT_QUERIES[name], KEYS['lingo.example.org' if 'lingo' in name else 'wcs.example.org'])
    orig = 'lingo.example.org' if 'lingo' in name else 'wcs.example.org'
    assert verify_raw(raw, KEYS, NOW) == SignedCaller(orig, 'cafe0123')
    pairs = gateway_pairs(raw)
    assert pairs[-1][0] == 'signature'
    found = verifying(pairs)
    assert found == [SignedCaller(orig, 'cafe0123')]


def test_rebuild_yields_distinct_candidates_starting_with_urlencode():
    raw = sign_by_hand(CLIENT_QUERIES['mixed'], '12345')
    candidates = list(rebuild_queries(gateway_pairs(raw)))
    signed = [s for s, _ in candidates]
    assert len(signed) == len(set(signed))
    assert signed[0] == f'q=piscine+municipale&user_external_id=user%3A1&slots=a%2Cb&orig=wcs.example.org' \
                        f'&algo=sha256&timestamp={TS}&nonce=cafe0123'
    # q: 2 encodings (+, %20); user_external_id: 2 (%3A, raw); slots: 2 (%2C, raw); orig: 1.
    assert len(signed) == 8
    assert {mac for _, mac in candidates} == {raw.split('&signature=')[1]}


def test_tampered_decoded_value_does_not_verify():
    raw = sign_by_hand(CLIENT_QUERIES['mixed'], '12345')
    pairs = gateway_pairs(raw)
    tampered = [(k, 'user:2' if k == 'user_external_id' else v) for k, v in pairs]
    assert tampered != pairs
    assert list(rebuild_queries(tampered))
    assert verifying(tampered) == []


def test_no_candidate_when_signature_is_not_the_last_key():
    raw = sign_by_hand(CLIENT_QUERIES['wcs-urlencode'], '12345') + '&extra=1'
    pairs = gateway_pairs(raw)
    assert pairs[-1] == ('extra', '1')
    assert list(rebuild_queries(pairs)) == []
    assert list(rebuild_queries([])) == []
    twice = gateway_pairs(sign_by_hand('orig=wcs.example.org', '12345')) + [('signature', 'AAAA')]
    assert [k for k, _ in twice].count('signature') == 2
    assert list(rebuild_queries(twice)) == []


def test_signature_with_spaces_for_plus_is_re_encoded():
    """A `+` in the MAC decoded as a space by a form decoder is still checked as `+`."""
    raw = sign_by_hand('orig=wcs.example.org', '12345', nonce='n0')
    assert raw.endswith('&signature=bwuMMxKN7mAEmK6T73OWZ%2ByPde5q8JVB7jqZS2GTRZM%3D')
    pairs = gateway_pairs(raw)
    assert pairs[-1] == ('signature', 'bwuMMxKN7mAEmK6T73OWZ+yPde5q8JVB7jqZS2GTRZM=')
    spaced = pairs[:-1] + [('signature', 'bwuMMxKN7mAEmK6T73OWZ yPde5q8JVB7jqZS2GTRZM=')]
    candidates = list(rebuild_queries(spaced))
    assert {m for _, m in candidates} == {'bwuMMxKN7mAEmK6T73OWZ%2ByPde5q8JVB7jqZS2GTRZM%3D'}
    assert verifying(spaced) == [SignedCaller('wcs.example.org', 'n0')]


def test_rebuild_finds_a_query_encoded_with_percent_20_throughout():
    """A client that encodes every value with `quote` (Django's `|urlencode` filter: `%20`, `%3A`, `%40`, `%2B`).

    The second "whole-query style" candidate is meant to be exactly this encoding (one encoder per client),
    but `_encodings` drops duplicate variants, so `c[1]` is the lenient form for values without a space
    (`user:1`, `jean@example.org`): the uniform candidate is wrong, and with eight such values the
    81-combination product never reaches the right mix.
    """
    values = [('label', 'Cours de natation'), ('user_external_id', 'user:1'), ('user_first_name', 'Jean Pierre'),
              ('user_last_name', 'De La Fontaine'), ('user_email', 'jean@example.org'),
              ('user_phone_number', '+33 1 23 45 67 89'), ('user_display_label', 'Jean Pierre De La Fontaine'),
              ('lock_code', 'abc def'), ('orig', 'wcs.example.org')]
    query = '&'.join(f'{k}={quote(v, safe="")}' for k, v in values)
    raw = sign_by_hand(query, '12345')
    assert verify_raw(raw, KEYS, NOW) == SignedCaller('wcs.example.org', 'cafe0123')
    assert verifying(gateway_pairs(raw)) == [SignedCaller('wcs.example.org', 'cafe0123')]


def test_quote_plus_of_key_is_used_for_names():
    raw = sign_by_hand(f"{quote_plus('a b')}=1&orig=wcs.example.org", '12345')
    assert raw.startswith('a+b=1&')
    assert verifying(gateway_pairs(raw)) == [SignedCaller('wcs.example.org', 'cafe0123')]
