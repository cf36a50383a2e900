"""Material for the node tests: a state configured through the real CLI engine with the
guide's procedure (demo PKI, split Webex CA bundle, ``emu restart``) and served by a
``NodeThread`` on a free loopback port; blocking TLS clients that report what the
client saw (alert reason, or HTTP status and body); and the node's log lines about one
client connection.

The node runs on its own thread; ``caplog`` still receives its records, but a refusal
is logged just after its alert is flushed, so the client can see the alert first:
``lines_about`` waits for the line.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import socket
import ssl
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import xsp_trust as trust
from xsp.cli.engine import Engine
from xsp.config.store import Store
from xsp.node.addresses import free_port as node_free_port
from xsp.node.managed import ManagedNodeControl
from xsp.node.background import NodeThread
from xsp.procedure import WEBEX_CLIENT_CN, Files, webex_procedure
from xsp.tls import tls13

HOST = "127.0.0.1"
NODE = "xsp1"
TRUSTS = "/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts"
PROTOCOLS = "/Interface/CTI/CTIServer/SSLSettings/Protocols"
CIPHERS = "/Interface/CTI/CTIServer/SSLSettings/Ciphers"
CERT_AUTH = ("/System/CommunicationUtility/DefaultSettings/ExternalAuthentication/"
             "CertificateAuthentication")
# Any Xsi path will do: every request is authorized before it is routed, so a client
# that passes gets 404 ErrorInfo for a channel set it does not have, not 401/403.
PROBE_PATH = "/com.broadsoft.xsi-events/v2.0/channelset/node-matrix-probe"
XSP_NS = "http://schema.broadsoft.com/XspXMLInterface"
CTI_NS = "http://schema.broadsoft.com/CTI"
# An extra trust anchor beside the two Webex ones, for clients the tests mint
# themselves (the demo PKI keeps the Webex CA keys to itself).
TEST_ANCHOR_ALIAS = "matrixtestissuing"
TLS_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def free_port(host: str = HOST) -> int:
    return node_free_port(0, host)


@dataclass(frozen=True)
class MatrixPKI:
    demo: trust.DemoPKI
    files: Files  # what the procedure uploads: the split Webex CAs, the server credentials
    test_issuing: trust.CertificateAuthority  # the extra anchor's CA
    test_issuing_file: Path
    # Clients under the extra anchor, CN bwcticlient.webex.com unless said otherwise
    expired: trust.IssuedCert
    not_yet_valid: trust.IssuedCert
    intruder: trust.IssuedCert  # CN intruder.example.com: not a ClientIdentity
    partial_chain: trust.IssuedCert  # valid, Webex's CN: vouched for by an anchor without its root
    # Clients no anchor vouches for, each presenting Webex's CN
    unknown_ca: trust.IssuedCert
    impostor: trust.IssuedCert  # under CAs named as Webex's root and issuing CA, other keys
    self_signed: trust.IssuedCert

    def webex_leaf(self) -> tuple[Path, Path]:
        """The demo Webex client as ``tls_context`` loads it: the leaf alone."""
        return self.demo.webex_client_cert, self.demo.webex_client_key


def make_pki(directory: Path) -> MatrixPKI:
    demo = trust.make_demo_pki(directory / "demo")
    split, split_dir = trust.split_bundle(demo.combined_chain, directory / "split")
    files = Files(anchors=tuple((f.alias, split_dir / f.name) for f in split.files),
                  server_key=demo.server_key, server_cert=demo.server_cert,
                  server_chain=demo.server_chain)
    now = dt.datetime.now(dt.timezone.utc)
    day = dt.timedelta(days=1)
    test_root = trust.CertificateAuthority.new_root("Node Matrix Test Root", key_type="ec")
    test_issuing = test_root.new_intermediate("Node Matrix Test Issuing CA", key_type="ec")
    test_issuing_file = directory / "test-issuing.pem"
    test_issuing_file.write_bytes(test_issuing.cert_pem)
    fake_root = trust.CertificateAuthority.new_root("Internal Private Root", key_type="ec")
    fake_issuing = fake_root.new_intermediate("Internal Private TLS SubCA", key_type="ec")
    stranger = trust.CertificateAuthority.new_root("Stranger Root", key_type="ec")
    return MatrixPKI(
        demo=demo, files=files, test_issuing=test_issuing, test_issuing_file=test_issuing_file,
        expired=test_issuing.issue_client(WEBEX_CLIENT_CN, not_before=now - 40 * day,
                                          not_after=now - day, key_type="ec"),
        not_yet_valid=test_issuing.issue_client(WEBEX_CLIENT_CN, not_before=now + 10 * day,
                                                not_after=now + 40 * day, key_type="ec"),
        intruder=test_issuing.issue_client("intruder.example.com", key_type="ec"),
        partial_chain=test_issuing.issue_client(WEBEX_CLIENT_CN, key_type="ec"),
        unknown_ca=stranger.issue_client(WEBEX_CLIENT_CN, key_type="ec"),
        impostor=fake_issuing.issue_client(WEBEX_CLIENT_CN, key_type="ec"),
        self_signed=trust.self_signed_client(WEBEX_CLIENT_CN),
    )


class ConfiguredNode:
    """A state configured by the guide's procedure, served by a NodeThread.

    The node is started first, on an empty configuration; the engines then reach it
    through the state's control socket, so ``emu restart`` restarts this node.
    """

    def __init__(self, base: Path, pki: MatrixPKI, *, ip: str = HOST) -> None:
        self.pki = pki
        self.ip = ip
        self.port = free_port()
        self.store = Store(base / "state")
        self.thread = NodeThread(self.store, ack_timeout=2.0).start()
        try:
            self.control = ManagedNodeControl(self.store)
            self.xsp = Engine(self.store, NODE, self.control)
            self.as_ = Engine(self.store, "as1", self.control)
            engines = {"AS": self.as_, "XSP": self.xsp}
            for step in webex_procedure(ip, self.port, pki.files):
                self._execute(engines[step.node], step.line)
            assert self.control.embedded is None, "the engine started a node of its own"
        except BaseException:
            self.thread.stop()
            raise

    @staticmethod
    def _execute(engine: Engine, line: str) -> str:
        result = engine.execute(line)
        assert result.ok, f"{line}: {result.text}"
        return result.text

    def run(self, *lines: str) -> str:
        """XSP CLI lines, each expected to succeed; their answers."""
        return "\n".join(self._execute(self.xsp, line) for line in lines)

    def run_as(self, *lines: str) -> str:
        return "\n".join(self._execute(self.as_, line) for line in lines)

    def restart(self) -> list[str]:
        return self.run("emu restart").splitlines()

    def add_test_anchor(self) -> None:
        self.run(f"cd {TRUSTS}", f"updateTrust {TEST_ANCHOR_ALIAS} {self.pki.test_issuing_file}")

    @property
    def refusals(self) -> int:
        return self.thread.host.listener(NODE, self.ip).refusals

    def close(self) -> None:
        """Stop the node; a second call does nothing."""
        self.thread.stop()


@contextmanager
def configured_node(base: Path, pki: MatrixPKI, *, test_anchor: bool = True,
                    extra: Sequence[str] = (), ip: str = HOST) -> Iterator[ConfiguredNode]:
    """The procedure, then (when asked) the test anchor and ``extra`` XSP lines, and a
    restart when anything was added."""
    node = ConfiguredNode(base, pki, ip=ip)
    try:
        if test_anchor:
            node.add_test_anchor()
        if extra:
            node.run(*extra)
        if test_anchor or extra:
            node.restart()
        yield node
    finally:
        node.close()


# -- clients ---------------------------------------------------------------------------------
Credential = trust.IssuedCert | tuple[Path, ...] | None


def client_context(pki: MatrixPKI, credential: Credential, *, version: str | None = None,
                   ciphers: str | None = None, tls13_suites: Sequence[str] | None = None,
                   verify_server: bool = True) -> ssl.SSLContext:
    """A client trusting the partner's CA; ``credential`` is an ``IssuedCert`` (sent with
    its chain), files ``(cert, key)`` or ``(cert, key, chain)`` or None for no certificate;
    ``version`` pins one protocol version. ``verify_server=False`` is for an interface
    still on the self-signed certificate ``CTIServer add`` made."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify_server:
        context.load_verify_locations(cafile=pki.demo.partner_ca)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if isinstance(credential, trust.IssuedCert):
        credential.configure_cert(context)
    elif credential is not None:
        cert, key, *chain = credential
        if chain:
            combined = Path(str(cert) + ".with-chain.pem")
            combined.write_bytes(Path(cert).read_bytes() + chain[0].read_bytes())
            cert = combined
        context.load_cert_chain(cert, key)
    if version is not None:
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0/1.1; refusing them is what is being tested.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = TLS_VERSIONS[version]
        if version in ("TLSv1", "TLSv1.1"):
            # OpenSSL 3 only offers these at security level 0; the server decides.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if ciphers is not None:
        context.set_ciphers(ciphers)
    if tls13_suites is not None:
        tls13.set_tls13_suites(context, tls13_suites)
    return context


