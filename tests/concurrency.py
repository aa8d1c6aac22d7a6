"""Parallel requests and what they left in the table: the concurrency tests and `make bench` share them."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import requests

from chalicelib.store.models import Booking, event_bookings_key
from tests.conftest import BASIC

THREADS = 24


class HttpApi:
    """JSON over HTTP: (status, parsed body). One requests.Session per thread is the caller's."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method, path, body=None, session=None, headers=None):
        response = (session or requests).request(method, self.url + path, json=body,
                                                 headers={**BASIC, **(headers or {})}, timeout=30)
        return response.status_code, response.json()

    def get(self, path, **kw):
        return self.call('GET', path, **kw)

    def post(self, path, body=None, **kw):
        return self.call('POST', path, body, **kw)
Result = TypeVar('Result')


def parallel(calls: list[Callable[[requests.Session], Result]], threads: int = THREADS) -> list[Result]:
    """Run `calls` (functions of a requests.Session) from `threads` threads released together."""
    barrier = threading.Barrier(threads)
    sessions = threading.local()

    def run(call):
        if not hasattr(sessions, 'session'):
            sessions.session = requests.Session()
            barrier.wait()
        return call(sessions.session)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, calls))


def live_bookings(agenda: str, event: str) -> tuple[int, int]:
    """(main-list places, waiting-list places) held by the live booking items of an event."""
    main = waiting = 0
    for leg in Booking.by_gsi2.query(event_bookings_key(agenda, event)):
        if leg.cancelled_at is None:
            if leg.in_waiting_list:
                waiting += int(leg.count)
            else:
                main += int(leg.count)
    return main, waiting


def event_booking_ids(agenda: str, event: str) -> set[int]:
    """The ids of the bookings the index lists on an event, cancelled ones included."""
    return {int(leg.booking_id) for leg in Booking.by_gsi2.query(event_bookings_key(agenda, event))}
