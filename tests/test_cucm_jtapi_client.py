"""The JTAPI-like client's trust: the CTL over real TFTP (trust on first use, a valid
update, a tampered one, one signed by an unknown SAST, none at all), CTIManager's
certificate checked against the CTL, and 2749's TLS refusals with their alerts."""
from __future__ import annotations

import logging
import socket
import ssl
import time

import pytest

import xsp_trust as trust
from tests._cucm_support import HOST, NODE, add_cucm_node, change, jtapi_options, running
from tests.test_cucm_cti import PASSWORD, PHONE, enrolled, node, store, users  # noqa: F401 - fixtures
from xsp.config.store import Store
from xsp.cucm import jtapi
from xsp.cucm.platform import CTL_NAME, write_ctl


def serve(node, data: bytes) -> None:
    """What the TFTP service hands out from now on (as after a restart with this file)."""
    assert node.files is not None
    node.files.files[CTL_NAME] = data


def download(node, ctl_store: jtapi.CtlStore) -> jtapi.CtlUpdate:
    return ctl_store.update(jtapi.fetch_ctl(HOST, node.tftp.port), "TFTP")


def test_first_ctl_is_trusted_then_a_ctl_signed_by_a_held_sast_is_installed(store, node, tmp_path):
    ctl_store = jtapi.CtlStore(tmp_path / "client")
    first = download(node, ctl_store)
    assert first.installed
    assert first.message == (f"CTLFile.tlv from TFTP ({len(ctl_store.held())} bytes) trusted on first use; "
                             f"stored as {ctl_store.path}")
    assert download(node, ctl_store).message == "CTLFile.tlv from TFTP is the one held"
    time.sleep(1.1)  # a new timestamp
    with store.edit() as deployment:
        settings = deployment.node(NODE).cucm_settings
        settings.ctl_timestamp = write_ctl(store, NODE, settings)[0]
    new = (store.dir / "cucm" / NODE / CTL_NAME).read_bytes()
    serve(node, new)
    update = download(node, ctl_store)
    assert update.installed and ctl_store.held() == new
    assert update.message == "CTLFile.tlv from TFTP installed: signed by CN=cucm1.example.com, a SAST of the CTL held"


def test_a_tampered_ctl_is_refused_and_the_old_one_kept(node, tmp_path):
    ctl_store = jtapi.CtlStore(tmp_path / "client")
    download(node, ctl_store)
    held = ctl_store.held()
    tampered = bytearray(held)
    tampered[-20] ^= 0x01  # inside the last record's certificate
    serve(node, bytes(tampered))
    update = download(node, ctl_store)
    assert not update.installed and ctl_store.held() == held
    assert update.message.startswith("CTLFile.tlv from TFTP refused: ")
    assert update.message.endswith("; keeping the CTL held")


def foreign_ctl() -> bytes:
    rogue = trust.self_signed_server("rogue.example.com")
    key = rogue.private_key
    entries = [trust.CtlEntry(trust.CtlRole.SAST, rogue.certificate),
               trust.CtlEntry(trust.CtlRole.CCM_TFTP, rogue.certificate, "rogue.example.com", HOST)]
    return trust.write_ctl(CTL_NAME, entries, rogue.certificate, key, timestamp=int(time.time()) + 5)


def test_a_ctl_signed_by_an_unknown_sast_is_refused(node, tmp_path):
    ctl_store = jtapi.CtlStore(tmp_path / "client")
    download(node, ctl_store)
    held = ctl_store.held()
    serve(node, foreign_ctl())
    update = download(node, ctl_store)
    assert not update.installed and ctl_store.held() == held
    assert update.message == ("CTLFile.tlv from TFTP refused: wrong signer: the signer CN=rogue.example.com "
                              "is not a SAST of the CTL already held; keeping the CTL held")


def test_a_secure_application_without_a_ctl_does_not_connect(tmp_path):
    store = Store(tmp_path / "state")
    add_cucm_node(store, mixed=False)  # a non-secure cluster serves no CTL
    change(store, users)
    with running(store) as node:
        said: list[str] = []
        options = jtapi_options(node, tmp_path / "client", "secureapp", PASSWORD, secure=True,
                                instance_id="jtapi1", auth_string="123456")
        with pytest.raises(jtapi.JtapiError) as refused:
            jtapi.start(options, said.append)
        assert said == [f"CTL: no CTLFile.tlv on TFTP {HOST}:{node.tftp.port}, and none held"]
        assert str(refused.value) == ("Initialization failed - no CTL file: a secure CTI application does "
                                      "not connect to CTIManager without one")
        assert node.manager.trace.lines() == []  # it never reached CTIManager


