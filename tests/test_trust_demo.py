"""The demo PKI: fixed file names, private keys, and material that really works for mTLS."""
from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509

from _trust_support import one_error_line, run_xsp
from xsp_trust import (DEMO_FILES, DemoPKI, TrustError, load_certificates, load_key_and_cert,
                   load_single_ca, make_demo_pki, split_bundle, verify_files)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoPKI:
    """The demo PKI, made once for the module."""
    return make_demo_pki(tmp_path_factory.mktemp("demo") / "pki")


def test_every_documented_file_is_written_with_keys_0600(demo: DemoPKI) -> None:
    """All ten documented files exist; the two keys are 0600 and the rest 0644."""
    assert [p.name for p in demo.paths()] == list(DEMO_FILES)
    for path in demo.paths():
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if path.suffix == ".key" else 0o644), path.name


def test_combined_file_is_webex_shaped_and_splits_into_root_and_issuing(demo: DemoPKI,
                                                                        tmp_path: Path) -> None:
    """CombinedCertChain2023.txt: CRLF, text, root block first; split-chain gives back the two CA files."""
    data = demo.combined_chain.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    first, second = load_certificates(demo.combined_chain)
    assert first == load_single_ca(demo.webex_root)
    assert second == load_single_ca(demo.webex_issuing)
    assert data.index(b"Root CA: Internal Private Root") < data.index(b"-----BEGIN")
    split_bundle(demo.combined_chain, tmp_path)
    assert load_single_ca(tmp_path / "root2023.txt") == first
    assert load_single_ca(tmp_path / "issuing2023.txt") == second


def test_webex_client_verifies_against_either_anchor(demo: DemoPKI) -> None:
    """The client certificate (CN bwcticlient.webex.com) verifies via the issuing CA alone or via the root."""
    alone = verify_files(demo.webex_client_cert, [demo.webex_issuing])
    via_root = verify_files(demo.webex_client_cert, [demo.webex_root],
                            untrusted_paths=[demo.webex_client_chain])
    assert alone.ok and via_root.ok
    assert via_root.message == ("OK: CN=bwcticlient.webex.com valid for client authentication "
                                "via Internal Private TLS SubCA -> Internal Private Root")


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_server_verifies_for_default_names_against_the_partner_ca(demo: DemoPKI, name: str) -> None:
    """The server certificate is valid for 127.0.0.1 and localhost under partner-ca.pem + server-chain.pem."""
    result = verify_files(demo.server_cert, [demo.partner_ca],
                          untrusted_paths=[demo.server_chain], purpose="server", name=name)
    assert result.ok, result.message


def test_server_files_load_for_ssl_update_without_warnings(demo: DemoPKI) -> None:
    """server.key, server.pem, server-chain.pem are what sslUpdate accepts, with no warning."""
    creds = load_key_and_cert(demo.server_key, demo.server_cert, demo.server_chain)
    assert creds.warnings == ()
    assert len(creds.chain) == 1


def test_ips_and_names_are_the_server_certificate_san(tmp_path: Path) -> None:
    """--ip/--name values all land in the server certificate's SAN; the first name is the CN."""
    pki = make_demo_pki(tmp_path, ips=["10.155.6.175", "::1"], dns_names=["xsp1.example.com"])
    cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xsp1.example.com"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.155.6.175"),
                                                       ipaddress.ip_address("::1")]
    assert cert.subject.rfc4514_string() == "CN=xsp1.example.com"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ips": ["10.1.2"]}, "'10.1.2' is not an IP address"),
    ({"dns_names": ["bad name"]}, "'bad name' is not a DNS name"),
    ({"ips": [], "dns_names": []}, "needs at least one IP address or DNS name"),
])
def test_bad_server_names_are_refused_before_anything_is_written(tmp_path: Path, kwargs: dict,
                                                                 message: str) -> None:
    """An invalid IP or DNS name, or none at all: TrustError, and the directory is not created."""
    with pytest.raises(TrustError, match=message):
        make_demo_pki(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def _serve_once(context: ssl.SSLContext, sock: socket.socket, seen: dict) -> None:
    try:
        with context.wrap_socket(sock, server_side=True) as tls:
            seen["peer"] = tls.getpeercert()
            tls.sendall(b"ok")
    except (ssl.SSLError, OSError) as exc:
        seen["error"] = exc


def test_demo_files_complete_a_mutual_tls_handshake_over_a_socket(demo: DemoPKI,
                                                                  tmp_path: Path) -> None:
    """Server trusting the two Webex anchors and client trusting partner-ca.pem: mTLS succeeds over a real socket."""
    server_pem = tmp_path / "server-full.pem"
    server_pem.write_bytes(demo.server_cert.read_bytes() + demo.server_chain.read_bytes())
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_cert_chain(server_pem, demo.server_key)
    server_ctx.load_verify_locations(demo.webex_root)
    server_ctx.load_verify_locations(demo.webex_issuing)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_cert_chain(demo.webex_client_cert, demo.webex_client_key)
    client_ctx.load_verify_locations(demo.partner_ca)

    client_sock, server_sock = socket.socketpair()
    seen: dict = {}
    thread = threading.Thread(target=_serve_once, args=(server_ctx, server_sock, seen))
    thread.start()
    try:
        with client_ctx.wrap_socket(client_sock, server_hostname="localhost") as tls:
            assert tls.recv(2) == b"ok"
    finally:
        thread.join(timeout=10)
    assert "error" not in seen, seen.get("error")
    assert ((("commonName", "bwcticlient.webex.com"),),) == seen["peer"]["subject"]


def test_cli_prints_the_file_table_and_exits_0(tmp_path: Path) -> None:
    """`xsp pki demo -o DIR`: exit 0, one table row per documented file with its mode."""
    result = run_xsp("pki", "demo", "-o", str(tmp_path / "d"), "--ip", "10.155.6.175")
    assert (result.returncode, result.stderr) == (0, "")
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()
            if line.strip() and line.split()[0] in DEMO_FILES}
    assert rows == {name: "0600" if name.endswith(".key") else "0644" for name in DEMO_FILES}
    assert result.stdout.splitlines()[-1] == "Server certificate for: localhost, 10.155.6.175"
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(DEMO_FILES)


def test_cli_bad_ip_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """`xsp pki demo --ip 10.1.2`: exit 1, one line, nothing written."""
    result = run_xsp("pki", "demo", "-o", str(tmp_path / "d"), "--ip", "10.1.2")
    assert result.returncode == 1
    assert one_error_line(result) == "xsp: '10.1.2' is not an IP address"
    assert not (tmp_path / "d").exists()
