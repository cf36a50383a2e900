"""The CUCM node's TFTP service (TFTP and HTTP 6970) and CAPF on real loopback sockets."""
from __future__ import annotations

import datetime as dt
import logging
import socket
import time
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import tftpy
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import xsp_trust as trust
from tests._cucm_support import HOST, NODE, add_cucm_node, capf_context, change, enrol, running, settings
from xsp.config.cucm import ApplicationUser, CapfProfile, CapfSettings, Phone
from xsp.config.store import Store
from xsp.cucm.capfclient import CapfClientSession
from xsp.cucm.capfenrol import EnrolError
from xsp.cucm.capfwire import Reason
from xsp.cucm.platform import ctl_path, load_certificate
from xsp.listener.gate import ConnectionGate

PHONE = "SEP00AABB112233"
IPSEC_END_SYSTEM = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5")


def pending(string: str = "123456", **fields) -> CapfSettings:
    return CapfSettings(certificate_operation="Install/Upgrade", authentication_string=string,
                        certificate_operation_status="Operation Pending", **fields)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A new state with a CUCM node and its enrolments."""
    store = Store(tmp_path / "state")
    add_cucm_node(store)

    def enrolments(s):
        s.application_users.append(ApplicationUser("ctiapp", groups=["Standard CTI Enabled"]))
        s.capf_profiles.append(CapfProfile("Application User", "ctiapp", "jtapi1", pending("123456")))
        s.phones.append(Phone(PHONE, capf=pending("987654", key_order="EC Only", ec_key_size=384)))
    change(store, enrolments)
    return store


@pytest.fixture
def node(store: Store):
    """The CUCM node of ``store``, running for one test."""
    with running(store) as runtime:
        yield runtime


# --- TFTP and HTTP 6970 ---------------------------------------------------------------

def test_tftp_serves_the_ctl_and_itl_files(node, store, tmp_path):
    client = tftpy.TftpClient(HOST, node.tftp.port)
    client.download("CTLFile.tlv", str(tmp_path / "CTLFile.tlv"), timeout=5)
    client.download("ITLFile.tlv", str(tmp_path / "ITLFile.tlv"), timeout=5)
    served = (tmp_path / "CTLFile.tlv").read_bytes()
    assert served == ctl_path(store, NODE).read_bytes()
    ctl = trust.verify_ctl(served)
    assert ctl.filename == "CTLFile.tlv"
    assert [r.role_label for r in ctl.records] == ["SAST", "SAST", "CCM+TFTP", "CAPF"]
    itl = trust.verify_ctl((tmp_path / "ITLFile.tlv").read_bytes())
    assert itl.filename == "ITLFile.tlv"
    assert itl.records[3].certificate == load_certificate(settings(store), "CAPF")


def test_tftp_refuses_unknown_files_and_every_write(node, tmp_path):
    client = tftpy.TftpClient(HOST, node.tftp.port)
    with pytest.raises(tftpy.TftpException, match="File not found"):
        client.download("SEP00AABB112233.cnf.xml", str(tmp_path / "x"), timeout=5)
    upload = tmp_path / "evil.tlv"
    upload.write_bytes(b"x" * 10)
    with pytest.raises(tftpy.TftpException, match="Access violation"):
        client.upload("CTLFile.tlv", str(upload), timeout=5)
    client.download("CTLFile.tlv", str(tmp_path / "after"), timeout=5)
    trust.verify_ctl((tmp_path / "after").read_bytes())


def test_http_6970_serves_the_same_files(node, store):
    url = f"http://{HOST}:{node.http_port}/CTLFile.tlv"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.read() == ctl_path(store, NODE).read_bytes()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://{HOST}:{node.http_port}/nothing.tlv", timeout=5)
    assert missing.value.code == 404
    assert missing.value.read() == b"nothing.tlv: no such file\n"


def test_http_6970_connections_count_against_the_node_limit(store, caplog):
    """A client holding idle connections cannot take the descriptors: past the node's
    limit a connection is closed at once, with one line; a freed place serves again."""
    caplog.set_level(logging.WARNING, logger="xsp")
    with running(store, gate=ConnectionGate(3, 3)) as node:
        held = [socket.create_connection((HOST, node.http_port), timeout=5) for _ in range(3)]
        try:
            turned = socket.create_connection((HOST, node.http_port), timeout=5)
            assert turned.recv(1) == b""  # closed by the node without a word
            turned.close()
            assert ("CTI cucm1 HTTP 6970: refused 127.0.0.1:"
                    in caplog.text), caplog.text
            assert "the node holds 3 connections, its limit (emu limit connections); connection closed" in caplog.text
            held.pop().close()
            deadline = time.monotonic() + 5
            while True:
                try:
                    with urllib.request.urlopen(f"http://{HOST}:{node.http_port}/ITLFile.tlv",
                                                timeout=5) as response:
                        assert response.status == 200
                        break
                except (urllib.error.URLError, ConnectionError):
                    assert time.monotonic() < deadline, "the freed place never served"
                    time.sleep(0.05)
        finally:
            for sock in held:
                sock.close()


def test_non_secure_cluster_serves_no_ctl(tmp_path):
    store = Store(tmp_path / "plain")
    add_cucm_node(store, mixed=False)
    with running(store) as node:
        client = tftpy.TftpClient(HOST, node.tftp.port)
        with pytest.raises(tftpy.TftpException, match="File not found"):
            client.download("CTLFile.tlv", str(tmp_path / "c"), timeout=5)
        client.download("ITLFile.tlv", str(tmp_path / "i"), timeout=5)


def test_a_new_ctl_is_served_after_the_service_restarts(store, tmp_path):
    from xsp.cucm.platform import write_ctl
    with running(store) as node:
        before = urllib.request.urlopen(f"http://{HOST}:{node.http_port}/CTLFile.tlv").read()
        change(store, lambda s: setattr(s, "ctl_timestamp", write_ctl(store, NODE, s)[0]))
        still = urllib.request.urlopen(f"http://{HOST}:{node.http_port}/CTLFile.tlv").read()
    assert still == before
    with running(store) as node:
        after = urllib.request.urlopen(f"http://{HOST}:{node.http_port}/CTLFile.tlv").read()
    assert trust.read_ctl(after).timestamp > trust.read_ctl(before).timestamp
    trust.verify_ctl(after, trusted=trust.read_ctl(before))


# --- CAPF installs ----------------------------------------------------------------------

def check_lsc(certificate: x509.Certificate, name: str, store: Store, *, phone: bool) -> None:
    capf = load_certificate(settings(store), "CAPF")
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
    assert certificate.issuer == capf.subject
    capf.public_key().verify(certificate.signature, certificate.tbs_certificate_bytes,
                             *_verify_args(capf, certificate))
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    eku = list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    expected = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert eku == expected + ([IPSEC_END_SYSTEM] if phone else [])
    now = dt.datetime.now(dt.timezone.utc)
    assert certificate.not_valid_before_utc <= now
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert dt.timedelta(days=5 * 365) <= lifetime <= dt.timedelta(days=5 * 365 + 1)


def _verify_args(ca: x509.Certificate, certificate: x509.Certificate):
    from cryptography.hazmat.primitives.asymmetric import padding
    return padding.PKCS1v15(), certificate.signature_hash_algorithm


def test_capf_installs_an_rsa_certificate_for_an_application_instance(node, store, caplog):
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    client = enrol(node.capf.port, CapfClientSession("jtapi1", "123456", in_progress_messages=2))
    assert client.end_reason == Reason.UPDATE_CERTIFICATE
    assert isinstance(client.private_key, rsa.RSAPrivateKey) and client.private_key.key_size == 2048
    assert client.certificate.public_key() == client.private_key.public_key()
    check_lsc(client.certificate, "jtapi1", store, phone=False)
    profile = settings(store).capf_profiles[0].capf
    assert profile.certificate_operation == "No Pending Operation"
    assert profile.certificate_operation_status == "Upgrade Success"
    assert profile.authentication_string == ""
    assert profile.lsc.serial == f"{client.certificate.serial_number:X}"
    assert any("CAPF: 127.0.0.1:" in r.message and "jtapi1: certificate installed" in r.message
               for r in caplog.records)


@pytest.mark.parametrize("key_order, size, kind", [("EC Only", 384, ec.EllipticCurvePrivateKey),
                                                     ("EC Only", 256, ec.EllipticCurvePrivateKey),
                                                     ("RSA Only", 2048, rsa.RSAPrivateKey)])
def test_capf_installs_a_phone_certificate(store, key_order, size, kind):
    def set_keys(s):
        s.phones[0].capf.key_order = key_order
        s.phones[0].capf.ec_key_size = size if kind is ec.EllipticCurvePrivateKey else 384
        s.phones[0].capf.rsa_key_size = size if kind is rsa.RSAPrivateKey else 2048
    change(store, set_keys)
    with running(store) as node:
        client = enrol(node.capf.port, CapfClientSession(PHONE, "987654"))
    assert client.end_reason == Reason.UPDATE_CERTIFICATE
    assert isinstance(client.private_key, kind)
    assert client.private_key.key_size == size
    check_lsc(client.certificate, PHONE, store, phone=True)
    assert settings(store).phones[0].capf.lsc.subject == f"CN={PHONE}"


# --- CAPF refusals ----------------------------------------------------------------------

def refused(node, name: str, string: str, caplog) -> tuple[CapfClientSession, str]:
    caplog.clear()
    client = enrol(node.capf.port, CapfClientSession(name, string))
    assert client.certificate is None
    lines = [r.message for r in caplog.records if " CAPF: " in r.message]
    assert len(lines) == 1, lines
    return client, lines[0]


def test_capf_refusals(node, store, caplog):
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    client, line = refused(node, "nosuchapp", "123456", caplog)
    assert client.end_reason == Reason.UNKNOWN_DEVICE
    assert line.endswith("nosuchapp: refused: no phone or CAPF profile with this name")

    client, line = refused(node, "jtapi1", "111111", caplog)
    assert (client.end_reason, client.reason_info) == (Reason.INVALID_ELEMENT, "refused: wrong authentication string")
    assert line.endswith("jtapi1: refused: wrong authentication string")
    assert settings(store).capf_profiles[0].capf.certificate_operation == "Install/Upgrade"

    assert enrol(node.capf.port, CapfClientSession("jtapi1", "123456")).end_reason == Reason.UPDATE_CERTIFICATE
    client, line = refused(node, "jtapi1", "123456", caplog)
    assert client.end_reason == Reason.INVALID_ELEMENT
    assert client.reason_info == "refused: the authentication string was already used for an issued certificate"

    client, line = refused(node, "jtapi1", "555555", caplog)
    assert (client.end_reason, client.reason_info) == (Reason.NO_ACTION, "")
    assert line.endswith("jtapi1: no pending operation")

    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    change(store, lambda s: setattr(s.phones[0].capf, "operation_completes_by", yesterday))
    client, line = refused(node, PHONE, "987654", caplog)
    assert client.end_reason == Reason.INVALID_ELEMENT
    assert client.reason_info == f"refused: the operation expired (Operation Completes By {yesterday})"

    change(store, lambda s: setattr(s, "cluster_security_mode", 0))
    client, line = refused(node, PHONE, "987654", caplog)
    assert client.end_reason == Reason.INVALID_ELEMENT
    assert client.reason_info == ("refused: the cluster is in non-secure mode; CAPF operations "
                                  "need mixed mode")


def test_capf_refuses_a_key_other_than_the_profile_asks_for(node, store, caplog):
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    wrong = ec.generate_private_key(ec.SECP256R1())
    client = enrol(node.capf.port, CapfClientSession("jtapi1", "123456", key_override=wrong))
    assert client.end_reason == Reason.INVALID_ELEMENT
    assert client.reason_info == "refused: an EC key; the profile's key order is RSA Only"
    assert settings(store).capf_profiles[0].capf.authentication_string == "123456"


# --- CAPF TLS ---------------------------------------------------------------------------

CUCM15_TLS12 = {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_RSA_WITH_AES_128_CBC_SHA"}
CUCM15_TLS13 = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}


@pytest.fixture(scope="module")
def scan_credentials(tmp_path_factory):
    """A self-signed client certificate and key, as files, for the scans."""
    directory = tmp_path_factory.mktemp("scanner")
    issued = trust.self_signed_client("scanner")
    issued.write(directory / "c.pem", directory / "k.pem")
    return directory / "c.pem", directory / "k.pem"


@pytest.mark.parametrize("min_version, expected", [
    ("1.2", {"TLSv1": set(), "TLSv1.1": set(), "TLSv1.2": CUCM15_TLS12, "TLSv1.3": CUCM15_TLS13}),
    ("1.3", {"TLSv1": set(), "TLSv1.1": set(), "TLSv1.2": set(), "TLSv1.3": CUCM15_TLS13}),
])
def test_capf_tls_follows_min_version_and_the_cucm15_suites(store, scan_credentials, min_version, expected,
                                                           caplog):
    from tests._scan import scan
    from xsp.tls import tls13
    if tls13.unavailable_reason() is not None:
        pytest.skip(tls13.unavailable_reason())
    change(store, lambda s: setattr(s, "tls_min_version", min_version))
    with running(store) as node:
        assert scan(HOST, node.capf.port, *scan_credentials) == expected
        if min_version == "1.3":
            caplog.clear()
            caplog.set_level(logging.WARNING, logger="xsp.cti")
            with pytest.raises(EnrolError, match="TLS with 127.0.0.1:[0-9]+ failed: TLSV1_ALERT_PROTOCOL_VERSION"):
                enrol(node.capf.port, CapfClientSession("jtapi1", "123456"),
                      capf_context(ssl.TLSVersion.TLSv1_2))
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.05)
            (line,) = [r.getMessage() for r in caplog.records]
            assert line.startswith(f"CTI cucm1 CAPF 127.0.0.1:{node.capf.port}: refused 127.0.0.1:")
            assert line.endswith("sent alert protocol_version")


def test_a_regenerated_capf_certificate_needs_a_ctl_update_for_clients_that_check_it(store):
    from xsp.cucm.capfenrol import enrol as enrol_checked
    from xsp.cucm.platform import make_certificate, write_ctl

    held = ctl_path(store, NODE).read_bytes()

    def regenerate(s):
        s.certificates = [make_certificate(store, NODE, s.hostname, "CAPF") if c.name == "CAPF" else c
                          for c in s.certificates]
    change(store, regenerate)
    with running(store) as node:
        served = urllib.request.urlopen(f"http://{HOST}:{node.http_port}/CTLFile.tlv").read()
        assert served == held  # no update yet: the old CTL, as on CUCM
        with pytest.raises(EnrolError, match=r"^the CAPF presented CN=CAPF-\w+, which is not the "
                                             r"CAPF record of the CTL$"):
            enrol_checked(HOST, node.capf.port, CapfClientSession("jtapi1", "123456"), ctl=served,
                          context=capf_context())
    change(store, lambda s: setattr(s, "ctl_timestamp", write_ctl(store, NODE, s)[0]))
    with running(store) as node:
        served = urllib.request.urlopen(f"http://{HOST}:{node.http_port}/CTLFile.tlv").read()
        trust.verify_ctl(served, trusted=trust.read_ctl(held))
        result = enrol_checked(HOST, node.capf.port, CapfClientSession("jtapi1", "123456"),
                               ctl=served, context=capf_context())
    assert result.session.certificate.issuer == load_certificate(settings(store), "CAPF").subject
