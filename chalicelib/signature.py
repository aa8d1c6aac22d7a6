"""Publik signed URLs (spec auth-and-callbacks.md §1): signing and checking, no I/O.

The MAC covers the raw query string up to `&signature=`, exactly as the client sent it.
Where the gateway hands us only decoded parameters (API Gateway REST), `rebuild_queries`
produces the few encodings Publik clients actually use, and each candidate is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

ALGORITHMS = {'sha256': hashlib.sha256, 'sha1': hashlib.sha1, 'sha512': hashlib.sha512}
TIMESTAMP_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
CLOCK_SKEW = timedelta(seconds=30)
MARKER = '&signature='
# Characters Lingo and hand-written URLs leave unencoded in values (`user_external_id=user:1`).
LENIENT_SAFE = ":@,/;$!*'()~"
MAX_VARIANTS = 81


class SignatureError(Exception):
    """Why a signature was refused; logged, never shown to the client."""


@dataclass(frozen=True)
class SignedCaller:
    orig: str
    nonce: str


def digest(key: str, message: str, algo: str) -> bytes:
    return hmac.new(key.encode('utf-8'), message.encode('utf-8'), ALGORITHMS[algo]).digest()


def sign_query(
    query: str, key: str, algo: str = 'sha256', now: datetime | None = None, nonce: str | None = None
) -> str:
    now = now or datetime.now(timezone.utc)
    nonce = nonce or secrets.token_hex(16)
    tail = urlencode([('algo', algo), ('timestamp', now.strftime(TIMESTAMP_FORMAT)), ('nonce', nonce)])
    signed = f'{query}&{tail}' if query else tail
    mac = base64.b64encode(digest(key, signed, algo)).decode('ascii')
    return f'{signed}&signature={quote(mac)}'


def sign_url(
    url: str, key: str, orig: str, algo: str = 'sha256', now: datetime | None = None, nonce: str | None = None
) -> str:
    """Sign as Hobo/Lingo do (NameID/email/orig first), which is how we call clients back."""
    parts = urlsplit(url)
    query = parts.query
    if 'orig' not in {name for name, _ in parse_qsl(query, keep_blank_values=True)}:
        prefix = urlencode([('NameID', ''), ('email', ''), ('orig', orig)])
        query = f'{prefix}&{query}' if query else prefix
    return urlunsplit(parts._replace(query=sign_query(query, key, algo, now, nonce)))


def _single(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name)
    if not values or len(values) != 1 or not values[0]:
        raise SignatureError(f'missing or repeated {name}')
    return values[0]


def _decode_mac(raw: str) -> bytes:
    text = unquote(raw).replace(' ', '+')
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError('signature is not base64') from exc


def check(signed: str, signature: str, keys: dict[str, str], now: datetime) -> SignedCaller:
    """Check one candidate: `signed` is the query before `&signature=`, `signature` what follows."""
    params = parse_qs(signed, keep_blank_values=True)
    orig = _single(params, 'orig')
    algo = _single(params, 'algo')
    timestamp = _single(params, 'timestamp')
    nonce = _single(params, 'nonce')
    key = keys.get(orig)
    if key is None:
        raise SignatureError('unknown orig')
    if algo not in ALGORITHMS:
        raise SignatureError('algorithm not allowed')
    if not hmac.compare_digest(_decode_mac(signature), digest(key, signed, algo)):
        raise SignatureError('bad signature')
    try:
        when = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise SignatureError('bad timestamp') from exc
    if abs(now - when) > CLOCK_SKEW:
        raise SignatureError('timestamp out of the clock window')
    return SignedCaller(orig=orig, nonce=nonce[:128])


def verify_raw(raw_query: str, keys: dict[str, str], now: datetime) -> SignedCaller:
    index = raw_query.find(MARKER)
    if index < 0:
        raise SignatureError('no signature')
    signature = raw_query[index + len(MARKER) :]
    if '&' in signature:
        raise SignatureError('parameters after the signature')
    return check(raw_query[:index], signature, keys, now)


def _encodings(value: str) -> tuple[str, str, str]:
    """How Publik clients encode one value: urlencode (`+`, `%3A`), `%20`, or left readable."""
    return quote_plus(value, safe=''), quote(value, safe=''), quote(value, safe=LENIENT_SAFE)


def rebuild_queries(pairs: Sequence[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    """Candidate (signed part, signature) pairs from decoded (key, value) pairs in order.

    The gateway keeps the order of keys but groups repeated keys, and it has decoded every
    value: the original encoding is guessed among the encodings clients use, value by value,
    up to MAX_VARIANTS combinations. `algo`, `timestamp` and `nonce` are always urlencoded
    by every Publik signer.
    """
    if not pairs or pairs[-1][0] != 'signature' or [k for k, _ in pairs].count('signature') != 1:
        return
    body = pairs[:-1]
    signature = quote(pairs[-1][1].replace(' ', '+'), safe='')
    fixed = {'algo', 'timestamp', 'nonce'}
    styles = [(quote_plus(v, safe=''),) * 3 if k in fixed else _encodings(v) for k, v in body]
    keys = [quote_plus(k, safe='') for k, _ in body]
    # Whole-query styles first (one encoder per client), then value-by-value mixes.
    uniform = (tuple(s[style] for s in styles) for style in range(3))
    mixed = itertools.islice(itertools.product(*(tuple(dict.fromkeys(s)) for s in styles)), MAX_VARIANTS)
    seen = set()
    for combination in itertools.chain(uniform, mixed):
        signed = '&'.join(f'{k}={v}' for k, v in zip(keys, combination, strict=True))
        if signed not in seen:
            seen.add(signed)
            yield signed, signature
