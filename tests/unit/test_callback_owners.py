"""Who may receive a booking's callbacks (design.md §3.2 CHRONO_CALLBACK_OWNERS, issue 15), and what a
callback URL keeps of its query: pure rules of chalicelib.domain.callback_rules, and the variable's parsing."""
from __future__ import annotations

import json

import pytest

from chalicelib import config
from chalicelib.config import ConfigurationError
from chalicelib.domain.callback_rules import (
    ANY_PORT,
    OwnedHost,
    TargetRefused,
    check_target,
    loggable_url,
    owned_hosts,
    owns,
    parse_owned_host,
    sendable_url,
)

OWNERS = {
    'demo': (OwnedHost('127.0.0.1', ANY_PORT), OwnedHost('forms.example.org')),
    'wcs.example.org': (OwnedHost('other.example.org', 8443),),
}


@pytest.mark.parametrize('entry, parsed', [
    ('forms.example.org', OwnedHost('forms.example.org')),
    ('Forms.Example.ORG', OwnedHost('forms.example.org')),
    ('forms.example.org:8443', OwnedHost('forms.example.org', 8443)),
    ('127.0.0.1:*', OwnedHost('127.0.0.1', ANY_PORT)),
    ('[::1]:*', OwnedHost('::1', ANY_PORT)),
    ('[0:0::1]:8000', OwnedHost('::1', 8000)),
    ('[::1]', OwnedHost('::1')),
])
def test_an_entry_is_a_host_with_no_port_a_port_or_any_port(entry, parsed):
    assert parse_owned_host(entry) == parsed


@pytest.mark.parametrize('entry', ['', '*', '*.example.org', 'host:', 'host:0', 'host:65536', 'host:80:81', 'host:x',
                                   'host:²', 'https://host/', 'ho st', '[::1', '[not-ipv6]:80', '[::1]80', 'a/b'])
def test_anything_else_is_refused(entry):
    with pytest.raises(ValueError):
        parse_owned_host(entry)


@pytest.mark.parametrize('client, scheme, host, port, expected', [
    # A Basic client: only what is listed for it.
    ('basic:demo', 'http', '127.0.0.1', 9000, True),  # host:*
    ('basic:demo', 'https', '127.0.0.1', 443, True),
    ('basic:demo', 'https', 'forms.example.org', 443, True),  # host: the scheme's default port
    ('basic:demo', 'http', 'forms.example.org', 80, True),
    ('basic:demo', 'https', 'forms.example.org', 8443, False),
    ('basic:demo', 'http', 'forms.example.org', 443, False),  # 443 is not http's default
    ('basic:demo', 'https', 'evil.example.net', 443, False),
    ('basic:wcs', 'https', 'forms.example.org', 443, False),  # listed for another client
    ('basic:nobody', 'https', 'forms.example.org', 443, False),
    # A Basic user named like a host owns no host by its name.
    ('basic:wcs.example.org', 'https', 'wcs.example.org', 443, False),
    ('basic:wcs.example.org', 'https', 'other.example.org', 8443, True),  # one name space: listed for that name
    # A signed caller: the host its orig names, default port only, plus what is listed for it.
    ('signature:wcs.example.org', 'https', 'wcs.example.org', 443, True),
    ('signature:wcs.example.org', 'https', 'WCS.example.org', 443, True),
    ('signature:wcs.example.org', 'https', 'wcs.example.org', 8443, False),
    ('signature:wcs.example.org', 'https', 'other.example.org', 8443, True),  # host:port
    ('signature:wcs.example.org', 'https', 'other.example.org', 443, False),
    ('signature:lingo.example.org', 'https', 'lingo.example.org', 443, True),  # nothing listed: its own host
    ('signature:lingo.example.org', 'https', 'wcs.example.org', 443, False),
    # A booking made before clients were recorded: nothing.
    (None, 'https', 'forms.example.org', 443, False),
    ('', 'http', '127.0.0.1', 9000, False),
])
def test_who_owns_what(client, scheme, host, port, expected):
    assert owns(client, OWNERS, scheme, host, port) is expected


def test_an_orig_that_names_no_host_owns_only_its_list():
    assert owned_hosts('signature:not a host', {'not a host': (OwnedHost('x.org'),)}) == (OwnedHost('x.org'),)
    assert owned_hosts(None, OWNERS) == ()


def never_resolve(host, port):
    raise AssertionError('resolved')


