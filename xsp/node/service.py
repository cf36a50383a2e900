"""One object owns the order of a node's life, as aiohttp's runner owns its sites.

Start: the state's node lock (a second node on the same state is refused before
anything listens), then the host's listeners, then the control socket, so a shell
that reaches the socket finds the listeners up. Stop, in the reverse order: no new
control requests, then the host tells its channels and closes, then the lock is
released. The live page, when the node has one, starts after the listeners (it reads
them) and stops before them (its followers are told the node stops). ``xsp serve``, the shell's background node, ``xsp doctor --probe`` and
``xsp.testing`` all run a node through this class.

Once started, the objects the process holds are frozen out of the garbage collector's
full collections until the node stops (``heap``).
"""
from __future__ import annotations

import asyncio

from xsp.config.store import Store
from xsp.listener.gate import quiet_accept_errors
from xsp.live.service import LiveService
from xsp.node.control import NodeLock, close_control, serve_control, socket_path
from xsp.node import heap
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
        self._frozen = False  # heap.freeze() since start

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
        heap.freeze()
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
                heap.thaw()
            self.release()

    def release(self) -> None:
        self.lock.release()
        if self.live is not None:
            self.live.close()  # bound at the start, whether or not it ever served
