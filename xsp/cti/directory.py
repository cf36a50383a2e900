"""The users the Application Server knows, as the event hub sees them.

A directory is any callable returning the current users, read afresh on each lookup so
that users added in the shell are known at once. Each entry is either a plain user id
(a user in no group, reachable only by a user subscription) or an object with the
attributes ``user_id``, ``group`` and ``enterprise`` (the configuration's ``User``).
A group subscription covers the users whose ``(enterprise, group)`` match; an
enterprise subscription covers every user of the enterprise. Group names are only
unique inside their enterprise, as in BroadWorks.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, Union


class DirectoryEntry(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def group(self) -> str | None: ...

    @property
    def enterprise(self) -> str | None: ...


Directory = Callable[[], Collection[Union[str, DirectoryEntry]]]


@dataclass(frozen=True)
class DirectoryUser:
    user_id: str
    group: str | None = None
    enterprise: str | None = None

    @property
    def display_name(self) -> str:
        """What a remote party sees: the local part of the id, capitalised."""
        local = self.user_id.split("@", 1)[0]
        return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part)

    @property
    def address(self) -> str:
        return f"sip:{self.user_id}" if "@" in self.user_id else f"tel:{self.user_id}"


def _entry(item: str | DirectoryEntry) -> DirectoryUser:
    if isinstance(item, str):
        return DirectoryUser(item)
    return DirectoryUser(item.user_id, getattr(item, "group", None) or None,
                         getattr(item, "enterprise", None) or None)


def _id(item: str | DirectoryEntry) -> str:
    return item if isinstance(item, str) else item.user_id


class UserDirectory:
    """Lookups over a ``Directory`` callable.

    ``get`` is indexed: the configuration hands out the same list of users until it
    changes, so the position of each id is remembered for that list and every hit is
    checked against the list as it is now (a list changed in place, or another list, is
    indexed again). A miss is confirmed by a scan, since a user may have been put in the
    place of another.
    """

    def __init__(self, source: Directory) -> None:
        self._source = source
        self._indexed: Sequence[str | DirectoryEntry] | None = None
        self._positions: dict[str, int] = {}

    def users(self) -> list[DirectoryUser]:
        return [_entry(item) for item in self._source()]

    def get(self, user_id: str) -> DirectoryUser | None:
        items = self._source()
        if not isinstance(items, Sequence):
            return self._scan(items, user_id)
        for _ in range(2):
            if items is not self._indexed or len(self._positions) > len(items):
                self._index(items)
            position = self._positions.get(user_id)
            if position is None:
                return self._scan(items, user_id)
            if position < len(items) and _id(items[position]) == user_id:
                return _entry(items[position])
            self._indexed = None  # changed in place: index it again
        return self._scan(items, user_id)

    def _index(self, items: Sequence[str | DirectoryEntry]) -> None:
        positions: dict[str, int] = {}
        for position, item in enumerate(items):
            positions.setdefault(_id(item), position)  # the first, as a scan finds it
        self._indexed, self._positions = items, positions

    @staticmethod
    def _scan(items: Collection[str | DirectoryEntry], user_id: str) -> DirectoryUser | None:
        # Compare ids first: building every entry for one lookup is what made it slow.
        for item in items:
            if _id(item) == user_id:
                return _entry(item)
        return None

    def in_enterprise(self, enterprise: str, group: str | None = None) -> list[DirectoryUser]:
        return [u for u in self.users()
                if u.enterprise == enterprise and (group is None or u.group == group)]
