"""Where the live page listens, without its web server: bound before the node starts.

The shell prints the page's address before its first prompt while the node (and the
aiohttp server of the page) starts in the background, so this module imports nothing
heavy.
"""
from __future__ import annotations

import ipaddress
import secrets
import socket

DEFAULT_PORT = 8480


class LivePageError(Exception):
    """The page cannot be served as asked; the message is one line for the user."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def needed_token(host: str, token: str | None) -> str | None:
    """``token``, or a fresh one when none is given and ``host`` is not loopback."""
    if token is None and not is_loopback(host):
        return secrets.token_urlsafe(18)
    return token


def bind(host: str, port: int, *, fallback: bool) -> socket.socket:
    """A listening socket for the page, bound now so its address can be printed before
    the node starts; with ``fallback`` a taken port gives way to a free one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise LivePageError(f"live page: cannot use the address {host}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        try:
            sock.bind(address)
        except OSError:
            if not fallback:
                raise
            sock.bind((address[0], 0, *address[2:]))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise LivePageError(f"live page: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def url_for(host: str, port: int, token: str | None) -> str:
    where = f"[{host}]" if ":" in host else host
    query = f"?token={token}" if token else ""
    return f"http://{where}:{port}/{query}"
