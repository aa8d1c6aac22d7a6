"""authenticate(): HTTP Basic API clients or Publik signatures, and 401s in Chrono's shape."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote

import pytest

from chalicelib.web.auth import Caller, authenticate, check_basic
from chalicelib.errors import Unauthorized
from chalicelib.web.api import status_of  # the edge gives each kind of error its HTTP status

NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
TS = '2026-03-02T09%3A00%3A00Z'
CLIENTS = {'demo': 'demo', 'wcs': 's3cr3t'}
KEYS = {'wcs.example.org': '12345', 'lingo.example.org': 'lingo-key'}
FAILED = {
    'err': 1,
    'err_class': 'authentication failed',
    'err_desc': 'authentication failed: give valid API client credentials or a valid signature',
}


class Nonces:
    """A fake nonce store recording every claim."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.calls: list[tuple[str, str, datetime]] = []

    def __call__(self, orig: str, nonce: str, now: datetime) -> bool:
        self.calls.append((orig, nonce, now))
        return self.accept


def basic(user: str, password: str) -> str:
    return 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()


def signed_query(query: str, key: str = '12345', nonce: str = 'abc123', ts: str = TS) -> str:
    prefix = f'{query}&algo=sha256&timestamp={ts}&nonce={nonce}'
    mac = base64.b64encode(hmac.new(key.encode(), prefix.encode(), hashlib.sha256).digest()).decode()
    return f'{prefix}&signature={quote(mac)}'


def pairs_of(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True)


def run(authorization=None, raw_query=None, pairs=(), nonces=None, now=NOW):
    return authenticate(authorization, raw_query, list(pairs), CLIENTS, KEYS, now, nonces or Nonces())


def refused(**kw) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        run(**kw)
    return info.value


def assert_401(exc: Unauthorized, err_class: str = 'authentication failed') -> None:
    assert status_of(exc) == 401
    assert exc.body() == {**FAILED, 'err_class': err_class}
    assert set(exc.body()) == {'err', 'err_class', 'err_desc'}


# ---- Basic ------------------------------------------------------------------------------------

def test_basic_good_credentials():
    nonces = Nonces()
    assert run(authorization=basic('demo', 'demo'), nonces=nonces) == Caller('basic', 'demo')
    assert run(authorization=basic('wcs', 's3cr3t')) == Caller('basic', 'wcs')
    assert nonces.calls == []


def test_basic_scheme_is_case_insensitive():
    token = base64.b64encode(b'wcs:s3cr3t').decode()
    assert check_basic(f'basic {token}', CLIENTS) == Caller('basic', 'wcs')
    assert check_basic(f'BASIC {token}', CLIENTS) == Caller('basic', 'wcs')


def test_basic_password_may_contain_colons():
    assert check_basic(basic('odd', 'a:b:c'), {'odd': 'a:b:c'}) == Caller('basic', 'odd')


@pytest.mark.parametrize('header', [
    basic('demo', 'wrong'),
    basic('wcs', 'demo'),
    basic('demo', ''),
    basic('demo', 'demo '),
], ids=['wrong-password', 'other-users-password', 'empty-password', 'trailing-space'])
def test_basic_wrong_password(header):
    assert_401(refused(authorization=header))


def test_basic_unknown_user():
    assert_401(refused(authorization=basic('nobody', 'demo')))
    assert_401(refused(authorization=basic('', 'demo')))


@pytest.mark.parametrize('header', [
    'Basic !!!not-base64!!!',
    'Basic ZGVtbzpkZW1',  # truncated, bad padding
    'Basic ' + base64.b64encode(b'demodemo').decode(),  # no colon
    'Basic ' + base64.b64encode(b'\xff\xfe:\xff').decode(),  # not UTF-8
    'Basic',
    'Basic ',
], ids=['not-base64', 'bad-padding', 'no-colon', 'not-utf8', 'no-token', 'empty-token'])
def test_basic_malformed(header):
    assert_401(refused(authorization=header))


@pytest.mark.parametrize('header', [
    'Bearer ' + base64.b64encode(b'demo:demo').decode(),
    'Digest username="demo"',
    base64.b64encode(b'demo:demo').decode(),
], ids=['bearer', 'digest', 'no-scheme'])
def test_non_basic_scheme(header):
    assert_401(refused(authorization=header))


def test_basic_header_is_checked_even_with_a_valid_signature_in_the_query():
    raw = signed_query('orig=wcs.example.org')
    nonces = Nonces()
    assert_401(refused(authorization=basic('demo', 'wrong'), raw_query=raw, pairs=pairs_of(raw), nonces=nonces))
    assert nonces.calls == []


# ---- signatures -------------------------------------------------------------------------------

def test_valid_signature_on_the_raw_query_claims_the_nonce_once():
    raw = signed_query('NameID=&email=&orig=wcs.example.org', nonce='0a1b2c')
    nonces = Nonces()
    assert run(raw_query=raw, pairs=pairs_of(raw), nonces=nonces) == Caller('signature', 'wcs.example.org')
    assert nonces.calls == [('wcs.example.org', '0a1b2c', NOW)]


def test_valid_signature_rebuilt_from_decoded_pairs_claims_the_nonce_once():
    """Without the raw query, several candidates are tried, but the nonce is claimed only once."""
    raw = signed_query('q=piscine%20municipale&user_external_id=user:1&orig=lingo.example.org',
                       key='lingo-key', nonce='ffee')
    nonces = Nonces()
    assert run(raw_query=None, pairs=pairs_of(raw), nonces=nonces) == Caller('signature', 'lingo.example.org')
    assert nonces.calls == [('lingo.example.org', 'ffee', NOW)]


def test_bad_mac_never_claims_the_nonce():
    raw = signed_query('orig=wcs.example.org', key='not-the-key')
    nonces = Nonces()
    assert_401(refused(raw_query=raw, pairs=pairs_of(raw), nonces=nonces))
    assert_401(refused(raw_query=None, pairs=pairs_of(raw), nonces=nonces))
    assert nonces.calls == []


def test_tampered_query_never_claims_the_nonce():
    raw = signed_query('orig=wcs.example.org').replace('orig=', 'x=1&orig=')
    nonces = Nonces()
    assert_401(refused(raw_query=raw, pairs=pairs_of(raw), nonces=nonces))
    assert nonces.calls == []


def test_expired_signature_never_claims_the_nonce():
    raw = signed_query('orig=wcs.example.org')
    nonces = Nonces()
    assert_401(refused(raw_query=raw, pairs=pairs_of(raw), nonces=nonces, now=NOW + timedelta(seconds=31)))
    assert nonces.calls == []


def test_replayed_nonce_is_refused():
    raw = signed_query('orig=wcs.example.org', nonce='used')
    nonces = Nonces(accept=False)
    assert_401(refused(raw_query=raw, pairs=pairs_of(raw), nonces=nonces))
    assert nonces.calls == [('wcs.example.org', 'used', NOW)]


def test_signature_not_last_without_raw_query_is_refused():
    raw = signed_query('orig=wcs.example.org') + '&extra=1'
    nonces = Nonces()
    assert_401(refused(raw_query=None, pairs=pairs_of(raw), nonces=nonces))
    assert nonces.calls == []


def test_no_credentials_at_all():
    exc = refused(raw_query='orig=wcs.example.org', pairs=[('orig', 'wcs.example.org')])
    assert_401(exc, 'authentication required')
    assert exc.body() == {
        'err': 1, 'err_class': 'authentication required',
        'err_desc': 'authentication failed: give valid API client credentials or a valid signature'}
    assert_401(refused(), 'authentication required')
    assert_401(refused(authorization=''), 'authentication required')
