"""Who may use the Xsi-Events API of a listener, decided from the TLS peer certificate.

The TLS handshake has already verified the certificate chain against the interface's
trust anchors; this decides what BroadWorks decides after it, per request:

1. ``allowClientApp`` false (System/CommunicationUtility/DefaultSettings/
   ExternalAuthentication/CertificateAuthentication): no client application may
   authenticate by certificate, so every certificate client is refused, 403. Refused
   before looking for a certificate, because presenting one would not help.
2. No certificate on a listener that requires one: 401.
3. A certificate whose subject CN is not a ``ClientIdentity`` of the AS: 403.

A listener that does not require a certificate (BroadWorks ``Secure false``, or TLS
without client authentication) answers a certificate-less client as the anonymous
client ``identity.ANONYMOUS``: all such clients share channels and subscriptions, and
their events carry ``userId`` (the target) instead of ``clientId``. A certificate
presented there anyway is checked as above, since the client has claimed an identity.

The CN is compared without regard to case, as DNS names are.

A client admitted here can be asked again, later, whether it still would be
(``Client.revoked``): the node does so for every open channel when ClientIdentity or
allowClientApp changes, and ends the channels of a client that no longer is.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, NamedTuple

from xsp.cti.errors import ErrorCode, XsiError
from xsp.cti.identity import Client

NO_CERTIFICATE = "(no certificate)"


class Refusal(XsiError):
    """A refused client; ``who`` names it for the log line (its CN, or no certificate)."""

    def __init__(self, code: ErrorCode, summary: str, who: str) -> None:
        super().__init__(code, summary)
        self.who = who


class ClientPolicy(NamedTuple):
    """What decides a certificate client: the AS's ClientIdentity list and the node's
    allowClientApp, read together from one configuration."""

    identities: Collection[str]
    allow_client_app: bool


class Authorizer:
    def __init__(self, policy: Callable[[], ClientPolicy],
                 require_certificate: bool = True) -> None:
        # Read on every request (once), so that a change in the shell applies at once,
        # as ClientIdentity and allowClientApp do on BroadWorks (no restart).
        self._policy = policy
        self.require_certificate = require_certificate

    def authorize(self, transport: Any) -> Client:
        """The client on ``transport`` (an asyncio transport), or ``Refusal``."""
        certificate = peer_certificate(transport)
        if certificate is None and not self.require_certificate:
            return Client.anonymous()
        common_name = subject_common_name(certificate) if certificate else None
        who = common_name or (NO_CERTIFICATE if certificate is None else "(certificate without CN)")
        policy = self._policy()
        if not policy.allow_client_app:
            raise Refusal(ErrorCode.CLIENT_APP_DISABLED,
                          "Certificate authentication of client applications is disabled "
                          "(CertificateAuthentication allowClientApp is false)", who)
        if certificate is None:
            raise Refusal(ErrorCode.NO_CERTIFICATE,
                          "A client certificate is required and none was presented", who)
        if common_name is None:
            raise Refusal(ErrorCode.CLIENT_NOT_ALLOWED,
                          "The client certificate has no subject common name (CN)", who)
        if not _identity_allowed(policy, common_name):
            raise Refusal(ErrorCode.CLIENT_NOT_ALLOWED,
                          f"Client identity {common_name} is not in "
                          "AS_CLI/System/ClientIdentity", who)
        return Client(common_name, True, lambda: self.revoked(common_name))

    def revoked(self, common_name: str) -> str | None:
        """Why a client admitted as ``common_name`` would be refused now, or None."""
        policy = self._policy()
        if not policy.allow_client_app:
            return "allowClientApp is now false (CertificateAuthentication)"
        if not _identity_allowed(policy, common_name):
            return f"{common_name} is no longer in AS_CLI/System/ClientIdentity"
        return None


def _identity_allowed(policy: ClientPolicy, common_name: str) -> bool:
    wanted = common_name.lower()
    return any(identity.lower() == wanted for identity in policy.identities)


def peer_certificate(transport: Any) -> dict[str, Any] | None:
    """The verified peer certificate as ``SSLSocket.getpeercert()`` gives it, or None."""
    if transport is None:
        return None
    certificate = transport.get_extra_info("peercert")
    if not certificate:
        ssl_object = transport.get_extra_info("ssl_object")
        certificate = ssl_object.getpeercert() if ssl_object is not None else None
    # getpeercert() returns {} for a certificate it did not verify: that is none at all.
    return certificate or None


def subject_common_name(certificate: dict[str, Any]) -> str | None:
    """The last CN of the subject: the most specific, as TLS stacks read it."""
    names = [value for rdn in certificate.get("subject", ()) for key, value in rdn
             if key == "commonName"]
    return names[-1] if names else None
