"""A callback receiver for trying `make run`: prints every POST it gets, with the result of the
project's own signature check. `python -m local.receiver [PORT] [KEY]` (defaults 9000, demo)."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

from chalicelib.signature import SignatureError, verify_raw


def handler_for(key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
            query = urlsplit(self.path).query
            orig = (parse_qs(query).get('orig') or ['?'])[0]
            try:
                verify_raw(query, {orig: key}, datetime.now(timezone.utc))
                check = f'signature valid (orig={orig})'
            except SignatureError as exc:
                check = f'signature NOT valid: {exc}'
            print(f'POST {urlsplit(self.path).path} {check}\n  body: {body.decode("utf-8", "replace") or "(empty)"}',
                  flush=True)
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.end_headers()
            self.wfile.write(b'{"err": 0}')

        def log_message(self, *args: object) -> None:
            pass
    return Handler


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    key = sys.argv[2] if len(sys.argv) > 2 else 'demo'
    server = HTTPServer(('127.0.0.1', port), handler_for(key))
    print(f'Receiving callbacks on http://127.0.0.1:{port}/ (Ctrl-C stops)', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
