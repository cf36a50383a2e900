"""Effective TLS settings of an interface: the most specific non-empty level wins."""
from __future__ import annotations

import pytest

from xsp.cli.engine import Engine
from xsp.config.store import Store
from xsp.testing import shell_engine
from xsp.tls.effective import effective

IP = "127.0.0.1"


@pytest.fixture
def engine(tmp_path) -> Engine:
    """An XSP engine with one secure interface at IP and nothing else configured."""
    engine = shell_engine(Store(tmp_path))
    assert engine.execute(f"cd /Interface/CTI/CTIServer;add {IP} 8012 true true true").ok
    return engine


def _effective(engine: Engine):
    xsp = engine.node.xsp
    return effective(xsp, xsp.cti_server(IP))


def test_fresh_interface_inherits_the_jsse_system_lists(engine):
    eff = _effective(engine)
    assert eff.protocols == ("TLSv1.2",) and eff.protocols_from == "System/SSLCommonSettings/JSSE"
    assert len(eff.ciphers) == 12 and eff.ciphers_from == "System/SSLCommonSettings/JSSE"


@pytest.mark.parametrize("context,level", [
    ("/System/SSLCommonSettings/OpenSSL/Ciphers", "System/SSLCommonSettings/OpenSSL"),
    ("/Interface/CTI/SSLCommonSettings/Ciphers", "Interface/CTI/SSLCommonSettings"),
])
def test_a_more_specific_level_overrides(engine, context, level):
    assert engine.execute(f"cd {context};add TLS_AES_128_GCM_SHA256").ok
    eff = _effective(engine)
    assert eff.ciphers == ("TLS_AES_128_GCM_SHA256",) and eff.ciphers_from == level


def test_interface_level_wins_and_deleting_it_falls_back(engine):
    engine.execute("cd /Interface/CTI/SSLCommonSettings/Ciphers;add TLS_AES_256_GCM_SHA384")
    engine.execute(f"cd /Interface/CTI/CTIServer/SSLSettings/Ciphers;add {IP} TLS_CHACHA20_POLY1305_SHA256")
    assert _effective(engine).ciphers == ("TLS_CHACHA20_POLY1305_SHA256",)
    assert engine.execute(f"delete {IP} TLS_CHACHA20_POLY1305_SHA256").ok
    eff = _effective(engine)
    assert eff.ciphers == ("TLS_AES_256_GCM_SHA384",) and eff.ciphers_from == "Interface/CTI/SSLCommonSettings"


def test_protocols_and_ciphers_resolve_independently(engine):
    engine.execute(f"cd /Interface/CTI/CTIServer/SSLSettings/Protocols;add {IP} TLSv1.3")
    eff = _effective(engine)
    assert eff.protocols == ("TLSv1.3",) and eff.protocols_from == "Interface/CTI/CTIServer/SSLSettings"
    assert eff.ciphers_from == "System/SSLCommonSettings/JSSE"


def test_emu_effective_shows_levels_and_negotiability(engine):
    lines = engine.execute(f"emu effective {IP}").lines
    assert lines[:3] == [f"Interface {IP}:8012",
                         "Protocols from System/SSLCommonSettings/JSSE: TLSv1.2",
                         "Ciphers from System/SSLCommonSettings/JSSE: 12 suite(s)"]
    assert lines[-1] == "4 suites negotiable with TLSv1.2"
    assert any("TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256" in l and "static ECDH is not supported" in l
               for l in lines)


def test_emu_effective_says_when_nothing_can_be_negotiated(engine):
    """Only TLS 1.3 allowed but only TLS 1.2 suites configured: the no-overlap failure."""
    engine.execute(f"cd /Interface/CTI/CTIServer/SSLSettings/Protocols;add {IP} TLSv1.3")
    lines = engine.execute(f"emu effective {IP}").lines
    assert lines[-1].startswith("Every handshake is refused: ")


def test_emu_effective_on_the_application_server_names_no_interface(tmp_path):
    engine = shell_engine(Store(tmp_path), "as1")
    assert engine.execute("emu effective 10.0.0.1").lines == [
        "Error: interfaceIp: 10.0.0.1 is not a configured CTIServer interface (none configured)"]


def test_emu_effective_says_plainly_what_tlsv1_and_a_null_suite_allow(engine):
    """The legacy choices are named, with what they cost and what they do not."""
    assert not any(line.startswith("Weak:") for line in engine.execute(f"emu effective {IP}").lines)
    engine.execute(f"cd /Interface/CTI/CTIServer/SSLSettings/Protocols;add {IP} TLSv1;"
                   f"add {IP} TLSv1.2")
    engine.execute(f"cd /Interface/CTI/CTIServer/SSLSettings/Ciphers;"
                   f"add {IP} TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA;add {IP} TLS_RSA_WITH_NULL_SHA256")
    lines = engine.execute(f"emu effective {IP}").lines
    assert ("Weak: TLSv1 is offered; TLS_RSA_WITH_NULL_SHA256 encrypts nothing. Handshakes run "
            "at OpenSSL security level 0 to allow it; client certificates are still checked at "
            "full strength") in lines
