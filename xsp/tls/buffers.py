"""Idle TLS connections give their record buffers back to the allocator.

OpenSSL keeps a read buffer and a write buffer of about 17 KiB each for the life of a
connection; an idle event channel (the usual state of thousands of them) needs neither.
``SSL_MODE_RELEASE_BUFFERS`` frees them once a record has been read or written in
full, and OpenSSL allocates them again for the next one. Python's ``ssl`` does not
expose ``SSL_CTX_set_mode``, so it is reached as ``xsp.tls.libssl`` reaches the others.
"""
from __future__ import annotations

import ctypes
import ssl
from typing import Any

from xsp.tls import libssl

_SSL_CTRL_MODE = 33  # SSL_CTX_set_mode() is SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, mode, NULL)
SSL_MODE_RELEASE_BUFFERS = 0x10

_ctrl: Any = None


def release_idle_buffers(context: ssl.SSLContext) -> bool:
    """Set ``SSL_MODE_RELEASE_BUFFERS`` on ``context``; False (and nothing changed) when
    OpenSSL cannot be reached in this process: connections then keep their buffers."""
    global _ctrl
    try:
        if _ctrl is None:
            _ctrl = libssl.function("SSL_CTX_ctrl", ctypes.c_long,
                                    [ctypes.c_void_p, ctypes.c_int, ctypes.c_long,
                                     ctypes.c_void_p])
        pointer = libssl.ssl_ctx(context)
    except libssl.Unreachable:
        return False
    mode = _ctrl(pointer, _SSL_CTRL_MODE, SSL_MODE_RELEASE_BUFFERS, None)
    return bool(mode & SSL_MODE_RELEASE_BUFFERS)
