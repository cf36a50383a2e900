"""The CLI engine under generated input: every line gets an answer, never a traceback
or an internal error; a refusal is one line of the documented shapes; a refused step
leaves the whole state directory byte-identical; a ``;``-joined line is exactly its
steps typed one per line, up to the first refusal.

Defects this generation found are pinned by name at the end, each with the input that
showed it.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from _hardening_support import (RefusingControl, copy_state, configure_webex_state,
                                is_refusal_line, make_cert_material, snapshot)
from xsp_cli_contexts.ciphers import names as cipher_names
from xsp_cli_contexts.schema import Command, Param, load_emulator_commands, load_tree
from xsp_cli_contexts.types import (BoolType, ChoiceType, CipherType, FileType, IntType, IPType,
                                ProtocolType, PROTOCOL_NAMES)
from xsp.cli.engine import Engine, Result
from xsp.config.store import Store

# Followed by what was read (issue 14: a piped line is never taken silently).
QUESTION_REFUSAL = "Please answer Yes, Y, No or N; "
# Self-signed certificates made by `CTIServer add` carry the minute they were made.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
# `emu record FILE` writes wherever FILE says: generated input never reaches it.
_RECORD = re.compile(r"emu\s+['\"]?rec", re.I)

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture]


def fuzz(examples: int) -> settings:
    """Bounded: a fixed number of examples, no per-example deadline (key generation)."""
    return settings(deadline=None, max_examples=examples, suppress_health_check=_SLOW_OK)


# -- the state every example starts from ---------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A state configured the Webex way (interface 127.0.0.1, trusts, identities) and a
    pool of certificate files, good and bad, for the file parameters."""
    base = tmp_path_factory.mktemp("engine-fuzz")
    store, pki = configure_webex_state(base / "configured", 8012)
    material = make_cert_material(base / "material")
    files = [str(p) for p in pki.paths()] + [str(p) for p in material.bad.values()]
    return {"state": store.dir, "files": files, "scratch": base / "examples"}


_example = 0


def _fresh(world: dict[str, object], tag: str) -> Store:
    global _example
    _example += 1
    return copy_state(world["state"], world["scratch"] / f"{_example}-{tag}")  # type: ignore[operator]


def _engine(store: Store, node: str) -> Engine:
    return Engine(store, node, control=RefusingControl())


# -- generated words -----------------------------------------------------------------------

# Text as a person, a paste or a non-UTF-8 terminal could produce it (lone surrogates are
# what undecodable bytes become); newlines cannot occur inside one line of a shell.
_ALPHABET = st.characters(blacklist_characters="\n\r")
WORD = st.text(_ALPHABET, min_size=0, max_size=24)
SHORT_WORD = st.text(st.sampled_from("aZ09.-_@:/*?é ßx"), min_size=1, max_size=10)


def _quote(word: str, style: int) -> str:
    """A word as typed: bare when it can be, else quoted so that shlex gives it back."""
    if style == 0 and re.fullmatch(r"[^\s'\";\\]+", word):
        return word
    if style == 1 and re.fullmatch(r"[^\"\\$`]*", word):
        return f'"{word}"'
    return shlex.quote(word)


def _abbreviate(draw: st.DrawFn, name: str) -> str:
    """The name, a prefix of it, or another case: all ways BroadWorks users type names."""
    choice = draw(st.integers(0, 3))
    if choice == 1:
        name = name[: draw(st.integers(1, len(name)))]
    elif choice == 2:
        name = name.lower()
    elif choice == 3:
        name = name.upper()
    return name


# The file each file parameter wants, so that generated lines also succeed sometimes.
PREFERRED_FILE = {"keyFile": "server.key", "certificateFile": "server.pem",
                  "chainFile": "server-chain.pem", "trustCertificateFile": "webex-root.pem"}


