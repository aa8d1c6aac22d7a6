"""What `make run` sends to people (reminders, promotion notices: chalicelib/services/reminders.py),
shown instead of delivered: the SMS gateway of the local stack (a loopback server in the shape of
Publik's SMS connector, each POST's signature checked) and the e-mails moto's SES kept, printed as they
go and listed as JSON at GET / (`curl http://127.0.0.1:<port>/`)."""
from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.signature import SignatureError, verify_raw

SMS_PATH = '/sms/'


def sent_emails() -> list[dict[str, Any]]:
    """The e-mails the in-process moto server's SES took (moto keeps them in its backend)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    region = os.environ.get('AWS_DEFAULT_REGION') or 'eu-west-3'
    return [{'from': m.source, 'to': m.destinations.get('ToAddresses', []), 'subject': m.subject, 'text': m.body}
            for m in ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages]


class Mailbox:
    """The local SMS gateway and the list of what was sent; `print_new()` prints the e-mails sent since."""

    def __init__(self) -> None:
        self.sms: list[dict[str, Any]] = []
        self._printed = 0
        mailbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                parts = urlsplit(self.path)
                orig = (parse_qs(parts.query).get('orig') or ['?'])[0]
                try:
                    verify_raw(parts.query, {orig: mailbox.key()}, datetime.now(timezone.utc))
                    check = 'signature valid'
                except SignatureError as exc:
                    check = f'signature NOT valid: {exc}'
                try:
                    sms = json.loads(body)
                except ValueError:
                    sms = {'body': body.decode('utf-8', 'replace')}
                mailbox.sms.append({**sms, 'signature': check})
                print(f'SMS to {", ".join(sms.get("to") or [])} ({check}):\n  {sms.get("message")}', flush=True)
                self._answer(200, {'err': 0})

            def do_GET(self) -> None:  # noqa: N802
                self._answer(200, {'emails': sent_emails(), 'sms': mailbox.sms})

            def _answer(self, status: int, data: Any) -> None:
                payload = json.dumps(data, ensure_ascii=False, indent=1).encode('utf-8')
                self.send_response(status)
                self.send_header('Content-Type', 'application/json; charset=utf-8')
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        # Polled every 0.1 s for a stop (0.5 s by default), as the front door: Ctrl-C ends `make run` sooner.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), name='mailbox', daemon=True)

    def key(self) -> str:
        """The key our service signs with for this host (CHRONO_SIGNATURE_KEYS['127.0.0.1'])."""
        try:
            return json.loads(os.environ.get('CHRONO_SIGNATURE_KEYS') or '{}').get('127.0.0.1') or ''
        except ValueError:
            return ''

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.server.server_address[1]}'

    def start(self) -> 'Mailbox':
        self.thread.start()
        return self

    def print_new(self) -> None:
        emails = sent_emails()
        for email in emails[self._printed:]:
            print(f'E-mail from {email["from"]} to {", ".join(email["to"])}: {email["subject"]}\n'
                  + ''.join(f'  {line}\n' for line in email['text'].splitlines()), flush=True)
        self._printed = len(emails)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
