"""A node, a Webex-like client and a call driver for other projects' tests.

Synchronous on purpose: a test needs no asyncio plugin. The node and the client each
run their own event loop in a background thread; every call here blocks until done.
The pytest fixtures in ``xsp.pytest_plugin`` are thin wrappers over these classes::

    with RunningNode.start(tmp_path) as node, node.webex_client() as client:
        client.subscribe("alice@example.com")
        assert client.next_event().type == "CallSubscriptionEvent"
        node.call("alice@example.com", "bob@example.com", answer_after=0.1, release_after=0.1)
"""
from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xsp_trust as trust
from xsp.cli.engine import Engine, Result
from xsp.config.store import Store
from xsp.cti.calls import CallResult
from xsp.live.service import LiveService
from xsp.webex.received import XsiEvent
from xsp.node.addresses import free_port
from xsp.node.managed import ManagedNodeControl
from xsp.node.background import NodeThread
from xsp.node.loop import LoopThread
from xsp.procedure import Files, webex_procedure
from xsp.webex.client import WebexClient, tls_context
from xsp.cli.cucm_engine import CucmEngine
from xsp.cucm import jtapi
from xsp.cucm.procedure import SecureCtiSetup
from xsp.cucm.runtime import CucmRuntime

def shell_engine(store: Store, node_name: str | None = None) -> Engine:
    """A CLI engine whose ``emu`` commands reach the state's node, started here on need."""
    return Engine(store, node_name, ManagedNodeControl(store))


class CommandFailed(AssertionError):
    pass