def _value(draw: st.DrawFn, param: Param, files: list[str], known: list[str]) -> str:
    kind = param.type
    if draw(st.integers(0, 9)) == 0:
        return draw(WORD)
    if isinstance(kind, IPType):
        return draw(st.sampled_from(["127.0.0.1", "10.0.0.1", "::1", "2001:db8::5", "0.0.0.0",
                                     "255.255.255.255", "127.0.0.01", "1.2.3", "fe80::1%eth0"]))
    if isinstance(kind, IntType):
        return str(draw(st.integers(-3, 70000)))
    if isinstance(kind, (BoolType, ChoiceType)):
        values = list(kind.values)
        return draw(st.sampled_from(values + [v.upper() for v in values] + ["maybe", "1"]))
    if isinstance(kind, ProtocolType):
        return draw(st.sampled_from([*PROTOCOL_NAMES, "SSLv3", "tlsv1.2", "TLSv1.4"]))
    if isinstance(kind, CipherType):
        return draw(st.sampled_from(cipher_names()[:40:3] + [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
            "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            "TLS_FALLBACK_SCSV", "NOT_A_CIPHER"]))
    if isinstance(kind, FileType):
        wanted = [f for f in files if Path(f).name == PREFERRED_FILE.get(param.name)]
        if wanted and draw(st.booleans()):
            return wanted[0]
        return draw(st.sampled_from(files + ["/", ".", "relative-missing.pem", "/dev/null"]))
    return draw(st.sampled_from(known) if known and draw(st.booleans()) else SHORT_WORD)


KNOWN = ["alice@example.com", "bob@example.com", "bwcticlient.webex.com", "webexclientroot2023",
         "webexclientissuing2023", "xsp1", "as1", "dave@example.com", "new-alias"]


@st.composite
def command_step(draw: st.DrawFn, command: Command, name: str, files: list[str]) -> str:
    words = [name]
    params = list(command.params)
    for param in params:
        if param.optional and draw(st.booleans()):
            continue
        value = _value(draw, param, files, KNOWN)
        if param.keyword:
            keyword = _abbreviate(draw, param.keyword) if draw(st.integers(0, 5)) == 0 else param.keyword
            if draw(st.integers(0, 4)) == 0 and value.startswith(("/", ".")):
                words.append(keyword + value)  # glued, as the guide prints it
            else:
                words += [keyword, value]
        else:
            words.append(value)
    if words[1:] and draw(st.integers(0, 6)) == 0:
        words.pop(draw(st.integers(1, len(words) - 1)))  # a parameter missing
    if draw(st.integers(0, 6)) == 0:
        words.append(draw(SHORT_WORD))  # one too many
    style = draw(st.integers(0, 2))
    return " ".join([words[0]] + [_quote(w, style) for w in words[1:]])


@st.composite
def structured_steps(draw: st.DrawFn, kind: str, files: list[str]) -> list[str]:
    """Steps of one line: real level and command names with generated parameters."""
    tree = load_tree(kind)
    contexts = list(tree.root.walk())
    emulator = load_emulator_commands()
    emu_commands = [c for n, c in emulator.commands.items() if n != "record"]
    steps: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        shape = draw(st.integers(0, 9))
        if shape <= 3:  # go somewhere, then run one of its commands
            context = draw(st.sampled_from([c for c in contexts if c.commands] or contexts))
            parts = [_abbreviate(draw, p) for p in context.path.split("/") if p]
            steps.append("cd /" + "/".join(parts))
            command = draw(st.sampled_from(list(context.commands.values())))
            steps.append(draw(command_step(command, _abbreviate(draw, command.name), files)))
        elif shape == 4:  # a command of some level, typed wherever the session is
            context = draw(st.sampled_from([c for c in contexts if c.commands]))
            command = draw(st.sampled_from(list(context.commands.values())))
            steps.append(draw(command_step(command, command.name, files)))
        elif shape == 5:
            command = draw(st.sampled_from(emu_commands))
            steps.append("emu " + draw(command_step(command, _abbreviate(draw, command.name), files)))
        elif shape == 6:  # levels by name, relative, up, nonsense
            steps.append(draw(st.sampled_from(
                [c.name for c in contexts if c.name] + ["..", "/", "cd ..", "cd /", "cd", "cd ../..",
                                                        "cd /Nowhere", "cd a b"])))
        elif shape == 7:
            target = draw(st.sampled_from(["", "emu", "help", "cd", "exit", "get", "add",
                                           "emu restart", "emu nosuch", "Interface", "nosuch"]))
            steps.append(f"help {target}".strip())
        elif shape == 8:
            steps.append(draw(st.sampled_from(["get", "g", "exit", "quit", "emu status",
                                               "emu restart", "emu nodes", "emu users"])))
        else:
            steps.append(_quote(draw(WORD), 2) if draw(st.booleans()) else draw(SHORT_WORD))
    return [s for s in steps if not _RECORD.search(s)] or ["get"]


# -- the properties --------------------------------------------------------------------------

def _check_answer(line: str, result: Result) -> None:
    for out in result.lines:
        assert isinstance(out, str) and "\n" not in out, (line, result.lines)
        assert "internal error" not in out and "Traceback" not in out, (line, result.lines)
    if not result.ok:
        assert result.lines, f"{line!r} was refused without a word"
        last = result.lines[-1]
        assert is_refusal_line(last) or last.startswith(QUESTION_REFUSAL), (line, result.lines)


def _is_text(line: str) -> bool:
    """False for what undecodable input bytes become (lone surrogates)."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _normal(lines: list[str]) -> list[str]:
    return [_TIMESTAMP.sub("<minute>", line) for line in lines]


def _run_steps(engine: Engine, steps: list[str]) -> Result:
    """The steps typed one per line, stopping where the engine stops a joined line; each
    refused step must leave the state directory byte-identical."""
    combined = Result()
    for step in steps:
        before = snapshot(engine.store.dir)
        result = engine.execute(step)
        _check_answer(step, result)
        combined.lines.extend(result.lines)
        if not result.ok:
            assert snapshot(engine.store.dir) == before, f"refused {step!r} changed the state"
            combined.ok = False
            break
        if engine.awaiting_answer or engine.finished:
            break
    return combined


@pytest.mark.parametrize("node,kind", [("xsp1", "XSP"), ("as1", "AS")])
@fuzz(250)
@given(data=st.data())
def test_structured_lines_are_answered_and_a_refused_step_changes_nothing(
        world: dict[str, object], node: str, kind: str, data: st.DataObject) -> None:
    """Real level and command names with generated parameters, `;`-joined: the joined
    line answers exactly as its steps typed one per line, refusals are one line of the
    documented shapes, and a refused step leaves the state directory byte-identical."""
    files: list[str] = world["files"]  # type: ignore[assignment]
    joined_engine = _engine(_fresh(world, "joined"), node)
    stepped_engine = _engine(_fresh(world, "stepped"), node)
    for _ in range(data.draw(st.integers(1, 4), label="lines")):
        steps = data.draw(structured_steps(kind, files), label="steps")
        separator = data.draw(st.sampled_from([";", " ; ", ";  "]), label="separator")
        line = separator.join(steps)
        answering = joined_engine.awaiting_answer
        before = snapshot(joined_engine.store.dir)
        joined = joined_engine.execute(line)
        _check_answer(line, joined)
        if not _is_text(line):
            # A line that is not UTF-8 is refused whole, as unreadable: no step of it runs.
            assert not joined.ok and len(joined.lines) == 1, joined.lines
            assert snapshot(joined_engine.store.dir) == before
            event("undecodable line refused whole")
            continue
        stepped = stepped_engine.execute(line) if answering else _run_steps(stepped_engine, steps)
        assert (joined.ok, _normal(joined.lines)) == (stepped.ok, _normal(stepped.lines)), line
        assert joined_engine.prompt == stepped_engine.prompt, line
        event("a change acknowledged" if "...Done" in joined.lines else "nothing acknowledged")
        event("refused" if not joined.ok else "accepted")
        if joined_engine.finished:
            break


@fuzz(400)
@given(lines=st.lists(st.text(_ALPHABET, max_size=60), min_size=1, max_size=6))
def test_random_text_is_answered_and_a_refusal_changes_nothing(
        world: dict[str, object], lines: list[str]) -> None:
    """Any text: an answer without a traceback; a refused line that acknowledged nothing
    (no "...Done") leaves the state directory byte-identical."""
    engine = _engine(_fresh(world, "text"), "xsp1")
    for line in lines:
        if _RECORD.search(line):
            continue
        before = snapshot(engine.store.dir)
        result = engine.execute(line)
        _check_answer(line, result)
        if not result.ok and "...Done" not in result.lines:
            assert snapshot(engine.store.dir) == before, line


@fuzz(150)
@given(words=st.lists(st.sampled_from(
    ["cd", "/Interface", "CTI", "..", ";", "'", '"', "\\", "get", "emu", "help", "add", "#",
     "127.0.0.1", "''", '""', "\t", " ", "a'b", 'a"b', "\\;", "';'", '";"']), max_size=12))
def test_quotes_and_separators_never_confuse_the_engine(
        world: dict[str, object], words: list[str]) -> None:
    """Quotes, escapes and separators in every arrangement: an answer, never a traceback;
    an unterminated quote is refused with "Error: cannot read the line"."""
    engine = _engine(_fresh(world, "quotes"), "xsp1")
    line = "".join(words)
    before = snapshot(engine.store.dir)
    result = engine.execute(line)
    _check_answer(line, result)
    if not result.ok and "...Done" not in result.lines:
        assert snapshot(engine.store.dir) == before


# -- defects found by generation, pinned with the input that showed them -------------------

def _refused_in_one_line(engine: Engine, line: str) -> None:
    before = snapshot(engine.store.dir)
    result = engine.execute(line)
    assert not result.ok
    assert len(result.lines) == 1 and is_refusal_line(result.lines[0]), result.lines
    assert "internal error" not in result.lines[0], result.lines
    assert snapshot(engine.store.dir) == before


TRUSTS = "cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts;"
CERTIFICATES = "cd /Interface/CTI/CTIServer/SSLSettings/Certificates;"


@pytest.mark.parametrize("line", [
    TRUSTS + "updateTrust a ~no-such-user-xsp/ca.pem",
    CERTIFICATES + "sslUpdate 127.0.0.1 keyFile ~no-such-user-xsp/k certificateFile /c chainFile /d",
    "emu record ~no-such-user-xsp/procedure.txt",
], ids=["updateTrust", "sslUpdate", "emu record"])
def test_a_home_of_an_unknown_user_is_refused_in_one_line(world: dict[str, object], line: str) -> None:
    """A file path starting with ~user for a user that does not exist is a refusal."""
    _refused_in_one_line(_engine(_fresh(world, "tilde"), "xsp1"), line)


@pytest.mark.parametrize("line", [
    TRUSTS + "updateTrust a 'ca\x00.pem'",
    CERTIFICATES + "sslUpdate 127.0.0.1 keyFile 'k\x00' certificateFile /c chainFile /d",
    "emu record 'procedure\x00.txt'",
], ids=["updateTrust", "sslUpdate", "emu record"])
def test_a_nul_in_a_file_path_is_refused_in_one_line(world: dict[str, object], line: str) -> None:
    """A NUL byte (pasted binary) in a file path is a refusal, not an internal error."""
    _refused_in_one_line(_engine(_fresh(world, "nul"), "xsp1"), line)


@pytest.mark.parametrize("line", ["emu adduser '\udcff@example.com'",
                                  "cd /System/ClientIdentity;add '\udcffbad'",
                                  "emu addnode '\udcff' XSP"],
                         ids=["adduser", "identity", "addnode"])
def test_undecodable_input_is_refused_in_one_line(world: dict[str, object], line: str) -> None:
    """Bytes that are not UTF-8 (what `printf '\\xff' | xsp shell` delivers) are refused."""
    node = "as1" if "ClientIdentity" in line else "xsp1"
    _refused_in_one_line(_engine(_fresh(world, "surrogate"), node), line)


def test_a_long_ipv6_scope_is_refused_in_one_line(world: dict[str, object]) -> None:
    """`CTIServer add` of an IPv6 address with a long zone id is refused, not an internal error."""
    line = "cd /Interface/CTI/CTIServer;add fe80::1%" + "z" * 70 + " 8012 true true true"
    _refused_in_one_line(_engine(_fresh(world, "scope"), "xsp1"), line)


def test_a_node_name_with_a_slash_cannot_break_its_interfaces(world: dict[str, object]) -> None:
    """Either `emu addnode a/b XSP` is refused, or that node's `CTIServer add` works."""
    store = _fresh(world, "slash")
    added = _engine(store, "xsp1").execute("emu addnode a/b XSP")
    if not added.ok:
        assert len(added.lines) == 1 and is_refusal_line(added.lines[0]), added.lines
        return
    result = _engine(store, "a/b").execute("cd /Interface/CTI/CTIServer;add 10.0.0.7 8012 true true true")
    assert result.ok, result.lines
