"""Callbacks to the forms that made the bookings (spec auth-and-callbacks.md §3, §5): what is sent,
to which hosts (listed, and owned by the booking's client: design.md §3.2), on which retry schedule.
No I/O here but name resolution, passed in by the caller."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from chalicelib.domain import http_targets
from chalicelib.domain.http_targets import DEFAULT_PORTS, Resolver, Target, TargetRefused
from chalicelib.domain.http_targets import loggable_url as loggable_url  # callbacks' logs name their target

KINDS = ('cancel', 'presence', 'absence')
SIGNING_PARAMETERS = frozenset({'orig', 'algo', 'timestamp', 'nonce', 'signature'})
# Publik's identity parameters: a receiver takes them as the user the signed call acts for. Dropped
# in any letter case: Publik reads them case-sensitively, but another receiver may not.
IDENTITY_PARAMETERS = frozenset({'nameid', 'email'})


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


def check_target(
    url: str,
    allowed_hosts: frozenset[str],
    client: str | None,
    owners: Mapping[str, tuple[OwnedHost, ...]],
    resolve: Resolver,
) -> Target:
    """Where a callback may go: a host listed in CHRONO_CALLBACK_HOSTS and owned by the booking's
    `client` (CHRONO_CALLBACK_OWNERS), under the rules of every request the service sends
    (http_targets.check_target: https, public addresses, the address checked). Raises
    TargetRefused with the reason otherwise; nothing is resolved before the host is known to be
    listed and owned."""

    def owned(scheme: str, host: str, port: int) -> None:
        if not owns(client, owners, scheme, host, port):
            raise TargetRefused(not_owned_reason(client, scheme, host, port))

    return http_targets.check_target(
        url, allowed_hosts, resolve, hosts_variable='CHRONO_CALLBACK_HOSTS', may_reach=owned
    )
