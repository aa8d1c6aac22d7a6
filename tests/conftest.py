"""Shared fixtures: moto for functional tests, DynamoDB Local for conformance and HTTP tests.

The environment is set before `app` is imported (pynamodb reads it on first use), and no
test may reach AWS: credentials are fake and every endpoint is on loopback or mocked.
"""
from __future__ import annotations

import base64
import copy
import itertools
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEST_ENV = {
    'AWS_ACCESS_KEY_ID': 'testing',
    'AWS_SECRET_ACCESS_KEY': 'testing',
    'AWS_DEFAULT_REGION': 'eu-west-3',
    'CHRONO_API_CLIENTS': json.dumps({'demo': 'demo', 'wcs': 's3cr3t'}),
    'CHRONO_SIGNATURE_KEYS': json.dumps({'wcs.example.org': '12345', 'lingo.example.org': 'lingo-key'}),
    'CHRONO_TIME_ZONE': 'Europe/Paris',
    'CHRONO_TABLE': 'chrono-test',
    'CHRONO_CALLBACK_QUEUE': 'chrono-test-callbacks',
    # Every DynamoDB Local the tests start (python -m local's too): the JIT's first tier and one GC thread cost
    # half the CPU of the JVM's default warm-up, which short runs on a busy machine never repay.
    'DYNAMODB_LOCAL_JAVA_OPTIONS': '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC',
}
for _name in ('AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS', 'CHRONO_BASE_URL',
              'AWS_PROFILE', 'AWS_SESSION_TOKEN'):
    os.environ.pop(_name, None)
os.environ.update(TEST_ENV)

from chalicelib import config, store  # noqa: E402

BASIC = {'Authorization': 'Basic ' + base64.b64encode(b'demo:demo').decode()}
JSON_BASIC = {**BASIC, 'Content-Type': 'application/json'}


def basic(user: str, password: str) -> dict[str, str]:
    return {'Authorization': 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()}


def path_without_java() -> str:
    """The PATH less every directory that holds a `java`: a machine with only Python and Node."""
    return os.pathsep.join(directory for directory in os.environ['PATH'].split(os.pathsep)
                           if directory and not (Path(directory) / 'java').exists())


# The modules that take longest (a minute and more of a worker's time for the first, half a minute for the
# others), collected first: `make test` hands whole modules to the workers in collection order (--dist
# loadfile --no-loadscope-reorder), so none of them starts last and runs alone while the other worker waits.
LONGEST_FIRST = (
    'tests/conformance/test_race_matrix.py',
    'tests/conformance/test_hold_concurrency.py',
    'tests/http/test_local_service.py',
    'tests/api/test_fuzz.py',
    'tests/api/test_booking_inputs.py',
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: number for number, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split('::')[0], len(rank)))  # stable: the rest as found


@pytest.fixture(scope='session', autouse=True)
def shared_botocore_loader():
    """Speed only: every test makes new botocore sessions (pynamodb's connections, boto3's default session,
    which moto resets), and each one parsed the service models and endpoint rules again (most of a short
    test's time). Here all sessions of a data path share one loader, as the clients of one session do."""
    import botocore.session

    original = botocore.session.create_loader
    loaders = {}

    def create_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = create_loader
    yield
    botocore.session.create_loader = original


