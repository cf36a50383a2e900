"""Client certificate chains that a verifier must judge, each minted here with exactly one
thing wrong (or nothing), and the verdict the CTI interface gives it.

Each case carries what the client sends (its certificate, key and chain) and what the
listener trusts, so the same case runs through a real handshake and through
``xsp trust verify``. The certificates are built with cryptography's builder directly,
because most of them are ones ``trust`` would never issue.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xsp_trust import IssuedCert

UTC = dt.timezone.utc
CLIENT_CN = "bwcticlient.webex.com"
_NOW = dt.datetime.now(UTC).replace(microsecond=0)
_START = _NOW - dt.timedelta(days=1)
_END = _NOW + dt.timedelta(days=365)

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Case:
    name: str
    client: IssuedCert  # the certificate, its key and the chain the client sends
    anchors: tuple[x509.Certificate, ...]
    ok: bool
    reason: str = ""  # a part of the refusal's words, "" when accepted
    alert: str | None = None  # the alert the client receives when refused
    notes: tuple[str, ...] = field(default=())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@functools.cache
def _rsa(bits: int = 2048, slot: int = 0) -> rsa.RSAPrivateKey:
    """Keys are reused between cases (by slot) to keep minting fast."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _usage(**allowed: bool) -> x509.KeyUsage:
    flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=False,
                 crl_sign=False, encipher_only=False, decipher_only=False)
    flags.update(allowed)
    return x509.KeyUsage(**flags)


def _build(subject: str, issuer: x509.Name, key: Key, signer: Key,
           extensions: Sequence[tuple[x509.ExtensionType, bool]], *,
           digest: hashes.HashAlgorithm | None = None, start: dt.datetime = _START,
           end: dt.datetime = _END) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    cert = builder.sign(signer, hashes.SHA256())
    if digest is None or isinstance(digest, hashes.SHA256):
        return cert
    return _resigned(cert, signer, digest)


# cryptography no longer signs certificates with SHA-1 or MD5; the legacy ones are made by
# re-signing a SHA-256 one: the algorithm OIDs (same length) are swapped in the TBS and
# the outer structure, and the new TBS is signed with the legacy digest.
_SHA256_WITH_RSA = bytes.fromhex("2a864886f70d01010b")
_LEGACY_WITH_RSA = {"sha1": bytes.fromhex("2a864886f70d010105"),
                    "md5": bytes.fromhex("2a864886f70d010104")}


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _resigned(cert: x509.Certificate, signer: Key,
              digest: hashes.HashAlgorithm) -> x509.Certificate:
    assert isinstance(signer, rsa.RSAPrivateKey), "legacy digests are minted for RSA CAs"
    oid = _LEGACY_WITH_RSA[digest.name]
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_SHA256_WITH_RSA) == 1
    tbs = tbs.replace(_SHA256_WITH_RSA, oid)
    signature = signer.sign(tbs, padding.PKCS1v15(), digest)
    algorithm = _der(0x30, _der(0x06, oid) + b"\x05\x00")
    der = _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def _ca_extensions(key: Key, signer: Key, *, usage: x509.KeyUsage | None = None,
                   extra: Sequence[tuple[x509.ExtensionType, bool]] = ()
                   ) -> list[tuple[x509.ExtensionType, bool]]:
    return [(x509.BasicConstraints(ca=True, path_length=None), True),
            (usage or _usage(key_cert_sign=True, crl_sign=True), True),
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False),
            *extra]


def _leaf_extensions(key: Key, signer: Key, *, usage: x509.KeyUsage | None = None,
                     ca: bool = False, aki: bool = True, san: bool = True
                     ) -> list[tuple[x509.ExtensionType, bool]]:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=ca, path_length=None), True),
        (usage or _usage(digital_signature=True, key_cert_sign=ca), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)]
    if aki:
        extensions.append(
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False))
    if san:
        extensions.append((x509.SubjectAlternativeName([x509.DNSName(CLIENT_CN)]), False))
    return extensions


@dataclass(frozen=True)
class _CA:
    cert: x509.Certificate
    key: Key


@functools.cache
def _root() -> _CA:
    key = _rsa(slot=1)
    return _CA(_build("Matrix Root", _name("Matrix Root"), key, key,
                      _ca_extensions(key, key)), key)


def _sub(name: str, *, usage: x509.KeyUsage | None = None,
         extra: Sequence[tuple[x509.ExtensionType, bool]] = (), parent: _CA | None = None,
         slot: int = 2) -> _CA:
    parent = parent or _root()
    key = _rsa(slot=slot)
    return _CA(_build(name, parent.cert.subject, key, parent.key,
                      _ca_extensions(key, parent.key, usage=usage, extra=extra)), key)


@functools.cache
def _issuing() -> _CA:
    return _sub("Matrix Issuing CA")


