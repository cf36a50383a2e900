"""Splitting CA bundles into root and issuing CA files: every shape people have, every refusal."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import xsp_trust as trust
from _trust_support import one_error_line, pem, pem_bundle, pkcs7_bundle, run_xsp, webex_set
from xsp_trust import CertificateAuthority, TrustError, split_bundle

UTC = dt.timezone.utc


def written(directory: Path) -> dict[str, x509.Certificate]:
    """The certificates in each file of ``directory``, checking each holds exactly one in LF PEM."""
    result = {}
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        assert b"\r" not in data, path
        assert data.count(b"-----BEGIN CERTIFICATE-----") == 1, path
        result[path.name] = x509.load_pem_x509_certificate(data)
    return result


def bundle_shapes() -> dict[str, bytes]:
    root, issuing = webex_set(1)
    pair = [root.certificate, issuing.certificate]
    return {
        "lf": pem_bundle(pair),
        "crlf": pem_bundle(pair, crlf=True),
        "junk text around blocks": pem_bundle(pair, junk=True),
        "crlf and junk": pem_bundle(pair, crlf=True, junk=True),
        "issuing first": pem_bundle(pair[::-1], junk=True),
        "duplicates": pem_bundle([issuing.certificate, root.certificate, issuing.certificate,
                                  root.certificate]),
        "pkcs7 pem": pkcs7_bundle(pair, serialization.Encoding.PEM),
        "pkcs7 der": pkcs7_bundle(pair[::-1], serialization.Encoding.DER),
        "indented blocks": b"".join(b"    " + line + b"\n"
                                    for line in pem_bundle(pair).splitlines()),
    }


@pytest.mark.parametrize("shape", list(bundle_shapes()))
def test_every_bundle_shape_gives_the_root_and_the_issuing_file(shape: str, tmp_path: Path) -> None:
    """Each shape of a one-set bundle writes root2023.txt = the root and issuing2023.txt = the issuing CA."""
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(bundle_shapes()[shape])
    out = tmp_path / "out"
    split_bundle(source, out)
    root, issuing = webex_set(1)
    assert written(out) == {"root2023.txt": root.certificate,
                            "issuing2023.txt": issuing.certificate}


def test_single_der_certificate_is_read(tmp_path: Path) -> None:
    """A lone DER root is read and written as root<year>.txt in PEM."""
    root, _ = webex_set(1)
    source = tmp_path / "webex-root-2021.der"
    source.write_bytes(root.certificate.public_bytes(serialization.Encoding.DER))
    split_bundle(source, tmp_path / "out")
    assert written(tmp_path / "out") == {"root2021.txt": root.certificate}


def test_two_sets_are_paired_by_signature_not_by_name_or_position(tmp_path: Path) -> None:
    """Two roots with the same name and two issuing CAs, interleaved: each -N pair verifies."""
    root1, issuing1 = webex_set(1)
    root2, issuing2 = webex_set(2)
    assert root1.certificate.subject == root2.certificate.subject
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(pem_bundle([issuing2.certificate, root1.certificate,
                                   issuing1.certificate, root2.certificate], crlf=True, junk=True))
    plan, _ = split_bundle(source, tmp_path / "out")
    assert written(tmp_path / "out") == {
        "root2023-1.txt": root1.certificate, "issuing2023-1.txt": issuing1.certificate,
        "root2023-2.txt": root2.certificate, "issuing2023-2.txt": issuing2.certificate}
    assert [f.alias for f in plan.files] == [
        "webexclientroot2023-1", "webexclientissuing2023-1",
        "webexclientroot2023-2", "webexclientissuing2023-2"]


def test_several_issuing_cas_under_one_root_get_letters(tmp_path: Path) -> None:
    """Two issuing CAs signed by the one root: issuing2023a.txt and issuing2023b.txt, in file order."""
    root, issuing = webex_set(1)
    other = root.new_intermediate("Internal Private TLS SubCA 2")
    source = tmp_path / "bundle2023.pem"
    source.write_bytes(pem_bundle([other.certificate, root.certificate, issuing.certificate]))
    split_bundle(source, tmp_path / "out")
    assert written(tmp_path / "out") == {"root2023.txt": root.certificate,
                                         "issuing2023a.txt": other.certificate,
                                         "issuing2023b.txt": issuing.certificate}


def test_year_comes_from_the_root_when_the_name_has_none(tmp_path: Path) -> None:
    """Without digits in the file name the year is the root's not_before year; --year overrides both."""
    root = CertificateAuthority.new_root("Old Root",
                                         not_before=dt.datetime(2019, 5, 1, tzinfo=UTC),
                                         not_after=dt.datetime(2039, 5, 1, tzinfo=UTC))
    issuing = root.new_intermediate("Old Issuing")
    source = tmp_path / "cachain.pem"
    source.write_bytes(pem_bundle([root.certificate, issuing.certificate]))
    split_bundle(source, tmp_path / "a")
    assert sorted(os.listdir(tmp_path / "a")) == ["issuing2019.txt", "root2019.txt"]
    split_bundle(source, tmp_path / "b", year=2031)
    assert sorted(os.listdir(tmp_path / "b")) == ["issuing2031.txt", "root2031.txt"]


