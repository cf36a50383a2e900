"""CTIManager on 2748/2749 and the JTAPI-like client, over real sockets: the port policy,
CAPF enrolment then connection, device open, duplicate certificates, local login and
lockout, and the SDL trace line at each step where a connection stops."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests._cucm_support import HOST, add_cucm_node, change, jtapi_options, running
from xsp.config.cucm import ApplicationUser, CapfProfile, CapfSettings, EndUser, Phone
from xsp.config.store import Store
from xsp.cucm import jtapi
from xsp.cucm.passwords import hash_password

PHONE = "SEP001794625DE5"
OTHER_PHONE = "SEP00AABB112233"
PASSWORD = "Cti-Secret1"
CTI = "Standard CTI Enabled"
SECURE = "Standard CTI Secure Connection"


def pending(string: str) -> CapfSettings:
    return CapfSettings(certificate_operation="Install/Upgrade", authentication_string=string,
                        certificate_operation_status="Operation Pending")


def users(s, *, secure_groups=(CTI, SECURE), plain_groups=(CTI,)) -> None:
    s.phones += [Phone(PHONE), Phone(OTHER_PHONE)]
    s.application_users += [
        ApplicationUser("secureapp", hash_password(PASSWORD), groups=list(secure_groups),
                        controlled_devices=[PHONE]),
        ApplicationUser("plainapp", hash_password(PASSWORD), groups=list(plain_groups),
                        controlled_devices=[PHONE]),
        ApplicationUser("nocti", hash_password(PASSWORD), groups=["Standard CCM End Users"],
                        controlled_devices=[PHONE])]
    s.end_users.append(EndUser("wwhite", hash_password(PASSWORD), groups=[CTI], last_name="White",
                               controlled_devices=[PHONE]))
    s.capf_profiles += [CapfProfile("Application User", "secureapp", "jtapi1", pending("123456")),
                        CapfProfile("Application User", "plainapp", "plain1", pending("654321"))]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A state with a CUCM node in mixed mode, its CTI users, CAPF profiles and phone."""
    store = Store(tmp_path / "state")
    add_cucm_node(store)
    change(store, users)
    return store


@pytest.fixture
def node(store: Store):
    """The CUCM node of ``store``, running."""
    with running(store) as runtime:
        yield runtime


def test_secure_application_enrols_then_opens_provider_and_device_on_2749(node, tmp_path):
    said: list[str] = []
    options = jtapi_options(node, tmp_path / "client", "secureapp", PASSWORD, secure=True,
                            instance_id="jtapi1", auth_string="123456", devices=(PHONE,))
    connection = jtapi.start(options, said.append)
    try:
        assert connection.tls_version in ("TLSv1.2", "TLSv1.3")
        assert connection.heartbeat().name == "HeartbeatResponse"
    finally:
        connection.close()
    assert said[0].startswith("CTL: CTLFile.tlv from TFTP 127.0.0.1:") and "trusted on first use" in said[0]
    assert said[1].startswith("CAPF: certificate for instance jtapi1 installed (CN=jtapi1, issued by CN=CAPF-")
    assert said[2].startswith(f"CTIManager: {connection.tls_version} with {HOST}:{node.cti_tls.port} (")
    names = [line.split(" (")[0] for line in said[3:]]
    assert names == ["ProviderOpenResponse", "ProviderOpenCompletedEvent", "DeviceOpenResponse",
                     "DeviceInServiceEvent"]
    assert os.stat(tmp_path / "client" / "jtapi1.key").st_mode & 0o777 == 0o600
    trace = "\n".join(node.manager.trace.lines())
    assert "|SdlSig |CtiProviderOpenReq |init_complete_await_provopen |" in trace
    assert "LoginId=secureapp" in trace
    assert "mCtiUserSettings.mbSecurityEnabled=1" in trace
    assert f"mListenPort={node.cti_tls.port}" in trace
    assert f"Name={PHONE} AppLoginUserId=secureapp" in trace and "IsCTIConnectionTLS = T" in trace
    assert "CTI DeviceInServiceEvent (DH=1|" in trace


