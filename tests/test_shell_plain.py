"""`xsp shell --plain` (or TERM=dumb) on a real terminal, driven as an expect script for
bwcli drives it: wait for the literal prompt, send a line, read the exact answer up to the
next prompt. No cursor-position request, no escape code anywhere."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pexpect
import pytest

import xsp_trust as trust

WARN = "*** Warning: BroadWorks needs to be restarted for the changes to take effect ***"
BANNER = ("======================================================================\r\n"
          "BroadWorks Command Line Interface\r\n"
          "Type HELP for more information\r\n"
          "======================================================================\r\n")
WAIT = 20.0  # one answer; the machine may be busy


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> trust.DemoPKI:
    """The demo PKI, made once for the module."""
    return trust.make_demo_pki(tmp_path_factory.mktemp("pki"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(state: Path, *args: str, term: str = "xterm") -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
    env["TERM"] = term
    return pexpect.spawn(sys.executable, ["-m", "xsp", "shell", "--state", str(state), *args],
                         env=env, dimensions=(40, 200), encoding="utf-8", timeout=WAIT)


class Expect:
    """send / expect as in an expect script; everything read is kept."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.seen = ""

    def expect(self, text: str) -> None:
        self.child.expect_exact(text)
        self.seen += self.child.before + self.child.after

    def step(self, line: str, answer: list[str], prompt: str) -> None:
        """Send ``line``; the terminal echoes it, then exactly ``answer``, then ``prompt``."""
        self.child.sendline(line)
        self.expect(line + "\r\n" + "".join(a + "\r\n" for a in answer) + prompt)


@pytest.mark.parametrize("args, term", [(("--plain",), "xterm"), ((), "dumb")],
                         ids=["--plain", "TERM=dumb"])
def test_an_expect_script_drives_the_whole_procedure_with_literal_prompts(
        tmp_path, pki, args, term):
    port = _free_port()
    root, issuing = pki.webex_root, pki.webex_issuing
    shell = Expect(spawn(tmp_path / "state", *args, term=term))
    shell.expect(BANNER + "XSP_CLI> ")
    ctis = "XSP_CLI/Interface/CTI/CTIServer> "
    shell.step("cd /Interface/CTI/CTIServer", [], ctis)
    shell.step(f"add 127.0.0.1 {port} true true true", ["...Done", WARN], ctis)
    shell.step("get", [
        "  Interface IP   Port  Secure  Server Certificate  Client Auth Req",
        "==================================================================",
        f"     127.0.0.1  {port}    true                true             true",
        "", "1 entry found.", ""], ctis)
    shell.step("delete 10.9.9.9", ["Entry not found"], ctis)
    protocols = "XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> "
    shell.step("ssl;prot;add 127.0.0.1 TLSv1.2", ["...Done", WARN], protocols)
    trusts = "XSP_CLI/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts> "
    shell.step("cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts", [], trusts)
    shell.step(f"updateTrust webexclientroot2023 {root}", ["...Done", WARN], trusts)
    shell.step(f"updateTrust webexclientissuing2023 {issuing}", ["...Done", WARN], trusts)
    shell.step("get", [
        "                   Alias                       Owner                              Issuer",
        "========================================================================================",
        "  webexclientissuing2023  Internal Private TLS SubCA               Internal Private Root",
        "     webexclientroot2023       Internal Private Root  Internal Private Root[self-signed]",
        "", "2 entries found.", ""], trusts)
    certauth = ("XSP_CLI/System/CommunicationUtility/DefaultSettings/ExternalAuthentication/"
                "CertificateAuthentication> ")
    shell.step("cd /System/CommunicationUtility/DefaultSettings/ExternalAuthentication/"
               "CertificateAuthentication", [], certauth)
    shell.step("set allowClientApp true", ["...Done"], certauth)
    shell.step("gte", ["Error: unknown command or level: gte; did you mean get? (expected one "
                       "of: get, set, cd, help, exit, quit, emu)"], certauth)
    certificates = "XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Certificates> "
    shell.step("cd /Interface/CTI/CTIServer/SSLSettings/Certificates", [], certificates)
    shell.step(f"sslUpdate 127.0.0.1 keyFile {pki.server_key} certificateFile "
               f"{pki.server_cert} chainFile {pki.server_chain}", ["...Done", WARN], certificates)
    shell.step("emu restart", ["Node xsp1 restarted.", "CTI listeners:",
                               f"  127.0.0.1:{port}  TLS, client certificate required; "
                               f"listening on 127.0.0.1:{port}",
                               # issue 14: a node inside this command says it ends with it
                               "This node lives only as long as this xsp command; "
                               "xsp serve runs one that stays."], certificates)
    shell.step("exit", [], "Please confirm (Yes, Y, No, N): ")
    shell.step("n", [], certificates)
    shell.step("exit", [], "Please confirm (Yes, Y, No, N): ")
    shell.step("Y", ["This session is now ending..."], "")
    shell.child.expect(pexpect.EOF)
    shell.child.close()
    assert shell.child.exitstatus == 0
    assert "\x1b" not in shell.seen + (shell.child.before or "")  # no CPR, no colour, nothing


def test_end_of_input_ends_a_plain_session(tmp_path):
    shell = Expect(spawn(tmp_path / "state", "--plain"))
    shell.expect(BANNER + "XSP_CLI> ")
    shell.child.sendeof()
    shell.expect("\r\nThis session is now ending...\r\n")
    shell.child.expect(pexpect.EOF)
    shell.child.close()
    assert shell.child.exitstatus == 0
