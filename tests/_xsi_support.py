"""Material for the Xsi-Events tests: a PKI, the application served over real mTLS
sockets on 127.0.0.1 (in the test's loop, or on a thread for subprocess clients), a
fake clock for the hub, and a reader of what a channel has queued.
"""
from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from xsp_trust import CertificateAuthority, IssuedCert
from xsp.xsi.app import create_app
from xsp.cti.auth import Authorizer, ClientPolicy
from xsp.cti.channels import Channel
from xsp.cti.directory import DirectoryUser
from xsp.cti.documents import ChannelRequest, SubscriptionRequest
from xsp.cti.hub import SHUTTING_DOWN, EventHub
from xsp.ctiproto.listener import CTIListener
from xsp.webex.client import WebexClient
from xsp.webex.received import Received, read_document

T = TypeVar("T")
HOST = "127.0.0.1"
WEBEX_CN = "bwcticlient.webex.com"
NS = "http://schema.broadsoft.com/xsi"

# alice and bob share a group; carol is elsewhere in the enterprise; dave is in another.
USERS = (
    DirectoryUser("alice@example.com", "Sales", "Acme"),
    DirectoryUser("bob@example.com", "Sales", "Acme"),
    DirectoryUser("carol@example.com", "Support", "Acme"),
    DirectoryUser("dave@example.com", "Sales", "Globex"),
)


def directory() -> tuple[DirectoryUser, ...]:
    return USERS


@dataclass(frozen=True)
class PKI:
    root: CertificateAuthority
    server: IssuedCert
    webex: IssuedCert          # the CN Webex presents, issued under the trusted root
    intruder: IssuedCert       # trusted issuer, CN not a ClientIdentity
    stranger: IssuedCert       # Webex's CN from a CA the server does not trust
    other_root: CertificateAuthority


@functools.cache
def pki() -> PKI:
    root = CertificateAuthority.new_root("Xsi Test Root", key_type="ec")
    issuing = root.new_intermediate("Xsi Test Issuing CA", key_type="ec")
    other_root = CertificateAuthority.new_root("Xsi Other Root", key_type="ec")
    return PKI(root=root,
               server=issuing.issue_server(HOST, dns_names=["localhost"], key_type="ec"),
               webex=issuing.issue_client(WEBEX_CN, key_type="ec"),
               intruder=issuing.issue_client("intruder.example.com", key_type="ec"),
               stranger=other_root.issue_client(WEBEX_CN, key_type="ec"),
               other_root=other_root)


def server_context(*, require_certificate: bool = True) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki().server.configure_cert(context)
    pki().root.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED if require_certificate else ssl.CERT_OPTIONAL
    return context


