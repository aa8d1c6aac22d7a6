"""Logs an operator can query: one JSON object per line (docs/deploy.md, "Logs"), at CHRONO_LOG_LEVEL.

`configure()` runs once, when app.py is imported. Lambda's runtime has already put its own handler
on the root logger (it adds the request id and writes to CloudWatch): that handler gets our
formatter, so each line is written once. Elsewhere (`make run`) a stderr handler is added.

What may be logged: reasons, ids, client names, hosts and paths. Never a secret, a signature, a
password, a personal field or a URL's query (callbacks: `domain.callbacks.loggable_url`).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone

LEVELS = {'DEBUG': logging.DEBUG, 'INFO': logging.INFO, 'WARNING': logging.WARNING, 'ERROR': logging.ERROR}
DEFAULT_LEVEL = 'INFO'
# Below WARNING these write request bodies (personal data), signed AWS headers, and noise.
CHATTY_LIBRARIES = ('botocore', 'boto3', 'urllib3', 'pynamodb', 's3transfer')
# A LogRecord's own attributes; anything else on a record came from `extra=` and becomes a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord('', 0, '', 0, '', (), None))) | {'message', 'asctime'}
_LAMBDA_REQUEST_ID = 'aws_request_id'  # set on each record by the Lambda runtime's filter


class JsonFormatter(logging.Formatter):
    """`{"timestamp", "level", "logger", "message", <extra fields>, "request_id"?, "exception"?}`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            'timestamp': datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec='milliseconds'),
            'level': record.levelname,
            'logger': record.name,
            'message': record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith('_') and name != _LAMBDA_REQUEST_ID:
                line.setdefault(name, value)
        request_id = getattr(record, _LAMBDA_REQUEST_ID, None)
        if request_id:
            line['request_id'] = request_id
        if record.exc_info:
            line['exception'] = self.formatException(record.exc_info)
        if record.stack_info:
            line['stack'] = self.formatStack(record.stack_info)
        # ASCII: one line whatever the text holds (a lone surrogate, a line break).
        return json.dumps(line, ensure_ascii=True, default=str)


def read_level(raw: str | None) -> tuple[int, str | None]:
    """The level CHRONO_LOG_LEVEL names (any letter case; unset or blank: INFO), and a problem to
    log when it names none: logging must start whatever the value, so a wrong one falls back to INFO."""
    name = (raw or '').strip().upper() or DEFAULT_LEVEL
    if name in LEVELS:
        return LEVELS[name], None
    shown = (raw or '').strip()[:20]
    return LEVELS[DEFAULT_LEVEL], f'CHRONO_LOG_LEVEL {shown!r} is not one of {", ".join(LEVELS)}: INFO is used'


def configure(raw_level: str | None = None) -> None:
    """JSON lines at CHRONO_LOG_LEVEL (or `raw_level`) on the root logger's handlers; run again, it
    changes nothing more (no second handler)."""
    level, problem = read_level(os.environ.get('CHRONO_LOG_LEVEL') if raw_level is None else raw_level)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter = JsonFormatter()
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(level)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    if problem:
        logging.getLogger(__name__).warning(problem, extra={'reason': 'unknown log level'})
