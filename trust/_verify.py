"""Verifying a certificate chain for client or server authentication, and saying why it fails.

The decision is cryptography's (``cryptography.x509.verification``: RFC 5280 path
building with the web PKI profile). Its errors are terse ("candidates exhausted"), so
after a refusal the chain is examined here to name the reason a person can act on:
expired, not yet valid, unknown issuer, bad signature, not a CA, wrong key usage, name
mismatch. The verifier decides; the diagnosis only explains.
"""
from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from trust._bundle import load_certificates
from trust._classify import basic_constraints, common_name, is_ca, issued_by, is_self_signed
from trust._errors import TrustError
from trust._fingerprint import sha256_hex

Purpose = Literal["client", "server"]

_PURPOSE_OID = {"client": ExtendedKeyUsageOID.CLIENT_AUTH,
                "server": ExtendedKeyUsageOID.SERVER_AUTH}
_PURPOSE_WORDS = {"client": "client authentication", "server": "server authentication"}
_EKU_WORDS = {ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
              ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
              ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
              ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
              ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
              ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage"}
# Chains longer than this are not something a CTI peer sends; it also bounds the diagnosis.
_MAX_DEPTH = 8


class Reason(enum.Enum):
    OK = "ok"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    UNKNOWN_ISSUER = "unknown issuer"
    BAD_SIGNATURE = "bad signature"
    NOT_A_CA = "not a CA"
    WRONG_USAGE = "wrong key usage"
    NAME_MISMATCH = "name mismatch"
    NOT_A_LEAF = "not a leaf"
    OTHER = "refused"


@dataclass(frozen=True)
class Verification:
    """The outcome: ``ok``, the ``reason``, a one-line ``message``, and the chain when valid."""

    ok: bool
    reason: Reason
    message: str
    chain: tuple[x509.Certificate, ...] = ()  # leaf first, trust anchor last; empty on failure

    def __bool__(self) -> bool:
        return self.ok


def verify_chain(leaf: x509.Certificate, anchors: Sequence[x509.Certificate], *,
                 untrusted: Sequence[x509.Certificate] = (), purpose: Purpose = "client",
                 name: str | None = None, at: dt.datetime | None = None) -> Verification:
    """Verify ``leaf`` for ``purpose`` up to one of ``anchors``, helped by ``untrusted`` CAs.

    Every anchor is trusted as it stands, as a Java trust store (BroadWorks') trusts
    each entry: an issuing CA alone is enough. A server certificate is verified for
    ``name`` (a DNS name or an IP address), which is then required. A client
    certificate needs no subjectAltName (BroadWorks matches its CN against the AS's
    ClientIdentity); when ``name`` is given it must be the CN or a DNS name in the SAN.
    Raises TrustError only for unusable arguments; an invalid chain is a result.
    """
    if purpose not in _PURPOSE_OID:
        raise TrustError(f"purpose must be client or server, not {purpose!r}")
    if not anchors:
        raise TrustError("no trust anchor given")
    when = _utc(at) if at is not None else dt.datetime.now(dt.timezone.utc)
    builder = verification.PolicyBuilder().store(verification.Store(list(anchors))).time(when)
    if purpose == "server":
        if not name:
            raise TrustError("a server certificate is verified for a host name or IP "
                             "address; give one")
        server_verifier = _server_verifier(builder, name)
    try:
        if purpose == "server":
            chain = server_verifier.verify(leaf, list(untrusted))
        else:
            policy = verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
                x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None)
            chain = builder.extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=policy,
            ).build_client_verifier().verify(leaf, list(untrusted)).chain
    except verification.VerificationError as exc:
        reason, detail = _diagnose(leaf, anchors, untrusted, purpose, name, when, str(exc))
        return Verification(False, reason, f"{reason.value}: {detail}")
    if purpose == "client" and name and not _client_has_name(leaf, name):
        return Verification(False, Reason.NAME_MISMATCH,
                            f"{Reason.NAME_MISMATCH.value}: {_who(leaf)} is not {name} "
                            f"(its names: {_names_text(leaf) or 'none'})")
    verified = tuple(chain)
    return Verification(True, Reason.OK, _ok_message(verified, purpose, name, at), verified)


