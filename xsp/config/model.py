"""The typed configuration of an emulated deployment (one AS and its XSP|ADP nodes).

Plain dataclasses; ``to_data``/``from_data`` map them to and from the YAML document.
``from_data`` checks every field's type and range and raises ``ModelError`` with the
dotted path of the offending value, which the store turns into a file line number.
"""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from xsp_cli_contexts.types import PROTOCOL_NAMES as PROTOCOLS
from xsp.config.cucm import CucmSettings
from xsp.config.fields import CERTIFICATE, OMIT_IF_NONE, SECTION, ModelError, omitted, show

SCHEMA_VERSION = 1

# The system cipher list of a fresh install (BroadWorks configuration guide).
DEFAULT_SYSTEM_CIPHERS = (
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
)
# A fresh system offers TLS 1.2 only; the emulator documents this as its assumption.
DEFAULT_SYSTEM_PROTOCOLS = ("TLSv1.2",)

DEFAULT_USERS = ("alice@example.com", "bob@example.com", "carol@example.com")


@dataclass
class SSLSettings:
    """Ciphers and protocols of one level; an empty list inherits the next level up."""
    ciphers: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i, name in enumerate(self.protocols):
            if name not in PROTOCOLS:
                raise ModelError(f"protocols[{i}]", f"unknown protocol {show(name)}; expected one of {', '.join(PROTOCOLS)}")


@dataclass(frozen=True)
class InterfaceCertificate:
    cert_pem: str = field(metadata=CERTIFICATE)
    chain_pem: str = field(default="", metadata=CERTIFICATE)
    # File name under the state's private directory; the key itself is never in the YAML.
    key_file: str = ""
    self_signed: bool = True


@dataclass
class CTIServer:
    ip: str
    port: int
    secure: bool = True
    server_certificate: bool = True
    client_auth_req: bool = True
    ssl: SSLSettings = field(default_factory=SSLSettings)
    certificate: InterfaceCertificate | None = None

    def __post_init__(self) -> None:
        try:
            self.ip = str(ipaddress.ip_address(self.ip))
        except ValueError:
            raise ModelError("ip", f"{show(self.ip)} is not an IP address") from None
        if not 1 <= self.port <= 65535:
            raise ModelError("port", f"{self.port} is out of range 1-65535")

    @property
    def key(self) -> str:
        return self.ip


@dataclass(frozen=True)
class TrustAnchor:
    alias: str
    cert_pem: str = field(metadata=CERTIFICATE)

    @property
    def key(self) -> str:
        return self.alias


@dataclass
class XspSettings:
    jsse: SSLSettings = field(default_factory=lambda: SSLSettings(
        list(DEFAULT_SYSTEM_CIPHERS), list(DEFAULT_SYSTEM_PROTOCOLS)))
    openssl: SSLSettings = field(default_factory=SSLSettings)
    cti_common: SSLSettings = field(default_factory=SSLSettings)
    trusts: list[TrustAnchor] = field(default_factory=list, metadata=SECTION)
    cti_servers: list[CTIServer] = field(default_factory=list, metadata=SECTION)
    allow_client_app: bool = False
    # The emulator's own setting: the port of the XSP's Xsi interface (HTTP Xsi-Events)
    # on every CTIServer address, or None for no Xsi interface.
    xsi_port: int | None = field(default=None, metadata=OMIT_IF_NONE)

    def cti_server(self, ip: str) -> CTIServer | None:
        return next((s for s in self.cti_servers if s.ip == ip), None)


@dataclass(frozen=True)
class User:
    user_id: str
    group: str = "Group1"
    enterprise: str = "Enterprise1"

    @property
    def key(self) -> str:
        return self.user_id


@dataclass
class AsSettings:
    client_identities: list[str] = field(default_factory=list, metadata=SECTION)
    users: list[User] = field(default_factory=lambda: [User(u) for u in DEFAULT_USERS],
                              metadata=SECTION)


NodeKind = Literal["AS", "XSP", "ADP", "CUCM"]
# Node names become parts of file names in the state.
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass
class Node:
    name: str
    kind: NodeKind
    xsp: XspSettings | None = None
    as_: AsSettings | None = None
    cucm: CucmSettings | None = field(default=None, metadata=OMIT_IF_NONE)
    # What changed since the last restart, in the words of the command that changed it.
    pending_restart: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not NODE_NAME.fullmatch(self.name):
            raise ModelError("name", f"{show(self.name)} is not a node name; expected letters, digits, '-' and '_'")
        if self.kind not in ("AS", "XSP", "ADP", "CUCM"):
            raise ModelError("kind", f"unknown node kind {show(self.kind)}; expected AS, XSP, ADP or CUCM")
        if self.kind == "AS" and self.as_ is None:
            self.as_ = AsSettings()
        if self.kind in ("XSP", "ADP") and self.xsp is None:
            self.xsp = XspSettings()
        if self.kind == "CUCM" and self.cucm is None:
            # A CUCM node's certificates are made when it is added (emu addnode).
            raise ModelError("cucm", "missing required setting")

    @property
    def cucm_settings(self) -> CucmSettings:
        """A CUCM node's settings; a ModelError naming the node on any other kind."""
        if self.cucm is None:
            raise ModelError("", f"{self.name} is an {self.kind} node, not a CUCM node")
        return self.cucm

    @property
    def is_xsp(self) -> bool:
        """An XSP or an ADP: a node with the BroadWorks CTI interface."""
        return self.kind in ("XSP", "ADP")

    @property
    def prompt_name(self) -> str:
        return "admin:" if self.kind == "CUCM" else f"{self.kind}_CLI"

    @property
    def xsp_settings(self) -> XspSettings:
        """The XSP|ADP settings; a ModelError naming the node on the AS."""
        if self.xsp is None:
            if self.kind == "AS":
                raise ModelError("", f"{self.name} is the Application Server; it has no CTI interface")
            raise ModelError("", f"{self.name} is a {self.kind} node; it has no BroadWorks CTI interface")
        return self.xsp

    @property
    def as_settings(self) -> AsSettings:
        """The Application Server's settings; a ModelError naming the node elsewhere."""
        if self.as_ is None:
            raise ModelError("", f"{self.name} is an {self.kind} node, not the Application Server")
        return self.as_


