"""`make run`: the whole service on loopback, with demo data, until Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import sys
import time

from .stack import LocalStack


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    port = int(os.environ.get('PORT') or 8000)
    started = time.monotonic()
    stack = LocalStack(port=port)
    # SIGTERM (and Ctrl-C) stop everything: DynamoDB Local is a child process we must not orphan.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.start()
        from . import demo
        demo.load()
        user, password = next(iter(json.loads(os.environ['CHRONO_API_CLIENTS']).items()), ('?', '?'))
        url = stack.url
        print(f'\nChrono booking API ready in {time.monotonic() - started:.1f} s: {url}/', flush=True)
        print(f'  API client (HTTP Basic): {user} / {password}')
        print(f'  Publik signature keys: {os.environ["CHRONO_SIGNATURE_KEYS"]}')
        print(f'  DynamoDB Local: {stack.dynamodb.endpoint} (in memory: the data lasts as long as this process)')
        print(f'\nTry:\n  curl -u {user}:{password} {url}/api/agenda/\n\nCtrl-C stops everything.', flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print('\nStopping...', flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
