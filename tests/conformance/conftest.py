"""The service over HTTP on loopback, bound to a fresh DynamoDB Local table (the real engine).

chalice.test.Client is not thread-safe; concurrency goes through the local HTTP server, whose
`current_request` is thread-local, as `make run` serves it.
"""
from __future__ import annotations

import pytest
import requests

from tests.conftest import BASIC


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


@pytest.fixture
def http_api(ddb):
    import app
    from local.server import ServerThread
    server = ServerThread(app.app).start()
    yield HttpApi(server.url)
    server.stop()
