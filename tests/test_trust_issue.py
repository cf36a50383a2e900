"""trust's certificate issuance: the extensions strict verifiers want, and key files kept private."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from xsp_trust import CertificateAuthority, IssuedCert, self_signed_server

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    """A self-signed root CA."""
    return CertificateAuthority.new_root("Internal Private Root")


@pytest.fixture(scope="module")
def sub(root: CertificateAuthority) -> CertificateAuthority:
    """An issuing CA under ``root``."""
    return root.new_intermediate("Internal Private TLS SubCA")


def ext(cert: x509.Certificate, kind: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(kind)


@pytest.mark.parametrize("which", ["root", "sub"])
def test_ca_certificates_carry_critical_ca_constraints_and_key_ids(which: str, request) -> None:
    """Roots and intermediates: BasicConstraints ca=True and keyCertSign+cRLSign, both critical; SKI and AKI."""
    ca: CertificateAuthority = request.getfixturevalue(which)
    bc = ext(ca.certificate, x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ext(ca.certificate, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    ski = ext(ca.certificate, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.private_key.public_key())
    assert ext(ca.certificate, x509.AuthorityKeyIdentifier).value.key_identifier


def test_root_is_self_signed_and_intermediate_is_signed_by_root(root, sub) -> None:
    """The root verifies with its own key; the intermediate names and verifies with the root."""
    root.certificate.verify_directly_issued_by(root.certificate)
    sub.certificate.verify_directly_issued_by(root.certificate)
    assert sub.certificate.issuer == root.certificate.subject
    assert root.is_root and not sub.is_root and sub.root is root


def test_chain_excludes_the_root(root, sub) -> None:
    """chain_pem is the issuing CAs above a certificate without the root: empty under a root."""
    assert sub.chain == () and sub.chain_pem == b""
    assert root.issue_client("a.example").chain_pem == b""
    leaf = sub.issue_client("b.example")
    assert leaf.chain == (sub.certificate,)
    assert leaf.chain_pem == sub.cert_pem
    deeper = sub.new_intermediate("Deeper CA")
    assert deeper.issue_server("c.example").chain == (deeper.certificate, sub.certificate)


def test_server_leaf_has_non_critical_san_with_names_ips_and_common_name(sub) -> None:
    """issue_server: EKU serverAuth, SAN non-critical holding the CN, the DNS names and the IPs."""
    leaf = sub.issue_server("xsp1.example.com", ips=["127.0.0.1", "::1"], dns_names=["localhost"])
    san = ext(leaf.certificate, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["xsp1.example.com", "localhost"]
    assert san.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    assert list(ext(leaf.certificate, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    bc = ext(leaf.certificate, x509.BasicConstraints).value
    assert not bc.ca
    assert leaf.certificate.issuer == sub.certificate.subject


def test_client_leaf_is_for_client_authentication_only(sub) -> None:
    """issue_client: EKU clientAuth only, CN as given, signed by the issuing CA."""
    leaf = sub.issue_client("bwcticlient.webex.com")
    assert list(ext(leaf.certificate, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    assert leaf.certificate.subject.rfc4514_string() == "CN=bwcticlient.webex.com"
    leaf.certificate.verify_directly_issued_by(sub.certificate)


@pytest.mark.parametrize(("key_type", "key_class", "encipherment"),
                         [("rsa", rsa.RSAPrivateKey, True), ("ec", ec.EllipticCurvePrivateKey, False)])
def test_key_types(sub, key_type, key_class, encipherment) -> None:
    """key_type 'rsa' gives RSA 2048 with keyEncipherment, 'ec' gives P-256 without it."""
    leaf = sub.issue_server("k.example", key_type=key_type)
    assert isinstance(leaf.private_key, key_class)
    assert leaf.private_key.key_size in (2048, 256)
    ku = ext(leaf.certificate, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert ku.value.key_encipherment is encipherment
    ec_root = CertificateAuthority.new_root("EC Root", key_type="ec")
    assert isinstance(ec_root.private_key, ec.EllipticCurvePrivateKey)


def test_unknown_key_type_is_refused(root) -> None:
    """A key type other than rsa or ec is a ValueError, not a silent default."""
    with pytest.raises(ValueError, match="key_type"):
        root.issue_client("x.example", key_type="dsa")  # type: ignore[arg-type]


def test_validity_is_taken_as_given(root) -> None:
    """not_before/not_after are honoured exactly, for CAs and leaves alike."""
    start, end = dt.datetime(2001, 2, 3, tzinfo=UTC), dt.datetime(2002, 3, 4, tzinfo=UTC)
    old = root.new_intermediate("Old CA", not_before=start, not_after=end)
    leaf = root.issue_client("old.example", not_before=start, not_after=end)
    for cert in (old.certificate, leaf.certificate):
        assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, end)


def test_default_validity_covers_now(sub) -> None:
    """Without dates a certificate is valid now, a little backdated for skewed clocks."""
    now = dt.datetime.now(UTC)
    cert = sub.issue_client("now.example").certificate
    assert cert.not_valid_before_utc < now - dt.timedelta(minutes=30)
    assert cert.not_valid_after_utc > now + dt.timedelta(days=300)


def test_with_fresh_key_keeps_the_name_but_signatures_do_not_verify(root, sub) -> None:
    """A CA re-minted with a fresh key has the same subject and issuer; its leaves fail against the original."""
    impostor = sub.with_fresh_key()
    assert impostor.certificate.subject == sub.certificate.subject
    assert impostor.certificate.issuer == sub.certificate.issuer
    assert impostor.certificate.public_key() != sub.certificate.public_key()
    impostor.certificate.verify_directly_issued_by(root.certificate)
    leaf = impostor.issue_client("fake.example")
    with pytest.raises(InvalidSignature):
        leaf.certificate.verify_directly_issued_by(sub.certificate)
    other_root = root.with_fresh_key()
    other_root.certificate.verify_directly_issued_by(other_root.certificate)
    assert other_root.certificate.subject == root.certificate.subject


def test_not_a_ca_intermediate_says_so(root) -> None:
    """basic_constraints_ca=False mints a signing certificate that claims not to be a CA."""
    fake = root.new_intermediate("Leaf Used As CA", basic_constraints_ca=False)
    assert not ext(fake.certificate, x509.BasicConstraints).value.ca
    assert not ext(fake.certificate, x509.KeyUsage).value.key_cert_sign
    fake.issue_client("under.example").certificate.verify_directly_issued_by(fake.certificate)


def test_self_signed_server_is_its_own_issuer_with_the_ip_in_the_san() -> None:
    """self_signed_server: issuer == subject, signed by its own key, a leaf for the interface IP."""
    ss = self_signed_server("10.155.6.175", ips=["10.155.6.175"])
    cert = ss.certificate
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.155.6.175")]
    assert not ext(cert, x509.BasicConstraints).value.ca
    assert ss.chain_pem == b""


def test_pem_forms(sub) -> None:
    """cert_pem is one PEM certificate; key_pem is unencrypted PKCS#8."""
    leaf = sub.issue_client("pem.example")
    assert leaf.cert_pem.startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert x509.load_pem_x509_certificate(leaf.cert_pem) == leaf.certificate
    assert leaf.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")


