"""``xsp doctor --node cucm1``: the CUCM node's readiness for secure CTI, with the fixes."""
from __future__ import annotations

from tests.conftest import run_xsp
from xsp.config.store import Store
from xsp.cucm.doctor import check
from xsp.testing import RunningCucm


def test_a_fresh_node_fails_with_the_commands_that_fix_it(tmp_path):
    state = str(tmp_path / "state")
    assert run_xsp("shell", "--state", state, "-c", "emu addnode cucm1 CUCM").returncode == 0
    setup = run_xsp("shell", "--state", state, "--node", "cucm1", "-c", "ccmadmin ApplicationUser add app1",
                    "-c", 'ccmadmin AccessControlGroup addAppUsers "Standard CTI Secure Connection" app1')
    assert setup.returncode == 0, setup.stdout
    result = run_xsp("doctor", "--state", state, "--node", "cucm1")
    assert result.returncode == 1
    assert result.stdout == f"""\
Readiness of cucm1 (CUCM) for secure CTI (JTAPI/TSP on 2749), state {state}:
[FAIL] the cluster is in mixed mode: Cluster Security Mode 0 (non-secure): every CTI connection must use port 2748
       fix: admin:utils ctl set-cluster mixed-mode
[FAIL] the CTL file is current: no CTLFile.tlv: clients of a secure CTI user will not connect
       fix: admin:utils ctl set-cluster mixed-mode
[FAIL] secure CTI users are in 'Standard CTI Enabled': not in it: app1
       fix: admin:ccmadmin AccessControlGroup addAppUsers "Standard CTI Enabled" app1
[PASS] users with a CAPF profile are in 'Standard CTI Secure Connection': every user with a CAPF profile is
[FAIL] secure CTI users have a CAPF profile: no instance certificate possible for: app1
       fix: admin:ccmadmin ApplicationUserCapfProfile add <instance ID> applicationUser app1 certificateOperation Install/Upgrade authenticationString <4-10 digits>
[PASS] the minimum TLS version suits the CTI clients: 1.2: TLS 1.2 and 1.3 on 2749 and CAPF

Not ready: 4 of 6 check(s) failed.
"""


def test_a_node_configured_for_a_secure_application_is_ready(tmp_path):
    node = RunningCucm(tmp_path)
    node.configure()
    try:
        result = run_xsp("doctor", "--state", str(node.store.dir), "--node", "cucm1")
        assert result.returncode == 0, result.stdout
        assert result.stdout.endswith("\nReady for secure CTI.\n")
        assert "[PASS] CAPF profile jtapi1 (jtapisecure): Install/Upgrade pending until " in result.stdout
    finally:
        node.stop()


def test_stale_ctl_compromised_certificate_and_tls_13_are_reported(tmp_path):
    with RunningCucm.start(tmp_path) as node:
        node.jtapi().close()  # enrolled: the profile now holds a certificate
        findings = {f.check: f for f in check(node.store, "cucm1")}
        issued = findings["CAPF profile jtapi1 (jtapisecure)"]
        assert issued.ok and issued.why.startswith("certificate serial ")
        with node.store.edit() as deployment:
            settings = deployment.node("cucm1").cucm_settings
            capf = settings.capf_profiles[0].capf
            capf.compromised_serials.append(capf.lsc.serial)
            settings.tls_min_version = "1.3"
        from xsp.cucm.platform import make_certificate
        with node.store.edit() as deployment:
            settings = deployment.node("cucm1").cucm_settings
            fresh = make_certificate(node.store, "cucm1", settings.hostname, "CallManager")
            settings.certificates = [fresh if c.name == "CallManager" else c for c in settings.certificates]
        findings = {f.check: f for f in check(Store(node.store.dir), "cucm1")}
    ctl = findings["the CTL file is current"]
    assert not ctl.ok and ctl.why == ("CTLFile.tlv lacks the current CallManager certificate; clients will refuse "
                                      "CTIManager or CAPF")
    assert ctl.fix == ["admin:utils ctl update CTLFile"]
    compromised = findings["CAPF profile jtapi1 (jtapisecure)"]
    assert not compromised.ok and compromised.why.endswith("marked compromised by CTIManager (two providers "
                                                           "presented it)")
    assert compromised.fix == ["admin:ccmadmin ApplicationUserCapfProfile set jtapi1 certificateOperation "
                               "Install/Upgrade authenticationString <4-10 digits>"]
    tls = findings["the minimum TLS version suits the CTI clients"]
    assert tls.ok and tls.warn and tls.fix == ["admin:set tls min-version 1.2"]
