"""Chrono's error convention (spec chrono-api.md §1.4, design.md §3.5), in one place.

Every refusal is one of these exceptions; `http.py` renders them. Business refusals are
HTTP 200 with a non-zero `err` (w.c.s. reads `err`, not the status), bad input is 400,
unknown objects 404, and every body carries `err`, `err_class` and `err_desc`.
"""
from __future__ import annotations

from typing import Any


class ChronoError(Exception):
    status = 200
    err = 1
    retryable = False  # "try again later": an idempotent retry must run again, not replay it

    def __init__(self, err_class: str, err_desc: str | None = None, *, err: int | None = None,
                 errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(err_class)
        self.err_class = err_class
        self.err_desc = err_desc or err_class
        if err is not None:
            self.err = err
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {'err': self.err, 'err_class': self.err_class, 'err_desc': self.err_desc}
        if self.errors is not None:
            body['errors'] = self.errors
        return body


class BusinessError(ChronoError):
    """A refusal the client must handle (sold out, already cancelled...): HTTP 200, err != 0."""


class Busy(BusinessError):
    """DynamoDB kept cancelling the write for contention: nothing was written, the client may
    retry. A refusal rather than a 5xx, since w.c.s. shows `err_desc` either way."""

    retryable = True


class PartlyDone(BusinessError):
    """A call over many events stopped part-way: the body also says what was done (each event's
    change is whole, and running the call again completes it)."""

    def __init__(self, cause: ChronoError, done: dict[str, Any]) -> None:
        super().__init__(cause.err_class, cause.err_desc)
        self.done = done
        self.status = cause.status  # a 503 stays a 503, and a retryable cause stays so (never kept for a replay)
        self.retryable = getattr(cause, 'retryable', False)

    def body(self) -> dict[str, Any]:
        return {**self.done, **super().body()}


class BadRequest(ChronoError):
    status = 400


class InvalidPayload(BadRequest):
    def __init__(self, errors: dict[str, list[str]], err_desc: str = 'invalid payload') -> None:
        super().__init__('invalid payload', err_desc, errors=errors)


class NotFound(ChronoError):
    status = 404


class Unauthorized(ChronoError):
    status = 401


class InternalError(ChronoError):
    """Our fault (a bug, an outage): still in Chrono's shape, never with details."""

    status = 500


class Conflict(ChronoError):
    status = 409


class Unprocessable(ChronoError):
    """Well-formed but unusable: an idempotency key reused for another request (IETF draft
    httpapi-idempotency-key-header: 422)."""

    status = 422


class Unavailable(ChronoError):
    """DynamoDB still throttled or unreachable after the retries: nothing was decided, the
    client may retry (HTTP 503, as a front door answers an overloaded function)."""

    status = 503
    retryable = True


def invalid(field: str, message: str) -> InvalidPayload:
    return InvalidPayload({field: [message]})
