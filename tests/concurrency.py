"""Parallel requests and what they left in the table: the concurrency tests and `make bench` share them."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import requests

from chalicelib.models import Booking, event_bookings_key

THREADS = 24
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
