"""Real handshakes on 127.0.0.1 against contexts built from plans: OpenSSL agrees with the plan."""
from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from _tls_support import (BROADWORKS_DEFAULT_SUITES, client_context, connect, listening,
                          server_context, write_server)
from xsp.tls.context import build_server_context
from xsp.tls.suites import plan

ALL_TLS13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
             "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]


def _tls12_suites_of_this_openssl() -> list[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return [c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"]


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_a_client_offering_one_suite_is_accepted_exactly_when_the_plan_says(
        tmp_path: Path, key_type: str) -> None:
    """What a scanner does: one connection per suite this OpenSSL can offer."""
    suite_plan, context = server_context(tmp_path, ["TLSv1.2"], BROADWORKS_DEFAULT_SUITES, key_type)
    expected = set(suite_plan.tls12_openssl_names)
    accepted = set()
    with listening(context) as listener:
        for name in _tls12_suites_of_this_openssl():
            outcome = connect(listener.port, client_context(versions=["TLSv1.2"], suites=name))
            if outcome.accepted:
                assert outcome.cipher == name
                accepted.add(name)
    assert accepted == expected
    assert len(expected) == (4 if key_type == "rsa" else 2)


def test_the_built_context_lists_exactly_the_planned_suites(tmp_path: Path) -> None:
    suite_plan, context = server_context(
        tmp_path, ["TLSv1.2", "TLSv1.3"],
        [*BROADWORKS_DEFAULT_SUITES, "TLS_AES_128_CCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"])
    assert [c["name"] for c in context.get_ciphers()] == [
        "TLS_AES_128_CCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
        *suite_plan.tls12_openssl_names]


def test_the_configured_order_is_the_servers_preference(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1.2"], ["TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
                                                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=["TLSv1.2"]))
    assert outcome.cipher == "DHE-RSA-AES128-SHA256"


def test_a_tls13_listener_uses_only_its_configured_suite(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1.3"], ["TLS_AES_128_GCM_SHA256"])
    with listening(context) as listener:
        # OpenSSL's defaults prefer AES-256; only the restriction leaves AES-128.
        default_client = connect(listener.port, client_context(versions=["TLSv1.3"]))
        other_suite = connect(listener.port, client_context(
            versions=["TLSv1.3"], tls13_suites=["TLS_AES_256_GCM_SHA384",
                                                "TLS_CHACHA20_POLY1305_SHA256"]))
    assert (default_client.version, default_client.cipher) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
    assert not other_suite.accepted
    assert other_suite.error == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_a_tls13_suite_off_by_default_in_openssl_is_offered_when_configured(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1.3"], ["TLS_AES_128_CCM_8_SHA256"])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=["TLSv1.3"], tls13_suites=ALL_TLS13))
    assert outcome.cipher == "TLS_AES_128_CCM_8_SHA256"


def test_allowed_tls13_without_a_tls13_suite_refuses_tls13_clients(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1.2", "TLSv1.3"],
                                ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    with listening(context) as listener:
        tls13_only = connect(listener.port, client_context(versions=["TLSv1.3"]))
        both = connect(listener.port, client_context(versions=["TLSv1.2", "TLSv1.3"]))
    assert tls13_only.error == "TLSV1_ALERT_PROTOCOL_VERSION"
    assert (both.version, both.cipher) == ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")


def test_a_version_that_is_not_allowed_is_refused(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1.2"], BROADWORKS_DEFAULT_SUITES)
    with listening(context) as listener:
        tls11 = connect(listener.port, client_context(versions=["TLSv1.1"]))
        tls13 = connect(listener.port, client_context(versions=["TLSv1.3"]))
        tls12 = connect(listener.port, client_context(versions=["TLSv1.1", "TLSv1.2", "TLSv1.3"]))
    assert tls11.error == "TLSV1_ALERT_PROTOCOL_VERSION"
    assert tls13.error == "TLSV1_ALERT_PROTOCOL_VERSION"
    assert tls12.version == "TLSv1.2"


def test_a_tls13_only_listener_refuses_tls12_clients(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1.3"], ["TLS_AES_256_GCM_SHA384",
                                                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=["TLSv1.2"]))
    assert outcome.error == "TLSV1_ALERT_PROTOCOL_VERSION"


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1.1"])
def test_legacy_versions_really_work_when_configured(tmp_path: Path, version: str) -> None:
    _, context = server_context(tmp_path, [version], ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                                                      "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=[version]))
        dhe = connect(listener.port, client_context(versions=[version], suites="DHE-RSA-AES256-SHA"))
    assert (outcome.version, outcome.cipher) == (version, "ECDHE-RSA-AES128-SHA")
    assert (dhe.version, dhe.cipher) == (version, "DHE-RSA-AES256-SHA")


def test_a_hole_between_allowed_versions_is_honoured(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1", "TLSv1.2"],
                                ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"])
    with listening(context) as listener:
        tls10 = connect(listener.port, client_context(versions=["TLSv1"]))
        tls11 = connect(listener.port, client_context(versions=["TLSv1.1"]))
        tls12 = connect(listener.port, client_context(versions=["TLSv1.2"]))
    assert tls10.version == "TLSv1"
    assert not tls11.accepted
    assert tls12.version == "TLSv1.2"


def test_null_encryption_is_negotiated_when_configured(tmp_path: Path) -> None:
    """Security level 0 is what lets OpenSSL 3 pick it; the plan must ask for it."""
    _, context = server_context(tmp_path, ["TLSv1.2"], ["TLS_RSA_WITH_NULL_SHA256"])
    with listening(context) as listener:
        outcome = connect(listener.port, client_context(versions=["TLSv1.2"]))
    assert outcome.cipher == "NULL-SHA256"


def test_a_no_overlap_plan_refuses_every_client(tmp_path: Path) -> None:
    suite_plan, context = server_context(tmp_path, ["TLSv1.2", "TLSv1.3"],
                                         ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                          "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"])
    assert suite_plan.why_refusing is not None
    with listening(context) as listener:
        outcomes = [connect(listener.port, client_context(versions=versions))
                    for versions in (["TLSv1.2"], ["TLSv1.3"], ["TLSv1.2", "TLSv1.3"])]
        server_reason = listener.server_errors.get(timeout=5)
    assert not any(o.accepted for o in outcomes)
    assert server_reason == "NO_PROTOCOLS_AVAILABLE"


def test_an_ec_server_negotiates_ecdsa_suites_and_refuses_rsa_ones(tmp_path: Path) -> None:
    _, context = server_context(tmp_path, ["TLSv1.2"], BROADWORKS_DEFAULT_SUITES, "ec")
    with listening(context) as listener:
        ecdsa = connect(listener.port, client_context(versions=["TLSv1.2"]))
        rsa = connect(listener.port, client_context(versions=["TLSv1.2"],
                                                    suites="ECDHE-RSA-AES128-GCM-SHA256"))
    assert ecdsa.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256"
    assert rsa.error == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_the_chain_file_is_sent_after_the_certificate(tmp_path: Path) -> None:
    """The client trusts only the root; the issuing CA must come from the server."""
    suite_plan = plan(["TLSv1.2"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    credentials = write_server(tmp_path, "rsa")
    with_chain = build_server_context(suite_plan, credentials.parsed(),
                                      require_client_cert=False)
    without_chain = build_server_context(suite_plan, credentials.parsed(chain=False),
                                         require_client_cert=False)
    with listening(with_chain) as listener:
        assert connect(listener.port, client_context()).accepted
    with listening(without_chain) as listener:
        assert connect(listener.port, client_context()).error == "CERTIFICATE_VERIFY_FAILED"


def test_a_certificate_of_another_key_type_than_the_plans_is_refused(tmp_path: Path) -> None:
    credentials = write_server(tmp_path, "ec")
    suite_plan = plan(["TLSv1.2"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    with pytest.raises(ValueError, match="the server certificate has an EC key but the plan "
                                         "was made for RSA"):
        build_server_context(suite_plan, credentials.parsed(chain=False),
                             require_client_cert=False)


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_a_session_is_resumed(tmp_path: Path, version: str) -> None:
    _, context = server_context(tmp_path, ["TLSv1.2", "TLSv1.3"],
                                ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    client = client_context(versions=[version])
    with listening(context) as listener:
        first = connect(listener.port, client)
        second = connect(listener.port, client, session=first.session)
    assert (first.version, first.reused) == (version, False)
    assert (second.version, second.reused) == (version, True)