@pytest.mark.parametrize('url, client, reason', [
    ('https://evil.example.net/h/', 'basic:demo', 'host evil.example.net is not in CHRONO_CALLBACK_HOSTS'),
    ('https://forms.example.org:8443/h/', 'basic:demo',
     'host forms.example.org:8443 is not owned by client basic:demo (CHRONO_CALLBACK_OWNERS)'),
    ('https://forms.example.org/h/', 'basic:wcs',
     'host forms.example.org is not owned by client basic:wcs (CHRONO_CALLBACK_OWNERS)'),
    ('https://forms.example.org/h/', None,
     'host forms.example.org is not owned: the booking was made before bookings recorded their client'),
    ('http://forms.example.org/h/', 'basic:demo', 'plain http is only allowed to a listed loopback name'),
])
def test_check_target_refuses_before_any_resolution(url, client, reason):
    with pytest.raises(TargetRefused, match=f'^{reason}$'.replace('(', r'\(').replace(')', r'\)')):
        check_target(url, frozenset({'forms.example.org'}), client, OWNERS, never_resolve)


def test_check_target_resolves_an_owned_listed_host():
    resolved = []
    target = check_target('https://forms.example.org/h/?a=1', frozenset({'forms.example.org'}), 'basic:demo', OWNERS,
                          lambda host, port: resolved.append((host, port)) or ['93.184.216.34'])
    assert (target.host, target.port, target.path, target.address, resolved) == (
        'forms.example.org', 443, '/h/?a=1', '93.184.216.34', [('forms.example.org', 443)])


def test_the_query_loses_the_signing_and_identity_parameters_in_any_case_and_keeps_the_rest():
    url = ('https://f.example.org/hooks/?NameID=admin&email=v%40example.org&nameid=a&EMAIL=b&Email=c&orig=x&algo=y'
           '&timestamp=t&nonce=n&signature=s&Orig=kept&form=12&emails=kept&NameID2=kept&e=%C3%A9')
    assert sendable_url(url) == 'https://f.example.org/hooks/?Orig=kept&form=12&emails=kept&NameID2=kept&e=%C3%A9'


@pytest.mark.parametrize('url, logged', [
    ('https://f.example.org/hooks/cancel/?email=v%40example.org#frag', 'https://f.example.org/hooks/cancel/'),
    ('http://user:pw@127.0.0.1:9000/h/?NameID=x', 'http://127.0.0.1:9000/h/'),
    ('http://[::1]:8000/h?q=1', 'http://[::1]:8000/h'),
    ('http://[::1/h', '(malformed URL)'),
])
def test_a_logged_url_has_no_query_no_credentials(url, logged):
    assert loggable_url(url) == logged


# ---- CHRONO_CALLBACK_OWNERS --------------------------------------------------------------------------

def test_the_variable_is_read_into_owned_hosts(env):
    env(CHRONO_CALLBACK_OWNERS=json.dumps({'demo': ['127.0.0.1:*', 'localhost:*'], 'wcs.example.org': []}))
    assert config.settings().callback_owners == {
        'demo': (OwnedHost('127.0.0.1', ANY_PORT), OwnedHost('localhost', ANY_PORT)), 'wcs.example.org': ()}
    env(CHRONO_CALLBACK_OWNERS='  ')
    assert config.settings().callback_owners == {}


@pytest.mark.parametrize('value, message', [
    ('{demo', 'CHRONO_CALLBACK_OWNERS is not valid JSON'),
    ('["127.0.0.1"]', 'CHRONO_CALLBACK_OWNERS must be a JSON object of lists of host names'),
    ('{"demo": "127.0.0.1"}', 'CHRONO_CALLBACK_OWNERS must be a JSON object of lists of host names'),
    ('{"demo": [1]}', 'CHRONO_CALLBACK_OWNERS must be a JSON object of lists of host names'),
    ('{"": ["x.org"]}', 'CHRONO_CALLBACK_OWNERS must be a JSON object of lists of host names'),
    ('{"demo": ["*.example.org"]}', "CHRONO_CALLBACK_OWNERS: '*.example.org' is not host, host:port or host:*"),
    ('{"demo": ["x.org:99999"]}', "CHRONO_CALLBACK_OWNERS: 'x.org:99999': the port must be 1-65535 or *"),
])
def test_a_malformed_variable_stops_the_service_with_a_clear_error(env, value, message):
    env(CHRONO_CALLBACK_OWNERS=value)
    with pytest.raises(ConfigurationError) as error:
        config.settings()
    assert str(error.value) == message
