"""``xsp sim run FILE`` reads its file in the command's own process, with the
certificate readers' file checks, and sends the node parsed data only: a FIFO, a device,
a huge file, an alias bomb or a file that is not a scenario is refused in one line that
never repeats the file's lines, and the node (which never opens the file) keeps
answering. Each case runs the real command against a node served on the state.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_xsp
from xsp.node.control import request
from xsp.testing import RunningNode

SECRET = "hunter2-do-not-repeat"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A running node without the Webex configuration: scenarios need only its users."""
    with RunningNode.start(tmp_path_factory.mktemp("scenario-node"), configure=False) as running:
        yield running


def sim_run(node: RunningNode, path: Path | str) -> tuple[int, str, str]:
    result = run_xsp("sim", "run", str(path), "--time-scale", "0.01",
                     "--state", str(node.store.dir), timeout=20)
    return result.returncode, result.stdout, result.stderr


def refused(node: RunningNode, path: Path | str) -> str:
    """The one line ``xsp sim run`` printed; the node still answers afterwards."""
    code, out, err = sim_run(node, path)
    assert (code, out) == (1, ""), err
    assert len(err.splitlines()) == 1 and SECRET not in err, err
    assert request(node.store.dir, {"op": "ping"}, timeout=5)["ok"]
    return err.rstrip("\n")


def test_a_fifo_is_refused_at_once(node: RunningNode, tmp_path: Path) -> None:
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    assert refused(node, fifo) == f"xsp: {fifo} is not a regular file"


def test_dev_zero_is_refused_at_once(node: RunningNode) -> None:
    assert refused(node, "/dev/zero") == "xsp: /dev/zero is not a regular file"


def test_a_huge_file_is_refused_without_being_read(node: RunningNode, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as sparse:
        sparse.truncate(4 * 1024 ** 3)  # 4 GiB, no blocks on disk
    assert refused(node, huge) == (f"xsp: {huge} is larger than 256 KiB; a scenario is a few "
                                   "kilobytes of YAML")


def test_a_missing_file_is_one_line(node: RunningNode, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert refused(node, missing) == f"xsp: cannot read {missing}: No such file or directory"


@pytest.mark.parametrize("text", [
    f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
    f"password: {SECRET}\nuser: admin\n",
    f"- {SECRET}\n- two\n",
    f"#!/bin/sh\necho {SECRET}\n",
], ids=["passwd", "mapping", "list", "script"])
def test_a_file_that_is_not_a_scenario_is_named_not_quoted(node: RunningNode, tmp_path: Path,
                                                           text: str) -> None:
    other = tmp_path / "other.txt"
    other.write_text(text)
    assert refused(node, other) == (f"xsp: {other} is not a scenario: a scenario is a YAML "
                                    "mapping with a 'steps' list (and optionally name, time_scale)")


@pytest.mark.parametrize("text, problem", [
    (f"key: [{SECRET}\n", "line 2: not valid YAML: expected ',' or ']', but got '<stream end>'"),
    (f"a: b: {SECRET}\n", "line 1: not valid YAML: mapping values are not allowed here"),
    (f"\t{SECRET}: 1\n", "line 1: not valid YAML: found character '\\t' that cannot start "
                         "any token"),
    (f"[Section]\nkey = {SECRET}\n", "line 2: not valid YAML: expected '<document start>', "
                                      "but found '<scalar>'"),
], ids=["unclosed", "colon", "tab", "ini"])
def test_a_file_that_is_not_yaml_gets_the_parser_words_not_its_line(
        node: RunningNode, tmp_path: Path, text: str, problem: str) -> None:
    other = tmp_path / "other.txt"
    other.write_text(text)
    assert refused(node, other) == f"xsp: {other} {problem}"


def test_a_binary_file_is_not_a_scenario(node: RunningNode, tmp_path: Path) -> None:
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + SECRET.encode())
    assert refused(node, binary) == f"xsp: {binary} is not a scenario: it is not UTF-8 text"


def test_an_alias_bomb_is_refused_before_it_expands(node: RunningNode, tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\nsteps: *a9\n")
    assert refused(node, bomb) == (f"xsp: {bomb} line 2: not valid YAML: YAML aliases (*name) "
                                   "are not accepted in a scenario; write each value out")


def test_deep_nesting_is_refused(node: RunningNode, tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("steps: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert refused(node, deep) == f"xsp: {deep} is not a scenario: it is nested far deeper than one"
    shallow = tmp_path / "shallow.yaml"
    shallow.write_text("steps: [[[[[[1]]]]]]\n")
    assert refused(node, shallow) == f"xsp: {shallow} is not a scenario: it is nested deeper than one"


@pytest.mark.parametrize("text, line", [
    ("steps:\n  - wait: .inf\n", "Error: step 1 (wait): wait takes a number of seconds >= 0, "
                                  "got inf"),
    ("steps:\n  - call: {from: alice@example.com, to: " + "b" * 300 + "}\n",
     "Error: step 1 (call): to is 300 characters long; a user id or address is at most 256"),
    ("steps:\n  - " + "k" * 300 + ": 1\n",
     "Error: step 1 (" + "k" * 40 + "...): each step is one of call, wait, dnd"),
    ("when: 2024-01-01\nsteps: [{wait: 1}]\n",
     "xsp: {path}: datetime.date(2024, 1, 1) is not a name, number or true/false"),
], ids=["infinite-wait", "long-user", "long-kind", "date"])
def test_values_are_checked_and_cut_short_in_refusals(node: RunningNode, tmp_path: Path,
                                                      text: str, line: str) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    assert refused(node, path) == line.format(path=path)


def test_the_node_never_opens_a_file_it_is_named(node: RunningNode, tmp_path: Path) -> None:
    """A control request naming a file (what the node used to read) is refused unopened."""
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    reply = request(node.store.dir, {"op": "scenario", "path": str(fifo)}, timeout=5)
    assert reply == {"ok": False, "lines": ["Error: a scenario request carries the scenario "
                                            "itself (a mapping), not a file name"]}


def test_a_good_scenario_still_plays(node: RunningNode, tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("name: two\nsteps:\n  - call: {from: alice@example.com, to: bob@example.com}\n"
                    "  - dnd: {user: carol@example.com, active: true}\n")
    code, out, err = sim_run(node, path)
    assert code == 0, err
    assert out.startswith("Scenario two: 1 call(s), ")
