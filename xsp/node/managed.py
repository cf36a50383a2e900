"""How the shell and the command line reach the node of a state.

``ManagedNodeControl`` is the node control the CLI engine is given: it talks to the
node already running on the state (``xsp serve`` or another shell), or, when none
runs, starts one in this process on first need and keeps it until the shell ends.
Refusals are ``NodeError`` (one line each); the emulator commands turn them into
command errors.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from xsp.config.store import Store
from xsp.node.control import (PING_TIMEOUT, NodeAlreadyRunning, NodeError, NodeUnavailable,
                              node_running, request)

if TYPE_CHECKING:
    from xsp.live.service import LiveService
    from xsp.node.background import NodeThread

log = logging.getLogger("xsp.node")

# How long a shell waits for a node another process is starting on the same state (it
# holds the node lock but opens its control socket only once its listeners are up).
STARTING_WAIT = 30.0
# Without the state directory: a transcript recorded here replays the same elsewhere.
LIVES_HERE = "This node lives only as long as this xsp command; xsp serve runs one that stays."


class ManagedNodeControl:
    errors: tuple[type[Exception], ...] = (NodeError,)

    def __init__(self, store: Store, *, start_now: bool = False,
                 live: "LiveService | None" = None) -> None:
        self.store = store
        self.live = live  # the live page of the node this control starts, if it starts one
        self.embedded: "NodeThread | None" = None
        self._starting = threading.Lock()
        if start_now:
            self.start_in_background()

    def start_in_background(self) -> None:
        """Start the node in a thread of its own: a command that needs it meanwhile waits
        on the lock. The shell calls this once its first prompt is drawn, so the prompt
        does not share the interpreter with the node's start."""
        threading.Thread(target=self._start_quietly, name="xsp-node-start", daemon=True).start()

    def _start_quietly(self) -> None:
        try:
            self._ensure()
        except Exception:  # reported when a command needs the node
            log.exception("the node did not start")

    def _ensure(self) -> bool:
        """True when a node runs on the state (here or elsewhere) after this call."""
        with self._starting:
            if self.embedded is not None:
                return True
            if node_running(self.store.dir):
                return True
            # The node's modules (its listeners, aiohttp) load here, in the shell's
            # background start, not before its first prompt.
            from xsp.node.background import NodeThread

            deadline = time.monotonic() + STARTING_WAIT
            while True:
                try:
                    self.embedded = NodeThread(self.store, live=self.live).start()
                    return True
                except NodeAlreadyRunning:
                    # Two shells started at once: the one that lost the lock waits for the
                    # other's socket (or its lock, should that node fail to start) rather
                    # than telling its user that no node runs.
                    if node_running(self.store.dir):
                        return True
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.05)

    def send(self, payload: dict[str, Any]) -> list[str]:
        self._ensure()
        try:
            reply = request(self.store.dir, payload)
        except NodeUnavailable as exc:
            raise NodeError(f"Error: {exc}") from None
        if not reply.get("ok"):
            raise NodeError("\n".join(reply["lines"]))
        lines: list[str] = reply["lines"]
        return lines

    def restart(self, store: Store, node_name: str) -> list[str]:
        lines = self.send({"op": "restart", "node": node_name})
        if self.embedded is not None:
            # "listening on" would read as a server left running after a script's last line.
            lines.append(LIVES_HERE)
        return lines

    def status(self, store: Store, node_name: str) -> list[str]:
        # Asking for the status never starts a node, but waits for one being started.
        with self._starting:
            pass
        if self.embedded is not None:
            where = "in this shell"
        else:
            try:
                pid = request(self.store.dir, {"op": "ping"}, timeout=PING_TIMEOUT).get("pid")
            except (NodeUnavailable, OSError):
                return ["Node process: not running (emu restart starts it in this shell; "
                        "xsp serve runs it on its own)"]
            where = "in this process" if pid == os.getpid() else f"in another process (pid {pid})"
        return [f"Node process: running {where}", *self.send({"op": "status", "node": node_name})]

    def close(self) -> None:
        with self._starting:
            pass
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
        elif self.live is not None:
            self.live.close()  # bound for a node that another process runs
