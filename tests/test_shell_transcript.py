"""The BroadWorks answers of `xsp shell`, through real subprocesses and exact transcripts."""
from __future__ import annotations

import textwrap

WARN = "*** Warning: BroadWorks needs to be restarted for the changes to take effect ***"


def transcript(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_as_client_identity_step(xsp, state):
    """The AS step of the procedure: add the Webex CN to ClientIdentity and read it back."""
    result = xsp("shell", "--state", str(state), "--node", "as1",
                 input="cd /System/ClientIdentity\nadd bwcticlient.webex.com\nget\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == transcript("""
        AS_CLI> cd /System/ClientIdentity
        AS_CLI/System/ClientIdentity> add bwcticlient.webex.com
        ...Done
        AS_CLI/System/ClientIdentity> get
                       Identity
        =======================
          bwcticlient.webex.com

        1 entry found.

        """)


def test_xsp_procedure_without_certificates(xsp, state):
    """Interface, protocol, cipher and allowClientApp steps of the guide give BroadWorks' answers."""
    procedure = "\n".join([
        "cd /Interface/CTI/CTIServer",
        "add 10.155.6.175 8012 false false false",
        "get",
        "cd /Interface/CTI/CTIServer/SSLSettings/Protocols",
        "get 10.155.6.175",
        "add 10.155.6.175 TLSv1.2",
        "get 10.155.6.175",
        "cd ../Ciphers",
        "add 10.155.6.175 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "get",
        "cd /System/CommunicationUtility/DefaultSettings/ExternalAuthentication/CertificateAuthentication",
        "set allowClientApp true",
        "get",
    ]) + "\n"
    result = xsp("shell", "--state", str(state), input=procedure)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == transcript(f"""
        XSP_CLI> cd /Interface/CTI/CTIServer
        XSP_CLI/Interface/CTI/CTIServer> add 10.155.6.175 8012 false false false
        ...Done
        {WARN}
        XSP_CLI/Interface/CTI/CTIServer> get
          Interface IP  Port  Secure  Server Certificate  Client Auth Req
        =================================================================
          10.155.6.175  8012   false               false            false

        1 entry found.

        XSP_CLI/Interface/CTI/CTIServer> cd /Interface/CTI/CTIServer/SSLSettings/Protocols
        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> get 10.155.6.175
          Interface IP  Protocol
        ========================

        0 entry found.

        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> add 10.155.6.175 TLSv1.2
        ...Done
        {WARN}
        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> get 10.155.6.175
          Interface IP  Protocol
        ========================
          10.155.6.175   TLSv1.2

        1 entry found.

        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> cd ../Ciphers
        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Ciphers> add 10.155.6.175 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        ...Done
        {WARN}
        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Ciphers> get
          Interface IP                            Cipher Name
        =====================================================
          10.155.6.175  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256

        1 entry found.

        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Ciphers> cd /System/CommunicationUtility/DefaultSettings/ExternalAuthentication/CertificateAuthentication
        XSP_CLI/System/CommunicationUtility/DefaultSettings/ExternalAuthentication/CertificateAuthentication> set allowClientApp true
        ...Done
        XSP_CLI/System/CommunicationUtility/DefaultSettings/ExternalAuthentication/CertificateAuthentication> get
          allowClientApp = true
        """)
    # A new shell on the same state sees every change.
    again = xsp("shell", "--state", str(state), "-c", "cd /int;cti;ctis;ssl;ci;get")
    assert "  10.155.6.175  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in again.stdout
    assert again.returncode == 0


def test_fresh_install_has_the_twelve_system_ciphers(xsp, state):
    result = xsp("shell", "--state", str(state), "-c", "sys;sslc;jsse;ci;get")
    lines = result.stdout.splitlines()
    assert lines[0] == "XSP_CLI> sys;sslc;jsse;ci;get"
    assert lines[1].strip() == "Cipher Name"
    assert lines[1].endswith("Cipher Name") and lines[2] == "=" * len(lines[1])
    assert [l.strip() for l in lines[3:15]][:2] == [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
    assert lines[-2:] == ["12 entries found.", ""]  # a blank line follows the count


def test_exit_status_is_one_when_any_command_failed(xsp, state):
    result = xsp("shell", "--state", str(state), input="cd /Interface\nbogus\ncd /\n")
    assert result.returncode == 1
    assert "Error: unknown command or level: bogus (expected one of: CTI, cd, help, exit, quit, emu)" in result.stdout
    # The lines after a failure still run.
    assert result.stdout.rstrip().endswith("XSP_CLI/Interface> cd /")


def test_adp_node_has_the_adp_prompt(xsp, state):
    added = xsp("shell", "--state", str(state), "-c", "emu addnode adp1 ADP")
    assert added.returncode == 0 and "...Done" in added.stdout
    result = xsp("shell", "--state", str(state), "--node", "adp1", "-c", "int;cti;ctis")
    assert result.stdout == "ADP_CLI> int;cti;ctis\n"


def test_unknown_node_is_refused_with_the_known_ones(xsp, state):
    result = xsp("shell", "--state", str(state), "--node", "nope", "-c", "get")
    assert result.returncode == 1
    assert result.stderr == "xsp: no node named 'nope' in this state (nodes: as1, xsp1)\n"


def test_a_piped_line_after_exit_is_not_taken_silently_as_the_answer(xsp, state):
    """The line after `exit` answers its question: one that is no answer is named, said not
    to have run, and the question stays; the exit status says something failed."""
    result = xsp("shell", "--state", str(state), input="exit\nint;cti;ctis;get\nN\nint\n")
    assert result.returncode == 1
    assert result.stdout == transcript("""
        XSP_CLI> exit
        Please confirm (Yes, Y, No, N): int;cti;ctis;get
        Please answer Yes, Y, No or N; 'int;cti;ctis;get' was read as the answer, not run as a command.
        Please confirm (Yes, Y, No, N): N
        XSP_CLI> int
        """)


def test_a_scripted_restart_says_its_node_ends_with_the_script(xsp, state):
    """`emu restart` in `xsp shell -c` starts the node inside this command: the answer says
    it lives only as long as that, and indeed nothing serves the state afterwards."""
    result = xsp("shell", "--state", str(state), "-c", "emu restart")
    assert result.returncode == 0, result.stderr
    assert result.stdout == transcript("""
        XSP_CLI> emu restart
        Node xsp1 restarted.
        CTI listeners: none configured (Interface/CTI/CTIServer add)
        This node lives only as long as this xsp command; xsp serve runs one that stays.
        """)
    after = xsp("sim", "call", "alice@example.com", "bob@example.com", "--state", str(state))
    assert after.returncode == 1
    assert after.stderr.startswith("xsp: no node runs on ")
