"""Locally significant certificates (LSC): what a CAPF issues for a public key it was sent.

The client (a phone, or a JTAPI/TSP application instance) makes its own key pair and
sends only the public key; the CAPF signs a certificate for it with the CAPF CA. The
profile is the public one: CN is the device name or instance ID, not a CA
(basicConstraints critical), keyUsage digitalSignature + keyEncipherment, EKU
serverAuth + clientAuth, plus IPsec end system on phones.
"""
from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xsp_trust._errors import TrustError
from xsp_trust._keys import PrivateKey

# Backdated like every certificate this package mints, for peers whose clock lags.
_BACKDATE = dt.timedelta(hours=1)
IPSEC_END_SYSTEM = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5")


def issue_lsc(ca_certificate: x509.Certificate, ca_key: PrivateKey, common_name: str,
              public_key: CertificatePublicKeyTypes, *, phone: bool,
              lifetime: dt.timedelta = dt.timedelta(days=5 * 365),
              organization: str = "") -> x509.Certificate:
    """Sign ``public_key`` for ``common_name`` with the CAPF CA."""
    if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise TrustError("a CAPF certificate is issued for an RSA or EC public key only")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    if phone:
        usages.append(IPSEC_END_SYSTEM)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name(attributes))
               .issuer_name(ca_certificate.subject)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - _BACKDATE)
               .not_valid_after(now + lifetime)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=False, key_encipherment=True,
                   data_encipherment=False, key_agreement=False, key_cert_sign=False,
                   crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    return builder.sign(ca_key, hashes.SHA256())
