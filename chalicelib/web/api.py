"""The HTTP edge: how every route reads a request and writes Chrono's answer.

`Api.route` registers a Chalice view that authenticates, decodes path parameters once,
reads the body leniently, calls the handler with a `Call`, and renders the result or the
`ChronoError` it raised. A POST with `X-Idempotency-Key` runs once per client and key
(`idempotency.py`). The middleware rewrites the answers Chalice produces by itself
(405, malformed input, unhandled errors) into Chrono's error shape.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib import aws, config, store
from chalicelib.errors import (
    BadRequest,
    ChronoError,
    Conflict,
    InternalError,
    InvalidPayload,
    NotFound,
    PartlyDone,
    Unauthorized,
    Unavailable,
    Unprocessable,
)
from chalicelib.parsing import Payload
from chalicelib.store.tables import retryable_failure
from chalicelib.web import idempotency, render
from chalicelib.web.auth import Caller, authenticate
from chalicelib.web.idempotency import Answer

log = logging.getLogger(__name__)
JSON_HEADERS = {'Content-Type': 'application/json'}
Renderer = Callable[[Any, 'Call'], Any]  # (a handler's result, the call) -> a dict or a Response
HOST_RE = re.compile(r'^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$')
BODYLESS_METHODS = ('GET', 'HEAD', 'DELETE')
# Chalice's own error codes and the Chrono error classes that replace them.
CHALICE_ERRORS = {
    'MethodNotAllowedError': 'method not allowed',
    'UnsupportedMediaType': 'invalid payload',
    'BadRequestError': 'invalid payload',
    'BadRequest': 'invalid payload',
    'InternalServerError': 'internal error',
}


@dataclass
class Call:
    """What a handler needs from the request, already parsed and authenticated."""

    body: Payload
    query: Payload
    query_lists: dict[str, list[str]]
    base_url: str
    caller: Caller
    now: datetime
    tz: ZoneInfo
    method: str

    @property
    def host(self) -> str | None:
        """Our host name as the caller sees it (the default `orig` of our callbacks)."""
        return urlsplit(self.base_url).hostname


def warm_up() -> None:
    """On Lambda, make the DynamoDB client during the function's init phase (the import of app) rather than
    in its first request. Nothing of the configuration is read; a failure is left to the first request,
    which makes the client again and answers as for any other failure."""
    if not aws.on_lambda():
        return
    try:
        store.warm()
    except Exception:  # noqa: BLE001 - the first request tries again
        log.warning('DynamoDB client not made at init: the first request makes it', exc_info=True)


def utcnow() -> datetime:
    """The request's clock, in one place (tests set it)."""
    return datetime.now(timezone.utc)


def json_text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(',', ':'))


def answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json_text(body), status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def error_answer(error: ChronoError) -> Response:
    return respond(error_outcome(error))


def query_pairs(request: Request) -> list[tuple[str, str]]:
    params = request.query_params
    if params is None:
        return []
    return [(name, value) for name in params for value in params.getlist(name)]


def raw_query(request: Request) -> str | None:
    """The query string exactly as sent, when the front door passes it (docs/api.md, signatures)."""
    context = request.context or {}
    raw = context.get('rawQueryString')
    return raw if isinstance(raw, str) else None


def base_url(request: Request) -> str:
    configured = config.settings().base_url
    if configured:
        return configured
    host = request.headers.get('host', '')
    if not HOST_RE.match(host):
        host = 'localhost'
    proto = request.headers.get('x-forwarded-proto', 'http').split(',')[0].strip().lower()
    return f'{"https" if proto == "https" else "http"}://{host}'


