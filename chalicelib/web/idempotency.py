"""Idempotent retries (design.md §3.5): a POST sent again with the same `X-Idempotency-Key` by the
same client within 24 hours gets the first answer again (status and body) and changes nothing more;
while the first is still running, a repeat gets HTTP 409.

The choices (docs/api.md, "Answers and errors"):
- a key belongs to a client: `basic:<user>` or `signature:<orig>`; two clients never share a key;
- the key is 1 to 255 characters among letters, digits and `-_.:~+=/@` (else HTTP 400); an empty
  header is no header;
- "the same request" is the same route, path values, query (without the signature's own
  parameters, new on every signed call) and body (as parsed: key order and JSON or form do not
  matter); the key with another request is refused with HTTP 422 `idempotency key reused`;
- every final answer is kept, business refusals and 4xx included; an answer that says "try again"
  (a 5xx, `busy`, the 503 of an overloaded DynamoDB) is not: the key is released and the next
  repeat runs again;
- the running request holds the key with a lease longer than the Lambda's timeout, so that a
  crashed run blocks its key for 30 seconds, not for 24 hours.

Each refusal is logged once at WARNING with its reason and client; the key itself only as a short
digest (clients may build keys from personal data), which a client can compute to find its call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.errors import Conflict, InvalidPayload, Unprocessable
from chalicelib.store import idempotency_records as records
from chalicelib.web.auth import Caller

log = logging.getLogger(__name__)

HEADER = 'x-idempotency-key'
REPLAYED_HEADER = 'Idempotent-Replayed'
KEY_RE = re.compile(r'[A-Za-z0-9_.:~+=/@-]{1,255}')  # never `#`: the item's key is `<client>#<key>`
LEASE = timedelta(seconds=30)  # longer than the Lambda's timeout (28 s, .chalice/config.json)
KEPT = timedelta(hours=24)
MAX_KEPT_ANSWER = 300_000  # bytes of UTF-8: a DynamoDB item holds at most 400 KB
SIGNATURE_PARAMS = frozenset({'orig', 'algo', 'timestamp', 'nonce', 'signature'})
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as it is sent and kept."""

    status: int
    body: Any  # text when final (kept); a handler's own Response may carry bytes
    headers: dict[str, Any] = field(default_factory=dict)
    final: bool = True  # the same request would get the same answer (not a 5xx, not "try again")
    replayed: bool = False


def read_key(headers: Mapping[str, str]) -> str | None:
    """The request's idempotency key, None without one; a malformed key is a 400."""
    key = (headers.get(HEADER) or '').strip()
    if not key:
        return None
    if not KEY_RE.fullmatch(key):
        log.warning(
            'idempotency key refused: malformed X-Idempotency-Key header',
            extra={'reason': 'malformed X-Idempotency-Key header'},
        )
        raise InvalidPayload(
            {'X-Idempotency-Key': ['1 to 255 characters among letters, digits and -_.:~+=/@.']},
            err_desc='invalid X-Idempotency-Key header',
        )
    return key


def client_of(caller: Caller) -> str:
    return caller.client


def key_digest(key: str) -> str:
    """What logs say of a key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]


def _refusal(client: str, key: str, reason: str) -> None:
    log.warning(
        'idempotency key refused: %s', reason, extra={'reason': reason, 'client': client, 'key_sha256': key_digest(key)}
    )


def fingerprint(
    route: str,
    path: Mapping[str, str],
    query: list[tuple[str, str]],
    body: dict[str, Any],
    raw_body: bytes | str | None,
) -> str:
    """What makes two requests "the same" for a key, hashed."""
    query = sorted(pair for pair in query if pair[0] not in SIGNATURE_PARAMS)
    try:
        content = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(',', ':'))
    except (ValueError, RecursionError):  # nested deeper than the encoder goes: the bytes, then
        content = (raw_body or b'').hex() if isinstance(raw_body, bytes) else str(raw_body)
    document = json.dumps([route, sorted(path.items()), query, content], ensure_ascii=False)
    return hashlib.sha256(document.encode('utf-8', 'surrogatepass')).hexdigest()


def run_once(
    client: str,
    key: str,
    request: str,
    now: datetime,
    run: Callable[[], Answer],
    render: Callable[[Any], Answer],
) -> Answer:
    """Run `run` for the first request of the key; a repeat gets its kept answer (or 409 while it
    runs, 422 when the key came with another request). `render` turns a handler's result into its
    answer: the transaction that makes the change keeps it (store.idempotency.commit)."""
    owner = uuid.uuid4().hex
    for _ in range(CLAIM_ATTEMPTS):
        if records.claim(client, key, request, owner, now, LEASE, KEPT):
            return _run_claimed(records.PendingAnswer(client, key, owner, _keepable(render)), run)
        record = records.read(client, key, now)
        if record is None:
            continue  # released or expired since the claim failed: claim again
        if record.fingerprint != request:
            _refusal(client, key, 'key reused with another request')
            raise Unprocessable(
                'idempotency key reused', 'this X-Idempotency-Key was sent with another request: use a new key'
            )
        if record.state == records.RUNNING and record.leased_until < now:
            continue  # abandoned since the claim failed
        if record.state == records.DONE and record.status is not None and record.answer is not None:
            return Answer(record.status, record.answer, dict(record.headers or {}), replayed=True)
        break
    _refusal(client, key, 'a request with this key is still running')
    raise Conflict('request in progress', 'a request with this X-Idempotency-Key is still running: retry later')


def _keepable(render: Callable[[Any], Answer]) -> Callable[[Any], records.Rendered | None]:
    def rendered(result: Any) -> records.Rendered | None:
        answer = render(result)
        if len(answer.body.encode('utf-8')) > MAX_KEPT_ANSWER:
            return None
        return answer.status, answer.headers, answer.body

    return rendered


def _run_claimed(pending: records.PendingAnswer, run: Callable[[], Answer]) -> Answer:
    client, key, owner = pending.client, pending.key, pending.owner
    try:
        with records.answering(pending):
            answer = run()
    except BaseException:
        if not pending.kept:
            _release(client, key, owner)
        raise
    if pending.kept:  # written with the change itself
        return answer
    if not answer.final or len(answer.body.encode('utf-8')) > MAX_KEPT_ANSWER:
        _release(client, key, owner)
        return answer
    try:
        if not records.finish(client, key, owner, answer.status, answer.headers, answer.body):
            log.warning(
                'idempotency answer not kept: the lease ran out before it was',
                extra={'client': client, 'key_sha256': key_digest(key)},
            )
    except Exception:  # noqa: BLE001 - the change is made: answer it; the lease lets a repeat run later
        log.exception('idempotency answer not kept', extra={'client': client, 'key_sha256': key_digest(key)})
    return answer


def _release(client: str, key: str, owner: str) -> None:
    try:
        records.release(client, key, owner)
    except Exception:  # noqa: BLE001 - the lease frees the key soon anyway
        log.exception(
            'idempotency key not released (free again after the lease)',
            extra={'client': client, 'key_sha256': key_digest(key)},
        )
