"""`make run`: the whole service on loopback, with demo data, until Ctrl-C (or SIGTERM)."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Callable

from .stack import LocalStack


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def banner(url: str, dynamodb_endpoint: str, is_default: Callable[[str], bool], seconds: float,
           mailbox: str | None = None) -> str:
    """What `make run` prints once it answers. Credentials only when they are the stack's own local
    defaults: a client's password or a signature key brought in the environment never reaches a terminal
    or a log file."""
    lines = [f'\nChrono booking API ready in {seconds:.1f} s: {url}/']
    if is_default('CHRONO_API_CLIENTS'):
        user, password = next(iter(json.loads(os.environ['CHRONO_API_CLIENTS']).items()))
        lines.append(f'  API client (HTTP Basic): {user} / {password}')
        curl = f'curl -u {user}:{password} {url}/api/agenda/'
    else:
        lines.append('  API clients: from CHRONO_API_CLIENTS (not shown)')
        curl = f'curl -u USER:PASSWORD {url}/api/agenda/'
    if is_default('CHRONO_SIGNATURE_KEYS'):
        lines.append(f'  Publik signature keys: {os.environ["CHRONO_SIGNATURE_KEYS"]}')
    else:
        lines.append('  Publik signature keys: from CHRONO_SIGNATURE_KEYS (not shown)')
    lines.append(f'  DynamoDB Local: {dynamodb_endpoint} (in memory: the data lasts as long as this process)')
    if mailbox:
        lines.append(f'  Reminders and notices (e-mails, SMS): printed here, and listed at {mailbox}/')
    lines.append(f'\nTry:\n  {curl}\n\nCtrl-C stops everything.')
    return '\n'.join(lines)


def main() -> int:
    port = int(os.environ.get('PORT') or 8000)
    started = time.monotonic()
    stack = LocalStack(port=port)
    # Our own handlers for both: DynamoDB Local is a child process we must not orphan, and a shell
    # starts a background job (`make run &`, nohup, CI runners) with SIGINT ignored, which Python keeps.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.start()
        from . import demo
        demo.load()
        stack.serve()  # the port opens on a loaded stack
        print(banner(stack.url, stack.dynamodb.endpoint, stack.is_default, time.monotonic() - started,
                     stack.mailbox.url), flush=True)
        # Short naps, not one long sleep: the kernel may hand SIGINT or SIGTERM to any of the process's threads,
        # and Python runs its handler in this thread only once this thread runs again (a sleep of an hour was
        # then an hour without a stop: seen once in ten quick stops).
        while True:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the stop short (and leave DynamoDB Local running).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('\nStopping...', flush=True)
        stack.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
