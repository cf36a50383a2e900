"""Chain verification: cryptography decides, and every refusal names the reason a person can act on."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from _trust_support import one_error_line, pem_bundle, run_xsp
from xsp_trust import (CertificateAuthority, Reason, TrustError, parse_time, self_signed_server,
                   verify_chain, verify_files)

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def pki() -> dict:
    """A root, its issuing CA, and a client and a server certificate it issued."""
    root = CertificateAuthority.new_root("Internal Private Root")
    sub = root.new_intermediate("Internal Private TLS SubCA")
    return {
        "root": root, "sub": sub,
        "client": sub.issue_client("bwcticlient.webex.com"),
        "server": sub.issue_server("xsp1.example.com", ips=["127.0.0.1"], dns_names=["localhost"]),
    }


def test_client_chain_via_root_is_valid(pki) -> None:
    """Leaf + issuing CA (untrusted) + root (anchor): OK, with the whole chain and the CNs in the line."""
    result = verify_chain(pki["client"].certificate, [pki["root"].certificate],
                          untrusted=[pki["sub"].certificate])
    assert result.ok and result.reason is Reason.OK and bool(result)
    assert result.chain == (pki["client"].certificate, pki["sub"].certificate,
                            pki["root"].certificate)
    assert result.message == ("OK: CN=bwcticlient.webex.com valid for client authentication via "
                              "Internal Private TLS SubCA -> Internal Private Root")


def test_issuing_ca_alone_as_anchor_is_enough(pki) -> None:
    """Like a Java trust store, an issuing CA given as anchor ends the chain without its root."""
    result = verify_chain(pki["client"].certificate, [pki["sub"].certificate])
    assert result.ok
    assert result.chain == (pki["client"].certificate, pki["sub"].certificate)


def test_server_for_its_ip_and_dns_name(pki) -> None:
    """A server certificate is valid for each IP and DNS name in its SAN."""
    for name in ("127.0.0.1", "localhost", "xsp1.example.com"):
        result = verify_chain(pki["server"].certificate, [pki["root"].certificate],
                              untrusted=[pki["sub"].certificate], purpose="server", name=name)
        assert result.ok, result.message
        assert f"valid for server authentication as {name} via" in result.message


def test_self_signed_server_is_valid_when_it_is_its_own_anchor() -> None:
    """The interface's self-signed certificate verifies when the client trusts that very certificate."""
    ss = self_signed_server("10.155.6.175", ips=["10.155.6.175"])
    result = verify_chain(ss.certificate, [ss.certificate], purpose="server", name="10.155.6.175")
    assert result.ok
    assert result.message.endswith("(it is itself a trust anchor)")


def test_expired_leaf(pki) -> None:
    """Checked after the leaf's not_after: 'expired', with the date."""
    leaf = pki["client"].certificate
    result = verify_chain(leaf, [pki["sub"].certificate], at=leaf.not_valid_after_utc
                          + dt.timedelta(days=1))
    assert (result.ok, result.reason) == (False, Reason.EXPIRED)
    expiry = leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert result.message.startswith(
        f"expired: certificate CN=bwcticlient.webex.com expired on {expiry}")


def test_not_yet_valid_leaf(pki) -> None:
    """A certificate whose not_before is in the future: 'not yet valid'."""
    leaf = pki["sub"].issue_client("later.example", not_before=NOW + dt.timedelta(days=5))
    result = verify_chain(leaf.certificate, [pki["sub"].certificate])
    assert result.reason is Reason.NOT_YET_VALID
    assert result.message.startswith("not yet valid: certificate CN=later.example is not valid "
                                     "before ")


def test_expired_issuing_ca(pki) -> None:
    """A valid leaf under an issuing CA that has expired: 'expired' names the CA."""
    old = pki["root"].new_intermediate("Old SubCA", not_before=NOW - dt.timedelta(days=400),
                                       not_after=NOW - dt.timedelta(days=1))
    leaf = old.issue_client("c.example")
    result = verify_chain(leaf.certificate, [pki["root"].certificate], untrusted=[old.certificate])
    assert result.reason is Reason.EXPIRED
    assert result.message.startswith("expired: issuing CA CN=Old SubCA expired on ")


def test_unknown_issuer_when_the_issuing_ca_is_missing(pki) -> None:
    """Root as anchor but no issuing CA given: 'unknown issuer' names the missing CA."""
    result = verify_chain(pki["client"].certificate, [pki["root"].certificate])
    assert result.reason is Reason.UNKNOWN_ISSUER
    assert result.message == ("unknown issuer: no trust anchor or untrusted certificate is "
                              "CN=Internal Private TLS SubCA, the issuer of "
                              "CN=bwcticlient.webex.com")