# --- the port policy ----------------------------------------------------------------------

def enrolled(node, directory: Path, instance: str, string: str) -> jtapi.Credentials:
    store = jtapi.CtlStore(directory)
    assert store.update(jtapi.fetch_ctl(HOST, node.tftp.port), "TFTP").installed
    return jtapi.enrol_instance(HOST, node.capf.port, instance, string, store.held(), directory)


def open_on(node, directory: Path, user: str, tls_credentials: jtapi.Credentials | None):
    """Opens a provider for ``user`` on 2749 with these credentials, or on 2748 without."""
    if tls_credentials is None:
        connection = jtapi.CtiConnection.connect(HOST, node.cti.port)
    else:
        held = jtapi.CtlStore(directory).held_file()
        connection = jtapi.CtiConnection.connect(HOST, node.cti_tls.port, jtapi.tls_context(held, tls_credentials))
    try:
        return connection.open_provider(user, PASSWORD)
    finally:
        connection.close()


MIXED, NON_SECURE = "mixed", "non-secure"
NOT_SECURE_USER = ("Initialization failed - User not configured in Cisco Unified CM for secure CTI "
                   "usage (CTI error 0x8CCC00E0)")
MISMATCH = ("Initialization failed - security configuration does not match with Unified CM TSP "
            "(CTI error 0x8CCC00E1)")


