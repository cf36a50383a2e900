"""Material for the CUCM tests: a state holding a CUCM node (made as `emu addnode` makes
it), its services running on free loopback ports in a loop thread, and a blocking CAPF
client over real TLS."""
from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Coroutine, TypeVar

from xsp.config.cucm import CucmSettings
from xsp.config.model import Node
from xsp.config.store import Store
from xsp.cucm import capfenrol
from xsp.cucm.capfclient import CapfClientSession
from xsp.cucm.platform import new_settings, write_ctl
from xsp.cucm.runtime import CucmRuntime

HOST = "127.0.0.1"
NODE = "cucm1"
T = TypeVar("T")


def add_cucm_node(store: Store, *, mixed: bool = True) -> None:
    store.load()
    settings = new_settings(store, NODE, "cucm1.example.com")
    ports = settings.ports
    ports.tftp = ports.http = ports.capf = ports.cti = ports.cti_tls = 0  # the system picks
    with store.edit() as deployment:
        deployment.nodes.append(Node(NODE, "CUCM", cucm=settings))
    if mixed:
        change(store, lambda s: setattr(s, "cluster_security_mode", 1))
        change(store, lambda s: setattr(s, "ctl_timestamp", write_ctl(store, NODE, s)[0]))


def change(store: Store, mutate: Callable[[CucmSettings], Any]) -> None:
    with store.edit() as deployment:
        mutate(deployment.node(NODE).cucm_settings)


def settings(store: Store) -> CucmSettings:
    return store.load().node(NODE).cucm_settings


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def running(store: Store, **options: Any) -> Iterator[CucmRuntime]:
    loop = LoopThread()
    runtime = CucmRuntime(store, NODE, **options)
    try:
        loop.call(runtime.start())
        yield runtime
    finally:
        loop.call(runtime.stop())
        loop.close()


def capf_context(version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


def enrol(port: int, client: CapfClientSession, context: ssl.SSLContext | None = None) -> CapfClientSession:
    """Run one CAPF session to its END_SESSION over TLS."""
    return capfenrol.enrol(HOST, port, client, context=context or capf_context()).session


def jtapi_options(runtime: CucmRuntime, directory: Path, user: str, password: str, **kw: Any) -> Any:
    """Options of a JTAPI-like client aimed at ``runtime``'s TFTP, CAPF and CTIManager ports."""
    from xsp.cucm.jtapi import JtapiOptions
    assert runtime.tftp and runtime.capf and runtime.cti and runtime.cti_tls
    return JtapiOptions(user=user, password=password, directory=directory, host=HOST,
                        tftp_port=runtime.tftp.port, capf_port=runtime.capf.port,
                        cti_port=runtime.cti.port, cti_tls_port=runtime.cti_tls.port, **kw)
