"""kill -9 in the middle of saves, 200 times in all: of ``xsp shell`` processes piping
changes, and of the ``xsp serve`` node while it restarts (each restart saves the
configuration and the interface's certificate chain). After every kill the state loads
and holds exactly what was acknowledged: a shell prints ``...Done`` only after its save,
so the saved state is the acknowledged one or, at most, that plus the change in flight.
"""
from __future__ import annotations

import random
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import xsp_trust as trust
from _hardening_support import (HOST, LineReader, RefusingControl, child_env, configure_webex_state,
                                kill9, xsp_command)
from xsp.cli.engine import Engine
from xsp.config.store import CONFIG_NAME, Store
from xsp.node.background import NodeThread
from xsp.node.control import NodeUnavailable, request
from xsp.testing import free_port

SHELL_KILLS = 150
NODE_KILLS = 50
POOL = [f"p{i}@example.com" for i in range(6)]
PROTOCOLS = "cd /Interface/CTI/CTIServer/SSLSettings/Protocols"

Change = tuple[str, str]  # ("add" | "del", user id)


def _pool_users(store_dir: Path) -> frozenset[str]:
    """The pool users on disk, read by a fresh Store (no cache): this is "loads"."""
    users = Store(store_dir).load().application_server.as_.users
    return frozenset(u.user_id for u in users if u.user_id in POOL)


def _plan(rng: random.Random, present: frozenset[str], count: int) -> list[Change]:
    """``count`` changes that are each valid after the ones before them."""
    state, changes = set(present), []
    for _ in range(count):
        user = rng.choice(POOL)
        changes.append(("del" if user in state else "add", user))
        state.symmetric_difference_update({user})
    return changes


def _apply(present: frozenset[str], changes: list[Change]) -> frozenset[str]:
    state = set(present)
    for _, user in changes:
        state.symmetric_difference_update({user})
    return frozenset(state)


def _line(change: Change) -> str:
    return f"emu {'adduser' if change[0] == 'add' else 'deluser'} {change[1]}\n"


def _stale_temporaries(store_dir: Path) -> list[Path]:
    return list(store_dir.glob(f".{CONFIG_NAME}.*.tmp"))


@pytest.mark.slow
def test_a_shell_killed_mid_save_leaves_exactly_what_it_acknowledged(tmp_path: Path) -> None:
    """150 times: a shell is fed 100 user changes and killed -9 at a random moment after
    its first ...Done. The state always loads, and equals the acknowledged changes,
    or those plus the one in flight: never a lost acknowledgement, never half a file."""
    state = tmp_path / "state"
    Store(state).load()
    rng = random.Random(1789)
    killed_in_flight = 0
    for round_ in range(SHELL_KILLS):
        present = _pool_users(state)
        changes = _plan(rng, present, 100)
        with (tmp_path / "shell.err").open("wb") as errors:
            proc = subprocess.Popen(xsp_command("shell", "--state", str(state)),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=errors, env=child_env())
            try:
                assert proc.stdin is not None
                reader = LineReader(proc)
                proc.stdin.write("".join(map(_line, changes)).encode())
                proc.stdin.flush()
                reader.wait_for(r"^\.\.\.Done$", 20)
                time.sleep(rng.uniform(0, 0.1))
            finally:
                kill9(proc)
            transcript = reader.drain()
        answers = [line for line in transcript.splitlines() if not line.startswith("XSP_CLI")]
        assert all(a == "...Done" for a in answers), f"round {round_}: {transcript!r}"
        acknowledged = len(answers)
        saved = _pool_users(state)
        assert saved in (_apply(present, changes[:acknowledged]),
                         _apply(present, changes[:acknowledged + 1])), (
            f"round {round_}: {acknowledged} acknowledged, saved {sorted(saved)}")
        killed_in_flight += acknowledged < len(changes)
        assert (tmp_path / "shell.err").read_bytes() == b""
    # Most kills must have landed while saves were still going on, or this tested little.
    assert killed_in_flight > SHELL_KILLS * 0.8
    # The next writer starts from the file as it is and sweeps what killed saves left.
    assert Engine(Store(state), control=RefusingControl()).execute("emu adduser last@example.com").ok
    assert _stale_temporaries(state) == []


