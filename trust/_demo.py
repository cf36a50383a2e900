"""A demo PKI on disk: Webex's client side and a partner's server side, with fixed file names.

Mirrors what a partner handles: Webex's root and issuing CA (the CA file Partner Hub
offers, CombinedCertChain2023.txt, root block first), the Webex CTI client certificate
(CN bwcticlient.webex.com), and the partner's own CA with the server certificate,
key and chain that ``sslUpdate`` installs on the CTI interface.
"""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from xsp_trust._errors import TrustError
from xsp_trust._files import owner_only_dir, write_all
from xsp_trust._issue import CertificateAuthority, is_hostname

WEBEX_ROOT_CN = "Internal Private Root"
WEBEX_ISSUING_CN = "Internal Private TLS SubCA"
WEBEX_CLIENT_CN = "bwcticlient.webex.com"
PARTNER_ROOT_CN = "Partner Demo Root CA"
PARTNER_ISSUING_CN = "Partner Demo TLS Issuing CA"

# name -> what it is; the order is the order of the table printed by `xsp pki demo`.
FILES: dict[str, str] = {
    "webex-root.pem": f"Webex root CA ({WEBEX_ROOT_CN}), self-signed",
    "webex-issuing.pem": f"Webex issuing CA ({WEBEX_ISSUING_CN})",
    "CombinedCertChain2023.txt": "the Webex CA file as Partner Hub offers it: root, then issuing",
    "webex-client.pem": f"Webex CTI client certificate (CN {WEBEX_CLIENT_CN}, clientAuth)",
    "webex-client.key": "its private key",
    "webex-client-chain.pem": "its chain: the Webex issuing CA",
    "partner-ca.pem": f"partner root CA ({PARTNER_ROOT_CN}), what Webex trusts",
    "server.pem": "CTI interface server certificate (serverAuth), for sslUpdate certificateFile",
    "server.key": "its private key, for sslUpdate keyFile",
    "server-chain.pem": f"its chain ({PARTNER_ISSUING_CN}), for sslUpdate chainFile",
}


@dataclass(frozen=True)
class DemoPKI:
    """Paths of the demo files; see FILES for what each holds."""

    webex_root: Path
    webex_issuing: Path
    combined_chain: Path
    webex_client_cert: Path
    webex_client_key: Path
    webex_client_chain: Path
    partner_ca: Path
    server_cert: Path
    server_key: Path
    server_chain: Path

    def paths(self) -> list[Path]:
        return [getattr(self, f.name) for f in fields(self)]


def make_demo_pki(directory: str | os.PathLike[str], *, ips: Sequence[str] = ("127.0.0.1",),
                  dns_names: Sequence[str] = ("localhost",)) -> DemoPKI:
    """Mint the demo PKI into ``directory`` (created if missing); existing files are replaced.

    The server certificate is for every IP in ``ips`` and name in ``dns_names``; its CN
    is the first name, else the first IP.
    """
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise TrustError(f"{ip!r} is not an IP address") from None
    for name in dns_names:
        if not is_hostname(name):
            raise TrustError(f"{name!r} is not a DNS name")
    if not ips and not dns_names:
        raise TrustError("the server certificate needs at least one IP address or DNS name")
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise TrustError(f"{out} exists and is not a directory")

    webex_root = CertificateAuthority.new_root(WEBEX_ROOT_CN)
    webex_issuing = webex_root.new_intermediate(WEBEX_ISSUING_CN)
    client = webex_issuing.issue_client(WEBEX_CLIENT_CN)
    partner_root = CertificateAuthority.new_root(PARTNER_ROOT_CN)
    partner_issuing = partner_root.new_intermediate(PARTNER_ISSUING_CN)
    server_cn = dns_names[0] if dns_names else ips[0]
    server = partner_issuing.issue_server(server_cn, ips=ips, dns_names=dns_names)

    pki = DemoPKI(
        webex_root=out / "webex-root.pem",
        webex_issuing=out / "webex-issuing.pem",
        combined_chain=out / "CombinedCertChain2023.txt",
        webex_client_cert=out / "webex-client.pem",
        webex_client_key=out / "webex-client.key",
        webex_client_chain=out / "webex-client-chain.pem",
        partner_ca=out / "partner-ca.pem",
        server_cert=out / "server.pem",
        server_key=out / "server.key",
        server_chain=out / "server-chain.pem",
    )
    public, private = 0o644, 0o600
    contents = {
        pki.webex_root: (webex_root.cert_pem, public),
        pki.webex_issuing: (webex_issuing.cert_pem, public),
        pki.combined_chain: (_combined(webex_root, webex_issuing), public),
        pki.webex_client_cert: (client.cert_pem, public),
        pki.webex_client_key: (client.key_pem, private),
        pki.webex_client_chain: (client.chain_pem, public),
        pki.partner_ca: (partner_root.cert_pem, public),
        pki.server_cert: (server.cert_pem, public),
        pki.server_key: (server.key_pem, private),
        pki.server_chain: (server.chain_pem, public),
    }
    try:
        refused = owner_only_dir(out)
        if refused is not None:
            raise TrustError(f"cannot write in {out}: {refused}")
        write_all(contents)
    except OSError as exc:
        raise TrustError(f"cannot write in {out}: {exc.strerror or exc}") from None
    return pki


def _combined(root: CertificateAuthority, issuing: CertificateAuthority) -> bytes:
    """The bundle in the shape of Webex's download: labelled blocks, root first, CRLF line ends."""
    text = (f"Webex for BroadWorks CA certificates (xsp demo, not Cisco's)\n\n"
            f"Root CA: {WEBEX_ROOT_CN}\n{root.cert_pem.decode()}\n"
            f"Issuing CA: {WEBEX_ISSUING_CN}\n{issuing.cert_pem.decode()}")
    return text.replace("\n", "\r\n").encode("ascii")
