"""Restricting the TLS 1.3 cipher suites of an ``ssl.SSLContext``.

Python 3.11's ``ssl`` module has no way to choose TLS 1.3 suites: ``set_ciphers`` only
reaches TLS 1.2 and below, and OpenSSL keeps its defaults (AES-256-GCM, CHACHA20,
AES-128-GCM) for TLS 1.3. A listener configured with one TLS 1.3 suite would then
accept the other two, which a scanner would rightly report.

How it is enforced: OpenSSL's own ``SSL_CTX_set_ciphersuites`` is called with ctypes
on the context's ``SSL_CTX *``.

- The symbols come from ``ctypes.CDLL(ssl._ssl.__file__)``: a lookup through the
  ``_ssl`` extension's handle resolves to the very libssl that ``_ssl`` is linked with,
  not to some other copy on the system. ``OpenSSL_version_num()`` through that handle
  must equal ``ssl.OPENSSL_VERSION_NUMBER``.
- The pointer is the first field after ``PyObject_HEAD`` in CPython's ``PySSLContext``
  (``Modules/_ssl.c``, unchanged from 3.7 through 3.13). It is trusted only after
  ``SSL_CTX_get_options`` and ``SSL_CTX_get_verify_mode`` through it agree with
  ``context.options`` and ``context.verify_mode``, and after an option flipped from
  Python is seen flipped through the pointer (and restored).
- After setting, the TLS 1.3 suites that ``context.get_ciphers()`` reports (Python
  reads them from OpenSSL) must be exactly the requested ones, in order.

If any step fails, nothing is guessed: ``TLS13Unavailable`` says why, and the caller
does not offer TLS 1.3 at all.

Limits: CPython only (another interpreter has another object layout, so it is refused
up front); a future CPython that moves the field fails the verification and loses TLS
1.3 rather than crashing, unless the moved-to offset happens to hold a pointer that
passes every check, which the option flip makes implausible. The pointer is read
from the object's own memory, so reading it cannot fault; the first call through it
can if it is not an ``SSL_CTX``, which is why the layout is pinned to CPython.
"""
from __future__ import annotations

import ctypes
import functools
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cli_contexts import ciphers

# Python's verify modes as OpenSSL stores them (SSL_VERIFY_PEER = 1,
# SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2); higher bits (post-handshake auth) are masked off.
_OPENSSL_VERIFY_MODE = {ssl.CERT_NONE: 0, ssl.CERT_OPTIONAL: 1, ssl.CERT_REQUIRED: 3}
_VERIFY_MODE_MASK = 3
# Flipped and restored to prove the pointer is this context's SSL_CTX: harmless on a
# context that has not yet made a connection, and not one Python sets by default.
_PROBE_OPTION = ssl.OP_NO_RENEGOTIATION


class TLS13Unavailable(RuntimeError):
    """TLS 1.3 suites cannot be restricted in this process; ``str()`` says why."""


@dataclass(frozen=True)
class _LibSSL:
    get_options: Callable[..., Any]
    get_verify_mode: Callable[..., Any]
    set_ciphersuites: Callable[..., Any]
    clear_error: Callable[..., Any]


@functools.cache
def _libssl() -> _LibSSL:
    if sys.implementation.name != "cpython":
        raise TLS13Unavailable(f"{sys.implementation.name} is not CPython, whose SSLContext "
                               "layout this relies on")
    if ssl.SSLContext.__basicsize__ < object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p):
        raise TLS13Unavailable("ssl.SSLContext has no room for an SSL_CTX pointer")
    try:
        lib = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
        version = lib.OpenSSL_version_num
        get_options = lib.SSL_CTX_get_options
        get_verify_mode = lib.SSL_CTX_get_verify_mode
        set_ciphersuites = lib.SSL_CTX_set_ciphersuites
        clear_error = lib.ERR_clear_error
    except (OSError, AttributeError) as exc:
        raise TLS13Unavailable(f"libssl functions are not reachable: {exc}") from None
    version.restype, version.argtypes = ctypes.c_ulong, []
    if version() != ssl.OPENSSL_VERSION_NUMBER:
        raise TLS13Unavailable("the libssl reachable through ctypes is not the one ssl uses")
    # uint64_t since OpenSSL 3.0, unsigned long before (64 bits on LP64 either way).
    get_options.restype = (ctypes.c_uint64 if ssl.OPENSSL_VERSION_INFO >= (3,)
                           else ctypes.c_ulong)
    get_options.argtypes = [ctypes.c_void_p]
    get_verify_mode.restype, get_verify_mode.argtypes = ctypes.c_int, [ctypes.c_void_p]
    set_ciphersuites.restype = ctypes.c_int
    set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    clear_error.restype, clear_error.argtypes = None, []
    return _LibSSL(get_options, get_verify_mode, set_ciphersuites, clear_error)


def _ssl_ctx(context: ssl.SSLContext, lib: _LibSSL) -> int:
    """The context's ``SSL_CTX *``, verified as described in the module docstring."""
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        raise TLS13Unavailable("the SSLContext holds no SSL_CTX pointer where CPython keeps it")

    def agrees() -> bool:
        return (lib.get_options(pointer) == int(context.options)
                and lib.get_verify_mode(pointer) & _VERIFY_MODE_MASK
                == _OPENSSL_VERIFY_MODE[context.verify_mode])

    if not agrees():
        raise TLS13Unavailable("the SSL_CTX pointer does not agree with the SSLContext's options")
    before = context.options
    try:
        context.options = before ^ _PROBE_OPTION
        flipped = agrees()
    finally:
        context.options = before
    if not flipped or not agrees():
        raise TLS13Unavailable("the SSL_CTX pointer does not follow the SSLContext's options")
    return pointer


def _tls13_names(context: ssl.SSLContext) -> list[str]:
    return [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]


def set_tls13_suites(context: ssl.SSLContext, iana_names: Sequence[str]) -> None:
    """Make exactly ``iana_names`` (in this order) the context's TLS 1.3 suites.

    An empty list removes every TLS 1.3 suite. Raises ``TLS13Unavailable`` when the
    restriction cannot be made or verified, ``ValueError`` when OpenSSL refuses a name.
    """
    lib = _libssl()
    pointer = _ssl_ctx(context, lib)
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