@dataclass(frozen=True)
class Outcome:
    client_port: int  # the client's own port: what the node's log lines name it by
    alert: str | None  # the reason of the SSLError the client got; None when it was served
    version: str | None = None
    cipher: str | None = None
    status: int | None = None
    body: str = ""

    @property
    def served(self) -> bool:
        return self.alert is None and self.status is not None


def attempt(port: int, context: ssl.SSLContext, *, host: str = HOST,
            path: str = PROBE_PATH, timeout: float = 5.0) -> Outcome:
    """Connect, send one CTI interface request (GET ``path``) and read its response; the
    outcome's status is the response's statusCode, its body the payload (ErrorInfo). A
    refused TLS 1.3 client completes its handshake before the server has judged its
    certificate, so the alert can come on the first read rather than in the handshake."""
    request = (f'<?xml version="1.0" encoding="UTF-8"?><xsp:request xmlns:xsp="{XSP_NS}">'
               "<requestId>probe</requestId><sessionId>probe</sessionId>"
               f'<cti:GetChannelSetRequest xmlns:cti="{CTI_NS}"><uri>{path}</uri>'
               "<method>GET</method><params/><payload/></cti:GetChannelSetRequest>"
               "</xsp:request>")
    with socket.create_connection((host, port), timeout=timeout) as raw:
        client_port = int(raw.getsockname()[1])
        version = cipher = None
        received = b""
        try:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                version, cipher = tls.version(), tls.cipher()[0]
                tls.sendall(request.encode())
                while b"</xsp:response>" not in received and (chunk := tls.recv(65536)):
                    received += chunk
        except ssl.SSLError as error:
            return Outcome(client_port, str(error.reason), version, cipher)
    match = re.search(rb"<statusCode>(\d+)</statusCode>.*?<xsp:payload>(.*)</xsp:payload>",
                      received, re.DOTALL)
    if match is None:
        return Outcome(client_port, None, version, cipher)
    return Outcome(client_port, None, version, cipher, int(match.group(1)),
                   match.group(2).decode(errors="replace"))


def lines_about(caplog: pytest.LogCaptureFixture, client_port: int, *,
                timeout: float = 5.0, settle: float = 0.1) -> list[str]:
    """The ``xsp.cti`` lines naming this client connection, once at least one is there
    (and ``settle`` seconds more, so that a second line would be seen)."""
    needle = f"{HOST}:{client_port}"

    def found() -> list[str]:
        return [r.getMessage() for r in caplog.records
                if r.name == "xsp.cti" and needle in r.getMessage()]

    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            raise AssertionError(f"no xsp.cti line about {needle} in {timeout}s")
        time.sleep(0.01)
    time.sleep(settle)
    return found()


def capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xsp.cti")
