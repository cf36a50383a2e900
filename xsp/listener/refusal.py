"""A refused CTI connection: who, on which listener, why in plain words, the TLS alert
sent, and the client certificate's name when it presented one. Reported once: one log
line on ``xsp.cti`` and one call of the listener's ``on_refusal``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from xsp.hostport import host_port

log = logging.getLogger("xsp.cti")

# Certificate names come from the peer: a CN holding a newline must not forge a second
# log line. Control characters and Unicode line breaks are shown as escapes instead.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with every control character and line break escaped (``\\n``, ``\\x1b``)."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@dataclass(frozen=True)
class Refusal:
    """One refused connection, reported once through ``on_refusal`` and the log."""

    peer: tuple[str, int]
    listener: str  # the caller's label, e.g. "10.155.6.175:8012 (bound 127.0.0.1:8012)"
    reason: str  # plain words, e.g. "no client certificate presented"
    alert: str | None  # the TLS alert sent, e.g. "certificate_required"; None if none was
    subject: str | None  # the client certificate's subject CN when it presented one

    @property
    def log_line(self) -> str:
        host, port = self.peer
        who = host_port(host, port)
        if self.subject is not None:
            name = self.subject if "=" in self.subject else f"CN={self.subject}"
            who += f" (certificate {name})"
        alert = f"sent alert {self.alert}" if self.alert else "no alert sent"
        return one_line(f"CTI {self.listener}: refused {who}: {self.reason}; {alert}")


def report(refusal: Refusal, callback: Callable[[Refusal], None] | None) -> None:
    """Log the refusal and hand it to ``callback``; a failing callback only gets logged."""
    log.warning("%s", refusal.log_line)
    if callback is None:
        return
    try:
        callback(refusal)
    except Exception:  # noqa: BLE001 - a listener must outlive a faulty observer
        log.exception("on_refusal callback failed for %s", refusal.peer)
