"""Restricting the TLS 1.3 cipher suites of an ``ssl.SSLContext``.

Python 3.11's ``ssl`` module has no way to choose TLS 1.3 suites: ``set_ciphers`` only
reaches TLS 1.2 and below, and OpenSSL keeps its defaults (AES-256-GCM, CHACHA20,
AES-128-GCM) for TLS 1.3. A listener configured with one TLS 1.3 suite would then
accept the other two, which a scanner would rightly report.

How it is enforced: OpenSSL's own ``SSL_CTX_set_ciphersuites`` is called with ctypes
on the context's ``SSL_CTX *`` (reached and verified by ``xsp.tls.libssl``). After
setting, the TLS 1.3 suites that ``context.get_ciphers()`` reports (Python reads them
from OpenSSL) must be exactly the requested ones, in order.

If any step fails, nothing is guessed: ``TLS13Unavailable`` says why, and the caller
does not offer TLS 1.3 at all.
"""
from __future__ import annotations

import ctypes
import functools
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from xsp_cli_contexts import ciphers
from xsp.tls import libssl


class TLS13Unavailable(RuntimeError):
    """TLS 1.3 suites cannot be restricted in this process; ``str()`` says why."""


@dataclass(frozen=True)
class _LibSSL:
    set_ciphersuites: Callable[..., Any]
    clear_error: Callable[..., Any]


@functools.cache
def _libssl() -> _LibSSL:
    try:
        return _LibSSL(libssl.function("SSL_CTX_set_ciphersuites", ctypes.c_int,
                                       [ctypes.c_void_p, ctypes.c_char_p]),
                       libssl.function("ERR_clear_error", None, []))
    except libssl.Unreachable as exc:
        raise TLS13Unavailable(str(exc)) from None


def _ssl_ctx(context: ssl.SSLContext) -> int:
    try:
        return libssl.ssl_ctx(context)
    except libssl.Unreachable as exc:
        raise TLS13Unavailable(str(exc)) from None


def _tls13_names(context: ssl.SSLContext) -> list[str]:
    return [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]


def set_tls13_suites(context: ssl.SSLContext, iana_names: Sequence[str]) -> None:
    """Make exactly ``iana_names`` (in this order) the context's TLS 1.3 suites.

    An empty list removes every TLS 1.3 suite. Raises ``TLS13Unavailable`` when the
    restriction cannot be made or verified, ``ValueError`` when OpenSSL refuses a name.
    """
    lib = _libssl()
    pointer = _ssl_ctx(context)
    wanted = list(iana_names)
    if not lib.set_ciphersuites(pointer, ":".join(wanted).encode("ascii")):
        # Leave no error behind for Python's ssl to misreport on a later call.
        lib.clear_error()
        raise ValueError(f"OpenSSL refuses the TLS 1.3 suites {', '.join(wanted)}")
    got = _tls13_names(context)
    if got != wanted:
        raise TLS13Unavailable(f"TLS 1.3 suites read back as {', '.join(got) or 'none'} "
                               f"instead of {', '.join(wanted) or 'none'}")


@functools.cache
def _probe() -> str | None:
    try:
        set_tls13_suites(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ["TLS_AES_128_GCM_SHA256"])
    except (TLS13Unavailable, ValueError) as exc:
        return str(exc)
    return None


def unavailable_reason() -> str | None:
    """Why TLS 1.3 suites cannot be restricted in this process, or None when they can."""
    return _probe()


@functools.cache
def supported_suites() -> tuple[str, ...]:
    """The registered TLS 1.3 suites this OpenSSL implements (empty when unrestrictable)."""
    if _probe() is not None:
        return ()
    supported = []
    for name in ciphers.names():
        if not ciphers.is_tls13(name):
            continue
        try:
            set_tls13_suites(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), [name])
        except (TLS13Unavailable, ValueError):
            continue
        supported.append(name)
    return tuple(supported)
