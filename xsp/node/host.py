"""The running emulated deployment: the interfaces of every XSP|ADP node of a state.

One ``Listener`` per ``CTIServer`` entry, speaking the CTI interface protocol
(``xsp.ctiproto``), and, when the node has an Xsi port (``emu xsi``, the emulator's way
to configure it), one Xsi interface listener per interface address on that port,
serving Xsi-Events over HTTP with its own aiohttp application and runner. A restart
replaces each listener with one built on a fresh ``SSLContext`` while the process keeps
running. Subscriptions live on the Application Server, so one event hub serves every
listener of every node: a channel set may hold channels on two XSPs, or on both
interfaces, and an event not acknowledged on one is sent again on another. Shutdown is
ordered: stop accepting, tell every open channel it is terminated, then close the
connections.

Restarts of one node run one at a time (a per-node lock): two ``emu restart`` at the
same moment, from two shells or a shell and a control request, would otherwise each
close and open the node's listeners in turn, and one could open a listener into a
runtime the other had just replaced, leaving it on the port untracked, serving the
old TLS settings and anchors. Shutdown takes every node's lock, so it waits for a
restart in progress, and a restart asked for after it is refused.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from xsp.config import statedir
from xsp.config.model import (CTIServer, Deployment, Limits, Node, TrustAnchor, User,
                              XspSettings)
from xsp.config.store import ConfigFileError, Store
from xsp.cti.auth import Authorizer, ClientPolicy
from xsp.cti.calls import CallSimulator
from xsp.cti.hub import INTERFACE_STOPPED, SHUTTING_DOWN, EventHub, Termination
from xsp.ctiproto.listener import CTIListener
from xsp.listener.gate import ConnectionGate
from xsp.hostport import host_port
from xsp.listener.refusal import Refusal
from xsp.listener.site import TLSSite
from xsp.live.observer import NULL_OBSERVER, Observer
from xsp.node import heap
from xsp.node.addresses import bind_address
from xsp.ratelog import RateLimitedLog
from xsp.tls import capath
from xsp.tls.context import build_server_context
from xsp.tls.credentials import ServerCredentials
from xsp.tls.effective import plan_for
from xsp.tls.suites import SuitePlan
from xsp.xsi.app import create_app

if TYPE_CHECKING:
    from xsp.cucm.runtime import CucmRuntime

log = logging.getLogger("xsp.node")

KEEPALIVE = 75.0
# Under the state: the trust anchors of running listeners as capath directories.
ANCHORS_DIR = "anchors"
# Who may use the node: the ClientIdentity CNs, and each node's allowClientApp.
Admission = tuple[frozenset[str], tuple[tuple[str, bool], ...]]
# How often the node looks whether ClientIdentity or allowClientApp changed (a stat of
# the configuration file while nothing did).
ADMISSION_CHECK = 0.25


@dataclass
class Listener:
    """One interface of a node: the CTI interface on a CTIServer's address and port, or
    (``runner`` set) the Xsi interface on the same address and the node's Xsi port."""

    node: str
    server: CTIServer
    host: str
    note: str | None
    runner: web.AppRunner | None = None
    site: TLSSite | CTIListener | None = None
    suite_plan: SuitePlan | None = None
    problem: str | None = None  # why it is not accepting, in plain words
    refusals: int = 0
    port: int | None = None     # the Xsi port; None for the CTI interface

    @property
    def label(self) -> str:
        return host_port(self.server.ip, self.configured_port)

    @property
    def configured_port(self) -> int:
        return self.port if self.port is not None else self.server.port

    def status_line(self) -> str:
        mode = "TLS" if self.server.secure else "plain TCP"
        if self.server.secure:
            mode += ", client certificate required" if self.server.client_auth_req else ", no client certificate"
        where = f"listening on {host_port(self.host, self.bound_port)}" if self.site else "not listening"
        line = f"  {self.label}  {mode}; {where}"
        if self.note:
            line += f" ({self.note})"
        if self.problem:
            line += f"; {self.problem}"
        if self.refusals:
            line += f"; {self.refusals} connection(s) refused since the restart (see xsp.log)"
        return line

    @property
    def bound_port(self) -> int:
        return self.site.bound[1] if self.site else self.configured_port


class HostStopped(RuntimeError):
    """A restart asked for while (or after) the node shuts down."""


@dataclass
class NodeRuntime:
    name: str
    listeners: dict[str, Listener] = field(default_factory=dict)
    xsi: dict[str, Listener] = field(default_factory=dict)  # the Xsi interface, by address

    def all(self) -> list[Listener]:
        return [*self.listeners.values(), *self.xsi.values()]


