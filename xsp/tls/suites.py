"""Which configured protocols and cipher suites a CTI listener really offers, and why not.

BroadWorks configures IANA names; this OpenSSL negotiates what it implements, for the
server key it has. ``plan`` decides, suite by suite, with OpenSSL's own description of
each suite (``SSLContext.get_ciphers()``: key exchange, authentication, lowest
version), so the plan and the handshakes agree. ``xsp.tls.context`` then configures an
``SSLContext`` with exactly the plan's negotiable suites and offered versions.

Rules beyond "OpenSSL implements it":
- the server certificate decides authentication: RSA suites need an RSA key, ECDSA
  suites an EC key, DSS suites a DSA key (which BroadWorks interfaces never have);
- PSK and SRP suites need secrets this server never has;
- anonymous suites are never offered: they would skip the server certificate and,
  since TLS forbids a certificate request in them, client authentication too;
- a version is offered only when some negotiable suite works under it, so an allowed
  TLSv1.1 with only TLS 1.2 suites is refused at version negotiation, which is what a
  scanner then reports (and what the client is told: protocol_version);
- TLS 1.3 needs the restriction of ``xsp.tls.tls13``; without it TLSv1.3 is not offered.
"""
from __future__ import annotations

import functools
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from xsp_cli_contexts import ciphers
from xsp_cli_contexts.types import PROTOCOL_NAMES
from xsp.tls import tls13

PROTOCOLS = PROTOCOL_NAMES  # BroadWorks protocol names
KeyType = Literal["rsa", "ec"]

# OpenSSL 3 only signs TLS 1.0/1.1 handshakes (MD5+SHA1) at security level 0.
_LEGACY_PROTOCOLS = ("TLSv1", "TLSv1.1")
# Python's own default; kept whenever nothing configured needs less.
_DEFAULT_SECURITY_LEVEL = 2
# get_ciphers() "protocol" is the lowest version a suite runs under.
_FIRST_VERSION = {"SSLv3": "TLSv1", "TLSv1.0": "TLSv1", "TLSv1": "TLSv1",
                  "TLSv1.1": "TLSv1.1", "TLSv1.2": "TLSv1.2", "TLSv1.3": "TLSv1.3"}


@dataclass(frozen=True)
class _OpenSSLSuite:
    name: str
    first_version: str
    kea: str  # e.g. "kx-ecdhe"
    auth: str  # e.g. "auth-rsa"
    encrypts: bool
    strength_bits: int


@functools.cache
def _openssl_suites() -> dict[int, _OpenSSLSuite]:
    """Every suite this OpenSSL implements, by IANA code point."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    tls13_suites = tls13.supported_suites()
    if tls13_suites:
        # get_ciphers() lists configured TLS 1.3 suites only; CCM ones are off by default.
        tls13.set_tls13_suites(context, tls13_suites)
    return {c["id"] & 0xFFFF: _OpenSSLSuite(c["name"], _FIRST_VERSION[c["protocol"]], c["kea"],
                                            c["auth"], c["symmetric"] is not None,
                                            c["strength_bits"])
            for c in context.get_ciphers()}


def openssl_name(iana_name: str) -> str | None:
    """This OpenSSL's name for the suite, or None when it cannot negotiate it at all."""
    try:
        code = ciphers.code_point(iana_name)
    except ciphers.UnknownCipher:
        return None
    suite = _openssl_suites().get(code)
    return suite.name if suite is not None else None


@dataclass(frozen=True)
class SuiteDecision:
    iana_name: str
    openssl_name: str | None
    negotiable: bool
    reason: str | None  # why not, in plain words; None when negotiable
    tls13: bool
    protocols: tuple[str, ...] = ()  # the offered versions it can be negotiated under


@dataclass(frozen=True)
class ProtocolDecision:
    name: str
    allowed: bool  # configured
    offered: bool  # a handshake at this version can succeed
    reason: str | None  # why an allowed version is not offered; "not allowed" otherwise


