"""One object owns the order of a node's life, as aiohttp's runner owns its sites.

Start: the state's node lock (a second node on the same state is refused before
anything listens), then the host's listeners, then the control socket, so a shell
that reaches the socket finds the listeners up. Stop, in the reverse order: no new
control requests, then the host tells its channels and closes, then the lock is
released. The live page, when the node has one, starts after the listeners (it reads
them) and stops before them (its followers are told the node stops). ``xsp serve``, the shell's background node, ``xsp doctor --probe`` and
``xsp.testing`` all run a node through this class.

Once started, the objects the process holds (modules, configuration, contexts,
listeners) are frozen out of the garbage collector's full collections (``gc.freeze``),
which otherwise walk all of them again every few thousand events: 40 to 70 ms each
for a node with 1,000 users, 13 to 20 µs per event over a burst of 3,300 events that
holds one. Objects made after the start are collected as before. The frozen ones stay
alive as they would (reference counting still frees what is released); only reference
cycles among them that become garbage wait until the node stops (``gc.unfreeze``),
when the collector sees them again.
"""
from __future__ import annotations

import asyncio
import gc

from xsp.config.store import Store
from xsp.listener.gate import quiet_accept_errors
from xsp.live.service import LiveService
from xsp.node.control import NodeLock, close_control, serve_control, socket_path
from xsp.node.handlers import handle_request
from xsp.node.host import NodeHost


class NodeService:
    def __init__(self, store: Store, *, ack_timeout: float = 5.0,
                 handshake_timeout: float = 10.0, live: LiveService | None = None) -> None:
        self.store = store
        self.host = NodeHost(store, ack_timeout=ack_timeout, handshake_timeout=handshake_timeout)
        self.live = live
        self.lock = NodeLock(store.dir)
        self._control: asyncio.AbstractServer | None = None
        self._frozen = False  # gc.freeze() since start

    @property
    def control_socket(self) -> str:
        return str(socket_path(self.store.dir))

    def acquire(self) -> None:
        """Take the node lock (NodeAlreadyRunning when a node runs on the state)."""
        self.lock.acquire()

    async def start(self) -> None:
        """Listeners, then the control socket; the lock must be held (``acquire``)."""
        quiet_accept_errors(asyncio.get_running_loop())
        try:
            await self.host.start()
            if self.live is not None:
                await self.live.start(self.host)
            self._control = await serve_control(
                self.store.dir, lambda r: handle_request(self.host, r))
        except BaseException:
            await self.stop()
            raise
        gc.freeze()
        self._frozen = True

    async def stop(self) -> None:
        try:
            if self._control is not None:
                await close_control(self._control, self.store.dir)
                self._control = None
            if self.live is not None:
                await self.live.stop(self.host)
            await self.host.stop()
        finally:
            if self._frozen:
                self._frozen = False
                gc.unfreeze()
            self.release()

    def release(self) -> None:
        self.lock.release()
        if self.live is not None:
            self.live.close()  # bound at the start, whether or not it ever served
