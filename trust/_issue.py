"""Minting certificates: demo and test PKIs, and the self-signed certificate of a new interface.

Built on ``cryptography`` directly rather than trustme because trustme marks the
subjectAltName of its leaves critical when the subject is not empty, which strict
verifiers (cryptography's own among them) rightly refuse; every extension here is what
RFC 5280 and the CA/Browser Forum profile ask for.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import (CertificateIssuerPublicKeyTypes,
                                                           CertificatePublicKeyTypes)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xsp_trust._files import StrPath, write_private, write_public
from xsp_trust._keys import KeyType, PrivateKey, generate_key, key_pem

# Backdated so that a certificate minted a moment ago is already valid on a peer whose
# clock is a little behind.
_BACKDATE = dt.timedelta(hours=1)
_ROOT_LIFETIME = dt.timedelta(days=20 * 365)
_INTERMEDIATE_LIFETIME = dt.timedelta(days=10 * 365)
# 397 days: the longest leaf lifetime browsers and the CA/B Forum still accept.
_LEAF_LIFETIME = dt.timedelta(days=397)

_HOSTNAME = re.compile(r"^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _pem(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass(frozen=True, eq=False)
class IssuedCert:
    """A certificate with its private key and the CAs that issued it.

    ``chain`` holds the issuing CAs above the certificate, nearest first, without the
    root: exactly what a TLS peer sends after its own certificate (and what BroadWorks
    ``sslUpdate`` takes as ``chainFile``). It is empty for a certificate issued by a root.
    """

    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """PKCS#8, unencrypted."""
        return key_pem(self.private_key)

    @property
    def chain_pem(self) -> bytes:
        return _pem(self.chain)

    def write(self, cert_path: StrPath, key_path: StrPath,
              chain_path: StrPath | None = None) -> None:
        """Write the certificate, the key (mode 0600 from its creation) and optionally the chain.

        The chain file is written even when the chain is empty, so a caller that always
        passes one to ``sslUpdate`` finds a file there.
        """
        write_private(key_path, self.key_pem)
        write_public(cert_path, self.cert_pem)
        if chain_path is not None:
            write_public(chain_path, self.chain_pem)

    def configure_cert(self, context: ssl.SSLContext) -> None:
        """Make ``context`` present this certificate, its chain and its key."""
        # ssl only loads a certificate and key from files; a private temporary
        # directory keeps the key out of reach of other users while it exists.
        with tempfile.TemporaryDirectory(prefix="xsp-trust-") as tmp:
            cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            write_public(cert_file, self.cert_pem + self.chain_pem)
            write_private(key_file, self.key_pem)
            context.load_cert_chain(cert_file, key_file)