def client_context(cert: IssuedCert | None = None, *,
                   trust: CertificateAuthority | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    (trust or pki().root).configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


@dataclass
class Policy:
    """What the authorizer reads on every request; tests change it between requests."""

    identities: set[str] = field(default_factory=lambda: {WEBEX_CN})
    allow_client_app: bool = True

    def authorizer(self, require_certificate: bool = True) -> Authorizer:
        return Authorizer(lambda: ClientPolicy(self.identities, self.allow_client_app),
                          require_certificate=require_certificate)


def make_hub(**options: Any) -> EventHub:
    options.setdefault("ack_timeout", 5.0)
    return EventHub(directory, **options)


@asynccontextmanager
async def serve(hub: EventHub, policy: Policy | None = None, *,
                context: ssl.SSLContext | None | bool = True,
                require_certificate: bool = True, close_hub: bool = True) -> AsyncIterator[int]:
    """The application on 127.0.0.1 (mTLS unless ``context`` is None); yields the port.

    On the way out the hub is closed (as the node does on stop) unless ``close_hub`` is
    false, which leaves it to other listeners of the same hub.
    """
    policy = policy or Policy()
    app = create_app(hub, policy.authorizer(require_certificate), label="test 127.0.0.1:8012")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tls = server_context(require_certificate=require_certificate) if context is True else context
    site = web.TCPSite(runner, HOST, 0, ssl_context=tls or None)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        if close_hub:
            await hub.close()
        await runner.cleanup()


@asynccontextmanager
async def serve_cti(hub: EventHub, policy: Policy | None = None, *, close_hub: bool = True,
                    **options: Any) -> AsyncIterator[CTIListener]:
    """A CTI interface listener on 127.0.0.1 with mTLS; yields it (``bound`` has the port).

    On the way out its connections end as on a shutdown, and the hub is closed unless
    ``close_hub`` is false.
    """
    policy = policy or Policy()
    listener = CTIListener(hub, policy.authorizer(), HOST, 0, server_context(),
                           label="test 127.0.0.1:8012", **options)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()
        if close_hub:
            await hub.close()
        await listener.end_connections(SHUTTING_DOWN)


def webex(port: int, cert: IssuedCert | None = None, **options: Any) -> WebexClient:
    options.setdefault("request_timeout", 5.0)
    options.setdefault("transport", "http")  # serve() is the Xsi interface
    return WebexClient(HOST, port, ssl_context=client_context(cert or pki().webex), **options)


async def raw(port: int, method: str, path: str, body: str | None = None,
              cert: IssuedCert | None = None) -> tuple[int, str, dict[str, str]]:
    """One HTTPS request with a client certificate: status, body, headers."""
    context = client_context(cert or pki().webex)
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"https://{HOST}:{port}{path}", data=body,
                                   ssl=context) as response:
            return response.status, await response.text(), dict(response.headers)


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def next_events(client: WebexClient, count: int, timeout: float = 5.0) -> list[Any]:
    """The next ``count`` events the client yields."""
    events: list[Any] = []

    async def collect() -> None:
        async for event in client.events():
            events.append(event)
            if len(events) >= count:
                return
    await asyncio.wait_for(collect(), timeout)
    return events


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def written(channel: Channel, timeout: float = 0.05) -> list[str | None]:
    """The documents the hub queued on the channel, as written; None marks its end."""
    found: list[str | None] = []
    while True:
        try:
            document = await asyncio.wait_for(channel.next_document(), timeout)
        except asyncio.TimeoutError:
            return found
        found.append(document)
        if document is None:
            channel.finished()  # as a transport does once it has written everything
            return found


async def queued(channel: Channel, timeout: float = 0.05) -> list[Received | None]:
    """What the channel has queued, parsed; None marks the end of the channel."""
    return [None if d is None else read_document(d) for d in await written(channel, timeout)]


def channel_request(set_id: str = "set-1", **options: Any) -> ChannelRequest:
    return ChannelRequest(set_id, **options)


def subscription_request(set_id: str = "set-1", event: str = "Advanced Call",
                         **options: Any) -> SubscriptionRequest:
    options.setdefault("application_id", "test-app")
    return SubscriptionRequest(event, set_id, **options)


class ServerThread:
    """The application on its own loop thread, for clients that are subprocesses."""

    def __init__(self, hub_factory: Callable[[], EventHub] = make_hub,
                 policy: Policy | None = None, *, interface: str = "xsi") -> None:
        """``interface`` "xsi" serves HTTP Xsi-Events, "cti" the CTI interface protocol."""
        self.interface = interface
        self.loop = asyncio.new_event_loop()
        self.policy = policy or Policy()
        self._hub_factory = hub_factory
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.hub: EventHub | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.hub = self._hub_factory()
        if self.interface == "cti":
            async with serve_cti(self.hub, self.policy) as listener:
                self.port = listener.bound[1]
                self._ready.set()
                await self._stop.wait()
            return
        async with serve(self.hub, self.policy) as port:
            self.port = port
            self._ready.set()
            await self._stop.wait()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test server did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def credential_files(tmp: Path, cert: IssuedCert | None = None,
                     trust: CertificateAuthority | None = None) -> Iterator[dict[str, str]]:
    """--cert/--key/--ca files for the CLI (the certificate file holds its chain)."""
    cert = cert or pki().webex
    paths = {"cert": tmp / "client.pem", "key": tmp / "client.key", "ca": tmp / "ca.pem"}
    paths["cert"].write_bytes(cert.cert_pem + cert.chain_pem)
    paths["key"].write_bytes(cert.key_pem)
    paths["key"].chmod(0o600)
    paths["ca"].write_bytes((trust or pki().root).cert_pem)
    yield {name: str(path) for name, path in paths.items()}


@contextmanager
def refusing_tls_server() -> Iterator[int]:
    """A TLS 1.2 server that trusts no client certificate: OpenSSL refuses the client's
    certificate inside the handshake and sends the ``unknown_ca`` alert before closing."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki().server.configure_cert(context)
    pki().other_root.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    listener = socket.create_server((HOST, 0))
    listener.settimeout(10)

    def serve_one() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            try:
                with context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the refusal this server exists for

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(10)
