"""The command line explains itself: a version, a description for every command and
every positional, and a group typed without its verb shows its whole help."""
from __future__ import annotations

import argparse
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import run_xsp
from xsp.main import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "xsp"
             ) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for verb, child in action.choices.items():
                found += _parsers(child, f"{name} {verb}")
    return found


PARSERS = _parsers(build_parser())


def test_the_walk_finds_every_command() -> None:
    names = {name for name, _ in PARSERS}
    assert {"xsp sim", "xsp sim call", "xsp sim run", "xsp replay", "xsp trust verify",
            "xsp pki demo", "xsp webex-client", "xsp demo", "xsp doctor"} <= names


@pytest.mark.parametrize(("name", "parser"), PARSERS, ids=[name for name, _ in PARSERS])
def test_every_command_has_a_description(name: str, parser: argparse.ArgumentParser) -> None:
    assert parser.description, f"{name} has no description"


@pytest.mark.parametrize(("name", "parser"), PARSERS, ids=[name for name, _ in PARSERS])
def test_every_positional_and_option_says_what_it_is(name: str, parser: argparse.ArgumentParser) -> None:
    silent = [action.dest for action in parser._actions
              if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert silent == [], f"{name}: {silent} have no help"


def test_version() -> None:
    result = run_xsp("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"xsp {version('xsp')}\n", "")


@pytest.mark.parametrize("group", ["sim", "trust", "pki", "cucm"])
def test_a_group_without_its_verb_prints_its_whole_help(group: str) -> None:
    result = run_xsp(group)
    assert result.returncode == 2
    assert result.stderr == ""
    assert result.stdout == run_xsp(group, "--help").stdout
    assert result.stdout.startswith(f"usage: xsp {group} [-h] ")


def test_sim_help_describes_its_verbs_and_positionals() -> None:
    sim = run_xsp("sim", "--help").stdout
    assert "Drive calls on the node running on the state" in sim
    call = run_xsp("sim", "call", "--help").stdout
    assert "CALLER              the calling user (a user id of the Application Server)" in call
    assert "CALLEE              the called user, or a tel: or sip: address" in call
    run = run_xsp("sim", "run", "--help").stdout
    assert re.search(r"^  FILE +the scenario \(YAML", run, re.M)


README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_synopses() -> dict[str, str]:
    """Each synopsis in the README's code blocks (a line ``xsp COMMAND ...`` and its
    indented continuation lines), by the command it is for."""
    names = sorted((name for name, _ in PARSERS if name != "xsp"), key=len, reverse=True)
    found: dict[str, str] = {}
    current: str | None = None
    fenced = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced, current = not fenced, None
            continue
        if not fenced:
            continue
        if current is not None and line.startswith(" "):
            found[current] += " " + line.strip()
            continue
        current = next((name for name in names if line == name or line.startswith(name + " ")), None)
        if current in found:
            current = None  # a later example line, not the synopsis
        if current is not None:
            found[current] = line
    return found


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    """The commands that run something (not the groups that only print their help)."""
    return [(name, parser) for name, parser in PARSERS
            if name != "xsp" and not any(isinstance(a, argparse._SubParsersAction)
                                         for a in parser._actions)]


SYNOPSES = _readme_synopses()


@pytest.mark.parametrize(("name", "parser"), _commands(), ids=[name for name, _ in _commands()])
def test_the_readme_synopsis_lists_every_option(name: str, parser: argparse.ArgumentParser) -> None:
    assert name in SYNOPSES, f"the README has no synopsis line for {name}"
    synopsis = SYNOPSES[name]
    missing = [action.option_strings for action in parser._actions
               if action.option_strings and "--help" not in action.option_strings
               and not any(re.search(rf"(^|[\s\[]){re.escape(o)}([\s\]]|$)", synopsis)
                           for o in action.option_strings)]
    assert missing == [], f"{name}: {synopsis}"
