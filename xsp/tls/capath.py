"""Trust anchors as a hashed directory (``capath``) that OpenSSL reads as it needs them.

``load_verify_locations(cadata=...)`` inserts every anchor into the context's store, and
OpenSSL 3.0 makes each insertion cost more the more anchors are there: with 1,000
anchors that is about 140 ms per context, paid by every interface at every start. A
``capath`` directory costs nothing up front: during a verification OpenSSL looks up
an issuer by the hash of its subject name, reads the files named ``<hash>.<n>``, and
keeps what it read. What it trusts is the same set of certificates, looked up the same
way (by name, then checked by key), so verification, partial chains included, is
unchanged.

The hash is OpenSSL's own ``X509_subject_name_hash`` (what ``openssl x509 -hash``
prints), called through the libcrypto that Python's ``ssl`` is linked with, as
``xsp.tls.tls13`` does: a name hashed any other way would silently find nothing.
When that function cannot be reached, ``subject_hash`` says so and callers insert the
anchors as before.

A directory is named by the anchors it holds and never changes once built; a new set
of anchors gets a new directory, so a context built earlier keeps reading its own.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path


class CapathUnavailable(RuntimeError):
    pass


@functools.cache
def _hash_function() -> Callable[[bytes], int]:
    try:
        lib = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
        version = lib.OpenSSL_version_num
        d2i = lib.d2i_X509
        name_hash = lib.X509_subject_name_hash
        free = lib.X509_free
    except (OSError, AttributeError) as exc:
        raise CapathUnavailable(f"OpenSSL's X509_subject_name_hash cannot be reached: {exc}") from None
    version.restype = ctypes.c_ulong
    if version() != ssl.OPENSSL_VERSION_NUMBER:
        raise CapathUnavailable("the libcrypto found is not the one ssl is linked with")
    d2i.restype = ctypes.c_void_p
    d2i.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]
    name_hash.restype = ctypes.c_ulong
    name_hash.argtypes = [ctypes.c_void_p]
    free.restype = None
    free.argtypes = [ctypes.c_void_p]

    def subject_hash(der: bytes) -> int:
        buffer = ctypes.c_char_p(der)
        cert = d2i(None, ctypes.byref(buffer), len(der))
        if not cert:
            raise ValueError("not a DER certificate")
        try:
            return int(name_hash(cert)) & 0xFFFFFFFF
        finally:
            free(cert)

    return subject_hash


def subject_hash(der: bytes) -> int:
    """OpenSSL's subject name hash of a DER certificate (``openssl x509 -hash``)."""
    return _hash_function()(der)


def available() -> str | None:
    """None when capath directories can be built here, else why not."""
    try:
        _hash_function()
    except CapathUnavailable as exc:
        return str(exc)
    return None


def build(parent: Path, pems: Sequence[str]) -> Path:
    """The capath directory under ``parent`` holding exactly ``pems``, built once per set."""
    unique = list(dict.fromkeys(pems))
    name = hashlib.sha256("\0".join(unique).encode()).hexdigest()[:32]
    target = parent / name
    if target.is_dir():
        return target
    work = Path(tempfile.mkdtemp(dir=parent, prefix=".build-"))
    try:
        counts: dict[int, int] = {}
        for pem in unique:
            # A base64 decode, not a parse: the store only holds certificates it checked.
            der = ssl.PEM_cert_to_DER_cert(pem)
            digest = subject_hash(der)
            n = counts.get(digest, 0)
            counts[digest] = n + 1
            fd = os.open(work / f"{digest:08x}.{n}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(pem)
        os.chmod(work, 0o700)
        try:
            os.rename(work, target)
        except OSError:
            if not target.is_dir():
                raise
            # Built meanwhile by another start: the same content, keep that one.
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(work)
    return target


def prune(parent: Path, keep: set[Path]) -> None:
    """Remove the directories under ``parent`` that no running context reads."""
    for entry in parent.iterdir() if parent.is_dir() else ():
        if entry not in keep and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
