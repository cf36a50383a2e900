"""Verifying a certificate chain for client or server authentication, and saying why it fails.

The path is cryptography's (``cryptography.x509.verification``: RFC 5280 path building,
signatures, validity, the CA rules of the web PKI profile). A client certificate is
judged as the CTI interface judges it, since this is the very function the listener
calls during each handshake: the certificate the client presents is held to the rules
of a Java TLS server (``trust._policy``: key and digest strength, clientAuth,
digitalSignature, the CA's name constraints reaching the CN) rather than to the web
PKI's rules for server certificates, so a leaf that is also a CA, or that has no
authority key identifier or no extension at all, is accepted as Java accepts it.

Errors of the path builder are terse ("candidates exhausted"), so after a refusal the
chain is examined here to name the reason a person can act on: expired, not yet valid,
unknown issuer, bad signature, weak digest, weak key, not a CA, wrong key usage, name
constraints, name mismatch. The verifier decides; the diagnosis only explains.
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

from xsp_trust import _policy
from xsp_trust._bundle import load_certificates
from xsp_trust._classify import basic_constraints, common_name, is_ca, issued_by, is_self_signed
from xsp_trust._errors import TrustError
from xsp_trust._fingerprint import sha256_hex
from xsp_trust._policy import Fault

Purpose = Literal["client", "server"]

_PURPOSE_OID = {"client": ExtendedKeyUsageOID.CLIENT_AUTH,
                "server": ExtendedKeyUsageOID.SERVER_AUTH}
_PURPOSE_WORDS = {"client": "client authentication", "server": "server authentication"}
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
    WEAK_DIGEST = "weak digest"
    WEAK_KEY = "weak key"
    NAME_CONSTRAINTS = "name constraints"
    OTHER = "refused"


# Which Reason each rule of the diagnosis and of trust._policy reports.
_REASON_OF_CHECK = {
    "leaf-expired": Reason.EXPIRED, "ca-expired": Reason.EXPIRED,
    "anchor-expired": Reason.EXPIRED, "leaf-not-yet-valid": Reason.NOT_YET_VALID,
    "ca-not-yet-valid": Reason.NOT_YET_VALID, "anchor-not-yet-valid": Reason.NOT_YET_VALID,
    "unknown-issuer": Reason.UNKNOWN_ISSUER, "self-signed": Reason.UNKNOWN_ISSUER,
    "issuer-key-mismatch": Reason.BAD_SIGNATURE, "bad-signature": Reason.BAD_SIGNATURE,
    "weak-digest": Reason.WEAK_DIGEST, "leaf-weak-key": Reason.WEAK_KEY,
    "ca-weak-key": Reason.WEAK_KEY, "not-a-ca": Reason.NOT_A_CA,
    "ca-key-cert-sign": Reason.WRONG_USAGE, "ca-eku": Reason.WRONG_USAGE,
    "leaf-eku": Reason.WRONG_USAGE, "leaf-key-usage": Reason.WRONG_USAGE,
    "not-a-leaf": Reason.NOT_A_LEAF, "name-constraints": Reason.NAME_CONSTRAINTS,
    "name-mismatch": Reason.NAME_MISMATCH, "other": Reason.OTHER,
}


@dataclass(frozen=True)
class Verification:
    """The outcome: ``ok``, the ``reason``, a one-line ``message``, and the chain when valid.

    A refusal also says which rule failed (``check``, e.g. ``"weak-digest"``), about
    which certificate (``subject``), and its words without the reason in front
    (``detail``): what a TLS listener needs to pick its alert and log line.
    """

    ok: bool
    reason: Reason
    message: str
    chain: tuple[x509.Certificate, ...] = ()  # leaf first, trust anchor last; empty on failure
    check: str = ""
    subject: x509.Certificate | None = None
    detail: str = ""

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
    if purpose == "client":
        return _verify_client(leaf, anchors, untrusted, builder, name, when, at)
    try:
        chain = tuple(server_verifier.verify(leaf, list(untrusted)))
    except verification.VerificationError as exc:
        return _refused(_diagnose(leaf, anchors, untrusted, purpose, name, when, str(exc)))
    return Verification(True, Reason.OK, _ok_message(chain, purpose, name, at), chain)


def _verify_client(leaf: x509.Certificate, anchors: Sequence[x509.Certificate],
                   untrusted: Sequence[x509.Certificate], builder: verification.PolicyBuilder,
                   name: str | None, when: dt.datetime, at: dt.datetime | None) -> Verification:
    """The CTI interface's verdict on a client certificate (see the module docstring).

    The path comes first, then what the leaf may do, as OpenSSL and Java order their
    checks: a certificate from an unknown CA is refused as such, whatever else it is.
    """
    # The leaf's extensions are judged below, as a Java TLS server judges them; the
    # path builder judges the CAs and every signature.
    verifier = builder.extension_policies(
        ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
        ee_policy=verification.ExtensionPolicy.permit_all()).build_client_verifier()
    try:
        chain = tuple(verifier.verify(leaf, list(untrusted)).chain)
    except verification.VerificationError as exc:
        return _refused(_diagnose(leaf, anchors, untrusted, "client", name, when, str(exc)))
    fault = _chain_fault(chain)
    if fault is not None:
        return _refused(fault)
    if name and not _client_has_name(leaf, name):
        return _refused(Fault("name-mismatch", leaf, f"{_who(leaf)} is not {name} "
                                                     f"(its names: {_names_text(leaf) or 'none'})"))
    return Verification(True, Reason.OK, _ok_message(chain, "client", name, at), chain)


def _chain_fault(chain: tuple[x509.Certificate, ...]) -> Fault | None:
    """The first rule of trust._policy a built client chain breaks, leaf first."""
    leaf = chain[0]
    fault = _policy.weak_key(leaf, "certificate") or _policy.client_usage(leaf)
    for index, cert in enumerate(chain[1:], start=1):
        role = "trust anchor" if index == len(chain) - 1 else "issuing CA"
        fault = fault or _policy.weak_key(cert, role)
    return fault or _policy.cn_outside_name_constraints(chain)


def _refused(fault: Fault) -> Verification:
    reason = _REASON_OF_CHECK[fault.check]
    return Verification(False, reason, f"{reason.value}: {fault.detail}", (), fault.check,
                        fault.subject, fault.detail)


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
              when: dt.datetime, verifier_message: str) -> Fault:
    leaf_checks = [lambda: _validity(leaf, when, "certificate"),
                   lambda: _not_a_leaf(leaf) if purpose == "server" else None,
                   lambda: _usage(leaf, purpose),
                   lambda: _server_name(leaf, name) if purpose == "server" else None]
    path_check = [lambda: _path(leaf, anchors, untrusted, when, purpose)]
    if purpose == "client":
        # As OpenSSL orders it: a path that cannot be built first, then the times of
        # the leaf and of the CAs, then the leaf's usage.
        order = [lambda: _path(leaf, anchors, untrusted, None, purpose), leaf_checks[0],
                 *path_check, *leaf_checks[1:]]
    # cryptography checks a server's leaf before it builds a path; "candidates
    # exhausted" means the leaf passed and the path failed, so look at the path first
    # then.
    elif "candidates exhausted" in verifier_message:
        order = path_check + leaf_checks
    else:
        order = leaf_checks + path_check
    for check in order:
        found = check()
        if found is not None:
            return found
    return Fault("other", leaf, f"{_who(leaf)}: {_plain(verifier_message)}")


def _validity(cert: x509.Certificate, when: dt.datetime, what: str) -> Fault | None:
    kind = {"certificate": "leaf", "trust anchor": "anchor"}.get(what, "ca")
    if when > cert.not_valid_after_utc:
        return Fault(f"{kind}-expired", cert,
                     f"{what} {_who(cert)} expired on {_time(cert.not_valid_after_utc)} "
                     f"(checked at {_time(when)})")
    if when < cert.not_valid_before_utc:
        return Fault(f"{kind}-not-yet-valid", cert,
                     f"{what} {_who(cert)} is not valid before "
                     f"{_time(cert.not_valid_before_utc)} (checked at {_time(when)})")
    return None


def _not_a_leaf(cert: x509.Certificate) -> Fault | None:
    constraints = basic_constraints(cert)
    if constraints is not None and constraints.ca:
        return Fault("not-a-leaf", cert, f"{_who(cert)} is a CA certificate, not one that a "
                                         "server presents; verify a certificate it issued")
    return None


def _usage(cert: x509.Certificate, purpose: Purpose) -> Fault | None:
    if purpose == "client":
        return _policy.client_usage(cert)
    wanted = _PURPOSE_OID[purpose]
    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = None
    if usages is not None and wanted not in usages:
        listed = ", ".join(_policy.eku_word(u) for u in usages) or "none"
        return Fault("leaf-eku", cert, f"{_who(cert)} is not for {_PURPOSE_WORDS[purpose]}: "
                                       f"its extended key usage is {listed}, without "
                                       f"{_policy.eku_word(wanted)}")
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not key_usage.digital_signature:
        return Fault("leaf-key-usage", cert, f"{_who(cert)} may not sign a TLS handshake: its "
                                             "keyUsage lacks digitalSignature")
    return None


def _server_name(cert: x509.Certificate, name: str | None) -> Fault | None:
    if not name:
        return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Fault("name-mismatch", cert, f"{_who(cert)} has no subjectAltName, so it names "
                                            f"no host; {name} cannot match (the CN is not used)")
    try:
        wanted_ip = ipaddress.ip_address(name)
    except ValueError:
        matched = any(_dns_matches(pattern, name) for pattern in san.get_values_for_type(x509.DNSName))
    else:
        matched = wanted_ip in san.get_values_for_type(x509.IPAddress)
    if matched:
        return None
    return Fault("name-mismatch", cert, f"{_who(cert)} is for {_names_text(cert) or 'no name'}, "
                                        f"not {name}")


def _path(leaf: x509.Certificate, anchors: Sequence[x509.Certificate],
          untrusted: Sequence[x509.Certificate], when: dt.datetime | None,
          purpose: Purpose) -> Fault | None:
    """Walk up from the leaf through the given certificates, stopping at the first fault;
    the CAs' times are checked only when ``when`` is given."""
    anchor_prints = {sha256_hex(a) for a in anchors}
    pool = list(anchors) + list(untrusted)
    current = leaf
    for _ in range(_MAX_DEPTH):
        if sha256_hex(current) in anchor_prints:
            if current is leaf or when is None:
                return None
            return _validity(current, when, "trust anchor")
        named = [c for c in pool if c.subject == current.issuer and c is not current]
        if not named:
            if is_self_signed(current):
                return Fault("self-signed", current, f"{_who(current)} is self-signed and is "
                                                     "not one of the trust anchors")
            return Fault("unknown-issuer", current,
                         f"no trust anchor or untrusted certificate is "
                         f"CN={common_name(current.issuer)}, the issuer of {_who(current)}")
        weak = _policy.weak_digest(current, "certificate" if current is leaf else "issuing CA")
        if weak is not None:
            return weak
        signers = [c for c in named if issued_by(current, c)]
        if not signers:
            if any(_same_key_as_named(current, c) for c in named):
                return Fault("bad-signature", current,
                             f"the signature on {_who(current)} does not verify with the key "
                             f"of CN={common_name(current.issuer)} that it names (damaged or "
                             "forged)")
            return Fault("issuer-key-mismatch", current,
                         f"the signature on {_who(current)} does not verify "
                         f"with the key of CN={common_name(current.issuer)} given (a CA of "
                         "the same name with another key)")
        signer = next((s for s in signers if sha256_hex(s) in anchor_prints), signers[0])
        role = "trust anchor" if sha256_hex(signer) in anchor_prints else "issuing CA"
        if not is_ca(signer):
            said = ("has no BasicConstraints" if basic_constraints(signer) is None
                    else "BasicConstraints ca=False")
            return Fault("not-a-ca", signer, f"{_who(signer)} signed {_who(current)} but is "
                                             f"not a CA ({said})")
        found = (_policy.ca_usage(signer, role) if purpose == "client"
                 else _policy.ca_may_sign(signer, role))
        found = found or _policy.weak_key(signer, role)
        if found is None and when is not None:
            found = _validity(signer, when, role)
        if found is not None:
            return found
        current = signer
    return None


def _same_key_as_named(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``child``'s authority key identifier is ``issuer``'s key: then a failing
    signature is damage or forgery, not a CA re-keyed under the same name."""
    try:
        aki = child.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return False
    if aki.key_identifier is None:
        return False
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    return aki.key_identifier == ski


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
