"""Serve the app on loopback through the deployed front door: the HTTP API's handler.

Each request becomes the payload-2.0 event API Gateway's HTTP API hands to the Lambda (raw path
and raw query exactly as sent, lower-cased headers, cookies apart, a binary body in base64) and
goes through `chalicelib.web.gateway.http_api_handler`, the function `app.http_handler` is made of.
HEAD, methods no route declares, unknown paths and errors therefore answer as deployed
(docs/api.md, "The front door"). The server only moves bytes: status, headers, body.
"""
from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from chalicelib.web.gateway import body_bytes, http_api_handler

log = logging.getLogger(__name__)
MAX_BODY = 6 * 1024 * 1024  # a synchronous Lambda invocation takes at most 6 MB
HOP_BY_HOP = {'connection', 'content-length', 'transfer-encoding', 'keep-alive'}


def http_api_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str,
                   request_id: str | None = None) -> dict[str, Any]:
    """The event API Gateway's HTTP API ($default route and stage) gives the Lambda for a request."""
    path, _, query = target.partition('?')
    if not path.startswith('/') and '://' in path:  # absolute-form target (a proxy's request line)
        path = '/' + path.split('://', 1)[1].partition('/')[2]
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == 'cookie':
            cookies.extend(c.strip() for c in value.split(';') if c.strip())
        elif name in merged:
            merged[name] = f'{merged[name]},{value}'  # payload 2.0 joins repeated headers with commas
        else:
            merged[name] = value
    event: dict[str, Any] = {
        'version': '2.0', 'routeKey': '$default', 'rawPath': path, 'rawQueryString': query, 'headers': merged,
        'requestContext': {
            'http': {'method': method, 'path': path, 'protocol': 'HTTP/1.1', 'sourceIp': source_ip,
                     'userAgent': merged.get('user-agent', '')},
            'requestId': request_id or str(uuid.uuid4()), 'routeKey': '$default', 'stage': '$default',
            'timeEpoch': int(time.time() * 1000)},
        'isBase64Encoded': False,
    }
    if cookies:
        event['cookies'] = cookies
    if body:
        try:
            event['body'] = body.decode('utf-8')
        except UnicodeDecodeError:
            event['body'], event['isBase64Encoded'] = base64.b64encode(body).decode('ascii'), True
    return event


def apart_per_thread(app) -> None:
    """Chalice keeps `current_request` in a plain attribute: give each serving thread its own,
    so that parallel requests stay apart (as `chalice local` does with LocalChalice)."""
    if getattr(type(app), 'per_thread_requests', False):
        return
    local = threading.local()

    def attribute(name: str) -> property:
        return property(lambda self: getattr(local, name, None), lambda self, value: setattr(local, name, value))
    app.__class__ = type(f'PerThread{type(app).__name__}', (type(app),), {
        'per_thread_requests': True, 'current_request': attribute('current_request'),
        'lambda_context': attribute('lambda_context')})


class Unreadable(Exception):
    """A request whose body the server cannot read: answered by the server, the handler never sees it."""

    def __init__(self, status: int, desc: str) -> None:
        super().__init__(desc)
        self.status, self.desc = status, desc


def chrono_error(status: int, err_class: str, desc: str) -> dict[str, Any]:
    """An answer the server itself gives (unreadable request), in Chrono's error shape."""
    return {'statusCode': status, 'headers': {'Content-Type': 'application/json'}, 'isBase64Encoded': False,
            'body': json.dumps({'err': 1, 'err_class': err_class, 'err_desc': desc})}


class FrontDoor(BaseHTTPRequestHandler):
    """Every method goes to the handler: the HTTP API passes them all to the $default route."""

    protocol_version = 'HTTP/1.1'
    server_version = 'chrono-local'
    timeout = 60  # an idle keep-alive connection does not hold its thread for ever
    server: 'FrontDoorServer'

    def version_string(self) -> str:
        return self.server_version  # not the Python version

    def __getattr__(self, name: str) -> Any:
        if name.startswith('do_'):
            return self.serve
        raise AttributeError(name)

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def serve(self) -> None:
        try:
            body = self.read_body()
        except Unreadable as exc:
            self.close_connection = True  # what is left of the body cannot be skipped reliably
            return self.write(chrono_error(exc.status, 'invalid request', exc.desc))
        event = http_api_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
        try:
            response = self.server.handler(event, None)
        except Exception:  # noqa: BLE001 - as the Lambda runtime would: a 500, the trace in the log
            log.exception('the handler failed')
            response = chrono_error(500, 'internal error', 'internal error')
        self.write(response)

    def read_body(self) -> bytes:
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            return self.read_chunks()
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            raise Unreadable(400, 'invalid Content-Length') from None
        if length < 0:
            raise Unreadable(400, 'invalid Content-Length')
        if length > MAX_BODY:
            raise Unreadable(413, 'request body too large')
        return self.rfile.read(length) if length else b''

    def read_chunks(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b';')[0].strip(), 16)
            except ValueError:
                size = -1
            if size < 0:
                raise Unreadable(400, 'invalid chunked body')
            if size == 0:
                while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                    pass  # trailers: ignored
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise Unreadable(413, 'request body too large')
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def write(self, response: dict[str, Any]) -> None:
        body = body_bytes(response)
        headers = {name: str(value) for name, value in (response.get('headers') or {}).items()}
        length = str(len(body))
        if self.command == 'HEAD':
            # No body, ever; the Content-Length is the one the handler gives (the GET's, see gateway.py).
            length = next((v for n, v in headers.items() if n.lower() == 'content-length'), length)
            body = b''
        self.send_response(int(response.get('statusCode') or 200))
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        for cookie in response.get('cookies') or []:
            self.send_header('Set-Cookie', cookie)
        self.send_header('Content-Length', length)
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if body:
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Requests http.server cannot read (request line, headers): Chrono's shape, not HTML."""
        self.close_connection = True
        short = self.responses.get(code, ('error',))[0]
        self.write(chrono_error(code, 'invalid request', short.lower()))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # request lines would print query strings, which may carry personal data


class FrontDoorServer(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 would make a burst of clients wait for SYN retries
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Callable[[dict, Any], dict]) -> None:
        self.handler = handler
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, FrontDoor)

    def opened(self, connection: socket.socket) -> None:
        with self.connections_lock:
            self.connections.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self.connections_lock:
            self.connections.discard(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or stalled is no error of ours (and stderr gets no traceback)."""
        log.debug('connection ended early', exc_info=True)

    def close_connections(self) -> None:
        """Idle keep-alive connections end with the server (their threads then end too)."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make_server(app, host: str = '127.0.0.1', port: int = 8000) -> FrontDoorServer:
    """A server (already listening) that answers through the deployed handler of `app`."""
    apart_per_thread(app)
    return FrontDoorServer((host, port), http_api_handler(app))


class ServerThread:
    """The HTTP server in a background thread (tests, benchmarks and `make run`)."""

    def __init__(self, app, host: str = '127.0.0.1', port: int = 0) -> None:
        self.server = make_server(app, host, port)
        self.host, self.port = self.server.server_address[:2]
        # Polled every 0.1 s for a stop (0.5 s by default): Ctrl-C ends `make run` sooner.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), name='front-door', daemon=True)

    @property
    def url(self) -> str:
        return f'http://{self.host}:{self.port}'

    def start(self) -> 'ServerThread':
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.close_connections()
