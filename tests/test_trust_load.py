"""What the shell loads: one CA for updateTrust, a key + certificate + chain for sslUpdate."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _trust_support import pem_bundle, pkcs7_bundle
from xsp_trust import (CertificateAuthority, Role, TrustError, describe, key_matches,
                   load_key_and_cert, load_single_ca, self_signed_server)

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def pki() -> dict:
    """A root, its issuing CA, and a server and a client certificate it issued."""
    root = CertificateAuthority.new_root("Internal Private Root")
    sub = root.new_intermediate("Internal Private TLS SubCA")
    return {"root": root, "sub": sub,
            "server": sub.issue_server("xsp1.example.com", ips=["127.0.0.1"]),
            "client": sub.issue_client("bwcticlient.webex.com")}


# --- updateTrust: load_single_ca ------------------------------------------------------

@pytest.mark.parametrize("which", ["root", "sub"])
def test_single_ca_pem_is_loaded(tmp_path: Path, pki, which: str) -> None:
    """A file with one root or one issuing CA in PEM gives that certificate."""
    path = tmp_path / "ca.txt"
    path.write_bytes(pki[which].cert_pem)
    assert load_single_ca(path) == pki[which].certificate


def test_single_ca_in_der_pkcs7_or_repeated_is_loaded(tmp_path: Path, pki) -> None:
    """DER, PKCS#7 with one certificate, and the same PEM block twice all count as one CA."""
    root = pki["root"].certificate
    shapes = {"der": root.public_bytes(serialization.Encoding.DER),
              "p7b": pkcs7_bundle([root], serialization.Encoding.DER),
              "twice": pem_bundle([root, root], crlf=True, junk=True)}
    for name, data in shapes.items():
        (tmp_path / name).write_bytes(data)
        assert load_single_ca(tmp_path / name) == root, name


def _single_ca_refusals(pki: dict, tmp: Path) -> dict[str, tuple[Path, str]]:
    cases: dict[str, bytes] = {
        "empty": b"",
        "garbage": b"hello, this is not a certificate\n",
        "binary": bytes(range(256)),
        "private key": pki["sub"].key_pem,
        "key with cert": pki["sub"].cert_pem + pki["sub"].key_pem,
        "leaf": pki["client"].cert_pem,
        "two": pem_bundle([pki["root"].certificate, pki["sub"].certificate]),
        "truncated": pki["root"].cert_pem[:-30],
        "huge": b"x" * (1024 * 1024 + 10),
    }
    expected = {
        "empty": "is empty",
        "garbage": "holds no certificate",
        "binary": "is not a certificate file",
        "private key": "the file holds a private key; updateTrust takes a CA certificate only",
        "key with cert": "the file holds a private key; updateTrust takes a CA certificate only",
        "leaf": "holds CN=bwcticlient.webex.com, which is not a CA certificate; updateTrust "
                "takes a CA certificate",
        "two": "holds 2 certificates (CN=Internal Private Root, CN=Internal Private TLS SubCA); "
               "updateTrust takes one CA certificate per alias",
        "truncated": "has no END CERTIFICATE line; the file is truncated",
        "huge": "is larger than 1 MiB",
    }
    result = {}
    for name, data in cases.items():
        path = tmp / f"{name.replace(' ', '-')}.txt"
        path.write_bytes(data)
        result[name] = (path, expected[name])
    result["missing"] = (tmp / "nope.txt", "No such file or directory")
    result["directory"] = (tmp, "is not a regular file")
    return result


@pytest.mark.parametrize("case", ["empty", "garbage", "binary", "private key", "key with cert",
                                  "leaf", "two", "truncated", "huge", "missing", "directory"])