class _TableCopiedOncePerTransaction:
    """What moto.dynamodb.models sees as `copy` (speed only): its TransactWriteItems deep-copies the whole
    table once per item of the transaction, to roll back if one fails, where one copy made before any write
    is the same backup. A 33-event fillslot on a table of thousands of items spent most of its time there
    (moto 5.1.22, requirements-dev.txt). Only tables, only within one TransactWriteItems of this thread."""

    def __init__(self) -> None:
        self.calls = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table
        made = getattr(self.calls, 'made', None)
        if made is None or memo is not None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in made:
            made[id(value)] = (value, copy.deepcopy(value))  # the table kept: its id stays its own
        return made[id(value)][1]

    def wrap(self, transact_write_items: Any) -> Any:
        def once_per_table(backend: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.made = {}
            try:
                return transact_write_items(backend, *args, **kwargs)
            finally:
                self.calls.made = None
        return once_per_table


@pytest.fixture(scope='session', autouse=True)
def moto_copies_a_table_once_per_transaction():
    from moto.dynamodb import models
    original_copy, original_transact = models.copy, models.DynamoDBBackend.transact_write_items
    shim = _TableCopiedOncePerTransaction()
    models.copy = shim
    models.DynamoDBBackend.transact_write_items = shim.wrap(original_transact)
    yield
    models.copy, models.DynamoDBBackend.transact_write_items = original_copy, original_transact


@pytest.fixture
def env(monkeypatch):
    """Change configuration variables for one test; the settings are read again."""
    def set_env(**values):
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        config.reset()
    yield set_env
    config.reset()


# The clients the last moto test used, kept for the next one: making them is most of a short test's setup
# (~25 ms), and they need nothing new, since moto's stub is on every client made after moto's import and
# each mock_aws() starts with empty accounts. A test that changed them (a reset, other endpoints) ends this.
_moto_clients: tuple[Any, ...] = ()


def _clients_in_use() -> tuple[Any, ...]:
    """The session, the DynamoDB connection and the endpoints they were made for (None: not made yet)."""
    from chalicelib import aws as aws_clients
    from chalicelib.store import tables
    return aws_clients._session, tables._connection, aws_clients.endpoints()


@pytest.fixture
def aws():
    """A fresh in-process moto account with the table created."""
    global _moto_clients
    from moto import mock_aws

    from chalicelib.store import decision_cache
    with mock_aws():
        config.reset()
        if _moto_clients and _moto_clients == _clients_in_use():
            decision_cache.clear()
        else:
            store.reset()
        _create_table_in_moto()
        _moto_clients = _clients_in_use()
        yield
    config.reset()


_empty_tables: dict[str, Any] = {}  # table name -> moto's table as store.create_table() first made it


def _create_table_in_moto() -> None:
    """store.create_table() on a copy of the empty table it made the first time (speed only: creating it
    again through the API, with its indexes and TTL, is four calls)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ['AWS_DEFAULT_REGION']]
    name = config.settings().table_name
    if name in _empty_tables:
        backend.tables[name] = copy.deepcopy(_empty_tables[name])
    store.create_table()  # binds the models to the table (and finds it there)
    _empty_tables.setdefault(name, copy.deepcopy(backend.tables[name]))


@pytest.fixture
def client(aws):
    from chalice.test import Client

    import app
    # A stage absent from .chalice/config.json: the `dev` stage's variables (CHRONO_TABLE=chrono-dev)
    # would otherwise be laid over the test environment during every request.
    with Client(app.app, stage_name='test') as test_client:
        yield test_client


class Api:
    """A thin helper over chalice.test.Client: JSON in, (status, parsed body) out."""

    def __init__(self, client, headers=None):
        self.client = client
        self.headers = headers if headers is not None else BASIC

    def call(self, method, path, body=None, headers=None, raw=None):
        all_headers = {**self.headers, **(headers or {})}
        if body is not None:
            raw = json.dumps(body)
            all_headers.setdefault('Content-Type', 'application/json')
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=raw)
        return response.status_code, json.loads(response.body) if response.body else None

    def get(self, path, **kw):
        return self.call('GET', path, **kw)

    def post(self, path, body=None, **kw):
        return self.call('POST', path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call('PATCH', path, body, **kw)

    def delete(self, path, **kw):
        return self.call('DELETE', path, **kw)


@pytest.fixture
def api(client):
    return Api(client)


# ---- DynamoDB Local ---------------------------------------------------------------------------

@pytest.fixture(scope='session')
def dynamodb_local():
    """One in-memory DynamoDB Local for the session (the real engine; moto is no concurrency oracle). Under
    pytest-xdist each worker is a session, hence has its own: tables never meet (their names carry the pid)."""
    from local.dynamodb import DynamoDBLocal
    engine = DynamoDBLocal().start()
    yield engine
    engine.stop()


TABLE_NUMBERS = itertools.count()


@pytest.fixture
def ddb(dynamodb_local, monkeypatch, request):
    """The store bound to a fresh table on DynamoDB Local."""
    from local.dynamodb import local_aws_environment
    for name, value in local_aws_environment(dynamodb_local.endpoint).items():
        monkeypatch.setenv(name, value)
    table = f'chrono-{request.node.name[:40]}-{os.getpid()}-{next(TABLE_NUMBERS)}'
    table = ''.join(c if c.isalnum() or c in '-_.' else '-' for c in table)
    monkeypatch.setenv('CHRONO_TABLE', table)
    config.reset()
    store.reset()
    store.create_table()
    yield dynamodb_local
    store.reset()
    config.reset()


# ---- HTTP servers on loopback (callback receivers, ICS files): tests send traffic nowhere else -------------

class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log."""

    def log_message(self, *args):
        pass


class LoopbackServer:
    """An HTTP server on a free loopback port, serving `handler` from a thread of its own."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.port = self.server.server_address[1]
        # Polled for a stop every 10 ms, not 0.5 s: each test that stops one waited half a second for it.
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def url(self, path: str) -> str:
        return f'http://127.0.0.1:{self.port}{path}'
