"""The process's one botocore session, which every AWS client of the service is made on (DynamoDB through
pynamodb in store/tables.py, SQS in services/callbacks.py).

Why one: a botocore session loads the endpoint rules and each service's model once; a new session per
client costs ~50 ms of a cold start, a second client on a shared session ~2 ms. botocore, not boto3: the
package does not ship boto3. A client follows the endpoint configuration it was made for (tests and the local
stack change the variables); `reset()` forgets the session and its clients (store.reset() calls it).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from botocore.session import Session, get_session

# The variables that choose where a client sends its calls.
ENDPOINT_VARIABLES = (
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_DYNAMODB',
    'AWS_ENDPOINT_URL_SQS',
    'AWS_ENDPOINT_URL_SESV2',
)
# A botocore session is not thread-safe while it makes clients (the clients are); reentrant: pynamodb
# asks for the session while it makes its client.
lock = threading.RLock()
_session: Session | None = None
_clients: dict[tuple[Any, ...], Any] = {}


def session() -> Session:
    global _session
    with lock:
        if _session is None:
            _session = get_session()
        return _session


def endpoints() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def client(service: str, config: Any = None) -> Any:
    """The client of `service` on the shared session, one per endpoint configuration; `config` (a
    botocore Config: timeouts, retries) is the one of its first call."""
    key = (service, *endpoints())
    with lock:
        found = _clients.get(key)
        if found is None:
            for other in [k for k in _clients if k[0] == service]:
                del _clients[other]
            found = _clients[key] = session().create_client(service, config=config)
        return found


def reset() -> None:
    """Forget the session and its clients: the next ones read the environment again (and, in tests, see
    the AWS mock started meanwhile: botocore registers its handlers when a session is made)."""
    global _session
    with lock:
        _session = None
        _clients.clear()


def on_lambda() -> bool:
    """Running in AWS Lambda (the runtime sets this for every function)."""
    return bool(os.environ.get('AWS_LAMBDA_FUNCTION_NAME'))