def test_single_ca_refusals(tmp_path: Path, pki, case: str) -> None:
    """Each unusable updateTrust file is a one-line TrustError saying why."""
    path, expected = _single_ca_refusals(pki, tmp_path)[case]
    with pytest.raises(TrustError) as caught:
        load_single_ca(path)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_describe_gives_what_trusts_get_shows(pki) -> None:
    """describe(): CNs, self-signed, dates, SHA-256, CA or not, for a root, an issuing CA, a leaf."""
    root = describe(pki["root"].certificate)
    assert (root.subject_cn, root.issuer_cn, root.self_signed, root.is_ca, root.role) == (
        "Internal Private Root", "Internal Private Root", True, True, Role.ROOT)
    sub = describe(pki["sub"].certificate)
    assert (sub.subject_cn, sub.issuer_cn, sub.self_signed, sub.is_ca, sub.role) == (
        "Internal Private TLS SubCA", "Internal Private Root", False, True, Role.INTERMEDIATE)
    leaf = describe(pki["client"].certificate)
    assert (leaf.self_signed, leaf.is_ca, leaf.role) == (False, False, Role.LEAF)
    assert leaf.not_after == pki["client"].certificate.not_valid_after_utc
    assert leaf.not_before == pki["client"].certificate.not_valid_before_utc
    assert sub.sha256 == pki["sub"].certificate.fingerprint(hashes.SHA256()).hex()
    assert sub.sha256_colons.count(":") == 31


def test_a_namesake_that_does_not_verify_is_not_self_signed(pki) -> None:
    """Issuer == subject is not enough: a certificate that names itself but was signed by another key is no root."""
    root = pki["root"]
    forged = root.certificate.subject
    impostor = CertificateAuthority.new_root(forged)
    # A certificate naming the root as issuer, subject the same name, signed by the real root:
    # issuer == subject, yet its own key does not verify its signature.
    cross = root.new_intermediate(forged)
    assert cross.certificate.issuer == cross.certificate.subject
    assert describe(cross.certificate).self_signed is False
    assert describe(cross.certificate).role is Role.INTERMEDIATE
    assert describe(impostor.certificate).self_signed is True


# --- sslUpdate: load_key_and_cert -----------------------------------------------------

def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def test_key_certificate_and_chain_load(tmp_path: Path, pki) -> None:
    """The matching key, the server certificate and its issuing CA: loaded, no warnings."""
    server = pki["server"]
    server.write(tmp_path / "s.pem", tmp_path / "s.key", tmp_path / "chain.pem")
    creds = load_key_and_cert(tmp_path / "s.key", tmp_path / "s.pem", tmp_path / "chain.pem")
    assert creds.certificate == server.certificate
    assert creds.chain == (pki["sub"].certificate,)
    assert creds.warnings == ()
    assert key_matches(creds.certificate, creds.private_key)


def test_ec_key_and_chain_up_to_the_root(tmp_path: Path, pki) -> None:
    """An EC key works, and a chain that goes on to the root is kept in order without warning."""
    server = pki["sub"].issue_server("ec.example", key_type="ec")
    key = _write(tmp_path, "k", server.key_pem)
    cert = _write(tmp_path, "c", server.cert_pem)
    chain = _write(tmp_path, "ch", pki["sub"].cert_pem + pki["root"].cert_pem)
    creds = load_key_and_cert(key, cert, chain)
    assert creds.chain == (pki["sub"].certificate, pki["root"].certificate)
    assert creds.warnings == ()


def test_chain_out_of_order_is_ordered_with_a_warning(tmp_path: Path, pki) -> None:
    """Root before issuing CA in chainFile: used in order, and a warning says so."""
    server = pki["server"]
    creds = load_key_and_cert(_write(tmp_path, "k", server.key_pem),
                              _write(tmp_path, "c", server.cert_pem),
                              _write(tmp_path, "ch", pki["root"].cert_pem + pki["sub"].cert_pem))
    assert creds.chain == (pki["sub"].certificate, pki["root"].certificate)
    assert creds.warnings == ("the chain file was not in order from the certificate's issuer "
                              "upward; it is used in that order",)


def test_missing_or_empty_chain_warns_that_clients_need_the_issuer(tmp_path: Path, pki) -> None:
    """No chain (None, or an empty file) is accepted with a warning naming the issuer."""
    server = pki["server"]
    key = _write(tmp_path, "k", server.key_pem)
    cert = _write(tmp_path, "c", server.cert_pem)
    warning = ("no chain: clients must already hold CN=Internal Private TLS SubCA, the issuer "
               "of CN=xsp1.example.com")
    assert load_key_and_cert(key, cert, None).warnings == (warning,)
    assert load_key_and_cert(key, cert, _write(tmp_path, "empty", b"\n")).warnings == (warning,)


