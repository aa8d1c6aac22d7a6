"""The whole service on loopback: DynamoDB Local (tables), moto server (SQS, SES), the API, the
callback worker and the messages' sender (reminders: what would be sent is printed and listed by the
local mailbox, local/messages.py). `make run` and the HTTP tests start it the same way: `start()` the engines,
load what should be there, then `serve()` opens the port (no client sees a half-loaded stack)."""
from __future__ import annotations

import logging
import os
import threading
import time

from .dynamodb import DynamoDBLocal, local_aws_environment

SWEEP_EVERY = 5  # seconds (every minute on AWS: a schedule)

LOCAL_DEFAULTS = {
    'CHRONO_API_CLIENTS': '{"demo": "demo"}',
    # 127.0.0.1: the local SMS gateway (local/messages.py), which checks our signature as Publik's would.
    'CHRONO_SIGNATURE_KEYS': '{"demo.localhost": "demo", "127.0.0.1": "demo"}',
    'CHRONO_ORIG': 'chrono.localhost',
    # Reminders and promotion notices: e-mails to moto's SES, SMS to the local gateway (CHRONO_SMS_URL, set at start).
    'CHRONO_REMINDER_FROM': 'rappels@chrono.localhost',
    'CHRONO_SMS_FROM': 'Chrono',
    'CHRONO_TABLE': 'chrono-local',
    'CHRONO_CALLBACK_QUEUE': 'chrono-local-callbacks',
    # The demo client owns the loopback receivers (`python -m local.receiver`); no callback is sent
    # unless CHRONO_CALLBACK_HOSTS also lists the host (docs/api.md, "Watch one arrive").
    'CHRONO_CALLBACK_OWNERS': '{"demo": ["127.0.0.1:*", "localhost:*"]}',
}


class LocalStack:
    def __init__(self, port: int = 8000, defaults: dict[str, str] | None = None) -> None:
        self.port = port
        self.defaults = LOCAL_DEFAULTS if defaults is None else defaults
        self.dynamodb = DynamoDBLocal()
        self.moto = None
        self.server = None
        self.worker = None
        self.mailbox = None
        self._stop = threading.Event()

    def start(self) -> 'LocalStack':
        # Only what the caller did not set: a caller may bring its own clients and keys.
        for name, value in self.defaults.items():
            os.environ.setdefault(name, value)
        logging.getLogger('werkzeug').setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer

        self.dynamodb.start()
        self.moto = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        os.environ.update(local_aws_environment(self.dynamodb.endpoint, f'http://{host}:{port}'))
        os.environ['AWS_ENDPOINT_URL_SESV2'] = f'http://{host}:{port}'
        from .messages import SMS_PATH, Mailbox
        self.mailbox = Mailbox().start()
        os.environ.setdefault('CHRONO_SMS_URL', f'{self.mailbox.url}{SMS_PATH}')

        from chalicelib import config, store
        config.reset()
        store.reset()
        store.create_table()
        import boto3
        boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)
        sender = config.settings().reminder_from
        if sender:  # SES sends only from a verified identity: moto's, here
            boto3.client('sesv2').create_email_identity(EmailIdentity=sender.split('@', 1)[1])
        return self

    def serve(self) -> 'LocalStack':
        """Open the port and start the callback worker."""
        import app as chrono
        from .server import ServerThread
        self.server = ServerThread(chrono.app, port=self.port).start()
        self.worker = threading.Thread(target=self._work, name='callback-worker', daemon=True)
        self.worker.start()
        return self

    def is_default(self, name: str) -> bool:
        """Whether a variable holds this stack's own local default (not a value the caller brought)."""
        return name in self.defaults and os.environ.get(name) == self.defaults[name]

    @property
    def url(self) -> str:
        return self.server.url

    def _work(self) -> None:
        """The callback worker loop: what SQS would hand to the Lambda, pumped locally."""
        from .worker import pump, send_messages, sweep
        swept = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - swept > SWEEP_EVERY:
                    swept = time.monotonic()
                    sweep()
                    send_messages()
                    self.mailbox.print_new()
                if not pump(wait_seconds=1):
                    self._stop.wait(0.2)
            except Exception:  # noqa: BLE001 - the loop outlives a failed batch; the message comes back
                if self._stop.is_set():
                    return  # the engines are going away under it
                logging.getLogger(__name__).exception('callback worker batch failed')
                self._stop.wait(1)

    def stop(self) -> None:
        """Everything goes within a few seconds (the HTTP tests allow 5), DynamoDB Local included."""
        self._stop.set()
        if self.server:
            self.server.stop()
        self.dynamodb.terminate()  # the slowest to go: it goes while the others stop
        # Side by side: each server polls for its stop (moto's every 0.5 s), the worker ends its long poll of
        # 1 s. A worker still busy after that (in a sweep or a delivery; its first one imports and makes its
        # clients) is abandoned, as everything is in memory: it ends quietly once the engines are gone.
        stopping = [threading.Thread(target=engine.stop) for engine in (self.moto, self.mailbox) if engine]
        for thread in stopping:
            thread.start()
        if self.worker:
            self.worker.join(timeout=1.5)
        for thread in stopping:
            thread.join()
        self.dynamodb.stop()

    def __enter__(self) -> 'LocalStack':
        try:
            return self.start().serve()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

