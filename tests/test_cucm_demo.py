"""``xsp demo --cucm`` (run by make demo): the CUCM part, end to end, in seconds."""
from __future__ import annotations

import re
import time

from tests.conftest import run_xsp


def test_cucm_demo_enrols_opens_the_phone_on_2749_then_refuses_a_non_secure_user(tmp_path):
    started = time.monotonic()
    result = run_xsp("demo", "--cucm", "--state", str(tmp_path / "demo"), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 30
    out = result.stdout
    assert "admin:utils ctl set-cluster mixed-mode\n" in out
    assert re.search(r"  CAPF: certificate for instance jtapi1 installed \(CN=jtapi1, issued by CN=CAPF-", out)
    assert re.search(r"  DeviceInServiceEvent \(DH=1\|\d+ deviceName=SEP001794625DE5 ", out)
    assert ("  refused: Initialization failed - User not configured in Cisco Unified CM for secure CTI usage "
            "(CTI error 0x8CCC00E0)\n") in out
    assert re.search(r"\|AppInfo \|CTIHandler\(1,200,22,\d+\) \|ProviderOpen refused: 0x8CCC00E0 jtapiplain "
                     r"connected on TLS port \d+ but is not in 'Standard CTI Secure Connection'", out)
    assert out.rstrip().splitlines()[-3] == "Ready for secure CTI."
    assert "(login jtapiplain): 0x8CCC00E0" in result.stderr  # CTIManager's one log line


def test_cucm_demo_refuses_a_state_that_already_exists(tmp_path):
    assert run_xsp("demo", "--cucm", "--state", str(tmp_path / "demo")).returncode == 0
    again = run_xsp("demo", "--cucm", "--state", str(tmp_path / "demo"))
    assert again.returncode == 1
    assert again.stderr == f"xsp: {tmp_path / 'demo' / 'state'} already holds a state; the demo starts from a fresh one\n"