@dataclass(frozen=True, eq=False)
class CertificateAuthority(IssuedCert):
    """A CA that can issue intermediates and leaves; ``parent`` is None for a root."""

    parent: CertificateAuthority | None = field(default=None, repr=False)

    @classmethod
    def new_root(cls, name: str | x509.Name, *, key_type: KeyType = "rsa",
                 not_before: dt.datetime | None = None,
                 not_after: dt.datetime | None = None) -> CertificateAuthority:
        """A self-signed root CA. ``name`` is a common name or a whole distinguished name."""
        subject = _name(name)
        key = generate_key(key_type)
        start, end = _validity(not_before, not_after, _ROOT_LIFETIME)
        cert = _ca_builder(subject, subject, key.public_key(), key.public_key(), start, end,
                           path_length=None, ca=True).sign(key, hashes.SHA256())
        return cls(cert, key, (), None)

    @property
    def is_root(self) -> bool:
        return self.parent is None

    @property
    def root(self) -> CertificateAuthority:
        return self if self.parent is None else self.parent.root

    def new_intermediate(self, name: str | x509.Name, *, key_type: KeyType = "rsa",
                         not_before: dt.datetime | None = None,
                         not_after: dt.datetime | None = None,
                         path_length: int | None = None,
                         basic_constraints_ca: bool = True) -> CertificateAuthority:
        """An issuing CA signed by this one.

        ``basic_constraints_ca=False`` mints a certificate that says it is *not* a CA
        (BasicConstraints ca=False, no keyCertSign) yet is still used to sign: the
        "a leaf used as an issuer" case that a verifier must refuse.
        """
        key = generate_key(key_type)
        start, end = _validity(not_before, not_after, _INTERMEDIATE_LIFETIME)
        cert = _ca_builder(_name(name), self.certificate.subject, key.public_key(),
                           self.private_key.public_key(), start, end,
                           path_length=path_length, ca=basic_constraints_ca,
                           ).sign(self.private_key, hashes.SHA256())
        return CertificateAuthority(cert, key, self._chain_below(), self)

    def with_fresh_key(self) -> CertificateAuthority:
        """A CA with this CA's exact subject, issuer and validity but a new key.

        Certificates it signs name the same issuer as this CA's but do not verify with
        this CA's key: an impostor, or a CA re-keyed without anyone being told.
        """
        key = generate_key("rsa" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ec")
        bc = self.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        signer = self.parent.private_key if self.parent else key
        cert = _ca_builder(self.certificate.subject, self.certificate.issuer, key.public_key(),
                           signer.public_key(), self.certificate.not_valid_before_utc,
                           self.certificate.not_valid_after_utc,
                           path_length=bc.path_length, ca=bc.ca).sign(signer, hashes.SHA256())
        return CertificateAuthority(cert, key, self.chain, self.parent)

    def issue_client(self, common_name: str, *, not_before: dt.datetime | None = None,
                     not_after: dt.datetime | None = None,
                     key_type: KeyType = "rsa") -> IssuedCert:
        """A TLS client certificate (EKU clientAuth), its CN also in the SAN when a hostname."""
        dns = [common_name] if _HOSTNAME.match(common_name) else []
        return self._issue_leaf(common_name, dns, [], ExtendedKeyUsageOID.CLIENT_AUTH,
                                not_before, not_after, key_type)

    def issue_server(self, common_name: str, *, ips: Sequence[str] = (),
                     dns_names: Sequence[str] = (), not_before: dt.datetime | None = None,
                     not_after: dt.datetime | None = None,
                     key_type: KeyType = "rsa") -> IssuedCert:
        """A TLS server certificate (EKU serverAuth) for ``ips`` and ``dns_names``.

        The common name is added to the SAN (as an IP or a DNS name) when it is one,
        since verifiers look only at the SAN.
        """
        all_ips, all_dns = _with_common_name(common_name, ips, dns_names)
        return self._issue_leaf(common_name, all_dns, all_ips, ExtendedKeyUsageOID.SERVER_AUTH,
                                not_before, not_after, key_type)

    def configure_trust(self, context: ssl.SSLContext) -> None:
        """Make ``context`` trust certificates issued under this CA."""
        context.load_verify_locations(cadata=self.cert_pem.decode("ascii"))

    def _chain_below(self) -> tuple[x509.Certificate, ...]:
        """The chain of a certificate this CA issues: this CA and its chain, roots left out."""
        return () if self.is_root else (self.certificate, *self.chain)

    def _issue_leaf(self, common_name: str, dns_names: Sequence[str],
                    ips: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address],
                    purpose: x509.ObjectIdentifier, not_before: dt.datetime | None,
                    not_after: dt.datetime | None, key_type: KeyType) -> IssuedCert:
        key = generate_key(key_type)
        start, end = _validity(not_before, not_after, _LEAF_LIFETIME)
        cert = _leaf_builder(_name(common_name), self.certificate.subject, key,
                             self.private_key.public_key(), dns_names, ips, purpose,
                             start, end).sign(self.private_key, hashes.SHA256())
        return IssuedCert(cert, key, self._chain_below())