class RunningNode:
    """An emulated XSP on a free loopback port, configured for Webex with the demo PKI."""

    host = "127.0.0.1"

    def __init__(self, base: Path, port: int, *, ack_timeout: float = 5.0,
                 live: bool = False) -> None:
        self.base = Path(base)
        self.port = port
        self.xsi_port: int | None = None
        self.store = Store(self.base / "state")
        self.pki = trust.make_demo_pki(self.base / "pki", ips=[self.host])
        self._ack_timeout = ack_timeout
        # The live page on a free loopback port when asked for (``live_url``).
        self._live = LiveService.open(self.host, 0) if live else None
        self._thread = NodeThread(self.store, ack_timeout=ack_timeout, live=self._live)
        self._control = ManagedNodeControl(self.store)
        self._engines: dict[str, Engine] = {}

    @classmethod
    def start(cls, base: Path, *, port: int | None = None, ack_timeout: float = 5.0,
              configure: bool = True, live: bool = False) -> "RunningNode":
        node = cls(base, port or free_port(), ack_timeout=ack_timeout, live=live)
        node._thread.start()
        if configure:
            node.apply_webex_configuration()
        return node

    def apply_webex_configuration(self) -> None:
        """The guide's procedure, through the real CLI, then a restart."""
        split = self.base / "split"
        plan, _ = trust.split_bundle(self.pki.combined_chain, split)
        files = Files(anchors=tuple((f.alias, split / f.name) for f in plan.files),
                      server_key=self.pki.server_key, server_cert=self.pki.server_cert,
                      server_chain=self.pki.server_chain)
        for step in webex_procedure(self.host, self.port, files):
            self.cli(step.line, node="as1" if step.node == "AS" else "xsp1")

    def cli(self, line: str, *, node: str = "xsp1", check: bool = True) -> Result:
        """Run a BroadWorks CLI line on a node (``as1`` or ``xsp1``); raise if it fails."""
        engine = self._engines.get(node)
        if engine is None:
            engine = self._engines[node] = Engine(self.store, node, self._control)
        result = engine.execute(line)
        if check and not result.ok:
            raise CommandFailed(f"{engine.prompt}{line}: {result.text}")
        return result

    def restart(self) -> list[str]:
        return self.cli("emu restart").lines

    @property
    def live_url(self) -> str:
        if self._live is None:
            raise RuntimeError("this node was started without its live page (live=True)")
        return self._live.url

    def restart_process(self) -> None:
        """Stop the node and start it again on the same state, ports and live page, as
        when its process is restarted: every connection and channel ends."""
        self._thread.stop()
        if self._live is not None:
            self._live = LiveService.open(self._live.host, self._live.port)
        self._thread = NodeThread(self.store, ack_timeout=self._ack_timeout, live=self._live)
        self._thread.start()

    def client_context(self) -> ssl.SSLContext:
        """What Webex presents: the demo client certificate; it verifies the partner CA."""
        return tls_context(str(self.pki.webex_client_cert), str(self.pki.webex_client_key),
                           str(self.pki.partner_ca))

    def enable_xsi(self, port: int | None = None) -> int:
        """Give the node its Xsi interface (``emu xsi``, then a restart); its port."""
        self.xsi_port = port or free_port()
        self.cli(f"emu xsi {self.xsi_port}")
        self.restart()
        return self.xsi_port

    def webex_client(self, **options: Any) -> "WebexSession":
        """A client on the CTI interface, as Webex connects; with ``transport="http"`` or
        ``"ws"`` on the Xsi interface (``enable_xsi`` first)."""
        port = self.port
        if options.get("transport", "cti") != "cti":
            if self.xsi_port is None:
                raise CommandFailed("the node has no Xsi interface; call enable_xsi() first")
            port = self.xsi_port
        return WebexSession(self.host, port, self.client_context(), **options)

    def call(self, caller: str, callee: str, **timing: Any) -> CallResult:
        """A simulated call, run to its end; its events reach the subscribers."""
        simulator = self._thread.host.simulator
        return self._thread.call(simulator.run_call(caller, callee, **timing))

    def stop(self) -> None:
        self._control.close()
        self._thread.stop()

    def __enter__(self) -> "RunningNode":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WebexSession:
    """A connected Webex-like client (one channel open), driven synchronously."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, **options: Any) -> None:
        self._loop = LoopThread("xsp-webex-client")
        self.client = WebexClient(host, port, ssl_context=context, **options)
        try:
            self._loop.run(self.client.open())
        except BaseException:
            self._loop.close()
            raise
        self._events = self.client.events().__aiter__()

    def subscribe(self, user_id: str) -> str:
        return self._loop.run(self.client.subscribe(user_id))

    def next_event(self, timeout: float = 10.0) -> XsiEvent:
        """The next event (already acknowledged); TimeoutError when none comes in time."""
        return self._loop.run(asyncio.wait_for(anext(self._events), timeout), timeout + 1)

    def events(self, count: int, timeout: float = 10.0) -> list[XsiEvent]:
        return [self.next_event(timeout) for _ in range(count)]

    def close(self) -> None:
        try:
            self._loop.run(self.client.close())
        finally:
            self._loop.close()

    def __enter__(self) -> "WebexSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class CallDriver:
    """Simulated calls on a running node."""

    node: RunningNode

    def call(self, caller: str, callee: str, **timing: Any) -> CallResult:
        return self.node.call(caller, callee, **timing)


class RunningCucm:
    """An emulated CUCM publisher on free loopback ports, configured through its own CLI:
    mixed mode, a secure application user (``secure_user``, CAPF profile ``instance_id``
    pending with ``auth_string``), a non-secure one (``plain_user``), both in "Standard
    CTI Enabled" and controlling ``phone``. ``jtapi()`` connects a JTAPI-like client."""

    host = "127.0.0.1"
    name = "cucm1"
    setup = SecureCtiSetup()
    secure_user, plain_user, password = setup.secure_user, setup.plain_user, setup.password
    instance_id, auth_string, phone = setup.instance_id, setup.auth_string, setup.phone

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.store = Store(self.base / "state")
        self._control = ManagedNodeControl(self.store)
        self._loop: LoopThread | None = None
        self.runtime = CucmRuntime(self.store, self.name)

    @classmethod
    def start(cls, base: Path) -> "RunningCucm":
        node = cls(base)
        try:
            node.configure()
            node._loop = LoopThread("xsp-cucm")
            node._loop.run(node.runtime.start())
        except BaseException:
            node.stop()
            raise
        return node

    def configure(self) -> None:
        """``emu addnode``, the services on free ports, then the setup's admin: lines."""
        self._check(Engine(self.store, None, self._control), f"emu addnode {self.name} CUCM")
        cucm = CucmEngine(self.store, self.name, self._control)
        for service in ("tftp", "http", "capf", "cti", "cti-tls"):
            self._check(cucm, f"emu set-port {service} 0")
        for _, line in self.setup.lines():
            self._check(cucm, line)

    @staticmethod
    def _check(engine: Engine | CucmEngine, line: str) -> None:
        result = engine.execute(line)
        if not result.ok:
            raise CommandFailed(f"{engine.prompt}{line}: {result.text}")

    def options(self, *, secure: bool = True, **fields: Any) -> jtapi.JtapiOptions:
        runtime = self.runtime
        assert runtime.tftp and runtime.capf and runtime.cti and runtime.cti_tls, runtime.problems
        fields.setdefault("user", self.secure_user if secure else self.plain_user)
        fields.setdefault("password", self.password)
        if secure:
            fields.setdefault("instance_id", self.instance_id)
            fields.setdefault("auth_string", self.auth_string)
        return jtapi.JtapiOptions(directory=fields.pop("directory", self.base / "jtapi"), host=self.host,
                                  tftp_port=runtime.tftp.port, capf_port=runtime.capf.port,
                                  cti_port=runtime.cti.port, cti_tls_port=runtime.cti_tls.port,
                                  secure=secure, **fields)

    def jtapi(self, *, secure: bool = True, devices: tuple[str, ...] | None = None,
              **fields: Any) -> jtapi.CtiConnection:
        """A JTAPI-like client through CTL, CAPF (first time) and provider open, with the
        devices (default: the phone) in service."""
        devices = (self.phone,) if devices is None else devices
        return jtapi.start(self.options(secure=secure, devices=devices, **fields))

    def trace(self) -> list[str]:
        """CTIManager's SDL trace lines so far."""
        return self.runtime.manager.trace.lines() if self.runtime.manager else []

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.run(self.runtime.stop())
            self._loop.close()
            self._loop = None
        self._control.close()

    def __enter__(self) -> "RunningCucm":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