def test_a_leaf_in_the_bundle_is_left_out_and_said_so(tmp_path: Path) -> None:
    """A full chain with its leaf: the leaf is not written and the plan says why."""
    root, issuing = webex_set(1)
    leaf = issuing.issue_client("bwcticlient.webex.com")
    source = tmp_path / "fullchain2023.pem"
    source.write_bytes(pem_bundle([leaf.certificate, issuing.certificate, root.certificate]))
    plan, _ = split_bundle(source, tmp_path / "out")
    assert written(tmp_path / "out") == {"root2023.txt": root.certificate,
                                         "issuing2023.txt": issuing.certificate}
    assert plan.left_out == ("CN=bwcticlient.webex.com: a leaf certificate, not a CA; "
                             "trust anchors are CA certificates",)


def test_an_issuing_ca_without_its_root_is_written_with_a_note(tmp_path: Path) -> None:
    """An issuing CA alone is still written (a Java trust store takes it); a note says the root is absent."""
    _, issuing = webex_set(1)
    source = tmp_path / "issuing-only-2023.pem"
    source.write_bytes(pem(issuing.certificate))
    plan, _ = split_bundle(source, tmp_path / "out")
    assert written(tmp_path / "out") == {"issuing2023.txt": issuing.certificate}
    assert plan.notes == ("CN=Internal Private TLS SubCA: the root that signed it "
                          "(CN=Internal Private Root) is not in the bundle",)


def test_existing_files_are_replaced(tmp_path: Path) -> None:
    """Splitting into a directory that already has root2023.txt replaces it."""
    root, issuing = webex_set(1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "root2023.txt").write_text("stale")
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(pem_bundle([root.certificate, issuing.certificate]))
    split_bundle(source, out)
    assert written(out)["root2023.txt"] == root.certificate


# --- refusals -------------------------------------------------------------------------

def _good_pem() -> bytes:
    root, issuing = webex_set(1)
    return pem_bundle([root.certificate, issuing.certificate])


def _truncated_at_end() -> bytes:
    data = _good_pem()
    return data[: data.rindex(b"-----END")]


def _corrupt_base64() -> bytes:
    lines = _good_pem().split(b"\n")
    lines[3] = b"!!!! not base64 !!!!"
    return b"\n".join(lines)


def _der_cut_short() -> bytes:
    lines = _good_pem().split(b"\n")
    # Four lines gone from the middle of block 1: still valid base64, no longer valid DER.
    return b"\n".join(lines[:5] + lines[9:])


def _with_private_key() -> bytes:
    return _good_pem() + webex_set(1)[1].key_pem


