"""Shared material for the trust tests: a Webex-like PKI minted once, bundle shapes, the CLI."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from xsp_trust import CertificateAuthority

REPO = Path(__file__).resolve().parent.parent


@functools.cache
def webex_set(number: int = 1) -> tuple[CertificateAuthority, CertificateAuthority]:
    """Root and issuing CA of one Webex-like set; set 2 reuses set 1's names under new keys."""
    if number == 1:
        root = CertificateAuthority.new_root("Internal Private Root")
    else:
        root = webex_set(1)[0].with_fresh_key()
    return root, root.new_intermediate("Internal Private TLS SubCA")


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_bundle(certs: Iterable[x509.Certificate], *, crlf: bool = False,
               junk: bool = False) -> bytes:
    """A PEM bundle; ``junk`` puts text before, between and after the blocks as downloads do."""
    parts: list[bytes] = []
    if junk:
        parts.append(b"Webex CA certificates\n=====================\n\n")
    for index, cert in enumerate(certs, start=1):
        if junk:
            parts.append(f"Certificate {index}: {cert.subject.rfc4514_string()}\n".encode())
        parts.append(pem(cert))
        if junk:
            parts.append(b"\n")
    if junk:
        parts.append(b"-- end of file --\n")
    data = b"".join(parts)
    return data.replace(b"\n", b"\r\n") if crlf else data


def pkcs7_bundle(certs: Iterable[x509.Certificate], encoding: serialization.Encoding) -> bytes:
    return pkcs7.serialize_certificates(list(certs), encoding)


def run_xsp(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m xsp ARGS`` as a real subprocess, from the repository's interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    return subprocess.run([sys.executable, "-m", "xsp", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=60)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``xsp: `` line a refusal prints; fails if there is more or a traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("xsp: "), result.stderr
    return lines[0]
