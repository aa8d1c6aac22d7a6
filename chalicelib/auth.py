"""Authentication of every call (design.md §3.3): HTTP Basic API clients or Publik signatures.

Failures are HTTP 401 with a generic message; the precise reason is logged, never the
secret, the signature or the password.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from . import signature
from .errors import Unauthorized

log = logging.getLogger(__name__)
# Compared against when the user name is unknown, so that timing does not reveal which names exist.
_DUMMY_PASSWORD = 'x' * 32


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API client (`basic`) or a Publik service (`signature`, by its orig)."""

    method: str
    name: str

    @property
    def client(self) -> str:
        """One spelling for what is kept per client (idempotency keys, a booking's owner)."""
        return f'{self.method}:{self.name}'


def _unauthorized(err_class: str = 'authentication failed') -> Unauthorized:
    return Unauthorized(err_class, 'authentication failed: give valid API client credentials or a valid signature')


def check_basic(header: str, clients: dict[str, str]) -> Caller:
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'basic' or not token:
        log.info('auth refused: unsupported Authorization scheme')
        raise _unauthorized()
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode('utf-8').partition(':')
    except (binascii.Error, ValueError):
        log.info('auth refused: malformed Basic credentials')
        raise _unauthorized() from None
    expected = clients.get(user)
    ok = hmac.compare_digest(password.encode('utf-8'), (expected or _DUMMY_PASSWORD).encode('utf-8'))
    if not (sep and expected is not None and ok):
        log.info('auth refused: wrong API client credentials')
        raise _unauthorized()
    return Caller('basic', user)


def check_signature(raw_query: str | None, pairs: Sequence[tuple[str, str]], keys: dict[str, str],
                    now: datetime, claim_nonce: Callable[[str, str, datetime], bool]) -> Caller:
    """Verify the MAC over the raw query (or, without it, over rebuilt candidates), then the nonce."""
    if raw_query is not None:
        candidates = [raw_query]
    else:
        candidates = [f'{signed}{signature.MARKER}{mac}' for signed, mac in signature.rebuild_queries(pairs)]
    if not candidates:
        log.info('auth refused: signature is not the last parameter')
        raise _unauthorized()
    reason = 'no candidate'
    for candidate in candidates:
        try:
            signed = signature.verify_raw(candidate, keys, now)
            break
        except signature.SignatureError as exc:
            reason = str(exc)
    else:
        log.info('auth refused: %s', reason)
        raise _unauthorized()
    # After the MAC: unauthenticated traffic cannot fill the nonce table.
    if not claim_nonce(signed.orig, signed.nonce, now):
        log.info('auth refused: nonce replayed (orig %s)', signed.orig)
        raise _unauthorized()
    return Caller('signature', signed.orig)


def authenticate(authorization: str | None, raw_query: str | None, pairs: Sequence[tuple[str, str]],
                 clients: dict[str, str], keys: dict[str, str], now: datetime,
                 claim_nonce: Callable[[str, str, datetime], bool]) -> Caller:
    if authorization:
        return check_basic(authorization, clients)
    if any(name == 'signature' for name, _ in pairs):
        return check_signature(raw_query, pairs, keys, now, claim_nonce)
    raise _unauthorized('authentication required')