def test_unknown_issuer_for_an_untrusted_self_signed_certificate(pki) -> None:
    """A self-signed server certificate against another anchor: 'unknown issuer', self-signed said."""
    ss = self_signed_server("10.1.1.1", ips=["10.1.1.1"])
    result = verify_chain(ss.certificate, [pki["root"].certificate], purpose="server",
                          name="10.1.1.1")
    assert result.reason is Reason.UNKNOWN_ISSUER
    assert "CN=10.1.1.1 is self-signed and is not one of the trust anchors" in result.message


def test_bad_signature_from_a_ca_with_the_same_name_and_another_key(pki) -> None:
    """An anchor named like the real issuing CA but with another key: 'bad signature'."""
    impostor = pki["sub"].with_fresh_key()
    result = verify_chain(pki["client"].certificate, [impostor.certificate])
    assert result.reason is Reason.BAD_SIGNATURE
    assert result.message == ("bad signature: the signature on CN=bwcticlient.webex.com does not "
                              "verify with the key of CN=Internal Private TLS SubCA given "
                              "(a CA of the same name with another key)")


def test_bad_signature_higher_up_the_chain(pki) -> None:
    """The issuing CA is right but the root anchor is a re-keyed namesake: 'bad signature' on the CA."""
    result = verify_chain(pki["client"].certificate, [pki["root"].with_fresh_key().certificate],
                          untrusted=[pki["sub"].certificate])
    assert result.reason is Reason.BAD_SIGNATURE
    assert "the signature on CN=Internal Private TLS SubCA does not verify" in result.message


def test_not_a_ca(pki) -> None:
    """A leaf certificate used to sign another: 'not a CA' names it."""
    fake = pki["root"].new_intermediate("Leaf Used As CA", basic_constraints_ca=False)
    leaf = fake.issue_client("victim.example")
    result = verify_chain(leaf.certificate, [pki["root"].certificate],
                          untrusted=[fake.certificate])
    assert result.reason is Reason.NOT_A_CA
    assert result.message == ("not a CA: CN=Leaf Used As CA signed CN=victim.example but is not "
                              "a CA (BasicConstraints ca=False)")


def test_server_certificate_for_client_authentication_is_wrong_usage(pki) -> None:
    """A serverAuth-only certificate presented by a client: 'wrong key usage' lists its EKU."""
    result = verify_chain(pki["server"].certificate, [pki["sub"].certificate])
    assert result.reason is Reason.WRONG_USAGE
    assert result.message == ("wrong key usage: CN=xsp1.example.com is not for client "
                              "authentication: its extended key usage is serverAuth, without "
                              "clientAuth")


def test_client_certificate_as_server_is_wrong_usage(pki) -> None:
    """The Webex client certificate presented as a server: 'wrong key usage'."""
    result = verify_chain(pki["client"].certificate, [pki["sub"].certificate], purpose="server",
                          name="bwcticlient.webex.com")
    assert result.reason is Reason.WRONG_USAGE


def test_name_mismatch_for_a_server(pki) -> None:
    """A server reached by a name not in its SAN: 'name mismatch' lists the names it has."""
    result = verify_chain(pki["server"].certificate, [pki["sub"].certificate], purpose="server",
                          name="10.0.0.9")
    assert result.reason is Reason.NAME_MISMATCH
    assert result.message == ("name mismatch: CN=xsp1.example.com is for DNS:xsp1.example.com, "
                              "DNS:localhost, IP:127.0.0.1, not 10.0.0.9")


def test_client_name_is_checked_against_cn_when_given(pki) -> None:
    """--name with a client: the CN (what ClientIdentity holds) must match."""
    good = verify_chain(pki["client"].certificate, [pki["sub"].certificate],
                        name="bwcticlient.webex.com")
    bad = verify_chain(pki["client"].certificate, [pki["sub"].certificate], name="other.webex.com")
    assert good.ok
    assert bad.reason is Reason.NAME_MISMATCH


def test_client_without_san_is_accepted(pki) -> None:
    """A client certificate with a plain CN and no SAN verifies: BroadWorks matches the CN."""
    leaf = pki["sub"].issue_client("Webex CTI Client")
    assert verify_chain(leaf.certificate, [pki["sub"].certificate]).ok


def test_a_ca_as_a_client_leaf_is_judged_by_its_key_usage(pki) -> None:
    """Verifying the issuing CA itself as if it were a client: as a Java TLS server does,
    a CA is not refused for being one, but this one may not sign a handshake."""
    result = verify_chain(pki["sub"].certificate, [pki["root"].certificate])
    assert result.reason is Reason.WRONG_USAGE
    assert result.message == ("wrong key usage: certificate CN=Internal Private TLS SubCA may "
                              "not sign the handshake (CertificateVerify): its keyUsage lacks "
                              "digitalSignature (it has keyCertSign, cRLSign)")


