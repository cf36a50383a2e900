"""The CUCM node through its shell: the mixed-mode procedure piped into `xsp shell`, the
file the TFTP service serves against `show ctl` and `xsp cucm ctl show`, every refusal of
the platform CLI and the CM Administration pages, and the interactive prompt."""
from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pexpect
import pytest
import tftpy

from tests.conftest import run_xsp
from xsp.cli.cucm_engine import CucmEngine
from xsp.config.store import Store
from xsp.node.addresses import free_port

HOST = "127.0.0.1"

PROCEDURE = """\
# Mixed mode, a secure JTAPI application user with its CAPF profile, and a phone to enrol
utils ctl set-cluster mixed-mode
y
ccmadmin ApplicationUser add ctiapp password Secret123 description "Recording server"
ccmadmin AccessControlGroup addAppUsers "Standard CTI Enabled" ctiapp
ccmadmin AccessControlGroup addAppUsers "Standard CTI Secure Connection" ctiapp
ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp certificateOperation Install/Upgrade authenticationString 123456
ccmadmin Phone add SEP00AABB112233 certificateOperation Install/Upgrade authenticationString 987654 keyOrder "EC Only" ecKeySize 384
ccmadmin ApplicationUserCapfProfile get jtapi1
"""


def new_cucm_state(base: Path) -> Path:
    state = base / "state"
    result = run_xsp("shell", "--state", str(state), "-c", "emu addnode cucm1 CUCM")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "XSP_CLI> emu addnode cucm1 CUCM\n...Done\n"
    return state


@pytest.fixture(scope="module")
def procedure_state(tmp_path_factory):
    """The CUCM procedure piped into xsp shell once: (its state, the finished process)."""
    base = tmp_path_factory.mktemp("cucm-procedure")
    state = new_cucm_state(base)
    result = run_xsp("shell", "--state", str(state), "--node", "cucm1", input=PROCEDURE)
    return state, result


def test_the_procedure_puts_the_cluster_in_mixed_mode_and_prepares_capf(procedure_state):
    state, result = procedure_state
    assert result.returncode == 0, result.stdout
    assert result.stderr == ""
    completes_by = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    assert result.stdout == f"""\
admin:utils ctl set-cluster mixed-mode
This operation will set the cluster to Mixed mode. Do you want to continue? (y/n):y

Moving Cluster to Mixed Mode
Cluster set to Mixed Mode
You must reset all phones in the cluster.

Please Restart the TFTP and Cisco CallManager services on all nodes in the cluster that run these services (emu restart restarts the emulated services)
admin:ccmadmin ApplicationUser add ctiapp password Secret123 description "Recording server"
Add successful
admin:ccmadmin AccessControlGroup addAppUsers "Standard CTI Enabled" ctiapp
Add successful
admin:ccmadmin AccessControlGroup addAppUsers "Standard CTI Secure Connection" ctiapp
Add successful
admin:ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp certificateOperation Install/Upgrade authenticationString 123456
Add successful
admin:ccmadmin Phone add SEP00AABB112233 certificateOperation Install/Upgrade authenticationString 987654 keyOrder "EC Only" ecKeySize 384
Add successful
admin:ccmadmin ApplicationUserCapfProfile get jtapi1
                   Instance ID = jtapi1
              Application User = ctiapp
         Certificate Operation = Install/Upgrade
           Authentication Mode = By Authentication String
         Authentication String = 123456
                     Key Order = RSA Only
           RSA Key Size (Bits) = 2048
            EC Key Size (Bits) = 384
        Operation Completes By = {completes_by}
  Certificate Operation Status = Operation Pending
            Issued Certificate = none
"""
    cucm = Store(state).load().node("cucm1").cucm
    assert cucm.mixed_mode
    user = cucm.application_users[0]
    assert user.groups == ["Standard CTI Enabled", "Standard CTI Secure Connection"]
    assert user.password_hash.startswith("pbkdf2_sha256$") and "Secret123" not in user.password_hash
    assert cucm.phones[0].capf.certificate_operation == "Install/Upgrade"
    assert cucm.phones[0].capf.certificate_operation_status == "Operation Pending"
    assert "Secret123" not in (state / "config.yaml").read_text()


