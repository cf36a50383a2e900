"""``xsp jtapi-client`` as a user runs it: a real subprocess against an emulated CUCM."""
from __future__ import annotations

import os
import re
import time

import pytest

from tests.conftest import run_xsp
from xsp.testing import RunningCucm


@pytest.fixture
def cucm(tmp_path):
    """A running CUCM node in mixed mode with a secure application user (xsp.testing.RunningCucm)."""
    with RunningCucm.start(tmp_path / "node") as node:
        yield node


def ports(node: RunningCucm) -> list[str]:
    runtime = node.runtime
    return ["--tftp-port", str(runtime.tftp.port), "--capf-port", str(runtime.capf.port),
            "--cti-port", str(runtime.cti.port), "--cti-tls-port", str(runtime.cti_tls.port)]


def test_secure_client_enrols_connects_and_opens_the_phone(cucm, tmp_path):
    client = tmp_path / "client"
    result = run_xsp("jtapi-client", cucm.secure_user, "--password", cucm.password, "--secure",
                     "--instance-id", cucm.instance_id, "--auth-string", cucm.auth_string,
                     "--device", cucm.phone, "--dir", str(client), *ports(cucm))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    tls = cucm.runtime.cti_tls.port
    assert re.fullmatch(rf"""CTL: CTLFile\.tlv from TFTP 127\.0\.0\.1:\d+ \(\d+ bytes\) trusted on first use; stored as {re.escape(str(client))}/CTLFile\.tlv
CAPF: certificate for instance jtapi1 installed \(CN=jtapi1, issued by CN=CAPF-[0-9a-f]+\); key {re.escape(str(client))}/jtapi1\.key \(0600\)
CTIManager: TLSv1\.[23] with 127\.0\.0\.1:{tls} \([A-Z0-9_-]+\); its certificate is a CallManager record of the CTL held
ProviderOpenResponse \(seq=1 providerId=\d+ FIPMode=0\)
ProviderOpenCompletedEvent \(reason=0 failureDescription= providerId=\d+ loginUserName=jtapisecure daysUntilPasswordExpiry=4294967295\)
DeviceOpenResponse \(seq=2 result=0 DH=1\|\d+ deviceName=SEP001794625DE5 deviceType=7 deviceId=\d+ deviceRestricted=0\)
DeviceInServiceEvent \(DH=1\|\d+ deviceName=SEP001794625DE5 encodingType=3 deviceLocale=1\)
""", result.stdout), result.stdout
    assert os.stat(client / "jtapi1.key").st_mode & 0o777 == 0o600
    # Run again: the CTL is the one held and the certificate is reused.
    again = run_xsp("jtapi-client", cucm.secure_user, "--secure", "--instance-id", cucm.instance_id,
                    "--dir", str(client), *ports(cucm), env={"XSP_JTAPI_PASSWORD": cucm.password})
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0].endswith("is the one held")
    assert again.stdout.splitlines()[1].startswith("CAPF: using the certificate held for instance jtapi1 (serial ")


def test_a_refusal_prints_the_tsp_words_and_the_cti_error(cucm, tmp_path):
    result = run_xsp("jtapi-client", cucm.secure_user, "--password", cucm.password, "--dir",
                     str(tmp_path / "client"), *ports(cucm))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("ProviderOpenCompletedEvent (reason=0x8CCC00E1 ")
    assert result.stderr == ("xsp jtapi-client: Initialization failed - security configuration does not match "
                             "with Unified CM TSP (CTI error 0x8CCC00E1)\n")


@pytest.mark.parametrize("args, message", [
    (["--device", "phone1"], "--device phone1: not a device name; expected SEP and 12 hex digits"),
    (["--auth-string", "12"], "--auth-string: expected 4 to 10 digits"),
    (["--heartbeat", "0"], "--heartbeat 0: expected 1 to 300 seconds"),
    (["--instance-id", "a-b"], "--instance-id a-b: expected 1 to 128 letters and digits"),
])
def test_bad_options_get_one_line(args, message, tmp_path):
    result = run_xsp("jtapi-client", "someone", "--password", "x", "--dir", str(tmp_path), *args)
    assert result.returncode == 2
    assert result.stderr == f"xsp jtapi-client: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_no_password_is_refused(tmp_path):
    result = run_xsp("jtapi-client", "someone", "--dir", str(tmp_path), env={"XSP_JTAPI_PASSWORD": None})
    assert result.returncode == 2
    assert result.stderr == "xsp jtapi-client: no password: give --password or set XSP_JTAPI_PASSWORD\n"


def test_listen_keeps_the_provider_open_with_heartbeats(cucm, tmp_path):
    started = time.monotonic()
    result = run_xsp("jtapi-client", cucm.plain_user, "--password", cucm.password, "--dir", str(tmp_path),
                     "--heartbeat", "1", "--listen", "2.5", *ports(cucm))
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 2.5
    heartbeats = [line for line in cucm.trace() if "CTI HeartbeatRequest (seq=" in line]
    assert len(heartbeats) >= 2
