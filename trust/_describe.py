"""The few facts a person checks about a certificate, as one record."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from xsp_trust._classify import Role, common_name, is_ca, is_self_signed, role
from xsp_trust._fingerprint import colon_hex, sha256_hex


@dataclass(frozen=True)
class CertInfo:
    subject_cn: str
    issuer_cn: str
    self_signed: bool
    not_before: dt.datetime  # UTC, aware
    not_after: dt.datetime  # UTC, aware
    sha256: str  # lowercase hex, no separators
    is_ca: bool
    role: Role
    subject: str  # RFC 4514
    issuer: str  # RFC 4514

    @property
    def sha256_colons(self) -> str:
        return colon_hex(self.sha256)


def describe(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject_cn=common_name(cert.subject),
        issuer_cn=common_name(cert.issuer),
        self_signed=is_self_signed(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=sha256_hex(cert),
        is_ca=is_ca(cert),
        role=role(cert),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
    )