@dataclass(frozen=True)
class SuitePlan:
    allowed_protocols: tuple[str, ...]
    server_key_type: KeyType
    suites: tuple[SuiteDecision, ...]  # configured order, duplicates dropped
    protocol_decisions: tuple[ProtocolDecision, ...]  # one per PROTOCOLS entry
    protocols: tuple[str, ...]  # offered versions, in PROTOCOLS order
    security_level: int  # OpenSSL @SECLEVEL the context needs
    why_refusing: str | None  # set when no handshake can succeed
    # What offered is weak, in plain words ("TLSv1 is offered", "... encrypts nothing");
    # each needs security level 0 for the handshake (never for client certificates).
    weaknesses: tuple[str, ...] = ()

    @property
    def negotiable(self) -> tuple[SuiteDecision, ...]:
        return tuple(s for s in self.suites if s.negotiable)

    @property
    def tls12_openssl_names(self) -> tuple[str, ...]:
        """OpenSSL names of the negotiable TLS 1.2-and-below suites, in preference order."""
        return tuple(s.openssl_name for s in self.negotiable
                     if not s.tls13 and s.openssl_name is not None)

    @property
    def tls13_suites(self) -> tuple[str, ...]:
        return tuple(s.iana_name for s in self.negotiable if s.tls13)


def _key_word(key_type: KeyType) -> str:
    return "RSA" if key_type == "rsa" else "EC"


def _missing_reason(iana: str) -> str:
    """Why OpenSSL cannot negotiate a suite it does not list."""
    if iana == "TLS_NULL_WITH_NULL_NULL":
        return "TLS_NULL_WITH_NULL_NULL is the state before a handshake, not a suite"
    if "_DH_DSS_" in iana or "_DH_RSA_" in iana:
        return "static DH is not supported by OpenSSL"
    if "_ECDH_ECDSA_" in iana or "_ECDH_RSA_" in iana:
        return "static ECDH is not supported by OpenSSL"
    if "_KRB5_" in iana:
        return "Kerberos suites are not supported by OpenSSL"
    if "_EXPORT_" in iana:
        return "export-grade suites are not supported by OpenSSL"
    if ciphers.is_tls13(iana):
        return "this OpenSSL does not implement this TLS 1.3 suite"
    names = ciphers.openssl_names(iana)
    if names:
        return f"{names[0]} is not available in this OpenSSL ({ssl.OPENSSL_VERSION})"
    return "not implemented by OpenSSL"


def _authentication_reason(suite: _OpenSSLSuite, key_type: KeyType) -> str | None:
    if "psk" in suite.kea or suite.auth == "auth-psk":
        return "PSK suites need a pre-shared key, and this server has none"
    if suite.kea == "kx-srp":
        return "SRP suites need an SRP verifier, and this server has none"
    if "gost" in suite.kea or "gost" in suite.auth:
        return "needs a GOST server certificate"
    if suite.auth == "auth-null":
        return ("anonymous suite: no server certificate and no client authentication; "
                "never offered")
    key = _key_word(key_type)
    if suite.auth == "auth-dss":
        return f"needs a DSA server certificate (the server key is {key})"
    if suite.auth == "auth-rsa" and key_type != "rsa":
        return f"needs an RSA server certificate (the server key is {key})"
    if suite.auth == "auth-ecdsa" and key_type != "ec":
        return f"needs an ECDSA server certificate (the server key is {key})"
    return None


def _versions_of(suite: _OpenSSLSuite) -> tuple[str, ...]:
    if suite.first_version == "TLSv1.3":
        return ("TLSv1.3",)
    return PROTOCOLS[PROTOCOLS.index(suite.first_version):PROTOCOLS.index("TLSv1.2") + 1]


def _span(versions: tuple[str, ...]) -> str:
    def number(version: str) -> str:
        return {"TLSv1": "1.0"}.get(version, version[len("TLSv"):])
    if len(versions) == 1:
        return f"TLS {number(versions[0])}"
    return f"TLS {number(versions[0])} to {number(versions[-1])}"


def _version_reason(versions: tuple[str, ...], allowed: tuple[str, ...]) -> str:
    if not allowed:
        return "no protocol version is allowed"
    if allowed == ("TLSv1.3",):
        return f"{_span(versions)} suite but only TLSv1.3 is allowed"
    missing = " or ".join(versions)
    verb = "is" if len(versions) == 1 else "are"
    return f"{_span(versions)} suite but {missing} {verb} not allowed"


