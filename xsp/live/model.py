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
    kind: str  # what the port speaks, e.g. "CTI (Xsi-Events over HTTPS)"
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
    role: str  # e.g. "System Administrator Security Token", "CCM+TFTP", "CAPF"
    certificate: CertificateView


@dataclass(frozen=True)
class CapfProfileView:
    device: str
    operation: str  # e.g. "Install/Upgrade", "No Pending Operation"
    status: str  # e.g. "Operation Pending", "Upgrade Success"
    certificate: CertificateView | None  # the LSC, once issued


@dataclass(frozen=True)
class CucmView:
    """The place for a CUCM node's facts (filled once the CUCM node exists).

    Mixed mode, the CTL file's signer and records, CAPF profiles with their status, and
    the open CTI providers and devices.
    """

    name: str
    mixed_mode: bool
    ctl_signer: CertificateView | None
    ctl_records: list[CtlRecordView]
    capf_profiles: list[CapfProfileView]
    providers: list[str]
    devices: list[str]


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