def self_signed_server(common_name: str, *, ips: Sequence[str] = (),
                       dns_names: Sequence[str] = (), key_type: KeyType = "rsa",
                       not_before: dt.datetime | None = None,
                       not_after: dt.datetime | None = None) -> IssuedCert:
    """A self-signed server certificate, as ``CTIServer add`` creates for a new interface."""
    key = generate_key(key_type)
    all_ips, all_dns = _with_common_name(common_name, ips, dns_names)
    start, end = _validity(not_before, not_after, _LEAF_LIFETIME)
    subject = _name(common_name)
    cert = _leaf_builder(subject, subject, key, key.public_key(), all_dns, all_ips,
                         ExtendedKeyUsageOID.SERVER_AUTH, start, end).sign(key, hashes.SHA256())
    return IssuedCert(cert, key, ())


def self_signed_client(common_name: str, *, key_type: KeyType = "ec",
                       not_before: dt.datetime | None = None,
                       not_after: dt.datetime | None = None) -> IssuedCert:
    """A self-signed client certificate: what a trust store must refuse (no anchor issued it)."""
    key = generate_key(key_type)
    dns = [common_name] if _HOSTNAME.match(common_name) else []
    start, end = _validity(not_before, not_after, _LEAF_LIFETIME)
    subject = _name(common_name)
    cert = _leaf_builder(subject, subject, key, key.public_key(), dns, [],
                         ExtendedKeyUsageOID.CLIENT_AUTH, start, end).sign(key, hashes.SHA256())
    return IssuedCert(cert, key, ())


def is_hostname(text: str) -> bool:
    """A DNS name as a certificate's SAN carries it (letters, digits, hyphens; a leading ``*.``)."""
    return bool(_HOSTNAME.match(text))


def _name(name: str | x509.Name) -> x509.Name:
    if isinstance(name, x509.Name):
        return name
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def _validity(not_before: dt.datetime | None, not_after: dt.datetime | None,
              lifetime: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = not_before if not_before is not None else now - _BACKDATE
    end = not_after if not_after is not None else start + lifetime
    return start, end


def _with_common_name(common_name: str, ips: Sequence[str], dns_names: Sequence[str],
                      ) -> tuple[list[ipaddress.IPv4Address | ipaddress.IPv6Address], list[str]]:
    all_ips = [ipaddress.ip_address(ip) for ip in ips]
    all_dns = list(dns_names)
    try:
        cn_ip = ipaddress.ip_address(common_name)
    except ValueError:
        if _HOSTNAME.match(common_name) and common_name not in all_dns:
            all_dns.insert(0, common_name)
    else:
        if cn_ip not in all_ips:
            all_ips.insert(0, cn_ip)
    return all_ips, all_dns


def _ca_builder(subject: x509.Name, issuer: x509.Name, public_key: CertificatePublicKeyTypes,
                issuer_public_key: CertificateIssuerPublicKeyTypes,
                start: dt.datetime, end: dt.datetime, *, path_length: int | None,
                ca: bool) -> x509.CertificateBuilder:
    usage = dict(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                 crl_sign=ca, encipher_only=False, decipher_only=False)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
                           critical=True)
            .add_extension(x509.KeyUsage(**usage), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key),
                           critical=False))


def _leaf_builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey,
                  issuer_public_key: CertificateIssuerPublicKeyTypes,
                  dns_names: Sequence[str],
                  ips: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address],
                  purpose: x509.ObjectIdentifier, start: dt.datetime,
                  end: dt.datetime) -> x509.CertificateBuilder:
    # keyEncipherment only means something for RSA key transport; an EC key cannot do it.
    rsa_key = isinstance(key, rsa.RSAPrivateKey)
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=False, key_encipherment=rsa_key,
                   data_encipherment=False, key_agreement=False, key_cert_sign=False,
                   crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_public_key), critical=False))
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    names += [x509.IPAddress(ip) for ip in ips]
    if names:
        # Not critical: RFC 5280 makes it critical only when the subject is empty.
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder
