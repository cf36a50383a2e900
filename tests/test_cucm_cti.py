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
    store = Store(tmp_path / "state")
    add_cucm_node(store)
    change(store, users)
    return store


@pytest.fixture
def node(store: Store):
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
