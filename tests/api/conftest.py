"""Helpers for the functional API tests (chalice.test.Client over moto).

The fixtures `client`, `api`, `env` and `aws` come from tests/conftest.py; these only add to them.
"""
from __future__ import annotations

import threading
from datetime import timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.store.models import Event, agenda_pk

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


@pytest.fixture(scope='session', autouse=True)
def shared_botocore_loader():
    """Speed only: every test resets the store, hence makes a new botocore session (chalicelib/aws.py),
    and each one would parse the service models again (most of a test's time). Here the sessions share
    one loader, as the clients of a single session always do."""
    from botocore.loaders import create_loader

    from chalicelib import aws

    loader = create_loader()
    original = aws.get_session

    def get_session():
        session = original()
        session.register_component('data_loader', loader)
        return session

    aws.get_session = get_session
    yield
    aws.get_session = original


@pytest.fixture
def export(api):
    """The current export document (without its `err` key)."""
    def read():
        status, body = api.get('/api/export/')
        assert status == 200 and body['err'] == 0
        return {k: v for k, v in body.items() if k != 'err'}
    return read


# ---- a callback receiver on loopback (tests/api/test_callbacks.py, test_faults.py) ----------------------

class Receiver:
    """Records every request; answers the next status of `statuses` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
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

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f'http://127.0.0.1:{self.port}{path}'


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