def test_ctimanager_must_present_a_callmanager_certificate_of_the_ctl(node, tmp_path):
    directory = tmp_path / "client"
    credentials = enrolled(node, directory, "jtapi1", "123456")
    # A client holding someone else's CTL does not accept this CTIManager.
    rogue_ctl = trust.read_ctl(foreign_ctl())
    with pytest.raises(jtapi.JtapiError) as refused:
        jtapi.CtiConnection.connect(HOST, node.cti_tls.port, jtapi.tls_context(rogue_ctl, credentials))
    assert str(refused.value).startswith(f"CTIManager at {HOST}:{node.cti_tls.port} presented a certificate "
                                         "that is not in the CTL held (")


def raw_handshake(port: int, context: ssl.SSLContext) -> str:
    with socket.create_connection((HOST, port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.recv(1)  # TLS 1.3 reports a refused client certificate after the handshake
        except ssl.SSLError as exc:
            return exc.reason or str(exc)
    return "accepted"


def test_2749_refuses_clients_without_a_capf_certificate_with_an_alert(node, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    assert raw_handshake(node.cti_tls.port, context) in ("TLSV13_ALERT_CERTIFICATE_REQUIRED",
                                                         "SSLV3_ALERT_HANDSHAKE_FAILURE")
    other = trust.CertificateAuthority.new_root("Not the CAPF").issue_client("jtapi1")
    with_foreign = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with_foreign.check_hostname, with_foreign.verify_mode = False, ssl.CERT_NONE
    cert, key = tmp_path / "c.pem", tmp_path / "c.key"
    cert.write_bytes(other.cert_pem)
    key.write_bytes(other.key_pem)
    with_foreign.load_cert_chain(cert, key)
    assert raw_handshake(node.cti_tls.port, with_foreign) == "TLSV1_ALERT_UNKNOWN_CA"
    # The listener logs once its side of the handshake is over, which may be after the
    # client has read the alert.
    deadline = time.monotonic() + 5
    while True:
        lines = [r.getMessage() for r in caplog.records
                 if "refused" in r.getMessage() and "CTIManager" in r.getMessage()]
        if len(lines) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 2
    assert lines[0].startswith(f"CTI cucm1 CTIManager {HOST}:{node.cti_tls.port}: refused {HOST}:")
    assert "no client certificate presented" in lines[0]
    assert "(certificate CN=jtapi1)" in lines[1] and lines[1].endswith("sent alert unknown_ca")


def test_2749_follows_tls_min_version(store, tmp_path):
    change(store, lambda s: setattr(s, "tls_min_version", "1.3"))
    with running(store) as node:
        credentials = enrolled(node, tmp_path / "client", "jtapi1", "123456")
        context = jtapi.tls_context(jtapi.CtlStore(tmp_path / "client").held_file(), credentials)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(jtapi.JtapiError) as refused:
            jtapi.CtiConnection.connect(HOST, node.cti_tls.port, context)
        assert str(refused.value).startswith(f"TLS with CTIManager at {HOST}:{node.cti_tls.port} failed: ")
        assert "PROTOCOL_VERSION" in str(refused.value)
        said: list[str] = []
        options = jtapi_options(node, tmp_path / "client", "secureapp", PASSWORD, secure=True,
                                instance_id="jtapi1", devices=(PHONE,))
        jtapi.start(options, said.append).close()
        assert said[2].startswith(f"CTIManager: TLSv1.3 with {HOST}:{node.cti_tls.port} (TLS_AES_256_GCM_SHA384)")


def test_2749_negotiates_only_the_cucm15_suites(node, tmp_path):
    credentials = enrolled(node, tmp_path / "client", "jtapi1", "123456")
    held = jtapi.CtlStore(tmp_path / "client").held_file()
    outside = jtapi.tls_context(held, credentials)
    outside.maximum_version = ssl.TLSVersion.TLSv1_2
    outside.set_ciphers("ECDHE-RSA-CHACHA20-POLY1305")  # a good suite, but not on CUCM 15's list
    with pytest.raises(jtapi.JtapiError) as refused:
        jtapi.CtiConnection.connect(HOST, node.cti_tls.port, outside)
    assert "HANDSHAKE_FAILURE" in str(refused.value) or "NO_SHARED_CIPHER" in str(refused.value)
    listed = jtapi.tls_context(held, credentials)
    listed.maximum_version = ssl.TLSVersion.TLSv1_2
    listed.set_ciphers("AES128-SHA")  # TLS_RSA_WITH_AES_128_CBC_SHA, the list's last
    connection = jtapi.CtiConnection.connect(HOST, node.cti_tls.port, listed)
    try:
        assert (connection.tls_version, connection.cipher) == ("TLSv1.2", "AES128-SHA")
        assert connection.open_provider("secureapp", PASSWORD).get("reason") == 0
    finally:
        connection.close()
