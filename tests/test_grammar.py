"""The one reading of a CLI line that the engine and the completer share."""
from __future__ import annotations

import pytest

from xsp_cli_contexts.schema import load_tree
from xsp.cli.actions import CommandError
from xsp.cli.grammar import is_path, keyword_of, may_become_path, pick, split_steps, unique, walk


@pytest.mark.parametrize(("word", "path"), [("..", True), ("/", True), ("Interface/CTI", True),
                                            ("../S", True), (".x", False), (".", False),
                                            ("Interface", False)])
def test_what_counts_as_a_path(word: str, path: bool) -> None:
    assert is_path(word) is path


def test_a_dot_being_typed_may_become_the_parent() -> None:
    assert may_become_path(".") and not may_become_path(".x") and not may_become_path("")


def test_an_exact_name_wins_over_longer_names_it_prefixes() -> None:
    named = [("ssl", 1), ("sslUpdate", 2)]
    assert pick("SSL", named, "command") == 1
    assert unique("sslu", named) == 2


def test_pick_refuses_with_the_names_it_knows() -> None:
    named = [("getAll", 1), ("getOne", 2), ("set", 3)]
    with pytest.raises(CommandError, match=r"^Error: ambiguous command: ge \(matches getAll, getOne\)$"):
        pick("ge", named, "command")
    with pytest.raises(CommandError,
                       match=r"^Error: unknown command: x \(expected one of: getAll, getOne, set\)$"):
        pick("x", named, "command")
    assert unique("ge", named) is None


def test_the_keyword_form_alone_or_glued_to_a_path() -> None:
    keywords = {"keyfile": object()}
    assert keyword_of("keyFile", keywords) == ("keyfile", None)
    assert keyword_of("keyFile/tmp/k", keywords) == ("keyfile", "/tmp/k")
    assert keyword_of("keyFilex", keywords) is None


def test_steps_split_outside_quotes() -> None:
    assert split_steps("int; get 'a;b'") == ["int", " get 'a;b'"]
    assert split_steps("get;", keep_empty=True) == ["get", ""]


def test_walk_follows_abbreviations_and_refuses_an_unknown_level() -> None:
    root = load_tree("XSP").root
    assert walk(root, "/int/cti").path == "Interface/CTI"
    assert walk(walk(root, "int/cti"), "../..") is root
    with pytest.raises(CommandError, match=r"^Error: unknown level below Interface: nope "):
        walk(root, "int/nope")
