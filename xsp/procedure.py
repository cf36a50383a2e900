"""The Webex CTI configuration procedure of the BroadWorks guide, as CLI steps.

Inmost to outmost, as the guide orders it: the Application Server's ClientIdentity,
then the XSP|ADP interface, its protocol and ciphers, the Webex trust anchors,
certificate authentication, the interface certificate, and the restart.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WEBEX_CLIENT_CN = "bwcticlient.webex.com"
RECOMMENDED_CIPHER = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"

CLIENT_IDENTITY = "/System/ClientIdentity"
CTI_SERVER = "/Interface/CTI/CTIServer"
PROTOCOLS = "/Interface/CTI/CTIServer/SSLSettings/Protocols"
CIPHERS = "/Interface/CTI/CTIServer/SSLSettings/Ciphers"
TRUSTS = "/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts"
CERT_AUTH = "/System/CommunicationUtility/DefaultSettings/ExternalAuthentication/CertificateAuthentication"
CERTIFICATES = "/Interface/CTI/CTIServer/SSLSettings/Certificates"


@dataclass(frozen=True)
class Step:
    node: str        # "AS" or "XSP": which CLI the line is typed in
    line: str
    section: str = ""  # the guide's heading, on the first step of a section


@dataclass(frozen=True)
class Files:
    # (alias, file) of each Webex CA split from CombinedCertChain2023.txt: root, then issuing
    anchors: tuple[tuple[str, Path], ...]
    server_key: Path
    server_cert: Path
    server_chain: Path


def webex_procedure(ip: str, port: int, files: Files) -> list[Step]:
    return [
        Step("AS", f"cd {CLIENT_IDENTITY}", "Configure Application Server for CTI Subscriptions"),
        Step("AS", f"add {WEBEX_CLIENT_CN}"),
        Step("AS", "get"),
        Step("XSP", f"cd {CTI_SERVER}", "Add CTI Interface and Enable mTLS"),
        Step("XSP", f"add {ip} {port} true true true"),
        Step("XSP", "get"),
        Step("XSP", f"cd {PROTOCOLS}", "Adding TLS 1.2 Protocol to the CTI Interface"),
        Step("XSP", f"get {ip}"),
        Step("XSP", f"add {ip} TLSv1.2"),
        Step("XSP", f"cd {CIPHERS}", "Editing TLS Ciphers Configuration on the CTI Interface"),
        Step("XSP", f"add {ip} {RECOMMENDED_CIPHER}"),
        Step("XSP", "get"),
        Step("XSP", f"cd {TRUSTS}", "Trust Anchors for CTI Interface"),
        *(Step("XSP", f"updateTrust {alias} {path}") for alias, path in files.anchors),
        Step("XSP", "get"),
        Step("XSP", f"cd {CERT_AUTH}", "Allow clients to authenticate with certificates"),
        Step("XSP", "set allowClientApp true"),
        Step("XSP", f"cd {CERTIFICATES}", "Replace the server certificate and key"),
        Step("XSP", f"sslUpdate {ip} keyFile {files.server_key} certificateFile {files.server_cert} "
                    f"chainFile {files.server_chain}"),
        Step("XSP", "get"),
        Step("XSP", "emu restart", "Restart the XSP|ADP"),
    ]
