"""Chrono's error convention (spec chrono-api.md §1.4, design.md §3.5), in one place.

Every refusal is one of these exceptions, each a kind: a business refusal (`err` != 0), bad input,
an unknown object, an authentication failure... Their HTTP statuses are the edge's to choose
(`web/api.py` STATUSES): a business refusal is HTTP 200 (w.c.s. reads `err`, not the status), bad
input 400, an unknown object 404; every body carries `err`, `err_class` and `err_desc`.
"""

from __future__ import annotations

from typing import Any


class ChronoError(Exception):
    err = 1
    retryable = False  # "try again later": an idempotent retry must run again, not replay it

    def __init__(
        self,
        err_class: str,
        err_desc: str | None = None,
        *,
        err: int | None = None,
        errors: dict[str, list[str]] | None = None,
    ) -> None:
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
    """A call over many events stopped part-way: the answer also says what was done (`done`, a
    result the web layer renders beside the error's keys; each event's change is whole, and running
    the call again completes it)."""

    def __init__(self, cause: ChronoError, done: Any) -> None:
        super().__init__(cause.err_class, cause.err_desc)
        self.cause = cause  # its kind is the answer's (a 503 stays a 503, a retryable cause stays so)
        self.done = done
        self.retryable = cause.retryable


class BadRequest(ChronoError):
    """Input the API cannot take."""


class InvalidPayload(BadRequest):
    def __init__(self, errors: dict[str, list[str]], err_desc: str = 'invalid payload') -> None:
        super().__init__('invalid payload', err_desc, errors=errors)


class NotFound(ChronoError):
    """An agenda, event or booking that does not exist."""


class Unauthorized(ChronoError):
    """No valid credentials or signature."""


class InternalError(ChronoError):
    """Our fault (a bug, an outage): still in Chrono's shape, never with details."""


class Conflict(ChronoError):
    """The same request is still running (an idempotency key)."""


class Unprocessable(ChronoError):
    """Well-formed but unusable: an idempotency key reused for another request (IETF draft
    httpapi-idempotency-key-header: 422)."""


class Unavailable(ChronoError):
    """DynamoDB still throttled or unreachable after the retries: nothing was decided, the
    client may retry (HTTP 503, as a front door answers an overloaded function)."""

    retryable = True


def invalid(field: str, message: str) -> InvalidPayload:
    return InvalidPayload({field: [message]})
