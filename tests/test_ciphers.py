"""The IANA cipher suite registry behind the CLI's cipher parameter."""
from __future__ import annotations

import ssl

import pytest

from xsp_cli_contexts import ciphers
from xsp_cli_contexts.ciphers import Resolution, UnknownCipher


def _local_openssl_suites() -> dict[int, str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return {c["id"] & 0xFFFF: c["name"] for c in context.get_ciphers()}


def test_registry_names_are_unique_tls_names_with_unique_code_points() -> None:
    names = ciphers.names()
    codes = [ciphers.code_point(n) for n in names]
    assert all(n.startswith("TLS_") for n in names)
    assert len(set(names)) == len(names) and len(set(codes)) == len(codes)
    assert codes == sorted(codes)


@pytest.mark.parametrize("name, code", [
    ("TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F),
    ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009E),
    ("TLS_AES_128_GCM_SHA256", 0x1301),
    ("TLS_AES_128_CCM_8_SHA256", 0x1305),
    ("TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02D),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F),
    ("TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", 0xC035),
    ("TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", 0xC052),
    ("TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", 0xC076),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", 0xC0AE),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9),
    ("TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", 0xD005),
])
def test_code_points_are_the_registered_values(name: str, code: int) -> None:
    assert ciphers.code_point(name) == code
    assert ciphers.name_for_code(code) == name


def test_unassigned_and_signalling_values_have_no_suite_name() -> None:
    assert ciphers.name_for_code(0x00FF) is None  # TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    assert ciphers.name_for_code(0x5600) is None  # TLS_FALLBACK_SCSV
    assert ciphers.name_for_code(0x0A0A) is None  # GREASE (reserved)
    assert ciphers.name_for_code(0x005D) is None  # unassigned


def test_every_suite_this_openssl_knows_is_registered_under_its_openssl_name() -> None:
    for code, openssl_name in _local_openssl_suites().items():
        iana = ciphers.name_for_code(code)
        assert iana is not None, f"0x{code:04X} {openssl_name} missing from the registry"
        if ciphers.is_tls13(iana):
            assert openssl_name == iana
        else:
            assert openssl_name in ciphers.openssl_names(iana)


@pytest.mark.parametrize("name", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                  "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                  "TLS_AES_128_CCM_8_SHA256", "TLS_SM4_GCM_SM3"])
def test_tls13_suites_are_flagged(name: str) -> None:
    assert ciphers.is_tls13(name)


@pytest.mark.parametrize("name", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                  "TLS_RSA_WITH_AES_128_CBC_SHA",
                                  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_suites_with_a_key_exchange_are_not_tls13(name: str) -> None:
    assert not ciphers.is_tls13(name)


def test_an_exact_iana_name_resolves_to_itself_without_notice() -> None:
    assert ciphers.resolve("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == Resolution(
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", None)


def test_case_is_ignored_and_the_registry_spelling_is_stored() -> None:
    assert ciphers.resolve("tls_ecdhe_rsa_with_aes_128_gcm_sha256").iana_name == \
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert ciphers.resolve("  TLS_aes_128_gcm_SHA256 ").iana_name == "TLS_AES_128_GCM_SHA256"
    # IANA itself spells "anon" in lower case; that spelling is the canonical one.
    assert ciphers.resolve("TLS_DH_ANON_WITH_AES_128_GCM_SHA256").iana_name == \
        "TLS_DH_anon_WITH_AES_128_GCM_SHA256"


@pytest.mark.parametrize("draft", ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
                                   "TLS_DHE_RSA_WITH_CHACHA20_POLY1305"])
def test_the_guides_draft_chacha_names_are_stored_as_iana_names_with_a_notice(draft: str) -> None:
    resolution = ciphers.resolve(draft)
    assert resolution.iana_name == draft + "_SHA256"
    assert resolution.notice == f"Notice: {draft} stored as its IANA name {draft}_SHA256"


def test_the_guides_example_is_accepted() -> None:
    # Configuration guide: "add 192.0.2.7 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305".
    assert ciphers.resolve("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305").iana_name == \
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"


@pytest.mark.parametrize("openssl, iana", [
    ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("DHE-RSA-AES128-SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    ("EDH-RSA-DES-CBC3-SHA", "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),  # an alias
    ("ECDH-RSA-AES128-GCM-SHA256", "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"),  # not in OpenSSL 3
    ("RC4-SHA", "TLS_RSA_WITH_RC4_128_SHA"),
    ("KRB5-DES-CBC3-SHA", "TLS_KRB5_WITH_3DES_EDE_CBC_SHA"),
    ("ecdhe-rsa-aes256-gcm-sha384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
])
def test_an_openssl_name_is_refused_with_its_iana_name(openssl: str, iana: str) -> None:
    with pytest.raises(UnknownCipher) as refused:
        ciphers.resolve(openssl)
    assert str(refused.value) == f"{openssl} is an OpenSSL name; the IANA name is {iana}"


def test_a_typo_is_refused_naming_the_closest_iana_name() -> None:
    with pytest.raises(UnknownCipher) as refused:
        ciphers.resolve("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265")
    assert str(refused.value) == ("Unknown cipher suite TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265; "
                                  "did you mean TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256?")


def test_a_typo_in_an_openssl_name_is_refused_naming_the_iana_name_it_resembles() -> None:
    with pytest.raises(UnknownCipher) as refused:
        ciphers.resolve("ECDHE-RSA-AES128-GCM-SHA265")
    assert str(refused.value) == (
        "Unknown cipher suite ECDHE-RSA-AES128-GCM-SHA265; did you mean "
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (OpenSSL name ECDHE-RSA-AES128-GCM-SHA256)?")


@pytest.mark.parametrize("garbage", ["X", "hello", "TLS_", "12345", "AES"])
def test_garbage_is_refused_with_an_example(garbage: str) -> None:
    with pytest.raises(UnknownCipher) as refused:
        ciphers.resolve(garbage)
    assert str(refused.value) == (f"Unknown cipher suite {garbage}; an IANA cipher suite name "
                                  "is expected, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")


def test_an_empty_word_is_refused_with_an_example() -> None:
    with pytest.raises(UnknownCipher, match="^An IANA cipher suite name is expected, e.g. "):
        ciphers.resolve("   ")


def test_a_pasted_paragraph_is_refused_on_one_short_line() -> None:
    with pytest.raises(UnknownCipher) as refused:
        ciphers.resolve("first line\nsecond line\n" + "x" * 500)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 250


def test_signalling_values_are_refused_as_not_suites() -> None:
    with pytest.raises(UnknownCipher, match="^TLS_FALLBACK_SCSV is a signalling value, "):
        ciphers.resolve("TLS_FALLBACK_SCSV")


def test_a_java_ssl_prefixed_name_is_refused_with_its_tls_name() -> None:
    with pytest.raises(UnknownCipher) as refused:
        ciphers.resolve("SSL_RSA_WITH_3DES_EDE_CBC_SHA")
    assert str(refused.value) == ("SSL_RSA_WITH_3DES_EDE_CBC_SHA is a legacy SSL name; "
                                  "the IANA name is TLS_RSA_WITH_3DES_EDE_CBC_SHA")


def test_code_point_and_is_tls13_refuse_unknown_names() -> None:
    with pytest.raises(UnknownCipher):
        ciphers.code_point("ECDHE-RSA-AES128-GCM-SHA999")
    with pytest.raises(UnknownCipher):
        ciphers.is_tls13("TLS_NOTHING")


def test_names_offers_every_family_for_completion() -> None:
    names = ciphers.names()
    for family in ("_ECDHE_ECDSA_", "_ECDHE_RSA_", "_DHE_RSA_", "_ECDH_RSA_", "_PSK_",
                   "_CHACHA20_POLY1305_", "_CCM", "_ARIA_", "_CAMELLIA_", "_anon_"):
        assert any(family in n for n in names), family
    assert "TLS_AES_128_GCM_SHA256" in names
    names.clear()  # the caller's copy only
    assert ciphers.names()
