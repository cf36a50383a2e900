"""Certificates for the XSP emulator, independent of it: issue, split, verify, load.

The public surface is re-exported here; the private modules behind it may change.
Every refusal of bad input is a ``TrustError`` whose ``str()`` is one line.
"""
from xsp_trust._anchors import anchor_warnings, load_single_ca
from xsp_trust._bundle import load_certificates, parse_certificates, read_limited
from xsp_trust._classify import Role
from xsp_trust._ctl import (CtlEntry, CtlError, CtlFile, CtlReason, CtlRecord, CtlRole,
                        HashAlgorithm, describe_ctl, read_ctl, verify_ctl, write_ctl)
from xsp_trust._credentials import InterfaceCredentials, load_key_and_cert
from xsp_trust._demo import FILES as DEMO_FILES
from xsp_trust._demo import DemoPKI, make_demo_pki
from xsp_trust._describe import CertInfo, describe
from xsp_trust._errors import TrustError
from xsp_trust._issue import CertificateAuthority, IssuedCert, self_signed_client, self_signed_server
from xsp_trust._lsc import issue_lsc
from xsp_trust._keys import key_matches, load_private_key
from xsp_trust._split import SplitFile, SplitPlan, bundle_year, plan_split, split_bundle
from xsp_trust._verify import Purpose, Reason, Verification, parse_time, verify_chain, verify_files

__all__ = [
    "CertInfo",
    "CertificateAuthority",
    "CtlEntry",
    "CtlError",
    "CtlFile",
    "CtlReason",
    "CtlRecord",
    "CtlRole",
    "DEMO_FILES",
    "DemoPKI",
    "HashAlgorithm",
    "InterfaceCredentials",
    "IssuedCert",
    "Purpose",
    "Reason",
    "Role",
    "SplitFile",
    "SplitPlan",
    "TrustError",
    "Verification",
    "anchor_warnings",
    "bundle_year",
    "describe",
    "describe_ctl",
    "issue_lsc",
    "key_matches",
    "load_certificates",
    "load_key_and_cert",
    "load_private_key",
    "load_single_ca",
    "make_demo_pki",
    "parse_certificates",
    "parse_time",
    "plan_split",
    "read_ctl",
    "read_limited",
    "self_signed_client",
    "self_signed_server",
    "split_bundle",
    "verify_chain",
    "verify_ctl",
    "verify_files",
    "write_ctl",
]