def _decide(name: str, allowed: tuple[str, ...], key_type: KeyType) -> SuiteDecision:
    try:
        iana = ciphers.resolve(name).iana_name
    except ciphers.UnknownCipher as exc:
        return SuiteDecision(name, None, False, f"not an IANA cipher suite name ({exc})", False)
    is13 = ciphers.is_tls13(iana)
    suite = _openssl_suites().get(ciphers.code_point(iana))
    openssl = suite.name if suite is not None else None

    def refuse(reason: str) -> SuiteDecision:
        return SuiteDecision(iana, openssl, False, reason, is13)

    if is13:
        if "TLSv1.3" not in allowed:
            return refuse("TLS 1.3 suite but TLSv1.3 is not allowed")
        unavailable = tls13.unavailable_reason()
        if unavailable is not None:
            return refuse(f"TLS 1.3 suites cannot be restricted here ({unavailable}); "
                          "TLSv1.3 is not offered")
    if suite is None:
        return refuse(_missing_reason(iana))
    if not is13:
        reason = _authentication_reason(suite, key_type)
        if reason is not None:
            return refuse(reason)
    versions = _versions_of(suite)
    usable = tuple(v for v in versions if v in allowed)
    if not usable:
        return refuse(_version_reason(versions, allowed))
    return SuiteDecision(iana, openssl, True, None, is13, usable)


def _normalise_protocols(protocols: Sequence[str]) -> tuple[str, ...]:
    by_lower = {p.lower(): p for p in PROTOCOLS}
    chosen = set()
    for word in protocols:
        name = by_lower.get(word.strip().lower())
        if name is None:
            raise ValueError(f"{word} is not a protocol name; expected one of {', '.join(PROTOCOLS)}")
        chosen.add(name)
    return tuple(p for p in PROTOCOLS if p in chosen)


def _protocol_decision(name: str, allowed: tuple[str, ...],
                       suites: tuple[SuiteDecision, ...]) -> ProtocolDecision:
    if name not in allowed:
        return ProtocolDecision(name, False, False, "not allowed")
    if any(name in s.protocols for s in suites):
        return ProtocolDecision(name, True, True, None)
    if name == "TLSv1.3":
        unavailable = tls13.unavailable_reason()
        if unavailable is not None:
            reason = f"TLS 1.3 suites cannot be restricted here ({unavailable})"
        elif not any(s.tls13 for s in suites):
            reason = "no TLS 1.3 suite is configured"
        else:
            reason = "none of the configured TLS 1.3 suites can be negotiated"
    else:
        reason = f"none of the configured suites can be negotiated with {name}"
    return ProtocolDecision(name, True, False, reason)


def _weaknesses(protocols: tuple[str, ...], suites: tuple[SuiteDecision, ...]) -> tuple[str, ...]:
    found = [f"{p} is offered" for p in protocols if p in _LEGACY_PROTOCOLS]
    known = _openssl_suites()
    for decision in suites:
        suite = known.get(ciphers.code_point(decision.iana_name)) if decision.negotiable else None
        # NULL encryption has 0 bits of strength: below every level but 0.
        if suite is not None and not suite.encrypts:
            found.append(f"{decision.iana_name} encrypts nothing")
        elif suite is not None and suite.strength_bits < 112:
            found.append(f"{decision.iana_name} has {suite.strength_bits}-bit strength")
    return tuple(found)


def plan(protocols: Sequence[str], iana_suites: Sequence[str], server_key_type: KeyType) -> SuitePlan:
    """Decide what a listener with these settings and this kind of server key offers."""
    if server_key_type not in ("rsa", "ec"):
        raise ValueError(f"server_key_type must be 'rsa' or 'ec', not {server_key_type!r}")
    allowed = _normalise_protocols(protocols)
    decisions: list[SuiteDecision] = []
    seen: set[str] = set()
    for name in iana_suites:
        decision = _decide(name, allowed, server_key_type)
        if decision.iana_name not in seen:
            seen.add(decision.iana_name)
            decisions.append(decision)
    suites = tuple(decisions)
    protocol_decisions = tuple(_protocol_decision(p, allowed, suites) for p in PROTOCOLS)
    offered = tuple(d.name for d in protocol_decisions if d.offered)
    why = None
    if not allowed:
        why = "no protocol version is configured"
    elif not suites:
        why = "no cipher suite is configured"
    elif not offered:
        why = (f"no cipher overlap: none of the {len(suites)} configured suites can be "
               f"negotiated with {', '.join(allowed)} and an {_key_word(server_key_type)} "
               "server key")
    weaknesses = _weaknesses(offered, suites)
    return SuitePlan(allowed, server_key_type, suites, protocol_decisions, offered,
                     0 if weaknesses else _DEFAULT_SECURITY_LEVEL, why, weaknesses)
