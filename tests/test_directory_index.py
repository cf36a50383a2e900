"""The directory's user lookup is indexed and still answers what a scan of the users as
they are now answers: for a list changed in place, a new list, duplicates."""
from __future__ import annotations

from dataclasses import dataclass

from xsp.cti.directory import DirectoryUser, UserDirectory


@dataclass
class Entry:
    user_id: str
    group: str | None = None
    enterprise: str | None = None


def _truth(items, user_id):
    for item in items:
        if (item if isinstance(item, str) else item.user_id) == user_id:
            return item if isinstance(item, str) else item.user_id
    return None


def _found(directory: UserDirectory, user_id: str) -> str | None:
    user = directory.get(user_id)
    return None if user is None else user.user_id


def test_lookups_follow_a_list_changed_in_place():
    users: list = [Entry(f"u{n}@example.com", "g", "e") for n in range(100)]
    directory = UserDirectory(lambda: users)
    assert directory.get("u42@example.com") == DirectoryUser("u42@example.com", "g", "e")
    users.append("new@example.com")
    assert _found(directory, "new@example.com") == "new@example.com"
    del users[0]
    assert _found(directory, "u0@example.com") is None
    assert _found(directory, "u42@example.com") == "u42@example.com"
    users[10] = Entry("replaced@example.com")
    for user_id in ("replaced@example.com", "u11@example.com", "u12@example.com",
                    "u99@example.com", "nobody@example.com"):
        assert _found(directory, user_id) == _truth(users, user_id)


def test_a_new_list_each_time_and_the_first_of_two_same_ids():
    lists = iter([["a@x", "b@x"], ["b@x", "c@x"], [Entry("d@x", "g1"), Entry("d@x", "g2")]])
    directory = UserDirectory(lambda: next(lists))
    assert _found(directory, "a@x") == "a@x"
    assert _found(directory, "a@x") is None
    assert directory.get("d@x") == DirectoryUser("d@x", "g1", None)


def test_a_directory_that_is_not_a_list_is_scanned():
    directory = UserDirectory(lambda: {"a@x", "b@x"})
    assert _found(directory, "b@x") == "b@x" and _found(directory, "z@x") is None
