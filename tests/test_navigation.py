"""Navigation, abbreviation, help and exit as bwcli does them."""
from __future__ import annotations

import pytest

from xsp.cli.engine import Engine
from xsp.config.store import Store
from xsp.testing import shell_engine


@pytest.fixture
def engine(tmp_path) -> Engine:
    """An XSP engine at the root of a fresh state."""
    return shell_engine(Store(tmp_path))


@pytest.mark.parametrize("line,prompt", [
    ("cd /Interface/CTI", "XSP_CLI/Interface/CTI> "),
    ("cd /int/cti/ctis/sslset/prot", "XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Protocols> "),
    ("cd /;int;cti;ctis", "XSP_CLI/Interface/CTI/CTIServer> "),
    ("INTERFACE;Cti", "XSP_CLI/Interface/CTI> "),
    ("sys;sslc;openssl;pro", "XSP_CLI/System/SSLCommonSettings/OpenSSL/Protocols> "),
    ("/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts",
     "XSP_CLI/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts> "),
    ("int;cti;..", "XSP_CLI/Interface> "),
    ("int;cti;cd ../..", "XSP_CLI> "),
    ("int;cti;cd SSLCommonSettings/Ciphers", "XSP_CLI/Interface/CTI/SSLCommonSettings/Ciphers> "),
    ("int;cti;cd", "XSP_CLI> "),
    ("int;/", "XSP_CLI> "),
])
def test_navigation(engine, line, prompt):
    result = engine.execute(line)
    assert result.ok and result.lines == []
    assert engine.prompt == prompt


def test_g_is_get_and_h_is_help(engine):
    engine.execute("cd /Interface/CTI/CTIServer")
    assert engine.execute("g").lines == engine.execute("get").lines
    assert engine.execute("h").lines == engine.execute("help").lines


def test_help_at_a_level_lists_commands_levels_and_emulator_apart(engine):
    engine.execute("cd /Interface/CTI/CTIServer")
    lines = engine.execute("help").lines
    assert lines[0] == "This level is used to configure the CTI server interfaces."
    assert lines[1:5] == ["", "Commands from this level", "========================",
                          "  get     This command is used to display the CTI server interfaces"]
    assert "Levels from this level" in lines
    assert "  SSLSettings  This level is used to configure the SSL settings of a specific CTI interface" in lines
    emulator = lines.index("Emulator commands (xsp only, not part of BroadWorks)")
    assert lines.index("Global commands") < emulator
    assert "  emu restart" in lines[emulator:]


def test_help_command_in_broadworks_layout(engine):
    engine.execute("cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts")
    assert engine.execute("help updateTrust").lines == [
        "This command is used to add a trust anchor from a file holding one CA certificate, "
        "or to replace the anchor of an existing alias.",
        "",
        "Parameters description:",
        "alias               : The name of the trust anchor.",
        "trustCertificateFile: The path of the file holding the CA certificate (PEM).",
        "=" * 70,
        "updateTrust",
        "  <alias>, String {1 to 80 characters}",
        "  <trustCertificateFile>, String {1 to 255 characters}",
    ]


def test_help_shows_keyword_parameters_indented_under_their_keyword(engine):
    engine.execute("cd /Interface/CTI/CTIServer/SSLSettings/Certificates")
    lines = engine.execute("h sslUpdate").lines
    syntax = lines[lines.index("=" * 70) + 1:]
    assert syntax == [
        "sslUpdate",
        "  <interfaceIp>, IP Address",
        "  keyFile",
        "    <keyFile>, String {1 to 255 characters}",
        "  certificateFile",
        "    <certificateFile>, String {1 to 255 characters}",
        "  chainFile",
        "    <chainFile>, String {1 to 255 characters}",
    ]


def test_help_emu_lists_emulator_commands(engine):
    lines = engine.execute("help emu").lines
    assert lines[0] == "Commands of the xsp emulator (not part of BroadWorks)."
    assert any(l.startswith("  emu restart") for l in lines)


def test_exit_asks_and_no_keeps_the_session(engine):
    assert engine.execute("exit").lines == []
    assert engine.prompt == "Please confirm (Yes, Y, No, N): "
    assert engine.execute("maybe").lines == [
        "Please answer Yes, Y, No or N; 'maybe' was read as the answer, not run as a command."]
    assert engine.execute("").lines == ["Please answer Yes, Y, No or N; the line read was empty."]
    assert engine.execute("N").lines == []
    assert not engine.finished and engine.prompt == "XSP_CLI> "
    engine.execute("quit")
    assert engine.execute("Yes").lines == ["This session is now ending..."]
    assert engine.finished


def test_exit_in_a_piped_procedure(xsp, state):
    result = xsp("shell", "--state", str(state), input="int\nexit\ny\nget\n")
    assert result.stdout == ("XSP_CLI> int\nXSP_CLI/Interface> exit\n"
                             "Please confirm (Yes, Y, No, N): y\nThis session is now ending...\n")
    assert result.returncode == 0


def test_keyword_glued_to_its_path_as_the_guide_prints_it(engine, tmp_path):
    """`keyFile/path` (no space) is read as keyFile with that path."""
    engine.execute("cd /Interface/CTI/CTIServer;add 10.0.0.1 8012 false false false")
    engine.execute("cd SSLSettings/Certificates")
    result = engine.execute(f"sslUpdate 10.0.0.1 keyFile{tmp_path}/k certificateFile {tmp_path}/c chainFile{tmp_path}/ch")
    # Parsing got as far as reading the files: the error is about the key file, not the syntax.
    assert result.lines == [f"Error: cannot read {tmp_path}/k: No such file or directory"]
