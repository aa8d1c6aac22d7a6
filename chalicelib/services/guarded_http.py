"""The one HTTP client that reaches outside the service: callbacks (a POST) and remote ICS files (a
GET). Every request goes to a target that domain/http_targets.py checked (listed host, https or
loopback http, public addresses), connects to the address checked (a second resolution cannot
redirect it), is sent once, follows no redirect, and is bounded in time (and, for a GET, in size).
Tests stub `resolve` and the pinned connections here.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from typing import Any

from chalicelib.domain.http_targets import HostCheck, Target, check_target

USER_AGENT = 'chrono-serverless'


class FetchFailed(Exception):
    """A request that got no usable answer; the reason is short and holds no URL."""


def resolve(host: str, port: int) -> list[str]:
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)))


def target(url: str, allowed_hosts: frozenset[str], hosts_variable: str, may_reach: HostCheck | None = None) -> Target:
    """The checked target of `url` (raises http_targets.TargetRefused before any connection)."""
    return check_target(url, allowed_hosts, resolve, hosts_variable=hosts_variable, may_reach=may_reach)


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to by now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _connection(target: Target, timeout: float) -> Any:
    # Looked up at each call, so that tests can stand in for either class.
    return (PinnedHTTPSConnection if target.scheme == 'https' else PinnedHTTPConnection)(target, timeout)


def post(target: Target, path: str, body: bytes, headers: dict[str, str], timeout: float) -> str | None:
    """POST once; None when the target took it (2xx), the reason otherwise. Redirects are not
    followed: a 3xx is a failure."""
    connection = _connection(target, timeout)
    try:
        connection.request('POST', path, body=body, headers={'User-Agent': USER_AGENT, **headers})
        response = connection.getresponse()
        response.read(65536)  # never reflected anywhere
        if 200 <= response.status < 300:
            return None
        return f'HTTP {response.status}'
    except Exception as exc:  # noqa: BLE001 - any failure is an attempt that failed, recorded
        return exc.__class__.__name__
    finally:
        connection.close()


def get(target: Target, timeout: float, max_bytes: int) -> bytes:
    """GET once: the body of a 200 answer, read within `timeout` seconds in all and at most
    `max_bytes` long; FetchFailed otherwise (a 3xx is a failure: redirects are not followed)."""
    deadline = time.monotonic() + timeout
    connection = _connection(target, timeout)
    try:
        connection.request('GET', target.path, headers={'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity'})
        response = connection.getresponse()
        if response.status != 200:
            moved = ' (redirects are not followed)' if 300 <= response.status < 400 else ''
            raise FetchFailed(f'HTTP {response.status}{moved}')
        length = response.getheader('Content-Length')
        if length and length.isdigit() and int(length) > max_bytes:
            raise FetchFailed(f'too large: {int(length)} bytes, at most {max_bytes}')
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchFailed(f'too slow: not read within {timeout:g} s')
            if connection.sock is not None:
                connection.sock.settimeout(left)  # a server that trickles bytes cannot outlast the deadline
            chunk = response.read(min(65536, max_bytes + 1 - size))
            if not chunk:
                return b''.join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailed(f'too large: more than {max_bytes} bytes')
    except FetchFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - a timeout, a refused connection, a TLS error: the attempt failed
        raise FetchFailed(exc.__class__.__name__) from None
    finally:
        connection.close()
