"""The rules a client certificate chain must meet beyond a valid path, as a Java TLS
server (BroadWorks' XSP) applies them: the strength of every key and signature, what the
client's own certificate may be used for, and the CA's name constraints reaching the CN.

Each rule returns None when it holds, or a ``Fault``: which rule failed (a stable
``check`` name that a TLS listener maps to its alert), the certificate it is about,
and the words that name it. The thresholds are those of current Java certificate-path
checks and of OpenSSL's security level 2, which agree: RSA and DSA keys of at least
2048 bits, EC keys of at least 224 bits, no MD5 or SHA-1 signature.
"""
from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from xsp_trust._classify import common_name

MIN_RSA_BITS = 2048
MIN_DSA_BITS = 2048
MIN_EC_BITS = 224
_WEAK_DIGESTS = {"md5": "MD5", "sha1": "SHA-1"}


@dataclass(frozen=True)
class Fault:
    check: str  # e.g. "weak-digest", "leaf-key-usage"; see the functions below
    subject: x509.Certificate  # the certificate at fault
    detail: str  # plain words, naming that certificate


def who(cert: x509.Certificate) -> str:
    return f"CN={common_name(cert.subject)}"


def weak_digest(cert: x509.Certificate, role: str) -> Fault | None:
    """``cert``'s own signature uses MD5, SHA-1 or a digest this verifier cannot name."""
    try:
        digest = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return Fault("weak-digest", cert,
                     f"{role} {who(cert)} is signed with an algorithm that is not accepted "
                     f"({cert.signature_algorithm_oid.dotted_string})")
    if digest is not None and digest.name in _WEAK_DIGESTS:
        return Fault("weak-digest", cert,
                     f"{role} {who(cert)} is signed with a weak digest "
                     f"({_WEAK_DIGESTS[digest.name]}); a SHA-2 digest is required")
    return None


def weak_key(cert: x509.Certificate, role: str) -> Fault | None:
    """``cert``'s public key is shorter than the minimum for its kind."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        kind, bits, minimum = "RSA", key.key_size, MIN_RSA_BITS
    elif isinstance(key, dsa.DSAPublicKey):
        kind, bits, minimum = "DSA", key.key_size, MIN_DSA_BITS
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind, bits, minimum = "EC", key.key_size, MIN_EC_BITS
    else:
        return None
    if bits >= minimum:
        return None
    check = "leaf-weak-key" if role == "certificate" else "ca-weak-key"
    return Fault(check, cert, f"{role} {who(cert)} has a {bits}-bit {kind} key; at least "
                              f"{minimum} bits are required")


def client_usage(leaf: x509.Certificate) -> Fault | None:
    """What a TLS client's certificate must allow: client authentication and signing."""
    try:
        usages = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = None
    if usages is not None and not ({ExtendedKeyUsageOID.CLIENT_AUTH,
                                    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(usages)):
        listed = ", ".join(eku_word(u) for u in usages) or "none"
        return Fault("leaf-eku", leaf, f"{who(leaf)} is not for client authentication: its "
                                       f"extended key usage is {listed}, without clientAuth")
    try:
        key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if key_usage.digital_signature:
        return None
    has = _key_usage_words(key_usage)
    if isinstance(leaf.public_key(), rsa.RSAPublicKey) and has == ["keyAgreement"]:
        return Fault("leaf-key-usage", leaf,
                     f"certificate {who(leaf)} has an RSA key whose keyUsage is keyAgreement "
                     "only: an RSA key cannot agree keys, and without digitalSignature it "
                     "cannot sign the handshake (CertificateVerify)")
    return Fault("leaf-key-usage", leaf,
                 f"certificate {who(leaf)} may not sign the handshake (CertificateVerify): "
                 f"its keyUsage lacks digitalSignature (it has {', '.join(has) or 'nothing'})")


def ca_may_sign(ca: x509.Certificate, role: str) -> Fault | None:
    """A CA's keyUsage, when present, must allow signing certificates."""
    try:
        key_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if key_usage.key_cert_sign:
        return None
    return Fault("ca-key-cert-sign", ca, f"{role} {who(ca)} may not sign certificates: "
                                         "its keyUsage lacks keyCertSign")


def ca_usage(ca: x509.Certificate, role: str) -> Fault | None:
    """A CA above a client certificate may sign certificates and vouch for clients."""
    fault = ca_may_sign(ca, role)
    if fault is not None:
        return fault
    try:
        usages = list(ca.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
    if {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(usages):
        return None
    listed = ", ".join(eku_word(u) for u in usages) or "nothing"
    return Fault("ca-eku", ca, f"{role} {who(ca)} is restricted to {listed} by its extended "
                               "key usage, so it cannot vouch for client authentication")


def cn_outside_name_constraints(chain: tuple[x509.Certificate, ...]) -> Fault | None:
    """A leaf without DNS names in a SAN is named by its CN; a CA's DNS name constraints
    then apply to the CN, as Java and OpenSSL apply them."""
    leaf = chain[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if san.get_values_for_type(x509.DNSName):
            return None  # cryptography checked the SAN against the constraints
    except x509.ExtensionNotFound:
        pass
    names = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not names or not isinstance(names[-1].value, str) or not _hostname_like(names[-1].value):
        return None
    cn = names[-1].value.lower().rstrip(".")
    for ca in chain[1:]:
        try:
            constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            continue
        permitted = [str(n.value) for n in constraints.permitted_subtrees or ()
                     if isinstance(n, x509.DNSName)]
        excluded = [str(n.value) for n in constraints.excluded_subtrees or ()
                    if isinstance(n, x509.DNSName)]
        hit = next((e for e in excluded if _within(cn, e)), None)
        if hit is not None:
            return Fault("name-constraints", leaf,
                         f"certificate {who(leaf)} is outside the name constraints of "
                         f"{who(ca)}: its CN is within the excluded {hit}")
        if permitted and not any(_within(cn, p) for p in permitted):
            return Fault("name-constraints", leaf,
                         f"certificate {who(leaf)} is outside the name constraints of "
                         f"{who(ca)}: its CN is not within {', '.join(permitted)}")
    return None


def eku_word(oid: x509.ObjectIdentifier) -> str:
    return _EKU_WORDS.get(oid, oid.dotted_string)


_EKU_WORDS = {ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
              ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
              ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
              ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
              ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
              ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage"}


def _key_usage_words(usage: x509.KeyUsage) -> list[str]:
    words = []
    for attribute, word in (("digital_signature", "digitalSignature"),
                            ("content_commitment", "nonRepudiation"),
                            ("key_encipherment", "keyEncipherment"),
                            ("data_encipherment", "dataEncipherment"),
                            ("key_agreement", "keyAgreement"),
                            ("key_cert_sign", "keyCertSign"), ("crl_sign", "cRLSign")):
        if getattr(usage, attribute):
            words.append(word)
    return words


def _hostname_like(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return len(labels) > 1 and all(
        label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)


def _within(name: str, subtree: str) -> bool:
    """RFC 5280 4.2.1.10 for DNS names: the subtree itself or any name below it."""
    subtree = subtree.lower().lstrip(".").rstrip(".")
    return name == subtree or name.endswith("." + subtree)
