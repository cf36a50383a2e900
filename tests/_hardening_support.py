"""Material for the hardening tests: a control that refuses to start nodes, damaged
certificate files of every kind, a state configured the Webex way, an ``xsp serve``
subprocess, an in-process node with a short handshake timeout, and /proc readings.

Everything here is real: files on disk, subprocesses, loopback sockets. Every wait is
bounded in time.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import xsp_trust as trust
from xsp.cli.actions import CommandError
from xsp.cli.engine import Engine
from xsp.config.store import Store
from xsp.node.host import NodeHost
from xsp.procedure import Files, webex_procedure
from xsp.testing import RunningNode, free_port

HOST = "127.0.0.1"
MiB = 1024 * 1024
BROADWORKS_REFUSALS = ("entry is already present in list", "Entry not found")


class RefusingControl:
    """A node control that never starts a node: ``emu restart`` and ``emu status`` are
    refused with one line, so generated input cannot start listeners."""

    errors: tuple[type[Exception], ...] = ()

    def restart(self, store: Store, node_name: str) -> list[str]:
        raise CommandError("Error: no node in this test")

    def status(self, store: Store, node_name: str) -> list[str]:
        raise CommandError("Error: no node in this test")


def is_refusal_line(line: str) -> bool:
    """The shape of every refusal the CLI may give."""
    return line.startswith("Error: ") or line in BROADWORKS_REFUSALS


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file below ``directory`` (relative path -> bytes): "nothing written" is equality."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


# -- certificate material -------------------------------------------------------------

@dataclass(frozen=True)
class CertMaterial:
    pki: trust.DemoPKI
    bad: dict[str, Path]  # what is wrong with it -> a file (or directory) holding it


def _csr_and_crl() -> tuple[bytes, bytes, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hardening")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    now = dt.datetime.now(dt.timezone.utc)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(now)
           .next_update(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    return csr.public_bytes(pem), csr.public_bytes(der), crl.public_bytes(pem), crl.public_bytes(der)


def make_cert_material(directory: Path) -> CertMaterial:
    """The demo PKI, and beside it one file for each way a certificate file goes wrong."""
    pki = trust.make_demo_pki(directory / "pki", ips=[HOST])
    bad_dir = directory / "bad"
    bad_dir.mkdir()
    cert = pki.partner_ca.read_bytes()
    csr_pem, csr_der, crl_pem, crl_der = _csr_and_crl()
    der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    seeded = bytes((i * 7919 + 13) % 256 for i in range(4096))  # garbage, but reproducible
    contents = {
        "truncated PEM (cut in the middle)": ("truncated.pem", cert[: len(cert) // 2]),
        "truncated PEM (END line lost)": ("no-end.pem", cert[:-20]),
        "PEM with a hole in its base64": ("hole.pem", cert[:120] + cert[300:]),
        "truncated DER": ("truncated.der", der[: len(der) - 40]),
        "binary garbage": ("garbage.bin", seeded),
        "garbage behind a DER header": ("garbage.der", b"\x30\x82\x08\x00" + seeded[:2048]),
        "NUL bytes": ("zeros.bin", b"\x00" * 512),
        "a private key": ("a-key.pem", pki.server_key.read_bytes()),
        "a certificate signing request (PEM)": ("request.csr", csr_pem),
        "a certificate signing request (DER)": ("request.der", csr_der),
        "a CRL (PEM)": ("revoked.crl", crl_pem),
        "a CRL (DER)": ("revoked.der", crl_der),
        "empty": ("empty.pem", b""),
        "blank lines only": ("blank.pem", b"\n \r\n\t\n"),
        "text without a certificate": ("notes.txt", b"see the attached certificate\n"),
        "a huge file (> 1 MiB)": ("huge.pem", cert + b"#" * (MiB + 1)),
    }
    bad: dict[str, Path] = {}
    for what, (name, data) in contents.items():
        path = bad_dir / name
        path.write_bytes(data)
        bad[what] = path
    directory_instead = bad_dir / "a-directory.pem"
    directory_instead.mkdir()
    bad["a directory instead of a file"] = directory_instead
    bad["a file that does not exist"] = bad_dir / "missing.pem"
    return CertMaterial(pki, bad)


def certificate_with_name(directory: Path, common_name: str, *, ca: bool) -> Path:
    """A self-signed certificate whose CN is ``common_name`` (control characters allowed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f"named-{'ca' if ca else 'leaf'}-{x509.random_serial_number():x}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


# -- a configured state -----------------------------------------------------------------

def configure_webex_state(base: Path, port: int, *, ip: str = HOST) -> tuple[Store, trust.DemoPKI]:
    """The guide's procedure through the real CLI, without its restart (no node runs here)."""
    store = Store(base / "state")
    pki = trust.make_demo_pki(base / "pki", ips=[ip])
    split = base / "split"
    plan, _ = trust.split_bundle(pki.combined_chain, split)
    files = Files(anchors=tuple((f.alias, split / f.name) for f in plan.files),
                  server_key=pki.server_key, server_cert=pki.server_cert,
                  server_chain=pki.server_chain)
    engines = {name: Engine(store, name, control=RefusingControl()) for name in ("as1", "xsp1")}
    for step in webex_procedure(ip, port, files):
        if step.line == "emu restart":
            continue
        result = engines["as1" if step.node == "AS" else "xsp1"].execute(step.line)
        assert result.ok, f"{step.line}: {result.text}"
    return store, pki


def copy_state(source: Path, target: Path) -> Store:
    shutil.copytree(source, target)
    return Store(target)


# -- an in-process node with a short handshake timeout ---------------------------------------

class QuickNode(RunningNode):
    """``RunningNode`` whose listeners give up on a handshake after ``handshake_timeout``.

    ``NodeThread`` only passes ``ack_timeout`` to ``NodeHost``, so the host is replaced
    (before the thread starts) by one built with the timeout the test needs.
    """

    def __init__(self, base: Path, port: int, *, ack_timeout: float = 5.0,
                 handshake_timeout: float = 1.0) -> None:
        super().__init__(base, port, ack_timeout=ack_timeout)
        self._thread.host = NodeHost(self.store, ack_timeout=ack_timeout,
                                     handshake_timeout=handshake_timeout)

    @classmethod
    def start_quick(cls, base: Path, *, handshake_timeout: float) -> "QuickNode":
        node = cls(base, free_port(), handshake_timeout=handshake_timeout)
        node._thread.start()
        try:
            node.apply_webex_configuration()
        except BaseException:
            node.stop()
            raise
        return node

    @property
    def host_object(self) -> NodeHost:
        return self._thread.host


@contextmanager
def open_files_limit(wanted: int) -> Iterator[int]:
    """Raise this process's soft RLIMIT_NOFILE toward ``wanted`` (never above the hard
    limit) for the duration; yields the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = soft if soft >= wanted else (wanted if hard == resource.RLIM_INFINITY
                                          else min(wanted, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    try:
        yield target
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- processes ----------------------------------------------------------------------------

def xsp_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "xsp", *args]


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "XSP_STATE"}


class LineReader:
    """Non-blocking reads of a child's stdout, a line at a time, with deadlines."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""

    def _fill(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False at end of file."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def wait_for(self, pattern: str, timeout: float) -> str:
        """All text read so far, once a line matches ``pattern``."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.buffer.decode(errors="replace")
            match = regex.search(text)
            if match:
                return text
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {timeout} s; got {text!r}")
            if not self._fill(min(left, 0.2)):
                raise AssertionError(f"the process ended before {pattern!r}; got {text!r}")

    def drain(self, timeout: float = 5.0) -> str:
        """Everything the (ended) process wrote."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._fill(0.1):
            if self.proc.poll() is not None:
                # Data written before the end is already in the pipe: read until EOF.
                while self._fill(0.05):
                    pass
                break
        return self.buffer.decode(errors="replace")


def kill9(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def proc_fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
