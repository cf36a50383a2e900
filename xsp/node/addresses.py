"""Where a node listens: a free loopback port, and the address a configured IP binds to."""
from __future__ import annotations

import errno
import ipaddress
import socket


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free on ``host``, else one the system picks (also for 0)."""
    with socket.socket() as probe:
        try:
            probe.bind((host, preferred))
        except OSError:
            probe.bind((host, 0))
        return probe.getsockname()[1]


def bind_address(ip: str) -> tuple[str, str | None]:
    """Where to listen for a configured interface IP, and why when it is not that IP.

    An address this host does not have is mapped into loopback so the emulator still
    runs: IPv4 a.b.c.d becomes 127.b.c.d (stable and easy to find), IPv6 becomes ::1.
    """
    address = ipaddress.ip_address(ip)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ip, 0))
            return ip, None
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                return ip, None
    if address.version == 6:
        return "::1", f"{ip} is not an address of this host; bound ::1 instead"
    mapped = "127." + ".".join(ip.split(".")[1:])
    return mapped, f"{ip} is not an address of this host; bound {mapped} instead"