def _leaf(issuer: _CA, *, key: Key | None = None, subject: str = CLIENT_CN,
          extensions: Sequence[tuple[x509.ExtensionType, bool]] | None = None,
          digest: hashes.HashAlgorithm | None = None,
          chain: Sequence[x509.Certificate] | None = None) -> IssuedCert:
    key = key or ec.generate_private_key(ec.SECP256R1())
    if extensions is None:
        extensions = _leaf_extensions(key, issuer.key)
    cert = _build(subject, issuer.cert.subject, key, issuer.key, extensions, digest=digest)
    sent = tuple(chain) if chain is not None else (issuer.cert,)
    return IssuedCert(cert, key, sent)


@functools.cache
def cases() -> tuple[Case, ...]:
    root, issuing = _root(), _issuing()
    anchors = (root.cert,)
    rsa1024 = _rsa(1024, slot=3)
    rsa2048 = _rsa(slot=4)

    constrained = _sub("Constrained CA", slot=5, extra=[(x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None), True)])
    server_only = _sub("Server Only CA", slot=6, extra=[
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)])
    no_cert_sign = _sub("No CertSign CA", slot=7,
                        usage=_usage(digital_signature=True, crl_sign=True))
    old_key = _rsa(slot=8)
    expired_root = _CA(_build("Expired Root", _name("Expired Root"), old_key, old_key,
                              _ca_extensions(old_key, old_key),
                              start=_NOW - dt.timedelta(days=800),
                              end=_NOW - dt.timedelta(days=2)), old_key)
    under_expired = _sub("Issuing CA Under Expired Root", parent=expired_root, slot=9)

    def plain(key: Key) -> IssuedCert:
        return _leaf(issuing, key=key)

    return (
        Case("valid chain up to the root", plain(ec.generate_private_key(ec.SECP256R1())),
             anchors, True),
        Case("valid RSA leaf, issuing CA as the anchor",
             _leaf(issuing, key=rsa2048, chain=()), (issuing.cert,), True),
        Case("leaf that is a CA", _leaf(issuing, key=rsa2048, extensions=_leaf_extensions(
            rsa2048, issuing.key, ca=True)), anchors, True),
        Case("leaf without an authority key identifier", _leaf(
            issuing, key=rsa2048, extensions=_leaf_extensions(rsa2048, issuing.key, aki=False)),
            anchors, True),
        Case("leaf with no extensions", _leaf(issuing, key=rsa2048, extensions=[]),
             anchors, True),
        Case("CN outside the CA's name constraints",
             _leaf(constrained, key=rsa2048, extensions=_leaf_extensions(
                 rsa2048, constrained.key, san=False)), anchors, False,
             "name constraints", "certificate_unknown"),
        Case("1024-bit RSA leaf", plain(rsa1024), anchors, False,
             "1024-bit RSA key", "bad_certificate"),
        Case("keyUsage without digitalSignature", _leaf(
            issuing, key=rsa2048, extensions=_leaf_extensions(
                rsa2048, issuing.key, usage=_usage(key_encipherment=True))),
            anchors, False, "keyUsage", "unsupported_certificate"),
        Case("RSA leaf whose keyUsage is keyAgreement only", _leaf(
            issuing, key=rsa2048, extensions=_leaf_extensions(
                rsa2048, issuing.key, usage=_usage(key_agreement=True))),
            anchors, False, "cannot sign", "unsupported_certificate"),
        Case("SHA-1 leaf", _leaf(issuing, key=rsa2048, digest=hashes.SHA1()), anchors, False,
             "signed with a weak digest (SHA-1)", "bad_certificate"),
        Case("MD5 leaf", _leaf(issuing, key=rsa2048, digest=hashes.MD5()), anchors, False,
             "signed with a weak digest (MD5)", "bad_certificate"),
        Case("issuing CA restricted to serverAuth", _leaf(server_only, key=rsa2048), anchors,
             False, "CN=Server Only CA", "unsupported_certificate"),
        Case("expired trust anchor", _leaf(under_expired, key=rsa2048), (expired_root.cert,),
             False, "trust anchor CN=Expired Root expired", "certificate_expired"),
        Case("CA without keyCertSign", _leaf(no_cert_sign, key=rsa2048), anchors, False,
             "keyCertSign", "unknown_ca"),
        Case("leaf whose signature is damaged", _damaged(_leaf(issuing, key=rsa2048)), anchors,
             False, "does not verify", "decrypt_error"),
    )


def _damaged(issued: IssuedCert) -> IssuedCert:
    """The same certificate with the last byte of its signature changed."""
    der = bytearray(issued.certificate.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    return IssuedCert(x509.load_der_x509_certificate(bytes(der)), issued.private_key,
                      issued.chain)
