"""Splitting a CA bundle into the one-certificate files that ``updateTrust`` takes.

Naming follows the Webex guide (``root2023.txt``, ``issuing2023.txt``). A set is a
root and the issuing CAs it signed, found by signature. With several sets every file
carries the set's number, so the pairs read ``root2023-1.txt`` / ``issuing2023-1.txt``,
``root2023-2.txt`` / ``issuing2023-2.txt``; sets are numbered in the order their roots
appear in the bundle. When one set holds several issuing CAs they are told apart by a
letter: ``issuing2023a.txt``, ``issuing2023b.txt`` (``issuing2023-1a.txt`` within set 1).
Issuing CAs whose root is not in the bundle form sets of their own, numbered after the
others. Leaf certificates are not trust anchors and are left out.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from xsp_trust._bundle import load_certificates
from xsp_trust._classify import Role, common_name, issued_by, role
from xsp_trust._errors import TrustError
from xsp_trust._files import write_all
from xsp_trust._fingerprint import sha256_hex

_YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


@dataclass(frozen=True)
class SplitFile:
    name: str  # e.g. root2023.txt
    alias: str  # the updateTrust alias suggested for it, e.g. webexclientroot2023
    certificate: x509.Certificate
    role: Role

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class SplitPlan:
    files: tuple[SplitFile, ...]
    left_out: tuple[str, ...]  # one line per certificate not written, saying why
    notes: tuple[str, ...]  # one line per thing worth knowing, e.g. an issuing CA with no root


def bundle_year(file_name: str, certs: list[x509.Certificate]) -> int:
    """The year in the bundle's name (CombinedCertChain2023.txt), else the first root's issue year."""
    found = _YEAR_IN_NAME.findall(Path(file_name).name)
    if found:
        return int(found[-1])
    roots = [c for c in certs if role(c) is Role.ROOT]
    return (roots or certs)[0].not_valid_before_utc.year


def plan_split(certs: list[x509.Certificate], year: int) -> SplitPlan:
    """Which certificate goes to which file, decided by what each certificate is."""
    roles = {id(c): role(c) for c in certs}
    cas = [c for c in certs if roles[id(c)] is not Role.LEAF]
    left_out = tuple(f"CN={common_name(c.subject)}: a leaf certificate, not a CA; "
                     "trust anchors are CA certificates" for c in certs
                     if roles[id(c)] is Role.LEAF)
    if not cas:
        raise TrustError("the bundle holds no CA certificate, only "
                         + ", ".join(f"CN={common_name(c.subject)}" for c in certs)
                         + "; trust anchors are CA certificates")
    sets: dict[str, list[x509.Certificate]] = {}
    for cert in cas:
        if roles[id(cert)] is Role.ROOT:
            sets.setdefault(sha256_hex(cert), []).insert(0, cert)
    orphan_sets: dict[str, list[x509.Certificate]] = {}
    notes: list[str] = []
    for cert in cas:
        if roles[id(cert)] is Role.ROOT:
            continue
        top = _topmost(cert, cas)
        key = sha256_hex(top)
        if roles[id(top)] is Role.ROOT:
            sets[key].append(cert)
        else:
            orphan_sets.setdefault(key, []).append(cert)
            if cert is top:
                notes.append(f"CN={common_name(cert.subject)}: the root that signed it "
                             f"(CN={common_name(cert.issuer)}) is not in the bundle")
    all_sets = list(sets.values()) + list(orphan_sets.values())
    files: list[SplitFile] = []
    for number, members in enumerate(all_sets, start=1):
        set_suffix = f"-{number}" if len(all_sets) > 1 else ""
        issuing = [c for c in members if roles[id(c)] is Role.INTERMEDIATE]
        for cert in members:
            if roles[id(cert)] is Role.ROOT:
                stem = f"root{year}{set_suffix}"
            else:
                letter = _letter(issuing.index(cert)) if len(issuing) > 1 else ""
                stem = f"issuing{year}{set_suffix}{letter}"
            files.append(SplitFile(f"{stem}.txt", f"webexclient{stem}", cert, roles[id(cert)]))
    return SplitPlan(tuple(files), left_out, tuple(notes))


def split_bundle(path: str | os.PathLike[str], directory: str | os.PathLike[str],
                 year: int | None = None) -> tuple[SplitPlan, Path]:
    """Split the bundle at ``path`` into ``directory``; returns the plan and the directory written.

    Everything is checked (the bundle, the directory) before any file is written, and
    the files are written all together, so a refusal leaves nothing behind.
    """
    certs = load_certificates(path)
    plan = plan_split(certs, year if year is not None else bundle_year(os.fspath(path), certs))
    out = Path(directory)
    _check_directory(out, [f.name for f in plan.files])
    for planned in plan.files:
        target = out / planned.name
        if target.exists() and target.samefile(path):
            raise TrustError(f"splitting would replace the bundle {os.fspath(path)} itself; "
                             "write to another directory (-o) or rename the bundle")
    created: list[Path] = []
    try:
        _make_directory(out, created)
        write_all({out / f.name: (f.pem, 0o644) for f in plan.files})
    except OSError as exc:
        _remove_directories(created)
        raise TrustError(f"cannot write in {out}: {exc.strerror or exc}") from None
    return plan, out


def _topmost(cert: x509.Certificate, cas: list[x509.Certificate]) -> x509.Certificate:
    """Follow signatures upward inside the bundle as far as they go."""
    seen = {id(cert)}
    current = cert
    while True:
        parent = next((c for c in cas if id(c) not in seen and issued_by(current, c)), None)
        if parent is None:
            return current
        seen.add(id(parent))
        current = parent


def _letter(index: int) -> str:
    return chr(ord("a") + index) if index < 26 else f"_{index + 1}"


def _check_directory(out: Path, names: list[str]) -> None:
    existing = out
    while not existing.exists():
        if existing.is_symlink():
            raise TrustError(f"output directory {out} is a dangling symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise TrustError(f"output directory {out} cannot be made: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TrustError(f"output directory {existing} is not writable")
    for name in names:
        if (out / name).is_dir():
            raise TrustError(f"cannot write {out / name}: a directory is in the way")


def _make_directory(out: Path, created: list[Path]) -> None:
    """Create ``out`` and its missing parents, recording each in ``created`` as it is made."""
    missing = []
    current = out
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir()
        created.append(directory)


def _remove_directories(created: list[Path]) -> None:
    for directory in reversed(created):
        try:
            directory.rmdir()
        except OSError:
            pass
