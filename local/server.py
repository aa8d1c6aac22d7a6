"""Serve the Chalice app over HTTP on loopback, as `chalice local` does, plus the raw query.

The deployed front door (an HTTP API or a function URL, see README) gives the Lambda the
raw query string; this server passes it the same way, in `requestContext.rawQueryString`,
so that signatures are checked on the exact bytes the client signed.
"""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LambdaEventConverter,
    LocalDevServer,
    LocalGateway,
    CustomLocalChalice,
    LocalChalice,
)


class RawQueryEventConverter(LambdaEventConverter):
    def create_lambda_event(self, method, path, headers, body=None):
        event = super().create_lambda_event(method, path, headers, body)
        event['requestContext']['rawQueryString'] = urlsplit(path).query
        return event


class RawQueryGateway(LocalGateway):
    def __init__(self, app_object, config) -> None:
        super().__init__(app_object, config)
        self.event_converter = RawQueryEventConverter(self.event_converter._route_matcher,
                                                      self._app_object.api.binary_types)


class RawQueryRequestHandler(ChaliceRequestHandler):
    def __init__(self, request, client_address, server, app_object, config) -> None:
        self.local_gateway = RawQueryGateway(app_object, config)
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # request lines would print query strings, which may carry personal data


def make_server(app, host: str = '127.0.0.1', port: int = 8000) -> LocalDevServer:
    config = Config(chalice_stage='dev', user_provided_params={'lambda_timeout': 28, 'lambda_memory_size': 512})
    if not isinstance(app, LocalChalice):
        # As `chalice local` does: `current_request` becomes thread-local, so parallel requests stay apart.
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, host, port, handler_cls=RawQueryRequestHandler)


class ServerThread:
    """The HTTP server in a background thread (tests and `make run`)."""

    def __init__(self, app, host: str = '127.0.0.1', port: int = 0) -> None:
        self.server = make_server(app, host, port)
        # socketserver listens with a backlog of 5: a burst of clients would wait for SYN retries.
        self.server.server.socket.listen(128)
        self.host, self.port = self.server.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f'http://{self.host}:{self.port}'

    def start(self) -> 'ServerThread':
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.server.shutdown()
        self.server.server.server_close()
