"""Certificates for the XSP emulator, independent of it: issue, split, verify, load.

The public surface is re-exported here; the private modules behind it may change.
"""
from trust._issue import CertificateAuthority, IssuedCert, self_signed_server

__all__ = [
    "CertificateAuthority",
    "IssuedCert",
    "self_signed_server",
]