def test_chain_repeating_the_certificate_drops_it_with_a_warning(tmp_path: Path, pki) -> None:
    """A full chain given as chainFile: the certificate's own copy is left out."""
    server = pki["server"]
    creds = load_key_and_cert(_write(tmp_path, "k", server.key_pem),
                              _write(tmp_path, "c", server.cert_pem),
                              _write(tmp_path, "ch", server.cert_pem + server.chain_pem))
    assert creds.chain == (pki["sub"].certificate,)
    assert creds.warnings == ("the chain file repeats the certificate itself; that copy is "
                              "left out",)


def test_self_signed_certificate_loads_with_a_warning(tmp_path: Path) -> None:
    """The interface's own self-signed certificate loads without chain; a warning says Webex needs a CA."""
    ss = self_signed_server("10.155.6.175", ips=["10.155.6.175"])
    creds = load_key_and_cert(_write(tmp_path, "k", ss.key_pem), _write(tmp_path, "c", ss.cert_pem))
    assert creds.chain == ()
    assert creds.warnings == ("CN=10.155.6.175 is self-signed; Webex needs a certificate issued "
                              "by a CA it trusts",)


def test_expiry_soon_and_expired_are_warnings(tmp_path: Path, pki) -> None:
    """A certificate expiring within 30 days, or already expired, loads with a warning saying when."""
    soon = pki["sub"].issue_server("soon.example", not_after=NOW + dt.timedelta(days=10, hours=1))
    creds = load_key_and_cert(_write(tmp_path, "k", soon.key_pem),
                              _write(tmp_path, "c", soon.cert_pem),
                              _write(tmp_path, "ch", soon.chain_pem))
    assert creds.warnings == (f"CN=soon.example expires on "
                              f"{soon.certificate.not_valid_after_utc:%Y-%m-%d}, in 10 days",)
    later = load_key_and_cert(tmp_path / "k", tmp_path / "c", tmp_path / "ch",
                              at=NOW + dt.timedelta(days=11))
    assert later.warnings == (f"CN=soon.example expired on "
                              f"{soon.certificate.not_valid_after_utc:%Y-%m-%d}; "
                              "peers will refuse it",)


def test_client_certificate_as_interface_certificate_warns(tmp_path: Path, pki) -> None:
    """A clientAuth-only certificate installed on an interface: warned, since clients refuse it."""
    client = pki["client"]
    creds = load_key_and_cert(_write(tmp_path, "k", client.key_pem),
                              _write(tmp_path, "c", client.cert_pem),
                              _write(tmp_path, "ch", client.chain_pem))
    assert creds.warnings == ("CN=bwcticlient.webex.com has no serverAuth extended key usage; "
                              "TLS clients will refuse it as a server certificate",)


def test_key_matches_compares_public_keys(pki) -> None:
    """key_matches is True only for the certificate's own key."""
    assert key_matches(pki["server"].certificate, pki["server"].private_key)
    assert not key_matches(pki["server"].certificate, pki["client"].private_key)


def _encrypted_pkcs8(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(b"secret"))


def _encrypted_legacy(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.BestAvailableEncryption(b"secret"))


