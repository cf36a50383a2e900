"""How the shell and the command line reach the node of a state.

``handle_request`` answers control requests inside the node. ``ManagedNodeControl`` is
what the CLI engine uses: it talks to the node already running on the state (``xsp
serve`` or another shell), or, when none runs, starts one in this process on first
need and keeps it until the shell ends.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from xsp.config.store import Store
from xsp.node.control import NodeAlreadyRunning, NodeUnavailable, node_running, request

log = logging.getLogger("xsp.node")

if TYPE_CHECKING:
    from xsp.node.host import NodeHost
    from xsp.node.background import NodeThread


async def handle_request(host: "NodeHost", req: dict[str, Any]) -> dict[str, Any]:
    op = req.get("op")
    if op == "ping":
        return {"ok": True, "lines": [], "pid": os.getpid()}
    if op == "status":
        return {"ok": True, "lines": host.status(req["node"])}
    if op == "restart":
        return {"ok": True, "lines": await host.restart(req["node"])}
    if op == "call":
        from xsp.node.handlers import run_call
        return await run_call(host, req)
    if op == "scenario":
        from xsp.node.handlers import run_scenario_request
        return await run_scenario_request(host, req)
    return {"ok": False, "lines": [f"Error: unknown control request {op!r}"]}


class ManagedNodeControl:
    def __init__(self, store: Store, *, start_now: bool = False) -> None:
        self.store = store
        self.embedded: "NodeThread | None" = None
        self._starting = threading.Lock()
        if start_now:
            # In the background, so the first prompt does not wait for the node;
            # a command that needs the node waits on the lock instead.
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
            from xsp.node.background import NodeThread
            try:
                self.embedded = NodeThread(self.store).start()
            except NodeAlreadyRunning:
                return node_running(self.store.dir)
            return True

    def send(self, payload: dict[str, Any]) -> list[str]:
        self._ensure()
        from xsp.cli.actions import CommandError
        try:
            reply = request(self.store.dir, payload)
        except NodeUnavailable as exc:
            raise CommandError(f"Error: {exc}") from None
        if not reply.get("ok"):
            raise CommandError("\n".join(reply["lines"]))
        return reply["lines"]

    def restart(self, store: Store, node_name: str) -> list[str]:
        return self.send({"op": "restart", "node": node_name})

    def status(self, store: Store, node_name: str) -> list[str]:
        # Asking for the status never starts a node, but waits for one being started.
        with self._starting:
            pass
        if self.embedded is not None:
            where = "in this shell"
        else:
            try:
                pid = request(self.store.dir, {"op": "ping"}, timeout=2.0).get("pid")
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