def test_cryptography_verifier_accepts_the_minted_chains(root, sub) -> None:
    """A strict verifier (cryptography's, RFC 5280 + CA/B profile) accepts server and client leaves."""
    store = verification.Store([root.certificate])
    server = sub.issue_server("xsp1.example.com", ips=["127.0.0.1"], dns_names=["localhost"])
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    chain = verifier.verify(server.certificate, list(server.chain))
    assert chain[-1] == root.certificate
    client = sub.issue_client("bwcticlient.webex.com", key_type="ec")
    verified = verification.PolicyBuilder().store(store).build_client_verifier().verify(
        client.certificate, list(client.chain))
    assert verified.chain[-1] == root.certificate


def test_write_creates_key_0600_even_over_a_world_readable_file(tmp_path: Path, sub) -> None:
    """write(): the key is 0600 with umask 0 and when it replaces a 0644 file; cert and chain are written."""
    leaf = sub.issue_server("w.example")
    key_path = tmp_path / "server.key"
    key_path.write_bytes(b"old")
    key_path.chmod(0o644)
    old_umask = os.umask(0)
    try:
        leaf.write(tmp_path / "server.pem", key_path, tmp_path / "chain.pem")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes() == leaf.key_pem
    assert (tmp_path / "server.pem").read_bytes() == leaf.cert_pem
    assert (tmp_path / "chain.pem").read_bytes() == sub.cert_pem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.pem", "server.key", "server.pem"]


def _handshake(client: ssl.SSLObject, server: ssl.SSLObject,
               c_in: ssl.MemoryBIO, c_out: ssl.MemoryBIO,
               s_in: ssl.MemoryBIO, s_out: ssl.MemoryBIO) -> None:
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, obj in (("c", client), ("s", server)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def test_configured_contexts_complete_a_mutual_tls_handshake(root, sub) -> None:
    """configure_cert/configure_trust set up OpenSSL contexts that complete real mTLS, CN seen by the server."""
    server_cert = sub.issue_server("xsp1.example.com", dns_names=["localhost"])
    client_cert = sub.issue_client("bwcticlient.webex.com")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_cert.configure_cert(server_ctx)
    root.configure_trust(server_ctx)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_cert.configure_cert(client_ctx)
    root.configure_trust(client_ctx)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    _handshake(client, server, c_in, c_out, s_in, s_out)
    peer = server.getpeercert()
    assert peer is not None
    assert ((("commonName", "bwcticlient.webex.com"),),) == peer["subject"]


def test_issued_cert_and_ca_are_the_documented_types(root, sub) -> None:
    """A CA is also an IssuedCert (same attributes); leaves are plain IssuedCert."""
    assert isinstance(sub, IssuedCert)
    leaf = sub.issue_client("t.example")
    assert type(leaf) is IssuedCert
