"""The API over HTTP in a process of its own (`python -m bench.service`), on the table and DynamoDB
Local the environment names: the parallel figure's clients run in the benchmark's process, apart
from the server, as they would be on other machines. Prints its URL, serves until stdin closes."""
from __future__ import annotations

import sys


def main() -> int:
    import app
    from local.server import ServerThread
    server = ServerThread(app.app).start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