def _root_lines() -> int:
    return len(pem(webex_set(1)[0].certificate).splitlines())


# Line numbers depend on the certificates' sizes, so they are counted, not written in.
REFUSALS: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "CombinedCertChain2023.txt is empty"),
    "blank lines": (b"\r\n  \n\t\n", "CombinedCertChain2023.txt is empty"),
    "text only": (b"Download failed, please retry.\n",
                  "CombinedCertChain2023.txt holds no certificate "
                  "(no -----BEGIN CERTIFICATE----- block in it)"),
    "other pem only": (b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                       b"-----END CERTIFICATE REQUEST-----\n",
                       "CombinedCertChain2023.txt holds no certificate "
                       "(found CERTIFICATE REQUEST at line 1)"),
    "truncated at end": (_truncated_at_end(),
                         f"block 2 (line {_root_lines() + 1}) has no END CERTIFICATE line; "
                         "the file is truncated"),
    "block cut before next": (_good_pem().replace(b"-----END CERTIFICATE-----\n", b"", 1),
                              "block 1 (line 1) has no END CERTIFICATE line before the next "
                              f"block at line {_root_lines()}; the block is truncated"),
    "end without begin": (_good_pem()[_good_pem().index(b"\n") + 1:],
                          f"line {_root_lines() - 1} ends a CERTIFICATE block that never began"),
    "corrupt base64": (_corrupt_base64(),
                       "block 1 (line 1): the base64 text of the CERTIFICATE is corrupt"),
    "der cut short": (_der_cut_short(),
                      "block 1 (line 1) is not a readable certificate (truncated or corrupt)"),
    "private key": (_with_private_key(),
                    f"block 3 (line {len(_good_pem().splitlines()) + 1}) is a private key "
                    "(PRIVATE KEY); a certificate file must not hold one"),
    "binary garbage": (bytes(range(256)) * 4,
                       "is not a certificate file: neither PEM text, a DER certificate nor "
                       "a PKCS#7 bundle"),
    "der garbage": (b"\x30\x82\x01\x00" + b"\x01" * 300,
                    "is binary data that is neither a DER certificate nor a PKCS#7 bundle"),
    "huge": (b"#" * (1024 * 1024 + 1), "is larger than 1 MiB"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_bundles_are_refused_with_their_reason_and_nothing_is_written(
        case: str, tmp_path: Path) -> None:
    """Each damaged bundle raises TrustError naming what is wrong, and no output appears."""
    data, expected = REFUSALS[case]
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(data)
    out = tmp_path / "out"
    with pytest.raises(TrustError) as caught:
        split_bundle(source, out)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not out.exists()


def test_private_key_material_never_appears_in_the_refusal(tmp_path: Path) -> None:
    """The refusal of a bundle holding a key quotes no line of the key."""
    source = tmp_path / "b.pem"
    source.write_bytes(_with_private_key())
    with pytest.raises(TrustError) as caught:
        split_bundle(source, tmp_path / "out")
    key_lines = webex_set(1)[1].key_pem.decode().splitlines()[1:-1]
    assert not any(line in str(caught.value) for line in key_lines)


def test_only_leaf_certificates_is_refused(tmp_path: Path) -> None:
    """A bundle with no CA at all is refused: trust anchors are CAs."""
    leaf = webex_set(1)[1].issue_client("bwcticlient.webex.com")
    source = tmp_path / "leaf.pem"
    source.write_bytes(leaf.cert_pem)
    with pytest.raises(TrustError, match="holds no CA certificate, only CN=bwcticlient.webex.com"):
        split_bundle(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_and_directory_inputs_are_refused(tmp_path: Path) -> None:
    """A path that does not exist or is a directory: 'cannot read' with the system's reason."""
    with pytest.raises(TrustError, match="cannot read .*nope.pem: No such file or directory"):
        split_bundle(tmp_path / "nope.pem", tmp_path / "out")
    with pytest.raises(TrustError, match="is not a regular file"):
        split_bundle(tmp_path, tmp_path / "out")


def test_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """-o naming a regular file (or a path beneath one) is refused before anything is written."""
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(_good_pem())
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        with pytest.raises(TrustError, match="is not a directory"):
            split_bundle(source, out)
    assert sorted(os.listdir(tmp_path)) == ["CombinedCertChain2023.txt", "afile"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_read_only_output_directory_is_refused(tmp_path: Path) -> None:
    """An existing directory without write permission is refused and left empty."""
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(_good_pem())
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(TrustError, match="is not writable"):
            split_bundle(source, out)
        assert os.listdir(out) == []
    finally:
        out.chmod(0o755)


# --- the command ----------------------------------------------------------------------

def test_cli_prints_the_table_and_the_update_trust_commands(tmp_path: Path) -> None:
    """`xsp split-chain FILE -o DIR`: exit 0, a row per file with CNs and fingerprint, then updateTrust lines."""
    root, issuing = webex_set(1)
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(pem_bundle([root.certificate, issuing.certificate], crlf=True, junk=True))
    result = run_xsp("split-chain", str(source), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = (tmp_path / "out").resolve()
    lines = result.stdout.splitlines()
    assert lines[0] == f"Wrote 2 files to {out}:"
    root_row = next(line for line in lines if line.strip().startswith("root2023.txt"))
    assert root_row.split()[1:] == ["Internal", "Private", "Root", "Internal", "Private", "Root",
                                    "yes", root.certificate.not_valid_after_utc.strftime("%Y-%m-%d"),
                                    trust.describe(root.certificate).sha256_colons]
    issuing_row = next(line for line in lines if line.strip().startswith("issuing2023.txt"))
    assert "Internal Private TLS SubCA  Internal Private Root  no" in issuing_row
    assert lines[-2:] == [
        "XSP_CLI/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts> "
        f"updateTrust webexclientroot2023 {out}/root2023.txt",
        "XSP_CLI/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts> "
        f"updateTrust webexclientissuing2023 {out}/issuing2023.txt"]


def test_cli_default_output_is_the_current_directory(tmp_path: Path) -> None:
    """Without -o the files land in the directory the command runs in."""
    source = tmp_path / "in" / "CombinedCertChain2023.txt"
    source.parent.mkdir()
    source.write_bytes(_good_pem())
    work = tmp_path / "work"
    work.mkdir()
    result = run_xsp("split-chain", str(source), cwd=work)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(work)) == ["issuing2023.txt", "root2023.txt"]


@pytest.mark.parametrize("case", ["empty", "private key", "truncated at end"])
def test_cli_refusal_is_one_line_and_writes_nothing(case: str, tmp_path: Path) -> None:
    """A refused bundle: exit 1, one `xsp: ` line on stderr ending '(nothing was written)', no files."""
    data, expected = REFUSALS[case]
    source = tmp_path / "CombinedCertChain2023.txt"
    source.write_bytes(data)
    result = run_xsp("split-chain", str(source), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    line = one_error_line(result)
    assert expected in line and line.endswith("(nothing was written)")
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_cli_missing_file(tmp_path: Path) -> None:
    """A missing bundle: exit 1 and the system's reason in one line."""
    result = run_xsp("split-chain", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o"))
    assert result.returncode == 1
    assert one_error_line(result) == (f"xsp: cannot read {tmp_path}/missing.txt: "
                                      "No such file or directory (nothing was written)")


def test_a_bundle_named_like_an_output_file_is_not_overwritten(tmp_path: Path) -> None:
    """A bundle called root2023.txt split into its own directory is refused, not replaced."""
    source = tmp_path / "root2023.txt"
    source.write_bytes(_good_pem())
    with pytest.raises(TrustError, match="would replace the bundle .*root2023.txt itself"):
        split_bundle(source, tmp_path)
    assert source.read_bytes() == _good_pem()
    assert os.listdir(tmp_path) == ["root2023.txt"]
