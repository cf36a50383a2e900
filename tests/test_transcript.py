"""Recording a session as a method of procedure, and replaying it."""
from __future__ import annotations

import pytest

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


CUCM_PROCEDURE = ["set tls min-version 1.3", "yes", "utils ctl set-cluster mixed-mode", "y",
                  "show tls min-version", "bogus"]


def _cucm_state(xsp, path):
    added = xsp("shell", "--state", str(path), "-c", "emu addnode cucm1 CUCM")
    assert added.returncode == 0, added.stdout + added.stderr


def test_a_cucm_session_records_and_replays_with_its_questions(xsp, tmp_path):
    _cucm_state(xsp, tmp_path / "a")
    mop = tmp_path / "mop.txt"
    lines = [arg for line in CUCM_PROCEDURE for arg in ("-c", line)]
    recorded = xsp("shell", "--state", str(tmp_path / "a"), "--node", "cucm1", "--record", str(mop),
                   *lines)
    assert recorded.returncode == 1  # `bogus` failed, and is recorded with its answer
    text = mop.read_text()
    assert text.splitlines()[1].endswith(f"replay with: xsp replay {mop.name} --state DIR --node cucm1")
    assert "\nDo you want to continue (yes/no) ?yes\n" in text
    assert "\nThis operation will set the cluster to Mixed mode. Do you want to continue? (y/n):y\n" in text
    assert [(e.prompt, e.command) for e in parse(text)][:2] == [
        ("admin:", "set tls min-version 1.3"), ("Do you want to continue (yes/no) ?", "yes")]

    _cucm_state(xsp, tmp_path / "b")
    replayed = xsp("replay", str(mop), "--state", str(tmp_path / "b"), "--node", "cucm1")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert replayed.stdout == f"Replayed 6 commands from {mop}: every answer as recorded.\n"
    # The first CUCM node is the default, as the first XSP is for XSP_CLI lines.
    again = xsp("replay", str(mop), "--state", str(tmp_path / "b"))
    assert again.returncode == 1  # the cluster is in mixed mode already: the answers differ
    assert again.stdout.splitlines()[0] == "line 7: admin:utils ctl set-cluster mixed-mode"


def test_a_cucm_transcript_needs_a_cucm_node(xsp, tmp_path):
    mop = tmp_path / "mop.txt"
    mop.write_text("admin:show tls min-version\nConfigured TLS minimum version: 1.2\n")
    replayed = xsp("replay", str(mop), "--state", str(tmp_path / "fresh"))
    assert (replayed.returncode, replayed.stdout) == (2, "")
    assert replayed.stderr == (f"xsp: {mop}: line 1: no CUCM node in this state "
                               "(add one with: emu addnode NAME CUCM)\n")
    unknown = xsp("replay", str(mop), "--state", str(tmp_path / "fresh"), "--node", "nope")
    assert (unknown.returncode, unknown.stderr) == (2, "xsp: --node nope: no such node in this state\n")


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
    ("", "no command in the transcript (lines start with a prompt such as XSP_CLI> or admin:)"),
    ("...Done\n", "line 1: expected a prompt such as XSP_CLI> or admin: before any answer, "
                  "got '...Done'"),
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
