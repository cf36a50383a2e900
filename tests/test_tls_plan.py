"""What a listener offers for given protocols, suites and server key: the plan alone."""
from __future__ import annotations

import base64
import ssl

import pytest

from _tls_support import BROADWORKS_DEFAULT_SUITES
from xsp.tls.context import FFDHE2048_PEM
from xsp.tls.describe import describe_effective
from xsp.tls.suites import PROTOCOLS, openssl_name, plan


def _negotiable(suite_plan) -> list[str]:
    return [s.iana_name for s in suite_plan.negotiable]


def _reason(suite_plan, name: str) -> str | None:
    return next(s.reason for s in suite_plan.suites if s.iana_name == name)


def test_broadworks_defaults_with_tls12_and_an_rsa_key_leave_the_four_rsa_suites() -> None:
    suite_plan = plan(["TLSv1.2"], BROADWORKS_DEFAULT_SUITES, "rsa")
    assert _negotiable(suite_plan) == [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"]
    assert suite_plan.protocols == ("TLSv1.2",)
    assert suite_plan.why_refusing is None
    assert suite_plan.tls12_openssl_names == (
        "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA256",
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-SHA256")


def test_broadworks_defaults_with_an_ec_key_leave_the_two_ecdsa_suites() -> None:
    suite_plan = plan(["TLSv1.2"], BROADWORKS_DEFAULT_SUITES, "ec")
    assert _negotiable(suite_plan) == ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                       "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"]


def test_each_unusable_default_suite_says_why() -> None:
    suite_plan = plan(["TLSv1.2"], BROADWORKS_DEFAULT_SUITES, "rsa")
    assert _reason(suite_plan, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") == \
        "needs an ECDSA server certificate (the server key is RSA)"
    assert _reason(suite_plan, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256") == \
        "needs a DSA server certificate (the server key is RSA)"
    assert _reason(suite_plan, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256") == \
        "static ECDH is not supported by OpenSSL"
    ec_plan = plan(["TLSv1.2"], BROADWORKS_DEFAULT_SUITES, "ec")
    assert _reason(ec_plan, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256") == \
        "needs an RSA server certificate (the server key is EC)"


@pytest.mark.parametrize("iana, reason", [
    ("TLS_DH_RSA_WITH_AES_128_GCM_SHA256", "static DH is not supported by OpenSSL"),
    ("TLS_KRB5_WITH_3DES_EDE_CBC_SHA", "Kerberos suites are not supported by OpenSSL"),
    ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "export-grade suites are not supported by OpenSSL"),
    ("TLS_PSK_WITH_AES_128_GCM_SHA256", "PSK suites need a pre-shared key, and this server has none"),
    ("TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA", "SRP suites need an SRP verifier, and this server has none"),
    ("TLS_DH_anon_WITH_AES_128_GCM_SHA256", "anonymous suite: no server certificate and no "
                                            "client authentication; never offered"),
    ("TLS_AES_128_GCM_SHA256", "TLS 1.3 suite but TLSv1.3 is not allowed"),
])
def test_suites_no_handshake_could_use_are_explained(iana: str, reason: str) -> None:
    suite_plan = plan(["TLSv1.2"], [iana, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    assert _reason(suite_plan, iana) == reason


def test_a_tls12_suite_is_not_negotiable_when_only_tls13_is_allowed() -> None:
    suite_plan = plan(["TLSv1.3"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                                    "TLS_AES_128_GCM_SHA256"], "rsa")
    assert _reason(suite_plan, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == \
        "TLS 1.2 suite but only TLSv1.3 is allowed"
    assert _reason(suite_plan, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA") == \
        "TLS 1.0 to 1.2 suite but only TLSv1.3 is allowed"
    assert suite_plan.protocols == ("TLSv1.3",)
    assert suite_plan.tls13_suites == ("TLS_AES_128_GCM_SHA256",)


def test_a_gcm_suite_is_not_negotiable_under_tls10_and_tls11() -> None:
    suite_plan = plan(["TLSv1", "TLSv1.1"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    assert _reason(suite_plan, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == \
        "TLS 1.2 suite but TLSv1.2 is not allowed"
    assert suite_plan.why_refusing is not None


def test_allowed_tls13_without_a_tls13_suite_is_not_offered() -> None:
    suite_plan = plan(["TLSv1.2", "TLSv1.3"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    assert suite_plan.protocols == ("TLSv1.2",)
    tls13 = suite_plan.protocol_decisions[PROTOCOLS.index("TLSv1.3")]
    assert (tls13.allowed, tls13.offered, tls13.reason) == \
        (True, False, "no TLS 1.3 suite is configured")


def test_an_allowed_version_that_no_suite_works_with_is_not_offered() -> None:
    suite_plan = plan(["TLSv1.1", "TLSv1.2"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    assert suite_plan.protocols == ("TLSv1.2",)
    assert suite_plan.protocol_decisions[1].reason == \
        "none of the configured suites can be negotiated with TLSv1.1"


def test_a_hole_in_the_versions_stays_a_hole() -> None:
    suite_plan = plan(["TLSv1.2", "tlsv1"], ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"], "rsa")
    assert suite_plan.allowed_protocols == ("TLSv1", "TLSv1.2")
    assert suite_plan.protocols == ("TLSv1", "TLSv1.2")
    assert suite_plan.negotiable[0].protocols == ("TLSv1", "TLSv1.2")


def test_nothing_negotiable_is_the_no_cipher_overlap_refusal() -> None:
    suite_plan = plan(["TLSv1.2"], ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                    "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    assert suite_plan.protocols == ()
    assert suite_plan.why_refusing == ("no cipher overlap: none of the 2 configured suites can "
                                       "be negotiated with TLSv1.2 and an RSA server key")


def test_empty_lists_refuse_with_their_own_reason() -> None:
    assert plan([], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa").why_refusing == \
        "no protocol version is configured"
    assert plan(["TLSv1.2"], [], "rsa").why_refusing == "no cipher suite is configured"


def test_a_name_that_is_not_iana_is_kept_and_explained() -> None:
    suite_plan = plan(["TLSv1.2"], ["ECDHE-RSA-AES128-GCM-SHA256"], "rsa")
    assert suite_plan.suites[0].iana_name == "ECDHE-RSA-AES128-GCM-SHA256"
    assert suite_plan.suites[0].reason == (
        "not an IANA cipher suite name (ECDHE-RSA-AES128-GCM-SHA256 is an OpenSSL name; "
        "the IANA name is TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")


def test_duplicates_count_once_in_their_first_position() -> None:
    suite_plan = plan(["TLSv1.2"], ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
                                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                    "tls_ecdhe_rsa_with_aes_128_cbc_sha256"], "rsa")
    assert _negotiable(suite_plan) == ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
                                       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def test_legacy_versions_and_null_encryption_need_security_level_0() -> None:
    gcm = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    cbc = ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]
    assert plan(["TLSv1.2"], gcm, "rsa").security_level == 2
    assert plan(["TLSv1", "TLSv1.2"], cbc, "rsa").security_level == 0
    assert plan(["TLSv1.1"], cbc, "rsa").security_level == 0
    assert plan(["TLSv1.2"], ["TLS_RSA_WITH_NULL_SHA256"], "rsa").security_level == 0
    # Allowed but not offered (no suite for it) does not lower the level.
    assert plan(["TLSv1.1", "TLSv1.2"], gcm, "rsa").security_level == 2


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="SSLv3 is not a protocol name"):
        plan(["SSLv3"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "rsa")
    with pytest.raises(ValueError, match="server_key_type"):
        plan(["TLSv1.2"], ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "dsa")  # type: ignore[arg-type]


@pytest.mark.parametrize("iana, name", [
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256"),
    ("TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
    ("TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_8_SHA256"),  # off by default in OpenSSL
    ("TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", None),
    ("TLS_DH_DSS_WITH_AES_128_CBC_SHA", None),
    ("NOT_A_SUITE", None),
])
def test_openssl_name_comes_from_this_openssl(iana: str, name: str | None) -> None:
    assert openssl_name(iana) == name


def test_openssl_name_agrees_with_get_ciphers_for_every_suite_it_lists() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    from xsp_cli_contexts import ciphers
    for suite in context.get_ciphers():
        assert openssl_name(ciphers.name_for_code(suite["id"] & 0xFFFF)) == suite["name"]


def _rfc7919_ffdhe2048_prime() -> int:
    """p = 2^2048 - 2^1984 + (floor(2^1918 * e) + 560316) * 2^64 - 1 (RFC 7919, A.1)."""
    guard = 64
    scale = 1 << (1918 + guard)
    e_scaled, term, k = 0, scale, 0
    while term:
        e_scaled += term
        k += 1
        term //= k
    floor_e = e_scaled >> guard
    return 2**2048 - 2**1984 + (floor_e + 560316) * 2**64 - 1


def _der_integers(der: bytes) -> list[int]:
    """The INTEGERs of a DER SEQUENCE of INTEGERs (PKCS#3 DHParameter: prime, base)."""
    def length(at: int) -> tuple[int, int]:
        first = der[at]
        if first < 0x80:
            return first, at + 1
        size = first & 0x7F
        return int.from_bytes(der[at + 1:at + 1 + size], "big"), at + 1 + size

    assert der[0] == 0x30
    total, at = length(1)
    assert at + total == len(der)
    values = []
    while at < len(der):
        assert der[at] == 0x02
        size, at = length(at + 1)
        values.append(int.from_bytes(der[at:at + size], "big"))
        at += size
    return values


def test_the_embedded_dh_group_is_rfc7919_ffdhe2048() -> None:
    body = b"".join(FFDHE2048_PEM.splitlines()[1:-1])
    prime, base = _der_integers(base64.b64decode(body))
    assert base == 2
    assert prime == _rfc7919_ffdhe2048_prime()


def test_describe_effective_says_per_protocol_and_suite_what_is_offered_and_why() -> None:
    lines = describe_effective(plan(["TLSv1.2", "TLSv1.3"], BROADWORKS_DEFAULT_SUITES[:2], "rsa"))
    assert lines == [
        "Protocols:",
        "  TLSv1    not offered: not allowed",
        "  TLSv1.1  not offered: not allowed",
        "  TLSv1.2  offered",
        "  TLSv1.3  not offered: no TLS 1.3 suite is configured",
        "Cipher suites (server preference order, RSA server key):",
        "  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256    negotiable with TLSv1.2 "
        "(OpenSSL ECDHE-RSA-AES128-GCM-SHA256)",
        "  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256  not negotiable: needs an ECDSA server "
        "certificate (the server key is RSA)",
        "1 suite negotiable with TLSv1.2",
    ]


def test_describe_effective_ends_with_the_refusal_when_nothing_is_negotiable() -> None:
    lines = describe_effective(plan(["TLSv1.2"], ["TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"], "ec"))
    assert lines[-1] == ("Every handshake is refused: no cipher overlap: none of the 1 configured "
                         "suites can be negotiated with TLSv1.2 and an EC server key")
