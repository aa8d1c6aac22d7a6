"""Where the service may send an HTTP request of its own (callbacks, remote ICS files): a host an
operator listed, over https (plain http only to a listed loopback name), every address the name
resolves to public (or loopback, for a loopback name), and the request sent to the address checked
(no second resolution: DNS rebinding). No I/O here but name resolution, passed in by the caller.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({'localhost', 'localhost.localdomain', 'ip6-localhost'})
DEFAULT_PORTS = {'http': 80, 'https': 443}
# IPv6 ranges that carry an IPv4 address (NAT64, 6to4, IPv4-compatible): judged by that address.
EMBEDDING = (ipaddress.ip_network('64:ff9b::/96'), ipaddress.ip_network('2002::/16'), ipaddress.ip_network('::/96'))
Resolver = Callable[[str, int], Iterable[str]]  # host, port -> IP addresses
# A check of the caller's own, between the allow-list and name resolution: raises TargetRefused.
HostCheck = Callable[[str, str, int], None]  # scheme, host, port


class TargetRefused(Exception):
    """A URL that must never be fetched; the reason is shown to the operator."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query
    address: str  # the checked IP address to connect to (no second resolution: DNS rebinding)


def loggable_url(url: str) -> str:
    """What a log line may say of a URL: scheme, host, port and path; never the query (it may carry
    personal data) nor credentials."""
    try:
        parts = urlsplit(url)
        port = f':{parts.port}' if parts.port else ''
    except ValueError:
        return '(malformed URL)'
    host = parts.hostname or ''
    host = f'[{host}]' if ':' in host else host
    return f'{parts.scheme}://{host}{port}{parts.path}'[:300]


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if any(ip in network for network in EMBEDDING):
            packed = ip.packed
            return ipaddress.IPv4Address(packed[2:6] if ip in EMBEDDING[1] else packed[12:16])
    return None


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(
    url: str,
    allowed_hosts: frozenset[str],
    resolve: Resolver,
    *,
    hosts_variable: str,
    may_reach: HostCheck | None = None,
) -> Target:
    """Where a request to `url` may go: a host of `allowed_hosts` (the variable `hosts_variable`),
    that `may_reach` accepts, over https (plain http only for a listed loopback name), resolving to
    public addresses only, or to loopback when the listed name is a loopback one. Raises
    TargetRefused with the reason otherwise; nothing is resolved before the host is known to be
    listed and accepted."""
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
        raise TargetRefused(f'host {host} is not in {hosts_variable}')
    port = port or DEFAULT_PORTS[parts.scheme]
    if may_reach is not None:
        may_reach(parts.scheme, host, port)
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
