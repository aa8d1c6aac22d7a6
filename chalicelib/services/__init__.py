"""Use cases, one module per family (README "Layout")."""

from __future__ import annotations

from importlib import import_module
from typing import Any


class _OnFirstUse:
    """A service module that is imported when one of its names is first used: a cold start then imports
    only the use cases its first request needs (docs/benchmarks.md, `cold_import`)."""

    __slots__ = ('_name',)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(import_module(self._name), attribute)


def on_first_use(*names: str) -> tuple[Any, ...]:
    """Stand-ins for the service modules `names` (app.py's handlers call through them)."""
    return tuple(_OnFirstUse(f'{__name__}.{name}') for name in names)
