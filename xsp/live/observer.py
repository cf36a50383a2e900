"""What the running node reports to whoever watches it (the live page's feed).

The node, its listeners and the event hub each hold an ``Observer`` and make one call
per fact: a node started or restarted, a connection admitted or refused, an event sent
or acknowledged. Everything else the page shows (channels, subscriptions, listener
policy) it reads from the node when told that something changed, so the reporting side
stays one line per hook. The default observer ignores everything: a node without a
page pays nothing.

Calls arrive on the node's event loop and must not block or raise; ``safely`` keeps a
faulty observer from breaking the caller.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from xsp.cti.channels import Delivery
    from xsp.listener.refusal import Refusal

log = logging.getLogger("xsp.live")


@dataclass(frozen=True)
class Admitted:
    """A connection whose TLS handshake succeeded (or a plain TCP one, protocol None)."""

    peer: tuple[str, int]
    listener: str  # the listener's label, as in its refusal lines, e.g. "xsp1 127.0.0.1:8012"
    protocol: str | None  # e.g. "TLSv1.2"
    suite: str | None  # OpenSSL's name of the negotiated suite
    certificate: bytes | None  # the client certificate (DER); None without one

    @property
    def subject(self) -> str | None:
        """The client certificate's subject CN (the last, as ``auth`` reads it).

        Parsed only when asked: every handshake makes an ``Admitted``, and only a node
        with a live page reads its subject.
        """
        if not self.certificate:
            return None
        from cryptography import x509
        from cryptography.x509.oid import NameOID
        try:
            names = x509.load_der_x509_certificate(self.certificate).subject.get_attributes_for_oid(
                NameOID.COMMON_NAME)
        except ValueError:
            return None
        return str(names[-1].value) if names else None


def admitted_by(transport: Any, listener: str, report: Callable[[Admitted], None]) -> None:
    """Report ``transport``'s connection if its TLS handshake has completed.

    Called when the handshake phase ends, which is also when a refusal ends it:
    ``SSLObject.version()`` is None until a handshake has finished.
    """
    ssl_object = transport.extra_info("ssl_object", None)
    version = ssl_object.version() if ssl_object is not None else None
    if version is None:
        return
    peer = transport.extra_info("peername", None) or ("?", 0)
    cipher = ssl_object.cipher()
    safely(lambda: report(Admitted((str(peer[0]), int(peer[1])), listener, version,
                                   cipher[0] if cipher else None,
                                   ssl_object.getpeercert(binary_form=True))))


class Observer(Protocol):
    def nodes_changed(self) -> None:
        """A node started, restarted or stopped: listeners and their policy may differ."""

    def connection_admitted(self, admitted: Admitted) -> None: ...

    def connection_refused(self, refusal: "Refusal") -> None: ...

    def request_refused(self, listener: str, peer: str, who: str, reason: str, status: int,
                        log_line: str) -> None:
        """A request refused after the handshake (``ClientIdentity``, ``allowClientApp``):
        ``who`` is the certificate's CN or why there is none, ``status`` the HTTP one."""

    def cti_refused(self, listener: str, peer: str, login: str, code: str, words: str,
                    detail: str, log_line: str) -> None:
        """CTIManager refused a provider or device open, or closed a provider: ``code`` is
        the CTI error (e.g. ``0x8CCC00E2``), ``words`` what JTAPI/TSP shows for it."""

    def event_sent(self, delivery: "Delivery") -> None:
        """One send of an event to a channel (``delivery.attempts`` counts them)."""

    def event_acknowledged(self, delivery: "Delivery") -> None: ...


class NullObserver:
    """Watches nothing: the default of every node, listener and hub."""

    def nodes_changed(self) -> None:
        pass

    def connection_admitted(self, admitted: Admitted) -> None:
        pass

    def connection_refused(self, refusal: "Refusal") -> None:
        pass

    def request_refused(self, listener: str, peer: str, who: str, reason: str, status: int,
                        log_line: str) -> None:
        pass

    def cti_refused(self, listener: str, peer: str, login: str, code: str, words: str,
                    detail: str, log_line: str) -> None:
        pass

    def event_sent(self, delivery: "Delivery") -> None:
        pass

    def event_acknowledged(self, delivery: "Delivery") -> None:
        pass


NULL_OBSERVER: Observer = NullObserver()


def safely(call: Callable[[], None]) -> None:
    """Run one observer call; its failure is logged and never reaches the node."""
    try:
        call()
    except Exception:  # noqa: BLE001 - the page must never break a listener or the hub
        log.exception("the live page's observer failed")