@dataclass
class _Worker:
    """Changes and restarts against the running node, recording what was acknowledged."""

    store: Store
    protocols: list[str]  # the interface's protocol list as last acknowledged
    pending: list[str] = field(default_factory=list)  # changes since the last acknowledged restart
    restarts: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None

    def run(self) -> None:
        engine = Engine(self.store, "xsp1", control=RefusingControl())
        try:
            while not self.stop.is_set():
                verb = "delete" if "TLSv1.3" in self.protocols else "add"
                line = f"{verb} {HOST} TLSv1.3"
                result = engine.execute(f"{PROTOCOLS};{line}")
                assert result.ok, result.lines
                self.protocols = ([p for p in self.protocols if p != "TLSv1.3"] if verb == "delete"
                                  else [*self.protocols, "TLSv1.3"])
                self.pending.append(f"Interface/CTI/CTIServer/SSLSettings/Protocols> {line}")
                try:
                    reply = request(self.store.dir, {"op": "restart", "node": "xsp1"}, timeout=10)
                except (NodeUnavailable, OSError):
                    return  # the node was killed
                assert reply["ok"], reply
                self.pending = []
                self.restarts += 1
        except BaseException as exc:  # reported by the test thread
            self.failure = exc


@pytest.mark.slow
def test_a_node_killed_mid_restart_leaves_a_state_that_loads_and_restarts(tmp_path: Path) -> None:
    """50 times: `xsp serve` is killed -9 at a random moment while a client changes the
    interface and restarts it in a loop (each restart saves the configuration and builds
    the listener's TLS context from the stored certificate, chain and key). The state
    loads with every acknowledged change, nothing acknowledged as applied awaits a
    restart, ``private/`` holds the key and nothing else (no partial or leftover file),
    and the next node starts on the same state at once and sends the right chain."""
    port = free_port()
    store, pki = configure_webex_state(tmp_path, port)
    key_file = store.resolve(store.load().node("xsp1").xsp.cti_server(HOST).certificate.key_file)
    rng = random.Random(1871)
    protocols = list(store.load().node("xsp1").xsp.cti_server(HOST).ssl.protocols)
    total_restarts = 0
    for round_ in range(NODE_KILLS):
        with (tmp_path / "serve.err").open("wb") as errors:
            proc = subprocess.Popen(xsp_command("serve", "--state", str(store.dir)),
                                    stdout=subprocess.PIPE, stderr=errors, env=child_env())
            worker = _Worker(Store(store.dir), protocols)
            thread = threading.Thread(target=worker.run, name="restarter", daemon=True)
            try:
                LineReader(proc).wait_for(r"^Serving; ", 20)
                thread.start()
                time.sleep(rng.uniform(0.02, 0.3))
            finally:
                kill9(proc)
                worker.stop.set()
                thread.join(20)
        assert not thread.is_alive()
        assert b"Traceback" not in (tmp_path / "serve.err").read_bytes()
        if worker.failure is not None:
            raise worker.failure
        total_restarts += worker.restarts
        node = Store(store.dir).load().node("xsp1")
        assert node.xsp.cti_server(HOST).ssl.protocols == worker.protocols, f"round {round_}"
        # Killed before or after clearing: never a partial list, never a lost change.
        assert node.pending_restart in ([], worker.pending), (round_, node.pending_restart)
        assert sorted((store.dir / "private").iterdir()) == [key_file], f"round {round_}"
        protocols = worker.protocols
    assert total_restarts > NODE_KILLS  # restarts really happened between the kills
    _serves_its_chain(store, port, pki)


def _serves_its_chain(store: Store, port: int, pki: trust.DemoPKI) -> None:
    """A node on the state presents the stored certificate with its chain: a client that
    trusts only the partner's root can verify it only with the issuing CA sent."""
    context = ssl.create_default_context(cafile=str(pki.partner_ca))
    context.load_cert_chain(pki.webex_client_cert, pki.webex_client_key)
    with NodeThread(store):
        with socket.create_connection((HOST, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=HOST) as tls:
            served = tls.getpeercert(binary_form=True)
    assert served == trust.load_certificates(pki.server_cert)[0].public_bytes(Encoding.DER)
