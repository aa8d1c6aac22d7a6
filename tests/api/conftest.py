"""Helpers for the functional API tests (chalice.test.Client over moto).

The fixtures `client`, `api`, `env` and `aws` come from tests/conftest.py; these only add to them.
"""
from __future__ import annotations

from datetime import timezone

import pytest

from chalicelib.store.models import Event, agenda_pk
from tests.conftest import LoopbackServer, QuietHandler

ERROR_KEYS = {'err', 'err_class', 'err_desc'}
GENERIC_401 = 'authentication failed: give valid API client credentials or a valid signature'


def set_counters(agenda: str, event: str, reserved: int = 0, waiting: int = 0) -> None:
    """Set an event's place counters directly (to reach a state without making the bookings)."""
    Event(agenda_pk(agenda), f'event#{event}').update(
        actions=[Event.reserved.set(reserved), Event.waiting_list_reserved.set(waiting)])


def assert_not_found(answer) -> None:
    """A 404 in Chrono's error shape (design.md §3.5)."""
    status, body = answer
    assert status == 404, answer
    assert set(body) == ERROR_KEYS and body['err'] == 1, body
    assert isinstance(body['err_class'], str) and body['err_class'] and isinstance(body['err_desc'], str)


@pytest.fixture
def clock(monkeypatch):
    """Set the time every request sees: `clock(datetime(2030, 3, 1, 9, tzinfo=PARIS))`."""
    from chalicelib.web import api as http

    def set_now(moment):
        monkeypatch.setattr(http, 'utcnow', lambda: moment.astimezone(timezone.utc))
    return set_now


@pytest.fixture
def export(api):
    """The current export document (without its `err` key)."""
    def read():
        status, body = api.get('/api/export/')
        assert status == 200 and body['err'] == 0
        return {k: v for k, v in body.items() if k != 'err'}
    return read


# ---- a callback receiver on loopback (tests/api/test_callbacks.py, test_faults.py) ----------------------

class Receiver(LoopbackServer):
    """Records every request; answers the next status of `statuses` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get('Content-Length') or 0)
                receiver.requests.append({'path': self.path, 'body': self.rfile.read(length),
                                          'content_type': self.headers.get('Content-Type')})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302):
                    self.send_header('Location', f'http://127.0.0.1:{receiver.port}/elsewhere/')
                self.end_headers()
                self.wfile.write(b'{"err": 0}')

        super().__init__(Handler)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
