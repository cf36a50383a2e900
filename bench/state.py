"""States for the benchmarks, built the way a partner builds them: through the CLI engine.

``node_state`` runs the guide's Webex procedure (``xsp.procedure``) on a fresh state,
then adds what the benchmarks need beside it: a second interface that offers TLS 1.3
only, as many AS users as the event benchmark subscribes, and ``emu limit`` settings wide
enough for one client identity holding the benchmarks' 100 channel sets and 10,000
channels (the defaults stop a runaway client long before that). ``shell_state`` is the
large configuration of the shell benchmark (1,000 trust anchors, 100 interfaces).
"""
from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import xsp_trust as trust
from xsp.cli.engine import Engine, Result
from xsp.config.model import TrustAnchor, User
from xsp.config.store import Store
from xsp.procedure import CIPHERS, CTI_SERVER, PROTOCOLS, Files, webex_procedure

HOST12 = "127.0.0.1"  # the guide's interface: TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256
HOST13 = "127.0.0.2"  # a second interface offering TLS 1.3 (TLS_AES_128_GCM_SHA256) only
TLS13_SUITE = "TLS_AES_128_GCM_SHA256"


class _NoNode:
    """The engine's node control for building states: ``emu restart`` starts nothing here,
    because each benchmark runs the node in a process of its own."""

    errors: tuple[type[Exception], ...] = ()

    def restart(self, store: Store, node_name: str) -> list[str]:
        return []

    def status(self, store: Store, node_name: str) -> list[str]:
        return []


@dataclass(frozen=True)
class NodeState:
    dir: Path
    pki: trust.DemoPKI
    anchors: Path       # the trust anchors as one PEM file (for openssl s_server -CAfile)
    port12: int
    port13: int
    users: tuple[str, ...]
    xsi_port: int       # the HTTP Xsi interface (port 8012 speaks the CTI interface)


def free_port(host: str = HOST12) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _run(engine: Engine, line: str) -> Result:
    result = engine.execute(line)
    if not result.ok:
        raise RuntimeError(f"bench state: {engine.prompt}{line} failed:\n{result.text}")
    return result


# Every benchmark client is one identity (the Webex client certificate).
BENCH_LIMITS = {"connections": 20000, "connections_per_client": 20000, "channels": 20000,
                "channels_per_client": 20000, "channel_sets_per_client": 20000,
                "subscriptions_per_client": 20000}


def node_state(base: Path, *, users: int = 0) -> NodeState:
    """A state after the Webex procedure, plus a TLS 1.3 interface and ``users`` AS users
    (``user0000@bench.example``...; the AS's three demo users stay)."""
    pki_dir, state_dir = base / "pki", base / "state"
    pki = trust.make_demo_pki(pki_dir, ips=(HOST12, HOST13))
    plan, split_dir = trust.split_bundle(pki.combined_chain, pki_dir / "split")
    files = Files(anchors=tuple((f.alias, split_dir / f.name) for f in plan.files),
                  server_key=pki.server_key, server_cert=pki.server_cert,
                  server_chain=pki.server_chain)
    store = Store(state_dir)
    engines = {"AS": Engine(store, "as1", _NoNode()), "XSP": Engine(store, "xsp1", _NoNode())}
    port12, port13 = free_port(HOST12), free_port(HOST13)
    for step in webex_procedure(HOST12, port12, files):
        _run(engines[step.node], step.line)
    xsp = engines["XSP"]
    for line in (f"cd {CTI_SERVER}", f"add {HOST13} {port13} true true true",
                 f"cd {PROTOCOLS}", f"add {HOST13} TLSv1.3",
                 f"cd {CIPHERS}", f"add {HOST13} {TLS13_SUITE}",
                 "cd /Interface/CTI/CTIServer/SSLSettings/Certificates",
                 f"sslUpdate {HOST13} keyFile {pki.server_key} certificateFile "
                 f"{pki.server_cert} chainFile {pki.server_chain}"):
        _run(xsp, line)
    names = tuple(f"user{i:04d}@bench.example" for i in range(users))
    xsi_port = free_port(HOST12)
    # Users are written into the model directly: the AS CLI has no command for them,
    # and one save for a thousand users keeps set-up out of the measured time.
    with store.edit() as deployment:
        as_ = deployment.application_server.as_
        assert as_ is not None
        as_.users.extend(User(name) for name in names)
        deployment.limits = replace(deployment.limits, **BENCH_LIMITS)
        deployment.node("xsp1").xsp_settings.xsi_port = xsi_port
    anchors = pki_dir / "anchors.pem"
    anchors.write_bytes(b"".join((split_dir / f.name).read_bytes() for f in plan.files))
    return NodeState(state_dir, pki, anchors, port12, port13, names, xsi_port)


def mint_anchors(count: int, *, keys: int = 8) -> list[TrustAnchor]:
    """``count`` distinct self-signed RSA-2048 CA certificates, as the Trusts level stores them.

    RSA like the Webex and partner CAs, because listing anchors checks signatures (is it
    self-signed?) and an RSA check costs a fraction of an ECDSA one. The keys come from a
    pool of ``keys``: generating a thousand RSA keys takes about a minute, and nothing the
    shell does depends on keys being unique, only on certificates being distinct.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    pool = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(keys)]
    now = dt.datetime.now(dt.timezone.utc)
    anchors = []
    for i in range(count):
        key = pool[i % keys]
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xsp bench"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"Bench Anchor CA {i:04d}")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        anchors.append(TrustAnchor(f"benchanchor{i:04d}", pem))
    return anchors


@dataclass(frozen=True)
class ShellState:
    dir: Path
    anchors: int
    interfaces: int
    build_seconds: dict[str, float]


def shell_state(base: Path, *, anchors: int = 1000, interfaces: int = 100) -> ShellState:
    """Interfaces through the engine (``add IP PORT true true true`` at CTIServer, which
    makes each one's self-signed certificate and key, about 85 ms apiece), anchors minted
    once and written into the model with one ``Store.edit()``: ``updateTrust`` a thousand
    times would rewrite an ever larger file a thousand times."""
    import time
    store = Store(base / "state")
    engine = Engine(store, "xsp1", _NoNode())
    started = time.perf_counter()
    _run(engine, f"cd {CTI_SERVER}")
    for i in range(interfaces):
        _run(engine, f"add 10.20.{i // 250}.{i % 250 + 1} 8012 true true true")
    engine_done = time.perf_counter()
    minted = mint_anchors(anchors)
    mint_done = time.perf_counter()
    with store.edit() as deployment:
        deployment.node("xsp1").xsp.trusts.extend(minted)  # type: ignore[union-attr]
    written = time.perf_counter()
    return ShellState(store.dir, anchors, interfaces, {
        "interfaces_via_engine": engine_done - started, "mint_anchors": mint_done - engine_done,
        "write_anchors_store_edit": written - mint_done})
