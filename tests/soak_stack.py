"""The service over HTTP on a fresh DynamoDB Local, outside pytest (`make soak`), as the conformance
tests' `http_api` fixture serves it: the test environment (fake credentials, the test clients), a
table of its own, the local HTTP server."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

from tests.concurrency import HttpApi
from tests.conftest import TEST_ENV  # noqa: F401 - importing it sets the test environment


@contextmanager
def soak_api() -> Iterator[HttpApi]:
    from chalicelib import config, store
    from local.dynamodb import DynamoDBLocal, local_aws_environment

    engine = DynamoDBLocal().start()
    try:
        os.environ.update(local_aws_environment(engine.endpoint))
        os.environ['CHRONO_TABLE'] = f'chrono-soak-{uuid.uuid4().hex[:8]}'
        config.reset()
        store.reset()
        store.create_table()
        import app
        from local.server import ServerThread
        server = ServerThread(app.app).start()
        try:
            yield HttpApi(server.url)
        finally:
            server.stop()
    finally:
        engine.stop()
