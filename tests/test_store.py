"""The configuration store: atomic saves, the writer lock, and hand-edited files."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from xsp.config.store import ConfigFileError, Store


def test_new_state_holds_one_as_and_one_xsp(tmp_path):
    deployment = Store(tmp_path / "s").load()
    assert [(n.name, n.kind) for n in deployment.nodes] == [("as1", "AS"), ("xsp1", "XSP")]
    assert [u.user_id for u in deployment.application_server.as_.users] == [
        "alice@example.com", "bob@example.com", "carol@example.com"]


def test_edit_round_trips_through_yaml(tmp_path):
    store = Store(tmp_path)
    with store.edit() as d:
        d.application_server.as_.client_identities.append("bwcticlient.webex.com")
    assert Store(tmp_path).load().application_server.as_.client_identities == ["bwcticlient.webex.com"]


def test_exception_inside_edit_changes_nothing(tmp_path):
    store = Store(tmp_path)
    before = store.path.read_bytes() if store.exists() else store.load() and store.path.read_bytes()
    with pytest.raises(RuntimeError):
        with store.edit() as d:
            d.application_server.as_.client_identities.append("x")
            raise RuntimeError("refused")
    assert store.path.read_bytes() == before
    assert store.load().application_server.as_.client_identities == []


def _write(store: Store, text: str) -> None:
    store.dir.mkdir(parents=True, exist_ok=True)
    store.path.write_text(textwrap.dedent(text))


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    store = Store(tmp_path)
    _write(store, """\
        nodes:
        - name: as1
          kind: AS
         broken: [
        """)
    with pytest.raises(ConfigFileError, match=rf"^{store.path}:4: not valid YAML"):
        store.load()


def test_invalid_value_names_file_line_and_setting(tmp_path):
    store = Store(tmp_path)
    _write(store, """\
        nodes:
        - name: as1
          kind: AS
        - name: xsp1
          kind: XSP
          xsp:
            cti_servers:
            - ip: 10.0.0.1
              port: 70000
        """)
    with pytest.raises(ConfigFileError) as info:
        store.load()
    assert str(info.value) == f"{store.path}:9: nodes[1].xsp.cti_servers[0].port: 70000 is out of range 1-65535"


def test_unknown_setting_is_reported_not_dropped(tmp_path):
    store = Store(tmp_path)
    _write(store, """\
        nodes:
        - name: as1
          kind: AS
          colour: blue
        """)
    with pytest.raises(ConfigFileError, match=r":4: nodes\[0\]\.colour: unknown setting"):
        store.load()


def test_invalid_file_is_never_overwritten(tmp_path, xsp):
    store = Store(tmp_path)
    _write(store, "nodes: [\n")
    before = store.path.read_bytes()
    result = xsp("shell", "--state", str(tmp_path), "-c", "emu adduser dave@example.com")
    assert result.returncode == 1
    assert result.stderr.startswith(f"xsp: {store.path}:")
    assert store.path.read_bytes() == before


def test_lock_serialises_two_writers(tmp_path):
    """Two concurrent writers never lose each other's change."""
    Store(tmp_path).load()

    def add(prefix: str) -> None:
        store = Store(tmp_path)
        for i in range(25):
            with store.edit() as d:
                d.application_server.as_.client_identities.append(f"{prefix}{i}")

    threads = [threading.Thread(target=add, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = Store(tmp_path).load().application_server.as_.client_identities
    assert sorted(ids) == sorted([f"a{i}" for i in range(25)] + [f"b{i}" for i in range(25)])


WRITER = """
import sys
from xsp.config.store import Store
store = Store(sys.argv[1])
i = 0
while True:
    with store.edit() as d:
        d.application_server.as_.client_identities.append(f"id{i}")
    print(i, flush=True)  # acknowledged: on disk
    i += 1
"""


def test_save_killed_at_any_instant_leaves_the_last_acknowledged_state(tmp_path):
    """kill -9 during a stream of saves: the file loads and holds every acknowledged change."""
    Store(tmp_path).load()
    for round_ in range(15):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(0.15 + (round_ % 5) * 0.03)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged = [int(x) for x in out.split()]
        ids = Store(tmp_path).load().application_server.as_.client_identities
        this_round = [x for x in ids if x.startswith("id")]
        # Every acknowledged change is there; at most the one in flight beyond it.
        assert len(this_round) - len(acknowledged) in (0, 1)
        with Store(tmp_path).edit() as d:
            d.application_server.as_.client_identities.clear()
    # A killed save may leave its temporary file; the next writer removes it.
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_private_files_are_0600(tmp_path):
    store = Store(tmp_path)
    relative = store.write_private("k.key", b"secret")
    assert (store.resolve(relative).stat().st_mode & 0o777) == 0o600
    assert (store.private_dir().stat().st_mode & 0o777) == 0o700


def test_abandoned_private_temporaries_are_swept_but_fresh_ones_kept(tmp_path):
    """A key or chain write killed mid-way leaves a temporary; a live one is never touched."""
    store = Store(tmp_path)
    store.load()
    private = store.private_dir()
    old, fresh = private / ".k.key.abc.tmp", private / ".c.pem.def.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    with store.edit():
        pass
    assert not old.exists() and fresh.exists()
