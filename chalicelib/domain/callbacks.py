"""Callbacks to the forms that made the bookings (spec auth-and-callbacks.md §3, §5): what is sent,
to which hosts, on which retry schedule. No I/O here but name resolution, passed in by the caller."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

KINDS = ('cancel', 'presence', 'absence')
LOOPBACK_NAMES = frozenset({'localhost', 'localhost.localdomain', 'ip6-localhost'})
SIGNING_PARAMETERS = frozenset({'orig', 'algo', 'timestamp', 'nonce', 'signature'})
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


def attendance_body(user_was_present: bool, check_type_slug: str | None,
                    check_type_label: str | None) -> dict[str, Any]:
    """What a presence or absence callback posts (spec §7.3, auth-and-callbacks §3)."""
    return {'user_was_present': user_was_present, 'user_check_type_slug': check_type_slug,
            'user_check_type_label': check_type_label}


def next_attempt(attempts: int, delays: tuple[int, ...], now: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries; None once the schedule is spent (the
    callback is then parked as failed). `delays` are the waits between successive tries."""
    if attempts - 1 >= len(delays):
        return None
    return now + timedelta(seconds=delays[attempts - 1])


def sendable_url(url: str) -> str:
    """The URL as sent: non-ASCII characters percent-encoded (a form's URL may hold some), and
    the parameters our signature adds removed (the signature would not verify with two of them)."""
    parts = urlsplit(quote(url, safe=":/?#[]@!$&'()*+,;=%"))
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
             if name not in SIGNING_PARAMETERS]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=''))


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


def check_target(url: str, allowed_hosts: frozenset[str], resolve: Resolver) -> Target:
    """Where a callback may go: a host listed in CHRONO_CALLBACK_HOSTS, over https (plain http only
    for a listed loopback name), resolving to public addresses only, or to loopback when the listed
    name is a loopback one. Raises TargetRefused with the reason otherwise."""
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
    loopback_name = host in LOOPBACK_NAMES or _is_loopback_literal(host)
    if parts.scheme == 'http' and not loopback_name:
        raise TargetRefused('plain http is only allowed to a listed loopback name')
    port = port or (443 if parts.scheme == 'https' else 80)
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
