"""Authentication of every call (design.md §3.3): HTTP Basic API clients or Publik signatures.

Failures are HTTP 401 with a generic message; the precise reason is logged once, at WARNING (an
operator looks for these), never the secret, the signature, the password nor the user name tried
(people type passwords there).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib import signature
from chalicelib.errors import Unauthorized

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


def _refused(method: str, reason: str, **fields: str) -> Unauthorized:
    """Log one refusal with its reason; the generic 401 to raise."""
    log.warning('auth refused: %s', reason, extra={'auth_method': method, 'reason': reason, **fields})
    return _unauthorized()


def check_basic(header: str, clients: dict[str, str]) -> Caller:
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'basic' or not token:
        raise _refused('basic', 'unsupported Authorization scheme')
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode('utf-8').partition(':')
    except (binascii.Error, ValueError):
        raise _refused('basic', 'malformed Basic credentials') from None
    expected = clients.get(user)
    ok = hmac.compare_digest(password.encode('utf-8'), (expected or _DUMMY_PASSWORD).encode('utf-8'))
    if not (sep and expected is not None and ok):
        raise _refused('basic', 'wrong API client credentials')
    return Caller('basic', user)


def check_signature(
    raw_query: str | None,
    pairs: Sequence[tuple[str, str]],
    keys: dict[str, str],
    now: datetime,
    claim_nonce: Callable[[str, str, datetime], bool],
) -> Caller:
    """Verify the MAC over the raw query (or, without it, over rebuilt candidates), then the nonce."""
    if raw_query is not None:
        candidates = [raw_query]
    else:
        candidates = [f'{signed}{signature.MARKER}{mac}' for signed, mac in signature.rebuild_queries(pairs)]
    if not candidates:
        raise _refused('signature', 'signature is not the last parameter')
    reason = 'no candidate'
    for candidate in candidates:
        try:
            signed = signature.verify_raw(candidate, keys, now)
            break
        except signature.SignatureError as exc:
            reason = str(exc)
    else:
        raise _refused('signature', reason)  # SignatureError's reasons name no key, MAC nor value
    # After the MAC: unauthenticated traffic cannot fill the nonce table.
    if not claim_nonce(signed.orig, signed.nonce, now):
        raise _refused('signature', 'nonce replayed', orig=signed.orig)  # the MAC held: a known orig
    return Caller('signature', signed.orig)


def authenticate(
    authorization: str | None,
    raw_query: str | None,
    pairs: Sequence[tuple[str, str]],
    clients: dict[str, str],
    keys: dict[str, str],
    now: datetime,
    claim_nonce: Callable[[str, str, datetime], bool],
) -> Caller:
    if authorization:
        return check_basic(authorization, clients)
    if any(name == 'signature' for name, _ in pairs):
        return check_signature(raw_query, pairs, keys, now, claim_nonce)
    log.warning('auth refused: no credentials', extra={'auth_method': None, 'reason': 'no credentials'})
    raise _unauthorized('authentication required')