class NodeHost:
    """Runs the CTI side of every XSP|ADP node in a state."""

    def __init__(self, store: Store, *, ack_timeout: float = 5.0,
                 handshake_timeout: float = 10.0) -> None:
        self.store = store
        self.handshake_timeout = handshake_timeout
        self.hub = EventHub(self._users, ack_timeout=ack_timeout)
        # One simulator for the node, so call ids stay unique across requests.
        self.simulator = CallSimulator(self.hub)
        self.nodes: dict[str, NodeRuntime] = {}
        self._last_good: Deployment | None = None
        self._problem: str | None = None
        # Trust anchor lists of this start -> their capath directory, and the
        # directories each node's listeners read.
        self._anchor_dirs: dict[int, tuple[list[TrustAnchor], Path]] = {}
        self._node_anchor_dirs: dict[str, set[Path]] = {}
        self.observer: Observer = NULL_OBSERVER
        self.cucm: dict[str, "CucmRuntime"] = {}
        self.limits = Limits()
        # One count of connections for every listener: they share the process's descriptors.
        self.gate = ConnectionGate(self.limits.connections, self.limits.connections_per_client)
        self._watcher: asyncio.Task[None] | None = None
        self._quiet = RateLimitedLog(log)
        self._life: dict[str, asyncio.Lock] = {}  # per node: its restarts run one at a time
        self._stopping = False

    def watch(self, observer: Observer | None) -> None:
        """Report to ``observer`` (the live page) from now on; None stops reporting."""
        self.observer = self.hub.observer = observer or NULL_OBSERVER

    # --- what the listeners read live ------------------------------------------------

    def _deployment(self) -> Deployment:
        """The stored configuration; while the file is invalid (a hand edit), the last
        good one, so requests keep being served, and the log says once what is wrong."""
        try:
            deployment = self.store.load()
        except ConfigFileError as exc:
            if self._last_good is None:
                raise
            if str(exc) != self._problem:
                self._problem = str(exc)
                log.error("the configuration cannot be used; serving from the last good one "
                          "until it is fixed: %s", exc)
            return self._last_good
        if self._problem is not None:
            self._problem = None
            log.info("the configuration is valid again; serving from it")
        self._last_good = deployment
        return deployment

    def _users(self) -> list[User]:
        return self._deployment().users

    def _client_policy(self, node: str) -> ClientPolicy:
        deployment = self._deployment()  # one read of the store for both
        return ClientPolicy(deployment.client_identities,
                            deployment.node(node).xsp_settings.allow_client_app)

    # --- life cycle ------------------------------------------------------------------

    def _apply_limits(self) -> None:
        """The limits as stored now: at start, and at each restart (``emu limit``)."""
        self.limits = self._deployment().limits
        self.gate.resize(self.limits.connections, self.limits.connections_per_client)
        self.hub.limits = self.limits
        self.hub.max_channel_expires = self.limits.max_channel_expires
        self.hub.max_subscription_expires = self.limits.max_subscription_expires

    async def start(self) -> None:
        self._apply_limits()
        for node in self._deployment().nodes:
            if node.is_xsp:
                await self._start_node(node)
            elif node.kind == "CUCM":
                await self._start_cucm(node.name)
        self.observer.nodes_changed()
        self._watcher = asyncio.ensure_future(self._watch_admission())

    def _admission(self) -> Admission:
        deployment = self._deployment()
        return (frozenset(i.lower() for i in deployment.client_identities),
                tuple((n.name, n.xsp_settings.allow_client_app)
                      for n in deployment.nodes if n.xsp is not None))

    async def _watch_admission(self) -> None:
        """ClientIdentity and allowClientApp apply at once, as on BroadWorks: requests
        read them each time, and when they change (a shell, a hand edit) the channels of
        a client no longer allowed end at once instead of at their expiry."""
        last: Admission | None = None
        while True:
            now: Admission | None
            try:
                now = self._admission()
            except Exception as exc:  # noqa: BLE001 - the watch must outlive a bad read
                # Read again at the next look; requests are refused meanwhile if need be.
                self._quiet.warning("admission", "cannot read who may use the node: %s", exc)
                now = last
            if last is not None and now != last:
                ended = self.hub.revoke()
                if ended:
                    log.info("client admission changed: %d channel(s) of clients no longer "
                             "allowed ended", ended)
            last = now
            await asyncio.sleep(ADMISSION_CHECK)

    async def _start_cucm(self, name: str) -> None:
        from xsp.cucm.runtime import CucmRuntime
        runtime = CucmRuntime(self.store, name, observe=lambda: self.observer, gate=self.gate)
        self.cucm[name] = runtime
        await runtime.start()
        self._clear_pending(name)

    async def _start_node(self, node: Node) -> None:
        runtime = NodeRuntime(node.name)
        self.nodes[node.name] = runtime
        self._node_anchor_dirs[node.name] = set()
        xsp = node.xsp_settings
        for server in xsp.cti_servers:
            await self._open(runtime, xsp, server)
        if xsp.xsi_port is not None:
            for server in xsp.cti_servers:
                await self._open(runtime, xsp, server, xsi_port=xsp.xsi_port)
        self._anchor_dirs.clear()
        in_use = set().union(*self._node_anchor_dirs.values())
        capath.prune(self.store.dir / ANCHORS_DIR, in_use)
        self._clear_pending(node.name)

    def _authorizer(self, node: str, server: CTIServer) -> Authorizer:
        return Authorizer(lambda: self._client_policy(node),
                          require_certificate=server.secure and server.client_auth_req)

    async def _open(self, runtime: NodeRuntime, xsp: XspSettings, server: CTIServer, *,
                    xsi_port: int | None = None) -> None:
        host, note = bind_address(server.ip)
        listener = Listener(runtime.name, server, host, note, port=xsi_port)
        if xsi_port is None:
            runtime.listeners[server.ip] = listener
        else:
            app = create_app(self.hub, self._authorizer(runtime.name, server),
                             label=f"{runtime.name} {server.ip}:{xsi_port}")
            # An idle connection is closed after KEEPALIVE seconds (aiohttp's default is
            # an hour); the handshake timeout protects only the TLS phase.
            listener.runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                            keepalive_timeout=KEEPALIVE)
            await listener.runner.setup()
            runtime.xsi[server.ip] = listener
        if note:
            log.warning("%s %s: %s", runtime.name, listener.label, note)
        await self._start_site(listener, xsp)

    def _context(self, listener: Listener, xsp: XspSettings) -> ssl.SSLContext | None:
        server = listener.server
        if not server.secure:
            return None
        certificate = server.certificate
        if certificate is None:
            raise ValueError("the interface has no server certificate")
        listener.suite_plan = plan_for(xsp, server)
        credentials = ServerCredentials.from_pem(certificate.cert_pem,
                                                 self.store.resolve(certificate.key_file),
                                                 certificate.chain_pem)
        pems, anchor_dir = self._anchors(listener.node, xsp) if server.client_auth_req else ([], None)
        return build_server_context(
            listener.suite_plan, credentials, trust_anchor_pems=pems,
            trust_anchor_dir=anchor_dir, require_client_cert=server.client_auth_req)

    def _anchors(self, node: str, xsp: XspSettings) -> tuple[list[bytes], Path | None]:
        """The node's trust anchors as a capath directory, built once per set, which
        OpenSSL reads as it needs them; as PEMs to insert where that cannot be built."""
        pems = [t.cert_pem for t in xsp.trusts]
        if not pems or capath.available() is not None:
            return [p.encode() for p in pems], None
        known = self._anchor_dirs.get(id(xsp.trusts))
        if known is None or known[0] is not xsp.trusts:
            parent = statedir.private_subdir(self.store.dir, ANCHORS_DIR)
            known = (xsp.trusts, capath.build(parent, pems))
            self._anchor_dirs[id(xsp.trusts)] = known
        self._node_anchor_dirs[node].add(known[1])
        return [], known[1]

    async def _start_site(self, listener: Listener, xsp: XspSettings) -> None:
        listener.problem = None
        try:
            context = self._context(listener, xsp)
        except (ValueError, ssl.SSLError, OSError, ConfigFileError) as exc:
            listener.problem = str(exc)
            log.error("%s %s: not listening: %s", listener.node, listener.label, exc)
            return
        label = f"{listener.node} {listener.label}"
        on_refusal = functools.partial(self._refused, listener)
        site: TLSSite | CTIListener
        if listener.runner is not None:
            site = TLSSite(listener.runner, listener.host, listener.configured_port, context,
                           label=label, handshake_timeout=self.handshake_timeout,
                           on_refusal=on_refusal,
                           on_admitted=lambda a: self.observer.connection_admitted(a),
                           gate=self.gate, write_timeout=self.limits.write_timeout)
        else:
            site = CTIListener(self.hub, self._authorizer(listener.node, listener.server),
                               listener.host, listener.configured_port, context, label=label,
                               handshake_timeout=self.handshake_timeout, idle_timeout=KEEPALIVE,
                               on_refusal=on_refusal,
                               on_admitted=lambda a: self.observer.connection_admitted(a),
                               gate=self.gate, write_timeout=self.limits.write_timeout)
        try:
            await site.start()
        except OSError as exc:
            listener.problem = (f"cannot listen on {host_port(listener.host, listener.configured_port)}: "
                                f"{exc.strerror}")
            log.error("%s %s: %s", listener.node, listener.label, listener.problem)
            return
        listener.site = site
        log.info("%s %s: listening on %s", listener.node, listener.label,
                 host_port(listener.host, listener.bound_port))
        why = listener.suite_plan.why_refusing if listener.suite_plan else None
        if why:
            # As on a real XSP the port is open and every handshake fails: OpenSSL has
            # no protocol left to offer and answers with a protocol_version alert.
            listener.problem = f"refusing every handshake: {why}"
            log.error("%s %s: %s", listener.node, listener.label, listener.problem)

    def _refused(self, listener: Listener, refusal: Refusal) -> None:
        listener.refusals += 1
        self.observer.connection_refused(refusal)

    async def restart(self, node_name: str) -> list[str]:
        """Apply the stored configuration to one node, as bwrestart does, in this process.

        Every listener of the node closes (its channels get ChannelTerminatedEvent and
        its connections end, so no client keeps a session made under the old settings)
        and reopens with a fresh SSLContext. Subscriptions live on the Application
        Server's hub and survive: a client that opens a new channel in the same channel
        set receives their events again.
        """
        # A restart applies the file as it is: an invalid one is refused, not replaced
        # by the last good one.
        self.store.load().node(node_name)  # an unknown node is refused without waiting
        async with self._lock(node_name):
            if self._stopping:
                raise HostStopped("the node is shutting down")
            # Read under the lock: a restart that waited applies what is stored now.
            node = self.store.load().node(node_name)
            self._apply_limits()
            if node.kind == "CUCM":
                cucm = self.cucm.pop(node_name, None)
                if cucm is not None:
                    await cucm.stop()
                await self._start_cucm(node_name)
                del cucm
                heap.refreeze()
                log.info("%s restarted", node_name)
                self.observer.nodes_changed()
                return [f"Node {node_name} restarted.", *self.status(node_name)]
            runtime = self.nodes.pop(node_name, None)
            if runtime is not None:
                await self._close(runtime)
            await self._start_node(node)
            del runtime
            heap.refreeze()
        log.info("%s restarted", node_name)
        self.observer.nodes_changed()
        return [f"Node {node_name} restarted.", *self.status(node_name)]

    def _lock(self, node_name: str) -> asyncio.Lock:
        return self._life.setdefault(node_name, asyncio.Lock())

    async def _close(self, runtime: NodeRuntime,
                     reason: Termination = INTERFACE_STOPPED) -> None:
        """Stop accepting, end every channel with ``reason`` first, close connections."""
        for listener in runtime.all():
            if listener.site is not None:
                await listener.site.stop()
        for listener in runtime.all():
            if isinstance(listener.site, CTIListener):
                await listener.site.end_connections(reason)
            if listener.runner is not None:
                await listener.runner.cleanup()

    def _clear_pending(self, node_name: str) -> None:
        if self._deployment().node(node_name).pending_restart:
            with self.store.edit() as deployment:
                deployment.node(node_name).pending_restart.clear()

    def status(self, node_name: str) -> list[str]:
        if node_name in self.cucm:
            return self.cucm[node_name].status()
        runtime = self.nodes.get(node_name)
        if runtime is None:
            return ["CTI listeners: this node is not running"]
        if not runtime.listeners:
            return ["CTI listeners: none configured (Interface/CTI/CTIServer add)"]
        lines = ["CTI listeners:", *(l.status_line() for l in runtime.listeners.values())]
        if runtime.xsi:
            lines += ["Xsi interface listeners (HTTP Xsi-Events; emu xsi):",
                      *(l.status_line() for l in runtime.xsi.values())]
        return lines

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        async with contextlib.AsyncExitStack() as held:
            # A restart in progress has taken its node out of ``nodes`` for a while.
            for name in sorted({*self.nodes, *self.cucm, *self._life}):
                await held.enter_async_context(self._lock(name))
            await self._stop()

    async def _stop(self) -> None:
        listeners = [l for runtime in self.nodes.values() for l in runtime.all()]
        for listener in listeners:
            if listener.site is not None:
                await listener.site.stop()
        await self.hub.close()  # "Server shutting down" on every open channel
        for listener in listeners:
            if isinstance(listener.site, CTIListener):
                await listener.site.end_connections(SHUTTING_DOWN)
            if listener.runner is not None:
                await listener.runner.cleanup()
        self.nodes.clear()
        for cucm in self.cucm.values():
            await cucm.stop()
        self.cucm.clear()
        self.observer.nodes_changed()

    def listener(self, node_name: str, ip: str) -> Listener:
        return self.nodes[node_name].listeners[ip]
