"""OpenSSL functions that Python's ``ssl`` module does not expose, reached with ctypes
on the ``SSL_CTX *`` of an ``ssl.SSLContext``. Used for the TLS 1.3 suites
(``xsp.tls.tls13``) and the client certificate check (``xsp.tls.clientcheck``).

- The symbols come from ``ctypes.CDLL(ssl._ssl.__file__)``: a lookup through the
  ``_ssl`` extension's handle resolves to the very libssl (and libcrypto) that ``_ssl``
  is linked with, not to some other copy on the system. ``OpenSSL_version_num()``
  through that handle must equal ``ssl.OPENSSL_VERSION_NUMBER``.
- The pointer is the first field after ``PyObject_HEAD`` in CPython's ``PySSLContext``
  (``Modules/_ssl.c``, unchanged from 3.7 through 3.13). It is trusted only after
  ``SSL_CTX_get_options`` and ``SSL_CTX_get_verify_mode`` through it agree with
  ``context.options`` and ``context.verify_mode``, and after an option flipped from
  Python is seen flipped through the pointer (and restored).

If any step fails, nothing is guessed: ``Unreachable`` says why.

Limits: CPython only (another interpreter has another object layout, so it is refused
up front); a future CPython that moves the field fails the verification rather than
crashing, unless the moved-to offset happens to hold a pointer that passes every
check, which the option flip makes implausible. The pointer is read from the object's
own memory, so reading it cannot fault; the first call through it can if it is not an
``SSL_CTX``, which is why the layout is pinned to CPython.
"""
from __future__ import annotations

import ctypes
import functools
import ssl
import sys
from collections.abc import Sequence
from typing import Any

# Python's verify modes as OpenSSL stores them (SSL_VERIFY_PEER = 1,
# SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2); higher bits (post-handshake auth) are masked off.
_OPENSSL_VERIFY_MODE = {ssl.CERT_NONE: 0, ssl.CERT_OPTIONAL: 1, ssl.CERT_REQUIRED: 3}
_VERIFY_MODE_MASK = 3
# Flipped and restored to prove the pointer is this context's SSL_CTX: harmless on a
# context that has not yet made a connection, and not one Python sets by default.
_PROBE_OPTION = ssl.OP_NO_RENEGOTIATION


class Unreachable(RuntimeError):
    """OpenSSL cannot be reached safely in this process; ``str()`` says why."""


@functools.cache
def _library() -> ctypes.CDLL:
    if sys.implementation.name != "cpython":
        raise Unreachable(f"{sys.implementation.name} is not CPython, whose SSLContext "
                          "layout this relies on")
    if ssl.SSLContext.__basicsize__ < object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p):
        raise Unreachable("ssl.SSLContext has no room for an SSL_CTX pointer")
    try:
        lib = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
        version = lib.OpenSSL_version_num
    except (OSError, AttributeError) as exc:
        raise Unreachable(f"libssl functions are not reachable: {exc}") from None
    version.restype, version.argtypes = ctypes.c_ulong, []
    if version() != ssl.OPENSSL_VERSION_NUMBER:
        raise Unreachable("the libssl reachable through ctypes is not the one ssl uses")
    return lib


def function(name: str, restype: Any, argtypes: Sequence[Any]) -> Any:
    """The OpenSSL function ``name`` with this signature; raises ``Unreachable``."""
    lib = _library()
    try:
        found = getattr(lib, name)
    except AttributeError as exc:
        raise Unreachable(f"libssl functions are not reachable: {exc}") from None
    found.restype, found.argtypes = restype, list(argtypes)
    return found


@functools.cache
def _probe_functions() -> tuple[Any, Any]:
    # uint64_t since OpenSSL 3.0, unsigned long before (64 bits on LP64 either way).
    options_type = ctypes.c_uint64 if ssl.OPENSSL_VERSION_INFO >= (3,) else ctypes.c_ulong
    return (function("SSL_CTX_get_options", options_type, [ctypes.c_void_p]),
            function("SSL_CTX_get_verify_mode", ctypes.c_int, [ctypes.c_void_p]))


def ssl_ctx(context: ssl.SSLContext) -> int:
    """The context's ``SSL_CTX *``, verified as described in the module docstring."""
    get_options, get_verify_mode = _probe_functions()
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        raise Unreachable("the SSLContext holds no SSL_CTX pointer where CPython keeps it")

    def agrees() -> bool:
        return (get_options(pointer) == int(context.options)
                and get_verify_mode(pointer) & _VERIFY_MODE_MASK
                == _OPENSSL_VERIFY_MODE[context.verify_mode])

    if not agrees():
        raise Unreachable("the SSL_CTX pointer does not agree with the SSLContext's options")
    before = context.options
    try:
        context.options = before ^ _PROBE_OPTION
        flipped = agrees()
    finally:
        context.options = before
    if not flipped or not agrees():
        raise Unreachable("the SSL_CTX pointer does not follow the SSLContext's options")
    return pointer