def test_show_ctl_and_ctl_show_agree_on_the_file_the_tftp_service_serves(procedure_state, tmp_path):
    state, _ = procedure_state
    tftp_port, http_port, capf_port = free_port(), free_port(), free_port()
    ports = run_xsp("shell", "--state", str(state), "--node", "cucm1",
                    "-c", f"emu set-port tftp {tftp_port}", "-c", f"emu set-port http {http_port}",
                    "-c", f"emu set-port capf {capf_port}", "-c", "emu set-port cti 0",
                    "-c", "emu set-port cti-tls 0")
    assert ports.returncode == 0, ports.stdout
    assert f"tftp will listen on 127.0.0.1:{tftp_port}" in ports.stdout
    serve = subprocess.Popen([sys.executable, "-m", "xsp", "serve", "--state", str(state)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        banner = []
        while not (line := serve.stdout.readline()).startswith("Serving"):
            assert line, "xsp serve ended before serving"
            banner.append(line.rstrip("\n"))
        assert "Node cucm1:" in banner
        assert f"  Cisco TFTP      udp 127.0.0.1:{tftp_port}; serving CTLFile.tlv, ITLFile.tlv" in banner
        downloaded = tmp_path / "CTLFile.tlv"
        tftpy.TftpClient(HOST, tftp_port).download("CTLFile.tlv", str(downloaded), timeout=5)
        with urllib.request.urlopen(f"http://{HOST}:{http_port}/CTLFile.tlv", timeout=5) as response:
            assert response.read() == downloaded.read_bytes()
        shown = run_xsp("shell", "--state", str(state), "--node", "cucm1", "-c", "show ctl")
        enrolled = run_xsp("cucm", "capf-enrol", "jtapi1", "--auth-string", "123456", "--port",
                           str(capf_port), "--ctl", str(downloaded), "-o", str(tmp_path / "certs"))
        again = run_xsp("cucm", "capf-enrol", "jtapi1", "--auth-string", "123456", "--port",
                        str(capf_port), "-o", str(tmp_path / "certs"))
        stranger = run_xsp("cucm", "capf-enrol", "SEP00AABB112233", "--auth-string", "987654", "--port",
                           str(capf_port), "--ctl", str(foreign_ctl(tmp_path)), "-o", str(tmp_path / "certs"))
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
    assert enrolled.stdout.splitlines()[1:3] == ["  Subject: CN=jtapi1",
                                                 f"  Issuer:  {capf_subject(downloaded)}"]
    assert (tmp_path / "certs" / "jtapi1.key").stat().st_mode & 0o777 == 0o600
    assert (again.returncode, again.stdout) == (1, "CAPF ended the session with reason 7: refused: the "
                                                   "authentication string was already used for an issued certificate\n")
    assert stranger.returncode == 1
    assert stranger.stderr.startswith("xsp: the CAPF presented CN=CAPF-")
    assert stranger.stderr.endswith(", which is not the CAPF record of the CTL\n")
    checked = run_xsp("cucm", "ctl", "show", str(downloaded))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert shown.returncode == 0
    assert shown.stdout == "admin:show ctl\n" + checked.stdout
    assert "Function: CAPF" in checked.stdout
    assert checked.stdout.splitlines()[-1].startswith("Signature: verified with the SAST record CN=cucm1.example.com")


def capf_subject(ctl: Path) -> str:
    import xsp_trust as trust
    record = next(r for r in trust.read_ctl(ctl.read_bytes()).records if r.role == trust.CtlRole.CAPF)
    return record.subject_name


def foreign_ctl(tmp_path: Path) -> Path:
    """A CTL of another cluster: its CAPF record is another CAPF."""
    import xsp_trust as trust
    signer, capf = trust.self_signed_server("other.example.com"), trust.CertificateAuthority.new_root("CAPF-other")
    path = tmp_path / "other-CTLFile.tlv"
    path.write_bytes(trust.write_ctl("CTLFile.tlv", [trust.CtlEntry(trust.CtlRole.SAST, signer.certificate),
                                                     trust.CtlEntry(trust.CtlRole.CAPF, capf.certificate)],
                                     signer.certificate, signer.private_key, timestamp=1))
    return path


@pytest.mark.parametrize("damage, reason", [
    (lambda data: data[:-7], "The CTL file cannot be read: truncated: record 4 needs"),
    (lambda data: data[:-10] + bytes([data[-10] ^ 1]) + data[-9:], "Signature: NOT verified: bad signature: "),
])
def test_ctl_show_refuses_a_damaged_file_with_its_reason(procedure_state, tmp_path, damage, reason):
    state, _ = procedure_state
    damaged = tmp_path / "CTLFile.tlv"
    damaged.write_bytes(damage((state / "cucm" / "cucm1" / "CTLFile.tlv").read_bytes()))
    result = run_xsp("cucm", "ctl", "show", str(damaged))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith(reason)


def test_ctl_show_refuses_what_is_not_a_file(tmp_path):
    result = run_xsp("cucm", "ctl", "show", str(tmp_path / "none.tlv"))
    assert (result.returncode, result.stderr) == (1, f"xsp: {tmp_path / 'none.tlv'}: not a file\n")


# --- refusals through the engine ---------------------------------------------------------

class NoNode:
    def restart(self, store, node_name):
        raise AssertionError("no restart in these tests")

    def status(self, store, node_name):
        return []


@pytest.fixture(scope="module")
def cucm_template(tmp_path_factory) -> Path:
    """A new state with a CUCM node, copied by the tests that change it."""
    return new_cucm_state(tmp_path_factory.mktemp("cucm-template"))


@pytest.fixture
def engine(cucm_template, tmp_path) -> CucmEngine:
    """A CUCM engine on a copy of the template, with an application and an end user."""
    import shutil
    state = tmp_path / "state"
    shutil.copytree(cucm_template, state)
    engine = CucmEngine(Store(state), "cucm1", NoNode())
    for line in ["ccmadmin ApplicationUser add ctiapp", "ccmadmin EndUser add jdoe lastName Doe"]:
        assert engine.execute(line).ok
    return engine


def refused(engine: CucmEngine, line: str) -> list[str]:
    config = engine.store.path.read_bytes()
    result = engine.execute(line)
    assert not result.ok, result.lines
    assert engine.store.path.read_bytes() == config
    return result.lines


NON_SECURE = [
    ("ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp certificateOperation Install/Upgrade authenticationString 1234",
     "Error: certificateOperation: Install/Upgrade needs the cluster in mixed mode (utils ctl set-cluster mixed-mode); the cluster is in non-secure mode"),
    ("utils ctl update CTLFile",
     "Error: there is no CTL file to update: the cluster is in non-secure mode (utils ctl set-cluster mixed-mode creates it)"),
    ("show ctl", "Error: there is no CTL file: the cluster is in non-secure mode (utils ctl set-cluster mixed-mode creates it)"),
]
FIELD_RULES = [
    ("ccmadmin ApplicationUserCapfProfile add jtapi_1 applicationUser ctiapp",
     "Error: instanceId: jtapi_1 is not 1 to 128 letters and digits"),
    ("ccmadmin ApplicationUserCapfProfile add " + "a" * 129 + " applicationUser ctiapp",
     "Error: instanceId: " + "a" * 129 + " is not 1 to 128 letters and digits"),
    ("ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp authenticationString 123",
     "Error: authenticationString: 123 is not 4 to 10 digits"),
    ("ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp authenticationString 12345678901",
     "Error: authenticationString: 12345678901 is not 4 to 10 digits"),
    ("ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp keyOrder DSA",
     "Error: keyOrder: DSA is not one of {RSA Only, EC Only, EC Preferred, RSA Backup}"),
    ("ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp ecKeySize 512",
     "Error: ecKeySize: 512 is not one of {256, 384, 521}"),
    ("ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp operationCompletesBy 2026-13-01",
     "Error: operationCompletesBy: 2026-13-01 is not a date; expected YYYY-MM-DD"),
    ("ccmadmin ApplicationUserCapfProfile add jtapi1",
     "Error: missing parameter applicationUser <applicationUser> (usage: add <instanceId> applicationUser <applicationUser> "
     "[certificateOperation <certificateOperation>] [authenticationString <authenticationString>] [keyOrder <keyOrder>] "
     "[rsaKeySize <rsaKeySize>] [ecKeySize <ecKeySize>] [operationCompletesBy <operationCompletesBy>])"),
    ("ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser nobody",
     "Error: applicationUser: no application user nobody (ccmadmin ApplicationUser add creates one)"),
    ("ccmadmin EndUserCapfProfile add jdoe1 endUser ctiapp",
     "Error: endUser: no end user ctiapp (ccmadmin EndUser add creates one)"),
    ("ccmadmin Phone add SEP00AABB11223", "Error: deviceName: SEP00AABB11223 is not SEP and 12 hex digits"),
    ("ccmadmin Phone add CSF00AABB112233", "Error: deviceName: CSF00AABB112233 is not SEP and 12 hex digits"),
    ("ccmadmin ApplicationUser add ctiapp", "Error: userId: ctiapp already exists"),
    ("ccmadmin ApplicationUser add bad/name", "Error: userId: bad/name is not 1 to 128 letters, digits, '.', '_', '-' or '@'"),
    ("ccmadmin EndUser add jsmith", "Error: missing parameter lastName <lastName> (usage: add <userId> lastName <lastName> "
     "[firstName <firstName>] [password <password>] [description <description>])"),
    ("ccmadmin AccessControlGroup addAppUsers \"Standard CTI Enabled\" jdoe",
     "Error: userId: no application user jdoe"),
    ("ccmadmin AccessControlGroup addAppUsers \"Standard CTI Nothing\" ctiapp",
     "Error: group: no access control group 'Standard CTI Nothing'"),
    ("ccmadmin AccessControlGroup delete \"Standard CTI Enabled\"",
     "Error: group: Standard CTI Enabled is a standard group and cannot be deleted"),
    ("ccmadmin ServiceParameter set capfOperationExpiresInDays 0",
     "Error: capfOperationExpiresInDays: 0 is out of range; expected 1 to 365"),
    ("ccmadmin Phones get", "Error: unknown CM Administration page: Phones; did you mean Phone? (expected one of: ApplicationUser, EndUser, "
     "AccessControlGroup, ApplicationUserCapfProfile, EndUserCapfProfile, Phone, ServiceParameter, "
     "LdapAuthentication, CredentialPolicy)"),
    ("set tls min-version 1.1", "Error: version: 1.1 is not one of {1.2, 1.3}"),
    ("show cert own tomcat", "Error: name: no own certificate tomcat; expected one of CallManager, CAPF, ITLRecovery"),
    ("utils ctl set-cluster secure-mode", "Executed command unsuccessfully"),
    ("emu set-port ftp 69", "Error: service: ftp is not one of {tftp, http, capf, cti, cti-tls}"),
    ("emu set-port tftp 65536", "Error: port: 65536 is out of range; expected 0 to 65535"),
    ("ccmadmin ApplicationUser set ctiapp", "Error: nothing to change; give one or more fields (usage: set "
     "<userId> [password <password>] [description <description>])"),
    ("ccmadmin ApplicationUser set nobody description x", "Error: userId: no entry nobody (Application User Configuration)"),
    ("ccmadmin ApplicationUser get nobody", "Error: userId: no entry nobody (Application User Configuration)"),
    ("ccmadmin Phone delete SEP00AABB112299", "Error: deviceName: no entry SEP00AABB112299 (Phone Configuration)"),
    ("ccmadmin ServiceParameter set", "Error: nothing to change; give one or more parameters (usage: set "
     "[ctiInstanceIdRetryCount <ctiInstanceIdRetryCount>] [capfOperationExpiresInDays <capfOperationExpiresInDays>] "
     "[durationOfCertificateValidity <durationOfCertificateValidity>])"),
    ("ccmadmin AccessControlGroup add \"Standard CTI Enabled\"", "Error: name: Standard CTI Enabled already exists"),
    ("ccmadmin AccessControlGroup removeMembers \"Standard CTI Enabled\" ctiapp",
     "Error: userId: ctiapp is not in Standard CTI Enabled"),
    ("ccmadmin ApplicationUser frob", "Error: unknown action of ApplicationUser: frob (expected one of: add, set, get, delete, "
     "addDevice, removeDevice)"),
    ("utils ctl set-cluster mixed-mode now", "Error: unexpected parameter now (usage: utils ctl set-cluster mixed-mode)"),
    ('show ctl "unterminated', "Error: cannot read the line: No closing quotation"),
]


@pytest.mark.parametrize("line, message", NON_SECURE + FIELD_RULES)
def test_refused_lines_say_why_in_one_line_and_change_nothing(engine, line, message):
    assert refused(engine, line)[0] == message


def test_unknown_command_names_itself(engine):
    assert refused(engine, "utils ctl set-cluster secure-mode") == [
        "Executed command unsuccessfully",
        "Error: unknown command: utils ctl set-cluster secure-mode (help lists the commands)"]


def test_instance_ids_are_unique_across_both_profile_kinds(engine):
    for line in ["utils ctl set-cluster mixed-mode", "y",
                 "ccmadmin ApplicationUserCapfProfile add jtapi1 applicationUser ctiapp"]:
        assert engine.execute(line).ok
    assert refused(engine, "ccmadmin EndUserCapfProfile add JTAPI1 endUser jdoe") == [
        "Error: instanceId: JTAPI1 is already the Instance ID of a CAPF profile of application user "
        "ctiapp; each instance needs its own"]
    assert refused(engine, "ccmadmin ApplicationUserCapfProfile set jtapi1 certificateOperation Install/Upgrade") == [
        "Error: authenticationString: Install/Upgrade needs an authentication string (4 to 10 digits)"]
    assert refused(engine, "ccmadmin ApplicationUser delete ctiapp") == [
        "Error: ctiapp has CAPF profiles (jtapi1); delete them first"]


def test_a_question_answered_no_changes_nothing(engine):
    config = engine.store.path.read_bytes()
    assert engine.execute("utils ctl set-cluster mixed-mode").lines == []
    assert engine.prompt == "This operation will set the cluster to Mixed mode. Do you want to continue? (y/n):"
    assert engine.execute("n").lines == ["Cancelled: nothing was changed."]
    assert engine.prompt == "admin:"
    assert engine.store.path.read_bytes() == config


def test_restart_needed_changes_wait_for_emu_restart(engine):
    for line in ["set tls min-version 1.3", "yes"]:
        result = engine.execute(line)
    assert result.lines == ["Successfully set minimum TLS version to 1.3",
                            "The secure interfaces use it after the node restarts (emu restart restarts "
                            "the emulated services)"]
    assert engine.execute("show tls min-version").lines == ["Configured TLS minimum version: 1.3"]
    assert engine.node.pending_restart == ["admin> set tls min-version 1.3"]
    result = engine.execute("ccmadmin ServiceParameter set capfOperationExpiresInDays 30")
    assert result.lines == ["Update successful", "Restart the service for the change to take effect "
                            "(emu restart restarts the emulated services)"]


def test_show_cert_lists_the_certificates_made_at_node_creation(engine):
    assert engine.execute("show cert list own").lines == [
        "CallManager/CallManager.pem: Self-signed certificate generated by system",
        "CAPF/CAPF.pem: Self-signed certificate generated by system",
        "ITLRecovery/ITLRecovery.pem: Self-signed certificate generated by system"]
    lines = engine.execute("show cert own CAPF").lines
    assert lines[0] == "["
    assert any(line.startswith("  Subject Name: CN=CAPF-") for line in lines)
    assert "-----BEGIN CERTIFICATE-----" in lines
    for name in ("CallManager", "CAPF", "ITLRecovery"):
        (key,) = (engine.store.dir / "private").glob(f"cucm1-{name}-*.key")
        assert key.stat().st_mode & 0o777 == 0o600


# --- the interactive shell ------------------------------------------------------------------

def test_interactive_shell_has_the_admin_prompt_and_asks_before_mixed_mode(cucm_template, tmp_path):
    import os
    import shutil
    state = tmp_path / "state"
    shutil.copytree(cucm_template, state)
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    child = pexpect.spawn(sys.executable, ["-m", "xsp", "shell", "--state", str(state), "--node", "cucm1"],
                          env=env, encoding="utf-8", timeout=20, dimensions=(40, 200))
    try:
        child.expect_exact("Welcome to the Platform Command Line Interface")
        child.expect_exact("admin:")
        child.sendline("utils ctl set-cluster mixed-mode")
        child.expect_exact("Do you want to continue? (y/n):")
        child.sendline("y")
        child.expect_exact("Cluster set to Mixed Mode")
        child.expect_exact("admin:")
        child.sendline("show tls min-version")
        child.expect_exact("Configured TLS minimum version: 1.2")
        child.expect_exact("admin:")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert Store(state).load().node("cucm1").cucm.mixed_mode
    time.sleep(0)


def test_emu_restart_starts_the_services_and_applies_what_waited(cucm_template, tmp_path):
    import re
    import shutil
    state = tmp_path / "state"
    shutil.copytree(cucm_template, state)
    result = run_xsp("shell", "--state", str(state), "--node", "cucm1",
                     "-c", "emu set-port tftp 0", "-c", "emu set-port http 0", "-c", "emu set-port capf 0",
                     "-c", "emu set-port cti 0", "-c", "emu set-port cti-tls 0",
                     "-c", "set tls min-version 1.3", "-c", "yes", "-c", "emu restart", "-c", "emu status")
    assert result.returncode == 0, result.stdout
    restarted = result.stdout.split("admin:emu restart\n", 1)[1]
    assert re.match(r"""Node cucm1 restarted\.
CUCM services:
  Cisco TFTP      udp 127\.0\.0\.1:\d+; serving ITLFile\.tlv
  TFTP over HTTP  tcp 127\.0\.0\.1:\d+
  Cisco CAPF      tcp 127\.0\.0\.1:\d+; TLS 1\.3 and up, CUCM 15 suites
  CTIManager      tcp 127\.0\.0\.1:\d+ \(CTIQBE\)
  CTIManager TLS  tcp 127\.0\.0\.1:\d+; mutual TLS 1\.3 and up, CUCM 15 suites, clients of the CAPF CA
This node lives only as long as this xsp command; xsp serve runs one that stays\.
admin:emu status
Node cucm1 \(CUCM\), state .*
Node process: running in this shell
""", restarted), restarted
    assert restarted.endswith("Nothing awaits a restart.\n")


def test_back_to_non_secure_mode_re_signs_the_ctl_and_closes_capf_installs(engine):
    for line in ["utils ctl set-cluster mixed-mode", "y"]:
        engine.execute(line)
    first = (engine.store.dir / "cucm" / "cucm1" / "CTLFile.tlv").read_bytes()
    assert engine.execute("utils ctl set-cluster mixed-mode").lines == [
        "The cluster is already in Mixed Mode; nothing was changed."]
    for line in ["utils ctl set-cluster non-secure-mode", "y"]:
        result = engine.execute(line)
    assert result.lines[1:3] == ["Moving Cluster to Non Secure Mode", "Cluster set to Non Secure Mode"]
    import xsp_trust as trust
    again = (engine.store.dir / "cucm" / "cucm1" / "CTLFile.tlv").read_bytes()
    assert trust.verify_ctl(again, trusted=trust.read_ctl(first)).timestamp > trust.read_ctl(first).timestamp
    assert engine.execute("show ctl").ok
    assert refused(engine, "ccmadmin Phone add SEP00AABB112233 certificateOperation Delete "
                           "authenticationString 1234")[0].startswith(
        "Error: certificateOperation: Delete needs the cluster in mixed mode")
    for line in ["utils ctl update CTLFile", "y"]:
        result = engine.execute(line)
    assert result.lines[:3] == ["", "Updating CTL file", "CTL file Updated"]


def test_tab_completes_platform_words_pages_and_keywords(engine):
    from prompt_toolkit.document import Document
    completer = engine.completer()

    def offered(text: str) -> list[str]:
        return sorted(c.text for c in completer.get_completions(Document(text), None))

    assert offered("utils ctl set-cluster ") == ["mixed-mode", "non-secure-mode"]
    assert offered("show c") == ["cert", "ctl"]
    assert offered("ccmadmin Ph") == ["Phone"]
    assert "authenticationString" in offered("ccmadmin ApplicationUserCapfProfile add ")


def test_a_regenerated_certificate_reaches_the_ctl_only_through_an_update(engine):
    import xsp_trust as trust
    ctl = engine.store.dir / "cucm" / "cucm1" / "CTLFile.tlv"
    for line in ["utils ctl set-cluster mixed-mode", "y"]:
        engine.execute(line)
    held = ctl.read_bytes()
    assert refused(engine, "set cert regen tomcat") == [
        "Error: name: no own certificate tomcat; expected one of CallManager, CAPF, ITLRecovery"]
    assert engine.prompt == "admin:"
    assert engine.execute("set cert regen CallManager").lines == []
    assert engine.prompt == "Proceed with regeneration (yes|no)?"
    assert engine.execute("yes").lines == [
        "Successfully Regenerated Certificate for CallManager.",
        "Restart the services that use the CallManager certificate (emu restart restarts the "
        "emulated services)"]
    assert ctl.read_bytes() == held  # as on CUCM: the CTL changes only when it is updated
    for line in ["utils ctl update CTLFile", "y"]:
        result = engine.execute(line)
    assert result.lines[3] == ("Signed by the ITLRecovery SAST: the CallManager certificate is not "
                               "in the CTL file the clients hold")
    renewed = trust.verify_ctl(ctl.read_bytes(), trusted=trust.read_ctl(held))
    assert renewed.signer_name == "CN=ITLRECOVERY_cucm1.example.com"
    assert renewed.records[0].certificate != trust.read_ctl(held).records[0].certificate
    for line in ["utils ctl update CTLFile", "y"]:
        result = engine.execute(line)
    assert trust.read_ctl(ctl.read_bytes()).signer_name == "CN=cucm1.example.com"


def test_group_membership_and_deleting_a_group_with_members(engine):
    for line in ['ccmadmin AccessControlGroup add "Recording Apps"',
                 'ccmadmin AccessControlGroup addAppUsers "Recording Apps" ctiapp']:
        assert engine.execute(line).lines == ["Add successful"]
    assert refused(engine, 'ccmadmin AccessControlGroup addAppUsers "Recording Apps" ctiapp') == [
        "Error: userId: ctiapp is already in Recording Apps"]
    assert refused(engine, 'ccmadmin AccessControlGroup delete "Recording Apps"') == [
        "Error: group: Recording Apps still has members; remove them first"]
    assert engine.execute('ccmadmin AccessControlGroup get "Recording Apps"').lines[2] == \
        "  Application User   ctiapp"
    for line, answer in [('ccmadmin AccessControlGroup removeMembers "Recording Apps" ctiapp', "Delete successful"),
                         ('ccmadmin AccessControlGroup delete "Recording Apps"', "Delete successful")]:
        assert engine.execute(line).lines == [answer]


def test_capf_enrol_and_ctl_show_refuse_in_one_line(tmp_path):
    port = free_port()
    result = run_xsp("cucm", "capf-enrol", "jtapi1", "--auth-string", "1234", "--port", str(port))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"xsp: cannot reach the CAPF at 127.0.0.1:{port}: Connection refused\n"
    big = tmp_path / "big.tlv"
    big.write_bytes(b"\0" * (1024 * 1024 + 1))
    result = run_xsp("cucm", "ctl", "show", str(big))
    assert (result.returncode, result.stderr) == (1, f"xsp: {big}: over 1048576 bytes; not a CTL file\n")
