"""Callbacks to the forms that made the bookings (spec auth-and-callbacks.md §3, §5): what is sent,
to which hosts (listed, and owned by the booking's client: design.md §3.2), on which retry schedule.
No I/O here but name resolution, passed in by the caller."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

KINDS = ('cancel', 'presence', 'absence')
LOOPBACK_NAMES = frozenset({'localhost', 'localhost.localdomain', 'ip6-localhost'})
SIGNING_PARAMETERS = frozenset({'orig', 'algo', 'timestamp', 'nonce', 'signature'})
# Publik's identity parameters: a receiver takes them as the user the signed call acts for. Dropped
# in any letter case: Publik reads them case-sensitively, but another receiver may not.
IDENTITY_PARAMETERS = frozenset({'nameid', 'email'})
DEFAULT_PORTS = {'http': 80, 'https': 443}
# IPv6 ranges that carry an IPv4 address (NAT64, 6to4, IPv4-compatible): judged by that address.
EMBEDDING = (ipaddress.ip_network('64:ff9b::/96'), ipaddress.ip_network('2002::/16'), ipaddress.ip_network('::/96'))
Resolver = Callable[[str, int], Iterable[str]]  # host, port -> IP addresses


@dataclass(frozen=True)
class CallbackRecord:
    """A callback as the outbox holds it."""

    booking_id: int
    kind: str
    leg: int
    url: str
    body: dict[str, Any] | None
    state: str  # pending | failed | done
    attempts: int
    next_at: datetime
    created_at: datetime
    last_error: str | None = None
    orig: str | None = None  # the signing orig when CHRONO_ORIG is not set: our host as the action saw it
    client: str | None = None  # who made the booking (`basic:<user>`, `signature:<orig>`); None: made before

    @property
    def ident(self) -> str:
        return callback_ident(self.booking_id, self.kind, self.leg)


def callback_ident(booking_id: int, kind: str, leg: int) -> str:
    return f'{booking_id}:{kind}:{leg}'


def parse_ident(ident: str) -> tuple[int, str, int] | None:
    parts = ident.split(':')
    if len(parts) != 3 or parts[1] not in KINDS or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[0]), parts[1], int(parts[2])


def attendance_body(
    user_was_present: bool, check_type_slug: str | None, check_type_label: str | None
) -> dict[str, Any]:
    """What a presence or absence callback posts (spec §7.3, auth-and-callbacks §3)."""
    return {
        'user_was_present': user_was_present,
        'user_check_type_slug': check_type_slug,
        'user_check_type_label': check_type_label,
    }


def next_attempt(attempts: int, delays: tuple[int, ...], now: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries; None once the schedule is spent (the
    callback is then parked as failed). `delays` are the waits between successive tries."""
    if attempts - 1 >= len(delays):
        return None
    return now + timedelta(seconds=delays[attempts - 1])


def sendable_url(url: str) -> str:
    """The URL as sent: non-ASCII characters percent-encoded (a form's URL may hold some), without
    the parameters our signature adds (the signature would not verify with two of them) nor
    Publik's identity parameters (else any client could have us sign a call as any user)."""
    parts = urlsplit(quote(url, safe=":/?#[]@!$&'()*+,;=%"))
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name not in SIGNING_PARAMETERS and name.lower() not in IDENTITY_PARAMETERS
    ]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=''))


def loggable_url(url: str) -> str:
    """What a log line may say of a callback URL: scheme, host, port and path; never the query
    (it may carry personal data) nor credentials."""
    try:
        parts = urlsplit(url)
        port = f':{parts.port}' if parts.port else ''
    except ValueError:
        return '(malformed URL)'
    host = parts.hostname or ''
    host = f'[{host}]' if ':' in host else host
    return f'{parts.scheme}://{host}{port}{parts.path}'[:300]


# ---- who owns which callback host (CHRONO_CALLBACK_OWNERS) ---------------------------------------

ANY_PORT = '*'
HOST_LABEL_CHARS = frozenset('abcdefghijklmnopqrstuvwxyz0123456789.-_')


@dataclass(frozen=True)
class OwnedHost:
    """An entry of CHRONO_CALLBACK_OWNERS: `host` (the scheme's default port), `host:port`, `host:*`."""

    host: str
    port: int | str | None = None  # None: 80 for http, 443 for https; ANY_PORT: any

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if host != self.host:
            return False
        if self.port == ANY_PORT:
            return True
        return port == (DEFAULT_PORTS.get(scheme) if self.port is None else self.port)


