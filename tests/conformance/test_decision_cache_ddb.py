"""The decision cache on the real engine (DynamoDB Local, over HTTP): the conditions a warm decision writes
under (the agenda's version, an event's configuration, holds and counters) are DynamoDB's to check, and moto is
no oracle for them. The same scenario as tests/api/test_decision_cache.py: another process changes the agenda's
settings, an event's places, start and state between the fillslots of a warm one, whose every answer is what a
cold process answers."""
from __future__ import annotations

import pytest

from chalicelib import config
from tests.api import conftest as api_fixtures
from tests.api import test_decision_cache as on_moto
from tests.api.test_decision_cache import WARM_CALLS, scenario

clock, calls, elsewhere = api_fixtures.clock, on_moto.calls, on_moto.elsewhere  # the same fixtures


class Api:
    """tests/api's `api` shape over the local HTTP server."""

    def __init__(self, http_api) -> None:
        self.http_api = http_api

    def get(self, path):
        return self.http_api.call('GET', path)

    def post(self, path, body=None):
        return self.http_api.call('POST', path, body)

    def patch(self, path, body=None):
        return self.http_api.call('PATCH', path, body)


@pytest.fixture
def api(http_api):
    return Api(http_api)


def test_a_warm_process_answers_what_a_cold_one_does_on_dynamodb_local(api, calls, elsewhere, clock, monkeypatch):
    warm = scenario(api, 'warm', calls, elsewhere, clock)
    monkeypatch.setenv('CHRONO_DECISION_CACHE_SECONDS', '0')
    config.reset()
    cold = scenario(api, 'cold', calls, elsewhere, clock)
    assert [answer for answer, _ in warm] == [answer for answer, _ in cold]
    assert [c for _, c in warm] == WARM_CALLS