def _ed25519() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def _credential_refusals(pki: dict) -> dict[str, tuple[bytes, bytes, bytes | None, str]]:
    server, sub, root = pki["server"], pki["sub"], pki["root"]
    other = pki["client"]
    impostor = sub.with_fresh_key()
    unrelated = CertificateAuthority.new_root("Unrelated Root")
    return {
        "mismatch": (other.key_pem, server.cert_pem, server.chain_pem,
                     "does not match the certificate CN=xsp1.example.com"),
        "encrypted pkcs8": (_encrypted_pkcs8(server.private_key), server.cert_pem, None,
                            "the private key is encrypted; give it unencrypted"),
        "encrypted legacy": (_encrypted_legacy(server.private_key), server.cert_pem, None,
                             "the private key is encrypted; give it unencrypted"),
        "encrypted der": (server.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret")), server.cert_pem, None,
            "the private key is encrypted"),
        "files swapped": (server.cert_pem, server.key_pem, None,
                          "holds a certificate, not a private key (were the key and "
                          "certificate files swapped?)"),
        "ed25519 key": (_ed25519(), server.cert_pem, None,
                        "holds a key of type Ed25519; the interface takes an RSA or EC key"),
        "two keys": (server.key_pem + other.key_pem, server.cert_pem, None,
                     "holds 2 private keys"),
        "truncated key": (server.key_pem[:200] + b"\n-----END PRIVATE KEY-----\n",
                          server.cert_pem, None, "the private key is truncated, corrupt"),
        "empty key": (b"", server.cert_pem, None, "is empty"),
        "cert with chain": (server.key_pem, server.cert_pem + server.chain_pem, None,
                            "holds 2 certificates; certificateFile takes the interface "
                            "certificate alone"),
        "key in cert file": (server.key_pem, server.cert_pem + server.key_pem, None,
                             "holds a private key; give the key as keyFile"),
        "key in chain": (server.key_pem, server.cert_pem, server.chain_pem + server.key_pem,
                         "holds a private key; chainFile takes CA certificates only"),
        "unrelated chain": (server.key_pem, server.cert_pem, unrelated.cert_pem,
                            "the chain does not hold CN=Internal Private TLS SubCA, the issuer "
                            "of CN=xsp1.example.com; it holds CN=Unrelated Root"),
        "namesake chain": (server.key_pem, server.cert_pem, impostor.cert_pem,
                           "the signature on CN=xsp1.example.com does not verify with "
                           "CN=Internal Private TLS SubCA in the chain"),
        "extra after root": (server.key_pem, server.cert_pem,
                             sub.cert_pem + root.cert_pem + unrelated.cert_pem,
                             "chain certificate CN=Unrelated Root is not part of the chain of "
                             "CN=xsp1.example.com"),
        "garbage chain": (server.key_pem, server.cert_pem, b"\x00\x01binary",
                          "is not a certificate file"),
    }


@pytest.mark.parametrize("case", ["mismatch", "encrypted pkcs8", "encrypted legacy",
                                  "encrypted der", "files swapped", "ed25519 key", "two keys",
                                  "truncated key", "empty key", "cert with chain",
                                  "key in cert file", "key in chain", "unrelated chain",
                                  "namesake chain", "extra after root", "garbage chain"])
def test_unusable_credentials_are_refused_in_one_line(tmp_path: Path, pki, case: str) -> None:
    """Each unusable key/certificate/chain combination is a one-line TrustError saying why, with no key text."""
    key, cert, chain, expected = _credential_refusals(pki)[case]
    key_path = _write(tmp_path, "k", key)
    cert_path = _write(tmp_path, "c", cert)
    chain_path = _write(tmp_path, "ch", chain) if chain is not None else None
    with pytest.raises(TrustError) as caught:
        load_key_and_cert(key_path, cert_path, chain_path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and "PRIVATE KEY-----" not in message


def test_missing_files_are_refused(tmp_path: Path, pki) -> None:
    """A missing key, certificate or chain file: 'cannot read' naming it."""
    key = _write(tmp_path, "k", pki["server"].key_pem)
    cert = _write(tmp_path, "c", pki["server"].cert_pem)
    for args, missing in (((tmp_path / "no.key", cert, None), "no.key"),
                          ((key, tmp_path / "no.pem", None), "no.pem"),
                          ((key, cert, tmp_path / "no-chain.pem"), "no-chain.pem")):
        with pytest.raises(TrustError, match=f"cannot read .*{missing}: No such file"):
            load_key_and_cert(*args)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048), st.sampled_from(["key", "cert", "chain", "ca"]))
def test_any_bytes_in_any_file_give_trust_error_or_a_result(tmp_path: Path, pki, data: bytes,
                                                            slot: str) -> None:
    """Random bytes in any one input file: a result or a one-line TrustError, never another exception."""
    server = pki["server"]
    files = {"key": server.key_pem, "cert": server.cert_pem, "chain": server.chain_pem,
             "ca": pki["root"].cert_pem}
    files[slot] = data
    paths = {name: _write(tmp_path, name, content) for name, content in files.items()}
    try:
        load_single_ca(paths["ca"])
        load_key_and_cert(paths["key"], paths["cert"], paths["chain"])
    except TrustError as exc:
        assert "\n" not in str(exc)