@pytest.mark.parametrize("mode, user, tls, refusal, logged", [
    (MIXED, "secureapp", True, None, None),
    (MIXED, "secureapp", False, MISMATCH,
     "secureapp is in 'Standard CTI Secure Connection' and the cluster is in mixed mode: connect on TLS port {tls}, "
     "not {plain}"),
    (MIXED, "plainapp", True, NOT_SECURE_USER,
     "plainapp connected on TLS port {tls} but is not in 'Standard CTI Secure Connection': use port {plain}"),
    (MIXED, "plainapp", False, None, None),
    (NON_SECURE, "secureapp", True, MISMATCH,
     "secureapp connected on TLS port {tls} but the cluster is in non-secure mode: every CTI connection "
     "must use port {plain}"),
    (NON_SECURE, "secureapp", False, None, None),
    (NON_SECURE, "plainapp", True, MISMATCH,
     "plainapp connected on TLS port {tls} but the cluster is in non-secure mode: every CTI connection "
     "must use port {plain}"),
    (NON_SECURE, "plainapp", False, None, None),
])
def test_port_policy_matrix(store, node, tmp_path, caplog, mode, user, tls, refusal, logged):
    instance, string = ("jtapi1", "123456") if user == "secureapp" else ("plain1", "654321")
    credentials = enrolled(node, tmp_path / "client", instance, string)
    if mode == NON_SECURE:
        change(store, lambda s: setattr(s, "cluster_security_mode", 0))
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    if refusal is None:
        completed = open_on(node, tmp_path / "client", user, credentials if tls else None)
        assert completed.get("reason") == 0 and completed.get("loginUserName") == user
        return
    with pytest.raises(jtapi.JtapiError) as refused:
        open_on(node, tmp_path / "client", user, credentials if tls else None)
    assert str(refused.value) == refusal
    port = node.cti_tls.port if tls else node.cti.port
    detail = logged.format(tls=node.cti_tls.port, plain=node.cti.port)
    lines = [r.getMessage() for r in caplog.records if r.name == "xsp.cucm" and "refused" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith(f"cucm1 CTIManager {HOST}:{port}: refused {HOST}:")
    assert lines[0].endswith(f"(login {user}): {refusal.split('error ')[1][:-1]} {detail}")
    trace = node.manager.trace.lines()
    assert any(f"mListenPort={node.cti_tls.port if (mode == MIXED and user == 'secureapp') else node.cti.port}"
               in line for line in trace)
    assert trace[-2].endswith(f"ProviderOpen refused: {refusal.split('error ')[1][:-1]} {detail}")
    assert "CTI ProviderOpenCompletedEvent (reason=" in trace[-1]


def test_a_user_outside_standard_cti_enabled_is_refused_on_2748(node, tmp_path):
    with pytest.raises(jtapi.JtapiError) as refused:
        open_on(node, tmp_path, "nocti", None)
    assert str(refused.value) == ("Initialization failed - User not configured in Cisco Unified CM for CTI "
                                  "usage (CTI error 0x8CCC005F)")
    assert any(line.endswith("ProviderOpen refused: 0x8CCC005F nocti is not in 'Standard CTI Enabled'")
               for line in node.manager.trace.lines())


def test_the_certificate_must_be_the_capf_instance_of_the_user_logging_in(node, tmp_path):
    # plainapp's certificate, presented for secureapp: a valid CAPF certificate, of another user.
    credentials = enrolled(node, tmp_path / "client", "plain1", "654321")
    with pytest.raises(jtapi.JtapiError) as refused:
        open_on(node, tmp_path / "client", "secureapp", credentials)
    assert str(refused.value) == "Initialization failed - Invalid security certificate (CTI error 0x8CCC00E2)"
    assert node.manager.trace.lines()[-2].endswith(
        "ProviderOpen refused: 0x8CCC00E2 the certificate CN=plain1 is not the Instance ID of a CAPF "
        "profile of secureapp")


def test_a_device_outside_the_users_controlled_devices_is_restricted(node, tmp_path):
    connection = jtapi.CtiConnection.connect(HOST, node.cti.port)
    try:
        connection.open_provider("plainapp", PASSWORD)
        with pytest.raises(jtapi.JtapiError) as refused:
            connection.open_device(OTHER_PHONE)
        assert str(refused.value) == ("Device open failed - Device not in the user's control list "
                                      "(CTI error 0x8CCC00D2)")
        assert node.manager.trace.lines()[-1].endswith(
            f"|SdlSig |CtiDeviceOpenDeviceRes |ready |CTIHandler(1,200,22,2) |CTIDeviceLineMgr(1,200,25,1) "
            f"|mAsyncResponse = 2 Name={OTHER_PHONE} mOpenResult=0x8CCC00D2 {OTHER_PHONE} is not among the "
            "controlled devices of plainapp")
        with pytest.raises(jtapi.JtapiError) as unknown:
            connection.open_device("SEP999999999999")
        assert str(unknown.value) == "Device open failed - Device not found (CTI error 0x8CCC00D4)"
        response, event = connection.open_device(PHONE)  # the provider is still open
        assert response.get("result") == 0 and event.get("deviceName") == PHONE
    finally:
        connection.close()
    assert any("IsCTIConnectionTLS = F" in line for line in node.manager.trace.lines())


# --- one certificate, two providers ----------------------------------------------------

def test_two_providers_with_one_certificate_are_both_closed_then_the_certificate_is_compromised(
        store, node, tmp_path, caplog):
    change(store, lambda s: setattr(s.service_parameters, "cti_instance_id_retry_count", 2))
    directory = tmp_path / "client"
    credentials = enrolled(node, directory, "jtapi1", "123456")
    context = jtapi.tls_context(jtapi.CtlStore(directory).held_file(), credentials)
    caplog.set_level(logging.INFO, logger="xsp.cucm")

    def duplicate(incident: int) -> None:
        first = jtapi.CtiConnection.connect(HOST, node.cti_tls.port, context)
        first.open_provider("secureapp", PASSWORD)
        second = jtapi.CtiConnection.connect(HOST, node.cti_tls.port, context)
        with pytest.raises(jtapi.JtapiError) as refused:
            second.open_provider("secureapp", PASSWORD)
        text = ("Provider closed - another provider presented the same instance certificate "
                "(CTI error 0x8CCC00E4)")
        assert str(refused.value) == text
        closed = first.wait_for("ProviderClosedEvent")
        assert closed.get("reason") == 0x8CCC00E4
        for connection in (first, second):
            connection.close()

    duplicate(1)
    serial = f"{credentials.certificate.serial_number:X}"
    assert node.manager.trace.lines()[-2].endswith(
        f"ProviderOpen refused: 0x8CCC00E4 two providers present the certificate serial {serial} "
        "(incident 1 of 2 allowed by CTI InstanceId Retry Count)")
    duplicate(2)
    profile = store.load().node("cucm1").cucm_settings.capf_profiles[0]
    assert profile.capf.compromised_serials == [serial]
    assert any(r.getMessage() == f"cucm1 CTIManager: certificate serial {serial} of instance jtapi1 marked "
               "compromised" for r in caplog.records)
    with pytest.raises(jtapi.JtapiError) as refused:
        open_on(node, directory, "secureapp", credentials)
    assert str(refused.value) == ("Initialization failed - Security certificate compromised "
                                  "(CTI error 0x8CCC00E3)")
    # A new certificate from CAPF ends it.
    change(store, lambda s: setattr(s.capf_profiles[0], "capf", pending("777888")))
    renewed = jtapi.enrol_instance(HOST, node.capf.port, "jtapi1", "777888", jtapi.CtlStore(directory).held(),
                                   directory)
    assert open_on(node, directory, "secureapp", renewed).get("reason") == 0


# --- login and the credential policy -----------------------------------------------------

def test_bad_passwords_lock_the_user_out_and_each_step_is_traced(node, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    failed = "Authentication failed - Check UserID and Password (CTI error 0x8CCC0060)"
    for attempt in (1, 2, 3):
        connection = jtapi.CtiConnection.connect(HOST, node.cti.port)
        with pytest.raises(jtapi.JtapiError) as refused:
            connection.open_provider("wwhite", "wrong")
        connection.close()
        assert str(refused.value) == failed
        locked = "; now locked out" if attempt == 3 else ""
        assert any(r.getMessage().endswith(
            f"(login wwhite): 0x8CCC0060 wrong password for wwhite (failed logon {attempt} of 3{locked})")
            for r in caplog.records)
    connection = jtapi.CtiConnection.connect(HOST, node.cti.port)
    with pytest.raises(jtapi.JtapiError) as refused:
        connection.open_provider("wwhite", PASSWORD)  # the right password, but locked out
    connection.close()
    assert str(refused.value) == failed
    trace = node.manager.trace.lines()
    assert trace[-3].endswith("|AppInfo |Directory(1,200,23,1) |Credential policy: wwhite is locked out "
                              "(3 failed logons)")
    assert "|SdlSig |CtiLoginCheckRes |authenticating |" in trace[-2]
    assert trace[-2].endswith("result=Failure error=0x8CCC0060 wwhite is locked out by the credential "
                              "policy after 3 failed logons")
    # Another user is not affected; an unknown user is refused in the same words.
    assert open_on(node, tmp_path, "plainapp", None).get("reason") == 0
    with pytest.raises(jtapi.JtapiError) as unknown:
        open_on(node, tmp_path, "nobody", None)
    assert str(unknown.value) == failed


def test_a_correct_password_resets_the_failed_logon_count(node, tmp_path):
    for password in ("wrong", "wrong", PASSWORD, "wrong", "wrong"):
        connection = jtapi.CtiConnection.connect(HOST, node.cti.port)
        try:
            connection.open_provider("wwhite", password)
        except jtapi.JtapiError:
            pass
        connection.close()
    assert open_on(node, tmp_path, "wwhite", None).get("reason") == 0


def test_heartbeats_are_answered_and_a_silent_provider_is_closed(node, tmp_path):
    connection = jtapi.CtiConnection.connect(HOST, node.cti.port)
    try:
        connection.open_provider("plainapp", PASSWORD, heartbeat=1)
        assert connection.heartbeat().get("seq") == 2
        closed = connection.wait_for("ProviderClosedEvent", timeout=5)
        assert closed.get("reason") == 0x8CCC00E5
        assert closed.get("description") == "Provider closed - heartbeat missed"
    finally:
        connection.close()
