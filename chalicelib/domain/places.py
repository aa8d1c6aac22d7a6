"""Place arithmetic of an event (spec chrono-api.md §7.1)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import BusinessError


@dataclass(frozen=True)
class Places:
    total: int
    reserved: int
    waiting_list_total: int = 0
    waiting_list_reserved: int = 0

    @property
    def available(self) -> int:
        return max(0, self.total - self.reserved)

    @property
    def has_waiting_list(self) -> bool:
        return self.waiting_list_total > 0

    @property
    def waiting_list_available(self) -> int:
        return max(0, self.waiting_list_total - self.waiting_list_reserved)

    @property
    def waiting_list_activated(self) -> bool:
        """The next booking goes to the waiting list."""
        return self.has_waiting_list and (self.waiting_list_reserved > 0 or self.available == 0)

    @property
    def full(self) -> bool:
        return self.available == 0 and (not self.has_waiting_list or self.waiting_list_available == 0)

    def as_dict(self) -> dict:
        data = {
            'total': self.total,
            'reserved': self.reserved,
            'available': self.available,
            'full': self.full,
            'has_waiting_list': self.has_waiting_list,
        }
        if self.has_waiting_list:
            data.update(
                waiting_list_total=self.waiting_list_total,
                waiting_list_reserved=self.waiting_list_reserved,
                waiting_list_available=self.waiting_list_available,
                waiting_list_activated=self.waiting_list_activated,
            )
        return data


def goes_to_waiting_list(places: Places, count: int, force_waiting_list: bool = False) -> bool:
    """Where `count` places go (spec §9.2), or the refusal.

    The booking waits when forced, when the main list lacks `count` places, or when anyone
    is already waiting (first come, first served); `sold out` when its list lacks room.
    """
    if force_waiting_list and not places.has_waiting_list:
        raise BusinessError('no waiting list')
    if places.has_waiting_list and (force_waiting_list or places.waiting_list_reserved > 0 or places.available < count):
        if places.waiting_list_available < count:
            raise BusinessError('sold out')
        return True
    if places.available < count:
        raise BusinessError('sold out')
    return False


def can_take(places: Places, count: int) -> bool:
    """A booking of `count` places would be accepted (in either list)."""
    try:
        goes_to_waiting_list(places, count)
    except BusinessError:
        return False
    return True
