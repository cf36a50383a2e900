"""The state directory under attack and under failure, through the real command line.

Owner-only from the first syscall; another user's (or a world-writable) directory or
lock refused; state files never followed through symbolic links; a hand-edited
config.yaml with aliases, duplicate keys or huge values refused in one short line; a
file-size limit (the kernel refusing a write, as a full disk does) and a directory that
cannot be written answered in one plain line, leaving nothing behind; a bad --state
refused in one line; commands that only read creating nothing.
"""
from __future__ import annotations

import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xsp.config.store import Store

OTHER_UID = 65534  # nobody: a user other than the one running the tests
ADD_DAVE = "emu adduser dave@example.com"


def run(*args: str, umask: int | None = None, fsize: int | None = None,
        address_space: int | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m xsp ARGS`` with a umask and limits set in the child before it starts."""
    def limits() -> None:
        if umask is not None:
            os.umask(umask)
        if fsize is not None:
            # A write over the limit fails with EFBIG instead of killing the process.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    return subprocess.run([sys.executable, "-m", "xsp", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, preexec_fn=limits, stdin=subprocess.DEVNULL)


def shell(state: Path, *lines: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return run("shell", "--state", str(state), *(a for line in lines for a in ("-c", line)), **kwargs)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and not p.is_symlink()}


# --- 5. the state directory ------------------------------------------------------------------

def test_a_new_state_is_owner_only_under_umask_000_down_to_its_parents(tmp_path):
    state = tmp_path / "a" / "b" / "state"
    result = shell(state, ADD_DAVE, umask=0)
    assert result.returncode == 0, result.stderr
    for directory in (tmp_path / "a", tmp_path / "a" / "b", state, state / "sections"):
        assert mode(directory) == 0o700, directory
    for name in ("config.yaml", ".lock"):
        assert mode(state / name) == 0o600, name


@pytest.mark.parametrize("change, why", [
    (lambda p: os.chmod(p, 0o777), "is writable by others (mode 0777); make it owner-only "
                                   "(chmod go-w {p}) or choose another --state"),
    (lambda p: os.chown(p, OTHER_UID, -1), f"belongs to uid {OTHER_UID}, not to you (uid 0); "
                                            "refusing to use a state another user controls"),
])
def test_a_state_directory_others_control_is_refused_in_one_line(state, change, why):
    Store(state).load()
    change(state)
    before = snapshot(state)
    result = shell(state, ADD_DAVE)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"xsp: the state directory {state} {why.format(p=state)}\n"
    assert snapshot(state) == before


@pytest.mark.parametrize("lock", [".lock", "node.lock"])
def test_a_lock_owned_by_someone_else_is_refused(state, lock):
    Store(state).load()
    (state / lock).touch()
    os.chown(state / lock, OTHER_UID, -1)
    result = shell(state, ADD_DAVE) if lock == ".lock" else run("serve", "--state", str(state))
    assert result.returncode == 1
    message = (f"the lock {state / lock} belongs to uid {OTHER_UID}, not to you (uid 0); "
               "refusing to use a state another user controls")
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_symlinked_config_yaml_is_refused_and_never_replaced(state, tmp_path):
    Store(state).load()
    elsewhere = tmp_path / "elsewhere.yaml"
    os.rename(state / "config.yaml", elsewhere)
    before = elsewhere.read_bytes()
    os.symlink(elsewhere, state / "config.yaml")
    result = shell(state, ADD_DAVE)
    assert result.returncode == 1
    assert result.stderr == (f"xsp: {state / 'config.yaml'} is a symbolic link; state files are never "
                             "followed through one: remove the link\n")
    assert (state / "config.yaml").is_symlink() and elsewhere.read_bytes() == before


@pytest.mark.parametrize("name", ["private", "sections", "certs"])
def test_a_symlinked_state_subdirectory_is_refused_and_nothing_written_through_it(state, tmp_path, name):
    """Its content moved elsewhere and linked back: followed, it would read and write there."""
    store = Store(state)
    with store.edit() as d:
        d.node("xsp1").xsp.allow_client_app = True  # the users' section exists from here
    other = tmp_path / "other"
    if (state / name).exists():
        os.rename(state / name, other)
    else:
        other.mkdir(mode=0o700)
    os.symlink(other, state / name)
    before = snapshot(other)
    result = shell(state, "cd /Interface/CTI/CTIServer", "add 192.0.2.1 8012 true true true")
    assert result.returncode == 1
    message = (f"{state / name} is a symbolic link; state files are never followed through one: "
               "remove the link")
    # Refused when first read (stderr) or first written (the command's answer).
    assert f"xsp: {message}\n" == result.stderr or message in result.stdout
    assert snapshot(other) == before


def test_the_log_is_never_followed_through_a_symlink(state, tmp_path):
    Store(state).load()
    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    os.symlink(target, state / "xsp.log")
    result = shell(state, "emu restart")
    assert target.read_text() == "keep me\n"
    assert result.stderr == (f"xsp: {state / 'xsp.log'} is a symbolic link; state files are never "
                             "followed through one: remove the link; log lines are dropped until "
                             "it can be written\n")


def test_the_history_is_never_followed_through_a_symlink(tmp_path, capsys):
    from xsp.cli.history import StateHistory
    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    os.symlink(target, tmp_path / "history")
    history = StateHistory(tmp_path / "history")
    history.store_string("get")
    history.store_string("get")
    assert list(history.load_history_strings()) == []
    assert target.read_text() == "keep me\n"
    assert capsys.readouterr().err == (f"xsp: {tmp_path / 'history'} is a symbolic link; state files "
                                       "are never followed through one: remove the link; the history "
                                       "is not kept\n")


def test_a_control_socket_planted_by_another_user_is_not_trusted(state):
    Store(state).load()
    planted = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        planted.bind(str(state / "node.sock"))
        planted.listen()
        os.chown(state / "node.sock", OTHER_UID, -1)
        result = run("sim", "call", "alice@example.com", "bob@example.com", "--state", str(state),
                     timeout=20)
    finally:
        planted.close()
    assert (result.returncode, result.stderr) == (1, f"xsp: {state / 'node.sock'} is not this user's "
                                                     f"node socket (owner uid {OTHER_UID}); refusing "
                                                     "to talk to it\n")


def test_pki_demo_output_is_owner_only_and_a_world_writable_one_refused(tmp_path):
    out = tmp_path / "x" / "pki"
    result = run("pki", "demo", "-o", str(out), umask=0)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "x") == mode(out) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = run("pki", "demo", "-o", str(shared))
    assert (result.returncode, result.stderr) == (1, (
        f"xsp: cannot write in {shared}: {shared} is writable by others (mode 0777); keys are not "
        f"written there: make it owner-only (chmod go-w {shared}) or choose another\n"))
    assert list(shared.iterdir()) == []


# --- 6. a hand-edited config.yaml ---------------------------------------------------------------

def _hand_edit(state: Path, text: str) -> None:
    (state / "config.yaml").write_text(textwrap.dedent(text))


def test_an_alias_bomb_is_refused_at_once_in_bounded_memory(state):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    _hand_edit(state, "\n".join(lines) + "\nnodes: *a8\n")
    result = shell(state, "get", address_space=1 << 30, timeout=30)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"xsp: {state / 'config.yaml'}:9: YAML anchors and aliases (&name, "
                             "*name) are not accepted; write each value out\n")


def test_a_duplicate_key_is_refused_with_both_lines(state):
    _hand_edit(state, """\
        nodes:
        - name: as1
          kind: AS
        - name: xsp1
          kind: XSP
          kind: ADP
        """)
    result = run("doctor", "--state", str(state))
    assert result.stderr == (f"xsp: {state / 'config.yaml'}:6: duplicate key 'kind' (first at line 5); "
                             "each setting may appear once\n")


def test_a_huge_value_is_cut_in_the_message(state):
    _hand_edit(state, f"""\
        nodes:
        - name: as1
          kind: AS
        - name: xsp1
          kind: XSP
          xsp:
            cti_servers:
            - ip: 10.0.0.1
              port: {"x" * 100000}
        """)
    result = shell(state, "get")
    assert result.stderr == (f"xsp: {state / 'config.yaml'}:9: nodes[1].xsp.cti_servers[0].port: "
                             f"expected a number, got '{'x' * 59}... (100002 characters)\n")


def test_a_number_too_long_to_convert_is_refused_in_one_line(state):
    _hand_edit(state, f"""\
        nodes:
        - name: as1
          kind: AS
        version: {"9" * 5000}
        """)
    result = shell(state, "get")
    assert result.stderr == f"xsp: {state / 'config.yaml'}:4: a number of 5000 digits is too long\n"


# --- 7. full disk and permissions -----------------------------------------------------------------

def test_a_save_the_kernel_refuses_is_one_plain_line_and_leaves_nothing(state):
    Store(state).load()
    before = snapshot(state)
    result = shell(state, ADD_DAVE, fsize=512)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"Error: cannot write {state / 'config.yaml'}: File too large; a file-size limit "
        "(ulimit -f) stopped the write; raise it and repeat")
    assert "Traceback" not in result.stderr
    after = snapshot(state)
    after.pop("xsp.log", None)
    assert after == before


def test_ssl_update_leaves_no_key_when_the_configuration_cannot_be_saved(state, tmp_path):
    import xsp_trust as trust
    pki = trust.make_demo_pki(tmp_path / "pki")
    # Changes awaiting a restart grow config.yaml past the size of a key file.
    toggles = [f"{verb} 127.0.0.1 TLSv1.2" for _ in range(5) for verb in ("add", "delete")]
    assert shell(state, "cd /Interface/CTI/CTIServer", "add 127.0.0.1 8012 false false false",
                 "cd /Interface/CTI/CTIServer/SSLSettings/Protocols", *toggles).returncode == 0
    root = (state / "config.yaml").stat().st_size
    limit = max(pki.server_key.stat().st_size, pki.server_cert.stat().st_size,
                pki.server_chain.stat().st_size) + 64
    assert limit < root, f"the limit ({limit}) must let the key through and stop the root ({root})"
    keys_before = sorted((state / "private").iterdir()) if (state / "private").exists() else []
    result = shell(state, "cd /Interface/CTI/CTIServer/SSLSettings/Certificates",
                   f"sslUpdate 127.0.0.1 keyFile {pki.server_key} certificateFile {pki.server_cert} "
                   f"chainFile {pki.server_chain}", fsize=limit)
    assert result.stdout.splitlines()[-1].startswith(f"Error: cannot write {state / 'config.yaml'}: "
                                                     "File too large")
    keys_after = sorted((state / "private").iterdir()) if (state / "private").exists() else []
    assert keys_after == keys_before
    assert not (state / "certs").exists() or list((state / "certs").iterdir()) == []


def test_serve_survives_a_pid_it_cannot_write(state):
    Store(state).load()
    proc = subprocess.Popen([sys.executable, "-m", "xsp", "serve", "--state", str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: (signal.signal(signal.SIGXFSZ, signal.SIG_IGN),
                                                resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))))
    try:
        assert proc.stdout is not None
        while "Serving;" not in (line := proc.stdout.readline()):
            assert line, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert (state / "node.lock").read_bytes() == b""


@pytest.mark.parametrize("target", ["config.yaml", "xsp.log", "fifo"])
def test_emu_record_refuses_the_state_s_own_files_and_fifos(state, target):
    Store(state).load()
    if target == "fifo":
        os.mkfifo(state.parent / "fifo")
        path = state.parent / "fifo"
        expected = f"Error: {path} is not a regular file; record to a regular file"
    else:
        path = state / target
        expected = f"Error: {path} is inside the state directory {state}; record to a file outside it"
    before = snapshot(state)
    result = shell(state, f"emu record {path}", timeout=20)
    assert result.stdout.splitlines()[-1] == expected
    assert snapshot(state) == before


# --- a bad --state ------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("shell", "-c", "get"), ("doctor",), ("serve",), ("sim", "call", "alice@example.com", "bob@example.com"),
])
def test_a_regular_file_as_state_is_one_clear_line(tmp_path, args):
    file = tmp_path / "notes.txt"
    file.write_text("not a state\n")
    command, *rest = args
    result = run(command, *rest, "--state", str(file), timeout=20)
    assert result.returncode == 1
    assert result.stderr == (f"xsp: the state directory {file} is not a directory; --state takes a "
                             "directory (a missing one is created)\n")


def test_doctor_on_a_mistyped_state_says_so_and_creates_nothing(tmp_path):
    typo = tmp_path / "sate"
    result = run("doctor", "--state", str(typo))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"xsp: no state at {typo}; check the path (a state is made by xsp shell "
                             f"--state {typo} or xsp demo)\n")
    assert not typo.exists()


@pytest.mark.parametrize("args", [
    ("shell", "-c", "emu status"), ("shell", "-c", "get"),
    ("sim", "call", "alice@example.com", "bob@example.com"),
])
def test_commands_that_only_read_create_no_state(tmp_path, args):
    missing = tmp_path / "missing"
    command, *rest = args
    run(command, *rest, "--state", str(missing), timeout=20)
    assert not missing.exists()


def test_an_unwritable_state_directory_is_one_plain_line(state):
    Store(state).load()
    if subprocess.run(["chattr", "+i", str(state)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        result = shell(state, ADD_DAVE)
    finally:
        subprocess.run(["chattr", "-i", str(state)], check=True)
    assert result.stdout.splitlines()[-1] == (
        f"Error: cannot write {state / 'config.yaml'}: Operation not permitted; check its "
        "permissions (a state must be yours and writable by you), or choose another with --state")
    assert "Traceback" not in result.stderr
