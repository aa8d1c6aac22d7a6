"""The whole service on loopback: DynamoDB Local (tables), moto server (SQS), the API and
the callback worker. `make run` and the HTTP tests start it the same way."""
from __future__ import annotations

import logging
import os
import threading
import time

from .dynamodb import DynamoDBLocal, local_aws_environment

SWEEP_EVERY = 5  # seconds (every minute on AWS: a schedule)

LOCAL_DEFAULTS = {
    'CHRONO_API_CLIENTS': '{"demo": "demo"}',
    'CHRONO_SIGNATURE_KEYS': '{"demo.localhost": "demo"}',
    'CHRONO_TABLE': 'chrono-local',
    'CHRONO_CALLBACK_QUEUE': 'chrono-local-callbacks',
}


class LocalStack:
    def __init__(self, port: int = 8000, defaults: dict[str, str] | None = None) -> None:
        self.port = port
        self.defaults = LOCAL_DEFAULTS if defaults is None else defaults
        self.dynamodb = DynamoDBLocal()
        self.moto = None
        self.server = None
        self.worker = None
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

        from chalicelib import config, store
        config.reset()
        store.reset()
        store.create_table()
        import boto3
        boto3.client('sqs').create_queue(QueueName=config.settings().callback_queue_name)

        import app as chrono
        from .server import ServerThread
        self.server = ServerThread(chrono.app, port=self.port).start()
        self.worker = threading.Thread(target=self._work, name='callback-worker', daemon=True)
        self.worker.start()
        return self

    @property
    def url(self) -> str:
        return self.server.url

    def _work(self) -> None:
        """The callback worker loop: what SQS would hand to the Lambda, pumped locally."""
        from .worker import pump, sweep
        swept = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - swept > SWEEP_EVERY:
                    swept = time.monotonic()
                    sweep()
                if not pump(wait_seconds=1):
                    self._stop.wait(0.2)
            except Exception:  # noqa: BLE001 - the loop outlives a failed batch; the message comes back
                logging.getLogger(__name__).exception('callback worker batch failed')
                self._stop.wait(1)

    def stop(self) -> None:
        self._stop.set()
        if self.server:
            self.server.stop()
        if self.worker:
            self.worker.join(timeout=5)
        if self.moto:
            self.moto.stop()
        self.dynamodb.stop()

    def __enter__(self) -> 'LocalStack':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

