"""Recording a session as a method of procedure, and replaying it."""
from __future__ import annotations

import pytest

from xsp.cli.engine import Engine
from xsp.config.store import Store
from xsp.testing import shell_engine
from xsp.cli.transcript import TranscriptError, parse

PROCEDURE = "int;cti;ctis;add 10.0.0.1 8012 false false false\nget\ncd /\nbogus\n"


def test_shell_record_then_replay_on_a_new_state(xsp, tmp_path):
    mop = tmp_path / "mop.txt"
    recorded = xsp("shell", "--state", str(tmp_path / "a"), "--record", str(mop), input=PROCEDURE)
    assert recorded.returncode == 1  # `bogus` failed, and is recorded with its answer
    text = mop.read_text()
    assert text.startswith("# xsp transcript (method of procedure), recorded ")
    body = "\n".join(l for l in text.splitlines() if not l.startswith("#")) + "\n"
    assert body == recorded.stdout  # the transcript is what the shell printed
    replayed = xsp("replay", str(mop), "--state", str(tmp_path / "b"))
    assert replayed.returncode == 0, replayed.stdout
    assert replayed.stdout == f"Replayed 4 commands from {mop}: every answer as recorded.\n"


def test_replay_on_a_state_that_differs_names_each_difference(xsp, tmp_path):
    mop = tmp_path / "mop.txt"
    xsp("shell", "--state", str(tmp_path / "a"), "--record", str(mop), input=PROCEDURE)
    # The same procedure again on the same state: the add now finds its entry.
    replayed = xsp("replay", str(mop), "--state", str(tmp_path / "a"))
    assert replayed.returncode == 1
    assert replayed.stdout.splitlines()[:3] == [
        "line 3: XSP_CLI> int;cti;ctis;add 10.0.0.1 8012 false false false",
        "  @@ -1,2 +1 @@",
        "  -...Done"]


def test_emu_record_starts_and_stops_without_recording_itself(tmp_path):
    engine = shell_engine(Store(tmp_path / "s"))
    mop = tmp_path / "mop.txt"
    assert engine.execute(f"emu record {mop}").lines == [f"Recording to {mop} (emu record off stops)."]
    engine.execute("int")
    assert engine.execute("emu record off").lines == ["Recording stopped."]
    engine.execute("cti")
    entries = parse(mop.read_text())
    assert [(e.prompt, e.command) for e in entries] == [("XSP_CLI> ", "int")]
    assert engine.execute("emu record off").lines == ["Error: no recording is running"]


@pytest.mark.parametrize("text,message", [
    ("", "no command in the transcript (lines start with a prompt such as XSP_CLI> )"),
    ("...Done\n", "line 1: expected a prompt such as XSP_CLI> before any answer, got '...Done'"),
])
def test_unusable_transcripts_are_refused(text, message):
    with pytest.raises(TranscriptError) as info:
        parse(text)
    assert str(info.value) == message


def test_replay_of_a_missing_file_is_one_line(xsp, tmp_path):
    result = xsp("replay", str(tmp_path / "nope.txt"), "--state", str(tmp_path / "s"))
    assert result.returncode == 2
    assert result.stderr == f"xsp: cannot read {tmp_path / 'nope.txt'}: No such file or directory\n"


def test_emu_record_to_an_unwritable_place_is_one_line(tmp_path):
    engine = shell_engine(Store(tmp_path / "s"))
    target = tmp_path / "no-such-dir" / "mop.txt"
    assert engine.execute(f"emu record {target}").lines == [
        f"Error: cannot write {target}: No such file or directory"]
    assert engine.recorder is None
