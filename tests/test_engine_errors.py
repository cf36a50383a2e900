"""Every refused line gets one clear line and leaves the configuration unchanged."""
from __future__ import annotations

import pytest

from xsp.cli.engine import Engine
from xsp.config.store import Store
from xsp.testing import shell_engine

@pytest.fixture
def engine(tmp_path) -> Engine:
    """An XSP engine at the root, with one plain interface at 10.155.6.175."""
    engine = shell_engine(Store(tmp_path))
    assert engine.execute("cd /Interface/CTI/CTIServer;add 10.155.6.175 8012 false false false").ok
    engine.execute("cd /")
    return engine


REFUSALS = [
    ("bogus", "Error: unknown command or level: bogus (expected one of: System, Interface, cd, help, exit, quit, emu)"),
    # a slip of a letter or two gets the likely name
    ("Interfce", "Error: unknown command or level: Interfce; did you mean Interface? (expected one of: System, Interface, cd, help, exit, quit, emu)"),
    ("int;cti;ctis;dleete 10.0.0.1", "Error: unknown command or level: dleete; did you mean delete? (expected one of: SSLSettings, get, add, delete, cd, help, exit, quit, emu)"),
    ("emu restrat", "Error: unknown emulator command: restrat; did you mean restart? (expected one of: status, restart, nodes, addnode, users, adduser, deluser, effective, record, xsi, limits, limit)"),
    ("cd /Interface/Nope", "Error: unknown level below Interface: Nope (expected one of: CTI)"),
    ("cd /Interface/CTI extra", "Error: cd takes one level path, e.g. cd /Interface/CTI"),
    ("Interface get", "Error: Interface is a level; to run a command there, separate it with ';' (e.g. Interface;get)"),
    ("int;cti;ctis;add 10.155.6.300 8012 true true true",
     "Error: interfaceIp: 10.155.6.300 is not an IP address; expected an IPv4 or IPv6 address"),
    ("int;cti;ctis;add 10.0.0.2 0 true true true", "Error: port: 0 is out of range; expected 1 to 65535"),
    ("int;cti;ctis;add 10.0.0.2 80x true true true", "Error: port: 80x is not a number; expected 1 to 65535"),
    ("int;cti;ctis;add 10.0.0.2 8012 yes true true", "Error: secure: yes is not one of {false, true}"),
    ("int;cti;ctis;add 10.0.0.2 8012 false true false",
     "Error: serverCertificate and clientAuthReq need secure true (an interface without TLS has neither)"),
    ("int;cti;ctis;add 10.155.6.175 8012 false false false", "entry is already present in list"),
    ("int;cti;ctis;add 10.0.0.2 8012",
     "Error: missing parameter <secure> (usage: add <interfaceIp> <port> <secure> <serverCertificate> <clientAuthReq>)"),
    ("int;cti;ctis;add 10.0.0.2 8012 false false false extra",
     "Error: unexpected parameter extra (usage: add <interfaceIp> <port> <secure> <serverCertificate> <clientAuthReq>)"),
    ("int;cti;ctis;delete 10.0.0.9", "Entry not found"),  # as BroadWorks answers it
    ("int;cti;ctis;ssl;prot;add 10.0.0.9 TLSv1.2",
     "Error: interfaceIp: 10.0.0.9 is not a configured CTIServer interface (10.155.6.175)"),
    ("int;cti;ctis;ssl;prot;add 10.155.6.175 SSLv3",
     "Error: protocol: SSLv3 is not a protocol name; expected one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"),
    ("int;cti;ctis;ssl;prot;delete 10.155.6.175 TLSv1.3", "Entry not found"),
    ("sys;comm;def;ext;cert;set allowClientApp maybe", "Error: allowClientApp: maybe is not one of {false, true}"),
    ("sys;comm;def;ext;cert;set allowClientApp",
     "Error: allowClientApp needs a value (usage: set allowClientApp <allowClientApp>)"),
    ("sys;comm;def;ext;cert;set", "Error: missing parameter allowClientApp <allowClientApp> (usage: set allowClientApp <allowClientApp>)"),
    ("sys;comm;def;ext;cert;set colour blue", "Error: unexpected parameter colour (usage: set allowClientApp <allowClientApp>)"),
    ("cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts;delete nosuch", "Entry not found"),
    ("emu adduser nobody", "Error: userId: nobody is not a user id; expected user@domain"),
    ("emu adduser alice@example.com", "entry is already present in list"),
    ("emu deluser zed@example.com", "Entry not found"),
    ("emu addnode xsp1 XSP", "entry is already present in list"),
    ("emu addnode adp2 SBC", "Error: kind: SBC is not one of {XSP, ADP, CUCM}"),
    ("emu frobnicate", "Error: unknown emulator command: frobnicate (expected one of: status, restart, nodes, addnode, users, adduser, deluser, effective, record, xsi, limits, limit)"),
    ("get 'unterminated", "Error: cannot read the line: No closing quotation"),
]


@pytest.mark.parametrize("line,expected", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_line_gets_one_line_and_changes_nothing(engine, line, expected):
    before = engine.store.path.read_bytes()
    result = engine.execute(line)
    assert not result.ok
    assert result.lines[-1] == expected
    assert engine.store.path.read_bytes() == before


def test_ambiguous_abbreviation_lists_the_matches(engine):
    engine.execute("cd /Interface/CTI/CTIServer/SSLSettings")
    result = engine.execute("c")
    assert result.lines == ["Error: ambiguous command or level: c (matches Ciphers, Certificates, cd)"]


def test_first_failing_step_stops_the_line(engine):
    result = engine.execute("int;nope;cti")
    assert not result.ok
    assert engine.prompt == "XSP_CLI/Interface> "


def test_as_node_refuses_restart(tmp_path):
    engine = shell_engine(Store(tmp_path), "as1")
    result = engine.execute("emu restart")
    assert result.lines == ["Error: the Application Server has no CTI interface to restart; "
                            "use --node to pick an XSP or ADP node"]


def test_empty_value_is_named_not_invisible(engine):
    result = engine.execute("int;cti;ctis;add '' 8012 true true true")
    assert result.lines == ["Error: interfaceIp: an empty value is not accepted; expected IP Address"]


def test_help_quit_describes_quit(engine):
    assert engine.execute("help quit").lines == ["Ends this session, after confirmation (also exit)"]


def test_script_ending_on_the_question_shows_it(xsp, state):
    result = xsp("shell", "--state", str(state), "-c", "exit")
    assert result.stdout == "XSP_CLI> exit\nPlease confirm (Yes, Y, No, N):\n"
