"""The facts the live page shows, as plain data that encodes to the feed's JSON.

Nothing here is secret by construction: certificates appear as subject, issuer, expiry
and SHA-256 fingerprint, never as PEM; no private key, password or authentication
string has a field. Times are seconds since the epoch (the server's clock; each message
carries ``now`` so a page on another machine can count down correctly).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CertificateView:
    subject: str
    issuer: str
    not_after: str  # ISO 8601, UTC
    sha256: str  # AB:CD:... as openssl and browsers show it


@dataclass(frozen=True)
class SuiteView:
    iana: str
    openssl: str | None
    negotiable: bool
    protocols: list[str]  # the offered versions it can be negotiated under
    reason: str | None  # why not negotiable, in the words of `emu effective`


@dataclass(frozen=True)
class ListenerView:
    """One listener: what is configured, where it listens, and what a handshake can get."""

    interface: str  # configured ip:port, as BroadWorks names the interface
    kind: str  # what the port speaks, e.g. "CTI interface (BroadWorks CTI interface protocol, ...)"
    address: str  # where it is bound, e.g. 127.0.0.1
    port: int  # the bound port (the configured one when not listening)
    listening: bool
    secure: bool
    client_certificate_required: bool
    protocols: list[str]  # offered TLS versions (the `emu effective` verdict)
    not_offered: list[dict[str, str]]  # allowed versions no handshake can use: name, reason
    suites: list[SuiteView]  # configured suites in server preference order
    refusing_every_handshake: str | None
    problem: str | None  # why it does not accept, in plain words
    note: str | None  # e.g. the loopback address used for a foreign IP
    refused_since_restart: int
    certificate: CertificateView | None


@dataclass(frozen=True)
class NodeView:
    name: str
    kind: str  # AS, XSP, ADP, and later CUCM
    running: bool
    pending_restart: list[str]  # the commands whose effect awaits `emu restart`
    listeners: list[ListenerView] = field(default_factory=list)
    trust_anchors: list[dict[str, Any]] = field(default_factory=list)  # alias + CertificateView
    client_identities: list[str] = field(default_factory=list)  # AS only
    allow_client_app: bool | None = None  # XSP|ADP only


@dataclass(frozen=True)
class CtlRecordView:
    role: str  # as `show ctl` names it: "SAST", "CCM+TFTP", "CAPF"
    subject: str
    serial: str  # hex, as `show ctl` prints it
    sha256: str | None  # of the record's certificate; None when the record carries none


@dataclass(frozen=True)
class TrustFileView:
    """A CTL or ITL file as the node serves it: its signer (a SAST) and its records."""

    file: str  # CTLFile.tlv or ITLFile.tlv
    written_at: int  # the file's own timestamp, seconds since the epoch
    signer_subject: str
    signer_serial: str
    verified: bool
    records: list[CtlRecordView]
    problem: str | None = None  # why it cannot be read, when it cannot


@dataclass(frozen=True)
class LscView:
    """The certificate CAPF issued (a locally significant certificate), never its PEM."""

    subject: str
    serial: str
    not_after: str
    sha256: str | None
    compromised: bool


@dataclass(frozen=True)
class CapfProfileView:
    """A CAPF profile of an application or end user, or a phone's CAPF settings.

    The authentication string is configuration a phone or application proves itself
    with: it never has a field here.
    """

    kind: str  # "Application User", "End User" or "Phone"
    name: str  # the Instance ID, or the phone's device name
    user: str | None  # the profile's user ID; None for a phone
    operation: str  # e.g. "Install/Upgrade", "No Pending Operation"
    status: str  # e.g. "Operation Pending", "Upgrade Success"
    completes_by: str | None  # the operation's deadline, YYYY-MM-DD
    certificate: LscView | None  # the LSC, once issued


@dataclass(frozen=True)
class ServiceView:
    name: str  # "Cisco TFTP", "TFTP over HTTP", "Cisco CAPF", "CTIManager", "CTIManager TLS"
    transport: str  # udp or tcp
    address: str
    port: int  # the bound port when listening, else the configured one
    listening: bool
    problem: str | None  # why it does not listen


@dataclass(frozen=True)
class ProviderView:
    id: int
    user: str
    instance: str | None  # the client certificate's CN (the CAPF profile's Instance ID) on TLS
    peer: str
    port: int  # the port the application reached: 2748, or 2749 for TLS
    tls: bool
    devices: list[str]  # devices in service for this provider


@dataclass(frozen=True)
class CucmView:
    """A CUCM node: cluster security, its CTL and ITL, CAPF, services and CTIManager."""

    name: str
    running: bool
    mixed_mode: bool
    tls_min_version: str
    pending_restart: list[str]
    ctl: TrustFileView | None  # None in non-secure mode before any CTL was written
    itl: TrustFileView | None  # the ITL the running TFTP serves; None while not running
    capf_profiles: list[CapfProfileView]
    phones: list[CapfProfileView]
    services: list[ServiceView]
    providers: list[ProviderView]


@dataclass(frozen=True)
class ChannelView:
    id: str
    transport: str  # http or ws
    priority: int
    weight: int
    expires_at: float


@dataclass(frozen=True)
class SubscriptionView:
    id: str
    target: str  # a user, or enterprise[/group]
    package: str
    application_id: str
    expires_at: float
    unacknowledged: int  # events sent or waiting, not yet acknowledged


@dataclass(frozen=True)
class ChannelSetView:
    client: str  # the client's identity (certificate CN), or the anonymous client
    id: str
    channels: list[ChannelView]
    subscriptions: list[SubscriptionView]
    backlog: int  # events waiting for a channel to open


@dataclass(frozen=True)
class HubView:
    channel_sets: list[ChannelSetView]
    shown: int  # channel sets listed (at most the page's limit)
    total: int  # channel sets that exist
    stats: dict[str, int]


def plain(value: Any) -> Any:
    """A view (or list of views) as JSON-ready dicts and lists."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value
