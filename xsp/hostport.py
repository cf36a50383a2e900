"""An address and a port as one string a reader (and a URL) takes apart unambiguously."""
from __future__ import annotations


def host_port(host: str, port: int) -> str:
    """``127.0.0.1:8012``; an IPv6 address in brackets, ``[2001:db8::5]:20501``, since
    ``2001:db8::5:20501`` reads as an address with no port."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