def test_a_ca_as_a_server_leaf_is_not_a_leaf(pki) -> None:
    """Verifying the issuing CA itself as if it were a server: 'not a leaf'."""
    result = verify_chain(pki["sub"].certificate, [pki["root"].certificate], purpose="server",
                          name="xsp1.example.com")
    assert result.reason is Reason.NOT_A_LEAF


def test_unusable_arguments_raise_trust_error(pki) -> None:
    """No anchors, a server without a name, a bad name: TrustError, not a result."""
    leaf = pki["server"].certificate
    with pytest.raises(TrustError, match="no trust anchor"):
        verify_chain(leaf, [])
    with pytest.raises(TrustError, match="give one"):
        verify_chain(leaf, [pki["sub"].certificate], purpose="server")
    with pytest.raises(TrustError, match="neither a DNS name nor an IP"):
        verify_chain(leaf, [pki["sub"].certificate], purpose="server", name="bad name!")


@pytest.mark.parametrize(("text", "expected"), [
    ("2030-01-01", dt.datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01T00:00:00Z", dt.datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01T02:00:00+02:00", dt.datetime(2030, 1, 1, tzinfo=UTC)),
])
def test_times_are_iso8601_in_utc(text: str, expected: dt.datetime) -> None:
    """--at forms: a date, Z, an offset; all normalised to UTC."""
    assert parse_time(text) == expected


def test_verify_files_takes_the_chain_after_the_leaf(tmp_path: Path, pki) -> None:
    """A full-chain file (leaf then issuing CA) verifies against the root alone."""
    full = tmp_path / "full.pem"
    full.write_bytes(pki["client"].cert_pem + pki["client"].chain_pem)
    anchor = tmp_path / "root.pem"
    anchor.write_bytes(pki["root"].cert_pem)
    assert verify_files(full, [anchor]).ok


# --- the command ----------------------------------------------------------------------

@pytest.fixture
def files(tmp_path: Path, pki) -> Path:
    """The ``pki`` written as the files ``xsp trust verify`` reads; the directory holding them."""
    pki["client"].write(tmp_path / "client.pem", tmp_path / "client.key", tmp_path / "chain.pem")
    (tmp_path / "root.pem").write_bytes(pki["root"].cert_pem)
    (tmp_path / "issuing.pem").write_bytes(pki["sub"].cert_pem)
    (tmp_path / "server.pem").write_bytes(pki["server"].cert_pem)
    (tmp_path / "both.pem").write_bytes(pem_bundle([pki["root"].certificate,
                                                     pki["sub"].certificate]))
    return tmp_path


def test_cli_valid_chain_prints_ok_and_exits_0(files: Path) -> None:
    """`xsp trust verify` on a good chain: exit 0, the OK line on stdout, nothing on stderr."""
    result = run_xsp("trust", "verify", str(files / "client.pem"), "--anchor",
                     str(files / "root.pem"), "--untrusted", str(files / "chain.pem"))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == ("OK: CN=bwcticlient.webex.com valid for client authentication via "
                             "Internal Private TLS SubCA -> Internal Private Root\n")


def test_cli_expired_at_a_later_time_exits_1_with_the_reason(files: Path) -> None:
    """--at after expiry: exit 1 and one `xsp: expired: ...` line."""
    result = run_xsp("trust", "verify", str(files / "client.pem"), "--anchor",
                     str(files / "both.pem"), "--at", "2099-01-01")
    assert result.returncode == 1
    assert one_error_line(result).startswith("xsp: expired: certificate CN=bwcticlient.webex.com")
    assert result.stdout == ""


def test_cli_server_name_mismatch_exits_1(files: Path) -> None:
    """--purpose server --name other: exit 1, name mismatch."""
    result = run_xsp("trust", "verify", str(files / "server.pem"), "--anchor",
                     str(files / "issuing.pem"), "--purpose", "server", "--name", "10.9.9.9")
    assert result.returncode == 1
    assert one_error_line(result).startswith("xsp: name mismatch: ")


@pytest.mark.parametrize(("extra", "expected"), [
    (["--at", "tomorrow"], "xsp: --at: 'tomorrow' is not an ISO-8601 time"),
    (["--purpose", "server"], "xsp: --purpose server needs --name HOST"),
])
def test_cli_unusable_options_exit_2(files: Path, extra: list[str], expected: str) -> None:
    """Options that cannot be used: exit 2 and one line, before anything is verified."""
    result = run_xsp("trust", "verify", str(files / "client.pem"), "--anchor",
                     str(files / "root.pem"), *extra)
    assert result.returncode == 2
    assert one_error_line(result).startswith(expected)


def test_cli_key_given_as_anchor_exits_2(files: Path) -> None:
    """A private key file as --anchor is refused (exit 2) without printing any of it."""
    result = run_xsp("trust", "verify", str(files / "client.pem"), "--anchor",
                     str(files / "client.key"))
    assert result.returncode == 2
    line = one_error_line(result)
    assert "is a private key" in line and "BEGIN" not in line