def has_lone_surrogate(data: Any) -> bool:
    """JSON `\\ud800` escapes decode to strings that cannot be encoded as UTF-8 (nor stored).
    Walked without recursion: the document may be nested as deep as the parser allows."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode('utf-8')
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def read_body(request: Request) -> dict[str, Any]:
    """An object from a JSON or form-encoded body; no body is `{}` (w.c.s. POSTs without one)."""
    if request.method in BODYLESS_METHODS:
        return {}  # Lingo sends `{}` with its GETs: accepted and ignored.
    raw = request.raw_body or b''
    if isinstance(raw, str):
        raw = raw.encode('utf-8')
    if not raw.strip():
        return {}
    content_type = request.headers.get('content-type', '').split(';')[0].strip().lower()
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise InvalidPayload({'non_field_errors': ['The body is not valid UTF-8.']}) from None
    if content_type in ('', 'application/json') or content_type.endswith('+json'):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise InvalidPayload({'non_field_errors': ['The body is not valid JSON.']}) from None
        if not isinstance(data, dict):
            raise InvalidPayload({'non_field_errors': ['Expected a JSON object.']})
        if has_lone_surrogate(data):
            raise InvalidPayload({'non_field_errors': ['The body holds an invalid \\u escape (lone surrogate).']})
        return data
    if content_type == 'application/x-www-form-urlencoded':
        fields: dict[str, list[str]] = {}
        for name, value in parse_qsl(text, keep_blank_values=True):
            fields.setdefault(name, []).append(value)
        return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
    raise InvalidPayload(
        {'non_field_errors': [f'Unsupported media type "{content_type}".']},
        err_desc='invalid payload: send application/json',
    )


def decode_path(params: dict[str, str]) -> dict[str, str]:
    """Path parameters arrive percent-encoded (`%40`, `%3A`): decode them exactly once."""
    decoded = {}
    for name, value in params.items():
        try:
            decoded[name] = unquote(value or '', errors='strict')
        except UnicodeDecodeError:
            raise NotFound('not found', f'invalid {name} in path') from None
    return decoded


class Api:
    """Registers Chrono routes on a Chalice app; handlers receive a `Call` and path values."""

    def __init__(self, app: Chalice) -> None:
        self.app = app
        app.register_middleware(rewrite_chalice_errors, 'http')

    def route(self, path: str, methods: tuple[str, ...] = ('GET',), render: Renderer | None = None) -> Callable:
        """`render(result, call)` turns the handler's result into the answer (web/render.py); without
        it the result is the answer (a dict, or a Response)."""

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            def view(**params: str) -> Response:
                return self.dispatch(handler, params, render)

            view.__name__ = handler.__name__
            self.app.route(path, methods=list(methods), content_types=['*/*'], name=handler.__name__)(view)
            return handler

        return decorator

    def dispatch(self, handler: Callable[..., Any], params: dict[str, str], renderer: Renderer | None) -> Response:
        request = self.app.current_request
        assert request is not None, 'Chalice sets the current request before it calls a view'
        try:
            call = read_call(request)
            path = decode_path(params)
            key = idempotency.read_key(request.headers) if request.method == 'POST' else None
        except ChronoError as error:
            return error_answer(error)
        except Exception as exc:  # noqa: BLE001 - a bug or an outage must still answer in Chrono's shape
            return respond(failure(exc, handler.__name__))

        def answer_of(result: Any) -> Answer:
            rendered = renderer(result, call) if renderer is not None else result
            if isinstance(rendered, Response):  # kept for a repeat only when its body is text
                return Answer(
                    rendered.status_code,
                    rendered.body,
                    dict(rendered.headers or {}),
                    final=rendered.status_code < 500 and isinstance(rendered.body, str),
                )
            return Answer(200, json_text({'err': 0, **rendered}), dict(JSON_HEADERS))

        def run() -> Answer:
            return execute(handler, call, path, answer_of)

        if key is None:
            return respond(run())
        pairs = [(name, value) for name, values in call.query_lists.items() for value in values]
        request_print = idempotency.fingerprint(handler.__name__, path, pairs, call.body.data, request.raw_body)
        try:
            return respond(
                idempotency.run_once(idempotency.client_of(call.caller), key, request_print, call.now, run, answer_of)
            )
        except ChronoError as error:
            return error_answer(error)
        except Exception as exc:  # noqa: BLE001 - the key's record could not be read or written
            return respond(failure(exc, handler.__name__))


def read_call(request: Request) -> Call:
    """Authenticate the request and parse what every handler reads."""
    settings = config.settings()
    now = utcnow()
    pairs = query_pairs(request)
    caller = authenticate(
        request.headers.get('authorization'),
        raw_query(request),
        pairs,
        settings.api_clients,
        settings.signature_keys,
        now,
        store.claim_nonce,
    )
    query = {name: value for name, value in pairs}
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        lists.setdefault(name, []).append(value)
    return Call(
        body=Payload(read_body(request)),
        query=Payload(query),
        query_lists=lists,
        base_url=base_url(request),
        caller=caller,
        now=now,
        tz=settings.time_zone,
        method=request.method,
    )


def execute(
    handler: Callable[..., Any], call: Call, path: dict[str, str], answer_of: Callable[[Any], Answer]
) -> Answer:
    """The handler's answer, or the error it raised in Chrono's shape."""
    try:
        return answer_of(handler(call, **path))
    except ChronoError as error:
        return error_outcome(error)
    except Exception as exc:  # noqa: BLE001 - a bug or an outage must still answer in Chrono's shape
        return failure(exc, handler.__name__)


# The HTTP status of each kind of error (errors.py): the first class of the error's ancestry listed.
STATUSES: dict[type[ChronoError], int] = {
    PartlyDone: 0,  # its cause's (below)
    BadRequest: 400,
    Unauthorized: 401,
    NotFound: 404,
    Conflict: 409,
    Unprocessable: 422,
    InternalError: 500,
    Unavailable: 503,
    ChronoError: 200,  # a business refusal: HTTP 200 with a non-zero `err`
}


def status_of(error: ChronoError) -> int:
    if isinstance(error, PartlyDone):
        return status_of(error.cause)
    return next(STATUSES[kind] for kind in type(error).__mro__ if kind in STATUSES)


def error_outcome(error: ChronoError) -> Answer:
    status = status_of(error)
    headers = {**JSON_HEADERS, **({'WWW-Authenticate': 'Basic realm="chrono"'} if status == 401 else {})}
    body = error.body()
    if isinstance(error, PartlyDone):  # what was done, beside the error's keys
        body = {**render.bulk_changes(error.done, config.settings().time_zone), **body}
    return Answer(status, json_text(body), headers, final=not error.retryable and status < 500)


def failure(exc: Exception, where: str) -> Answer:
    """DynamoDB still overloaded after the retries: 503 or `busy` (docs/table-design.md); anything
    else is a bug: 500, logged."""
    retryable = retryable_failure(exc)
    if retryable is not None:
        log.warning('%s: %s after the retries', where, retryable.err_class, exc_info=True)
        return error_outcome(retryable)
    log.exception('unhandled error in %s', where)
    return error_outcome(InternalError('internal error'))


def respond(outcome: Answer) -> Response:
    headers = {**outcome.headers, **({idempotency.REPLAYED_HEADER: 'true'} if outcome.replayed else {})}
    return Response(body=outcome.body, status_code=outcome.status, headers=headers)


def rewrite_chalice_errors(event, get_response):
    """Answers Chalice builds itself (`{"Code", "Message"}`) get Chrono's keys instead."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and 'Code' in body:
        status = 400 if body['Code'] == 'UnsupportedMediaType' else response.status_code
        err_class = CHALICE_ERRORS.get(body['Code'], 'invalid request')
        desc = str(body.get('Message') or err_class)
        if status >= 500:
            desc = 'internal error'
        headers = {k: v for k, v in response.headers.items() if k.lower() in ('allow',)}
        return answer({'err': 1, 'err_class': err_class, 'err_desc': desc}, status, headers)
    return response
