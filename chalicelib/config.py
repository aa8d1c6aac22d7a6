"""Configuration from the environment (design.md §3.2), read once per process.

Tests and the local runner change the environment and call `reset()`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.callback_rules import OwnedHost, parse_owned_host
from chalicelib.domain.holds import DEFAULT_HOLD_SECONDS

# 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h: 3 days and 8.6 hours in all (Stripe-like).
DEFAULT_CALLBACK_RETRY_DELAYS = (60, 300, 1800, 7200, 21600) + (43200,) * 6
DEFAULT_DECISION_CACHE_SECONDS = 5.0


class ConfigurationError(RuntimeError):
    """A variable is set to something unusable: the service must not start half-configured."""


@dataclass(frozen=True)
class Settings:
    api_clients: dict[str, str]
    signature_keys: dict[str, str]
    time_zone: ZoneInfo
    base_url: str | None
    callback_hosts: frozenset[str]
    ics_hosts: frozenset[str]  # the hosts remote ICS sources may be fetched from (CHRONO_ICS_HOSTS)
    callback_owners: dict[str, tuple[OwnedHost, ...]]  # Basic user or signing orig -> the callback hosts it owns
    orig: str | None
    callback_retry_delays: tuple[int, ...]
    table_name: str
    callback_queue_name: str
    hold_seconds: int = DEFAULT_HOLD_SECONDS  # CHRONO_HOLD_SECONDS: the lifetime of a lock_code hold (spec §9.9)
    reminder_from: str | None = None  # CHRONO_REMINDER_FROM: the SES sender of e-mail reminders; None: none sent
    sms_url: str | None = None  # CHRONO_SMS_URL: the SMS gateway (Publik's SMS connector); None: no SMS sent
    sms_from: str = ''  # CHRONO_SMS_FROM: the sender the gateway shows
    # CHRONO_DECISION_CACHE_SECONDS: how long a warm process decides an events fillslot from what it last read
    # (store/decision_cache.py); 0 turns the cache off.
    decision_cache_seconds: float = DEFAULT_DECISION_CACHE_SECONDS

    def callback_key(self, host: str) -> str | None:
        """Publik uses one shared secret per pair of services, whichever the direction."""
        return self.signature_keys.get(host)


def _json_object(name: str) -> dict[str, str]:
    raw = os.environ.get(name, '').strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f'{name} is not valid JSON') from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
    ):
        raise ConfigurationError(f'{name} must be a JSON object of non-empty strings')
    return value


def _callback_owners() -> dict[str, tuple[OwnedHost, ...]]:
    """CHRONO_CALLBACK_OWNERS: `{"<Basic user or signing orig>": ["host", "host:port", "host:*"]}`."""
    name = 'CHRONO_CALLBACK_OWNERS'
    raw = os.environ.get(name, '').strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f'{name} is not valid JSON') from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, list) and all(isinstance(e, str) for e in v)
        for k, v in value.items()
    ):
        raise ConfigurationError(f'{name} must be a JSON object of lists of host names')
    try:
        return {client: tuple(parse_owned_host(entry) for entry in entries) for client, entries in value.items()}
    except ValueError as exc:
        raise ConfigurationError(f'{name}: {exc}') from None


def _retry_delays() -> tuple[int, ...]:
    raw = os.environ.get('CHRONO_CALLBACK_RETRY_DELAYS', '').strip()
    if not raw:
        return DEFAULT_CALLBACK_RETRY_DELAYS
    try:
        delays = tuple(int(part) for part in raw.split(',') if part.strip())
    except ValueError as exc:
        raise ConfigurationError('CHRONO_CALLBACK_RETRY_DELAYS must be comma-separated seconds') from exc
    if any(d < 0 for d in delays):
        raise ConfigurationError('CHRONO_CALLBACK_RETRY_DELAYS cannot hold negative delays')
    return delays


def _hold_seconds() -> int:
    raw = os.environ.get('CHRONO_HOLD_SECONDS', '').strip()
    if not raw:
        return DEFAULT_HOLD_SECONDS
    if not raw.isdigit() or not 1 <= int(raw) <= 86400:
        raise ConfigurationError('CHRONO_HOLD_SECONDS must be a number of seconds from 1 to 86400')
    return int(raw)


def _decision_cache_seconds() -> float:
    raw = os.environ.get('CHRONO_DECISION_CACHE_SECONDS', '').strip()
    if not raw:
        return DEFAULT_DECISION_CACHE_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise ConfigurationError('CHRONO_DECISION_CACHE_SECONDS must be a number of seconds from 0 (off) to 60')
    return seconds


def _base_url() -> str | None:
    raw = os.environ.get('CHRONO_BASE_URL', '').strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise ConfigurationError('CHRONO_BASE_URL must be an http(s) URL')
    return raw.rstrip('/')


def _hosts(name: str) -> frozenset[str]:
    """A comma-separated list of host names (any case); empty: none."""
    return frozenset(h.strip().lower() for h in os.environ.get(name, '').split(',') if h.strip())


def _reminder_from() -> str | None:
    raw = os.environ.get('CHRONO_REMINDER_FROM', '').strip()
    if raw and not re.fullmatch(r'[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>".]+', raw):
        raise ConfigurationError('CHRONO_REMINDER_FROM must be an e-mail address (the SES identity that sends)')
    return raw or None


def _sms_url() -> str | None:
    raw = os.environ.get('CHRONO_SMS_URL', '').strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise ConfigurationError('CHRONO_SMS_URL must be an http(s) URL')
    return raw


@lru_cache(maxsize=1)
def settings() -> Settings:
    tz_name = os.environ.get('CHRONO_TIME_ZONE', '').strip() or 'Europe/Paris'
    try:
        time_zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f'CHRONO_TIME_ZONE: unknown time zone {tz_name!r}') from exc
    base_url = _base_url()
    orig = os.environ.get('CHRONO_ORIG', '').strip() or (urlsplit(base_url).hostname if base_url else None)
    hosts = _hosts('CHRONO_CALLBACK_HOSTS')
    return Settings(
        api_clients=_json_object('CHRONO_API_CLIENTS'),
        signature_keys=_json_object('CHRONO_SIGNATURE_KEYS'),
        time_zone=time_zone,
        base_url=base_url,
        callback_hosts=hosts,
        ics_hosts=_hosts('CHRONO_ICS_HOSTS'),
        callback_owners=_callback_owners(),
        orig=orig,
        callback_retry_delays=_retry_delays(),
        table_name=os.environ.get('CHRONO_TABLE', '').strip() or 'chrono',
        callback_queue_name=os.environ.get('CHRONO_CALLBACK_QUEUE', '').strip() or 'chrono-callbacks',
        hold_seconds=_hold_seconds(),
        reminder_from=_reminder_from(),
        sms_url=_sms_url(),
        sms_from=os.environ.get('CHRONO_SMS_FROM', '').strip(),
        decision_cache_seconds=_decision_cache_seconds(),
    )


def reset() -> None:
    settings.cache_clear()