def verify_files(leaf_path: str | os.PathLike[str],
                 anchor_paths: Sequence[str | os.PathLike[str]], *,
                 untrusted_paths: Sequence[str | os.PathLike[str]] = (),
                 purpose: Purpose = "client", name: str | None = None,
                 at: dt.datetime | None = None) -> Verification:
    """verify_chain on files. The leaf file may carry its chain after it (a full chain).

    When the leaf file holds several certificates, the one that is not a CA is the
    leaf and the others are untrusted intermediates.
    """
    leaf, extra = _pick_leaf(load_certificates(leaf_path), os.fspath(leaf_path))
    anchors = [c for path in anchor_paths for c in load_certificates(path)]
    untrusted = extra + [c for path in untrusted_paths for c in load_certificates(path)]
    return verify_chain(leaf, anchors, untrusted=untrusted, purpose=purpose, name=name, at=at)


def parse_time(text: str) -> dt.datetime:
    """ISO-8601 (``2030-01-01``, ``2030-01-01T00:00:00Z``, with an offset); UTC when none is given."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise TrustError(f"{text!r} is not an ISO-8601 time "
                         "(e.g. 2030-01-01 or 2030-01-01T00:00:00Z)") from None
    return _utc(value)


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _server_verifier(builder: verification.PolicyBuilder,
                     name: str) -> verification.ServerVerifier:
    try:
        subject: verification.Subject = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = x509.DNSName(name)
    try:
        return builder.build_server_verifier(subject)
    except ValueError:
        raise TrustError(f"{name!r} is neither a DNS name nor an IP address") from None


def _pick_leaf(certs: list[x509.Certificate],
               source: str) -> tuple[x509.Certificate, list[x509.Certificate]]:
    if len(certs) == 1:
        return certs[0], []
    leaves = [c for c in certs if not is_ca(c)]
    if len(leaves) != 1:
        raise TrustError(f"{source} holds {len(certs)} certificates, {len(leaves)} of them "
                         "leaves; give the certificate to verify alone, its CAs with --untrusted")
    return leaves[0], [c for c in certs if c is not leaves[0]]


# --- the explanation after a refusal ----------------------------------------------------

def _diagnose(leaf: x509.Certificate, anchors: Sequence[x509.Certificate],
              untrusted: Sequence[x509.Certificate], purpose: Purpose, name: str | None,
              when: dt.datetime, verifier_message: str) -> tuple[Reason, str]:
    leaf_checks = [lambda: _validity(leaf, when, "certificate"),
                   lambda: _not_a_leaf(leaf),
                   lambda: _usage(leaf, purpose),
                   lambda: _server_name(leaf, name) if purpose == "server" else None]
    path_check = [lambda: _path(leaf, anchors, untrusted, when)]
    # cryptography checks the leaf before it builds a path; "candidates exhausted" means
    # the leaf passed and the path failed, so look at the path first then.
    order = (path_check + leaf_checks if "candidates exhausted" in verifier_message
             else leaf_checks + path_check)
    for check in order:
        found = check()
        if found is not None:
            return found
    return Reason.OTHER, f"{_who(leaf)}: {_plain(verifier_message)}"


def _validity(cert: x509.Certificate, when: dt.datetime,
              what: str) -> tuple[Reason, str] | None:
    if when > cert.not_valid_after_utc:
        return Reason.EXPIRED, (f"{what} {_who(cert)} expired on "
                                f"{_time(cert.not_valid_after_utc)} (checked at {_time(when)})")
    if when < cert.not_valid_before_utc:
        return Reason.NOT_YET_VALID, (f"{what} {_who(cert)} is not valid before "
                                      f"{_time(cert.not_valid_before_utc)} "
                                      f"(checked at {_time(when)})")
    return None


def _not_a_leaf(cert: x509.Certificate) -> tuple[Reason, str] | None:
    constraints = basic_constraints(cert)
    if constraints is not None and constraints.ca:
        return Reason.NOT_A_LEAF, (f"{_who(cert)} is a CA certificate, not one that a client "
                                   "or server presents; verify a certificate it issued")
    return None


def _usage(cert: x509.Certificate, purpose: Purpose) -> tuple[Reason, str] | None:
    wanted = _PURPOSE_OID[purpose]
    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = None
    if usages is not None and wanted not in usages:
        listed = ", ".join(_EKU_WORDS.get(u, u.dotted_string) for u in usages) or "none"
        return Reason.WRONG_USAGE, (f"{_who(cert)} is not for {_PURPOSE_WORDS[purpose]}: its "
                                    f"extended key usage is {listed}, without "
                                    f"{_EKU_WORDS[wanted]}")
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not key_usage.digital_signature:
        return Reason.WRONG_USAGE, (f"{_who(cert)} may not sign a TLS handshake: its key usage "
                                    "lacks digitalSignature")
    return None


def _server_name(cert: x509.Certificate, name: str | None) -> tuple[Reason, str] | None:
    if not name:
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Reason.NAME_MISMATCH, (f"{_who(cert)} has no subjectAltName, so it names no "
                                      f"host; {name} cannot match (the CN is not used)")
    try:
        wanted_ip = ipaddress.ip_address(name)
    except ValueError:
        matched = any(_dns_matches(pattern, name) for pattern in san.get_values_for_type(x509.DNSName))
    else:
        matched = wanted_ip in san.get_values_for_type(x509.IPAddress)
    if matched:
        return None
    return Reason.NAME_MISMATCH, (f"{_who(cert)} is for {_names_text(cert) or 'no name'}, "
                                  f"not {name}")


def _path(leaf: x509.Certificate, anchors: Sequence[x509.Certificate],
          untrusted: Sequence[x509.Certificate], when: dt.datetime) -> tuple[Reason, str] | None:
    """Walk up from the leaf through the given certificates, stopping at the first fault."""
    anchor_prints = {sha256_hex(a) for a in anchors}
    pool = list(anchors) + list(untrusted)
    current = leaf
    for _ in range(_MAX_DEPTH):
        if sha256_hex(current) in anchor_prints:
            return None if current is leaf else _validity(current, when, "trust anchor")
        named = [c for c in pool if c.subject == current.issuer and c is not current]
        if not named:
            if is_self_signed(current):
                return Reason.UNKNOWN_ISSUER, (f"{_who(current)} is self-signed and is not "
                                               "one of the trust anchors")
            return Reason.UNKNOWN_ISSUER, (f"no trust anchor or untrusted certificate is "
                                           f"CN={common_name(current.issuer)}, the issuer of "
                                           f"{_who(current)}")
        signers = [c for c in named if issued_by(current, c)]
        if not signers:
            return Reason.BAD_SIGNATURE, (f"the signature on {_who(current)} does not verify "
                                          f"with the key of CN={common_name(current.issuer)} "
                                          "given (a CA of the same name with another key)")
        signer = next((s for s in signers if sha256_hex(s) in anchor_prints), signers[0])
        if not is_ca(signer):
            said = ("has no BasicConstraints" if basic_constraints(signer) is None
                    else "BasicConstraints ca=False")
            return Reason.NOT_A_CA, (f"{_who(signer)} signed {_who(current)} but is not a CA "
                                     f"({said})")
        try:
            signer_usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            signer_usage = None
        if signer_usage is not None and not signer_usage.key_cert_sign:
            return Reason.WRONG_USAGE, (f"{_who(signer)} may not sign certificates: its key "
                                        "usage lacks keyCertSign")
        role = "trust anchor" if sha256_hex(signer) in anchor_prints else "issuing CA"
        problem = _validity(signer, when, role)
        if problem is not None:
            return problem
        current = signer
    return None


def _dns_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def _client_has_name(cert: x509.Certificate, name: str) -> bool:
    if common_name(cert.subject).lower() == name.lower():
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return any(_dns_matches(p, name) for p in san.get_values_for_type(x509.DNSName))


def _names_text(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    names = [f"DNS:{d}" for d in san.get_values_for_type(x509.DNSName)]
    names += [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]
    return ", ".join(names)


def _ok_message(chain: tuple[x509.Certificate, ...], purpose: Purpose, name: str | None,
                at: dt.datetime | None) -> str:
    leaf = chain[0]
    text = f"OK: {_who(leaf)} valid for {_PURPOSE_WORDS[purpose]}"
    if name:
        text += f" as {name}"
    if len(chain) == 1:
        text += " (it is itself a trust anchor)"
    else:
        text += " via " + " -> ".join(common_name(c.subject) for c in chain[1:])
    if at is not None:
        text += f" at {_time(_utc(at))}"
    return text


def _who(cert: x509.Certificate) -> str:
    return f"CN={common_name(cert.subject)}"


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plain(message: str) -> str:
    """cryptography's message without its prefix and the certificate repr it appends."""
    message = re.sub(r"^validation failed: ", "", message)
    message = re.sub(r"\s*\(encountered processing <Certificate.*$", "", message, flags=re.S)
    return " ".join(message.split())
