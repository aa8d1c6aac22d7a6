"""The service over HTTP on loopback, bound to a fresh DynamoDB Local table (the real engine).

chalice.test.Client is not thread-safe; concurrency goes through the local HTTP server, whose
`current_request` is thread-local, as `make run` serves it.
"""
from __future__ import annotations

import pytest

from tests.concurrency import HttpApi


@pytest.fixture
def http_api(ddb):
    import app
    from local.server import ServerThread
    server = ServerThread(app.app).start()
    yield HttpApi(server.url)
    server.stop()