def parse_owned_host(entry: str) -> OwnedHost:
    """`host`, `host:port`, `host:*`, an IPv6 address in brackets (`[::1]:*`); ValueError otherwise."""
    text = entry.strip().lower()
    if text.startswith('['):
        host, bracket, rest = text[1:].partition(']')
        if not bracket or not host or (rest and not rest.startswith(':')):
            raise ValueError(f'{entry!r} is not host, host:port or host:*')
        port_text = rest[1:] if rest else None
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f'{entry!r}: {host!r} is not an IPv6 address') from None
    else:
        host, colon, port_text = text.partition(':')
        port_text = port_text if colon else None
        if not host or not set(host) <= HOST_LABEL_CHARS:
            raise ValueError(f'{entry!r} is not host, host:port or host:*')
    if port_text is None:
        return OwnedHost(host)
    if port_text == ANY_PORT:
        return OwnedHost(host, ANY_PORT)
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ValueError(f'{entry!r}: the port must be 1-65535 or *')
    return OwnedHost(host, int(port_text))


def owned_hosts(client: str | None, owners: Mapping[str, tuple[OwnedHost, ...]]) -> tuple[OwnedHost, ...]:
    """The callback hosts a client owns: those listed for its name (a Basic user or a signing
    orig: one name space), plus, for a signed caller, the host its `orig` names (default port).
    A booking made before bookings recorded their client (client None) owns nothing."""
    if not client:
        return ()
    method, _, name = client.partition(':')
    hosts = tuple(owners.get(name, ()))
    if method == 'signature':
        try:
            hosts += (OwnedHost(parse_owned_host(name).host),)
        except ValueError:
            pass  # an orig that names no host owns only what is listed for it
    return hosts


def owns(client: str | None, owners: Mapping[str, tuple[OwnedHost, ...]], scheme: str, host: str, port: int) -> bool:
    """Whether `client` may have callbacks sent to `scheme://host:port`."""
    return any(entry.matches(scheme, host.lower(), port) for entry in owned_hosts(client, owners))


def not_owned_reason(client: str | None, scheme: str, host: str, port: int) -> str:
    where = host if port == DEFAULT_PORTS.get(scheme) else f'{host}:{port}'
    if not client:
        return f'host {where} is not owned: the booking was made before bookings recorded their client'
    return f'host {where} is not owned by client {client} (CHRONO_CALLBACK_OWNERS)'


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address):
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if any(ip in network for network in EMBEDDING):
            packed = ip.packed
            return ipaddress.IPv4Address(packed[2:6] if ip in EMBEDDING[1] else packed[12:16])
    return None


class TargetRefused(Exception):
    """A callback URL that must never be fetched; the reason is shown to the operator."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query
    address: str  # the checked IP address to connect to (no second resolution: DNS rebinding)


def check_target(
    url: str,
    allowed_hosts: frozenset[str],
    client: str | None,
    owners: Mapping[str, tuple[OwnedHost, ...]],
    resolve: Resolver,
) -> Target:
    """Where a callback may go: a host listed in CHRONO_CALLBACK_HOSTS and owned by the booking's
    `client` (CHRONO_CALLBACK_OWNERS), over https (plain http only for a listed loopback name),
    resolving to public addresses only, or to loopback when the listed name is a loopback one.
    Raises TargetRefused with the reason otherwise; nothing is resolved before the host is known to
    be listed and owned."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused('malformed URL') from None
    host = (parts.hostname or '').lower()
    if parts.scheme not in ('http', 'https') or not host:
        raise TargetRefused('not an http(s) URL')
    if parts.username or parts.password:
        raise TargetRefused('credentials in the URL')
    if host not in allowed_hosts:
        raise TargetRefused(f'host {host} is not in CHRONO_CALLBACK_HOSTS')
    port = port or DEFAULT_PORTS[parts.scheme]
    if not owns(client, owners, parts.scheme, host, port):
        raise TargetRefused(not_owned_reason(client, parts.scheme, host, port))
    loopback_name = host in LOOPBACK_NAMES or _is_loopback_literal(host)
    if parts.scheme == 'http' and not loopback_name:
        raise TargetRefused('plain http is only allowed to a listed loopback name')
    try:
        addresses = list(resolve(host, port))
    except OSError as exc:
        raise TargetRefused(f'cannot resolve {host}: {exc.__class__.__name__}') from None
    if not addresses:
        raise TargetRefused(f'cannot resolve {host}')
    for address in addresses:
        ip = ipaddress.ip_address(address.split('%')[0])
        ip = _embedded_ipv4(ip) or ip
        if ip.is_loopback and loopback_name:
            continue
        if not ip.is_global or ip.is_multicast:
            raise TargetRefused(f'host {host} resolves to a non-public address ({ip})')
    path = parts.path or '/'
    return Target(parts.scheme, host, port, f'{path}?{parts.query}' if parts.query else path, addresses[0])


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