# The schema's minimum expires of a channel or subscription: a shorter one asked for is
# raised to it. The maxima are settings (Limits).
MIN_EXPIRES = 3600


@dataclass
class Limits:
    """What one client, and all of them together, may grow on the node: the emulator's
    own settings (``emu limit``), applied at the next restart. A real XSP|ADP has bounds
    of its own that are not published; these are chosen so that a Webex-like client never
    meets them and a runaway one is stopped long before the node suffers. The maximum
    expires of channels and subscriptions is a system setting on BroadWorks whose name
    the references do not give; here it is one of these."""

    connections: int = 4096              # open at once, every listener of the node process
    connections_per_client: int = 100
    channels: int = 1000                 # open event channels, all clients
    channels_per_client: int = 100
    subscriptions: int = 20000           # all clients
    subscriptions_per_client: int = 5000
    channel_sets_per_client: int = 20
    backlog: int = 1000                  # events a channel set keeps while it has no channel
    backlog_seconds: int = 600           # ... and how long each waits there
    outbox_kib: int = 1024               # written to a channel, not yet read by its client
    write_timeout: int = 30              # seconds a client may leave written data unread
    max_channel_expires: int = 86400     # seconds granted at most; more asked is lowered
    max_subscription_expires: int = 86400

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            least = MIN_EXPIRES if f.name in EXPIRES_LIMITS else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ModelError(f.name, f"expected a whole number of at least {least}, "
                                         f"got {value!r}")


# Limits that are a maximum expires: never below the minimum.
EXPIRES_LIMITS = frozenset({"max_channel_expires", "max_subscription_expires"})


@dataclass
class Deployment:
    nodes: list[Node]
    version: int = SCHEMA_VERSION
    limits: Limits = field(default_factory=Limits)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def application_server(self) -> Node:
        return next(n for n in self.nodes if n.kind == "AS")  # exactly one, see __post_init__

    @property
    def users(self) -> list[User]:
        return self.application_server.as_settings.users

    @property
    def client_identities(self) -> list[str]:
        return self.application_server.as_settings.client_identities

    def first_cti_node(self) -> Node:
        """The first XSP or ADP node, which commands open when no node is named."""
        for node in self.nodes:
            if node.is_xsp:
                return node
        raise ModelError("", "this state has no XSP or ADP node (add one in the AS's shell "
                             "with: emu addnode NAME XSP)")

    def __post_init__(self) -> None:
        names = [n.name for n in self.nodes]
        for i, name in enumerate(names):
            if names.index(name) != i:
                raise ModelError(f"nodes[{i}].name", f"node name {show(name)} is used twice")
        if sum(1 for n in self.nodes if n.kind == "AS") != 1:
            raise ModelError("nodes", "the deployment needs exactly one AS node")


def new_deployment() -> Deployment:
    """What a new state holds: one Application Server and one XSP."""
    return Deployment(nodes=[Node("as1", "AS"), Node("xsp1", "XSP")])


# --- mapping to and from the YAML document -------------------------------------------

def _yaml_name(f: dataclasses.Field) -> str:
    return f.name.rstrip("_")  # `as_` is `as` in the file


def to_data(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {_yaml_name(f): to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not omitted(f, getattr(obj, f.name))}
    if isinstance(obj, list):
        return [to_data(v) for v in obj]
    return obj


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return _convert(inner, value, path)
    if origin is Literal:
        if value not in typing.get_args(tp):
            allowed = ", ".join(map(str, typing.get_args(tp)))
            raise ModelError(path, f"{show(value)} is not one of {allowed}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ModelError(path, f"expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_data(tp, value, path)
    if tp is bool and not isinstance(value, bool):
        raise ModelError(path, f"expected true or false, got {show(value)}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ModelError(path, f"expected a number, got {show(value)}")
    if tp is str and not isinstance(value, str):
        raise ModelError(path, f"expected a string, got {show(value)}")
    return value


@functools.cache
def _schema(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field]]:
    """Type hints and YAML field names of a model class, computed once per class.

    ``typing.get_type_hints`` is slow, and a large state (a thousand trust anchors)
    would otherwise call it once per object on every load.
    """
    return typing.get_type_hints(cls), {_yaml_name(f): f for f in dataclasses.fields(cls)}


def from_data(cls: type, data: Any, path: str = "") -> Any:
    """Build ``cls`` from YAML data, checking every field; errors carry the dotted path."""
    if not isinstance(data, dict):
        raise ModelError(path, f"expected a mapping, got {type(data).__name__}")
    hints, fields = _schema(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ModelError(_join(path, show(unknown[0]).strip("'")), f"unknown setting; expected one of {', '.join(fields)}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[f.name] = _convert(hints[f.name], data[name], _join(path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ModelError(_join(path, name), "missing required setting")
    try:
        return cls(**kwargs)
    except ModelError as exc:
        raise ModelError(_join(path, exc.path), exc.message) from None


def _join(path: str, name: str) -> str:
    if not name:
        return path
    if name.startswith("["):
        return path + name
    return f"{path}.{name}" if path else name
