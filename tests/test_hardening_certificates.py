"""Damaged and wrong certificate files, for every command and utility that reads one:
``updateTrust``, ``sslUpdate`` (key, certificate and chain), ``xsp split-chain`` and
``xsp trust verify`` (leaf, anchor, untrusted), and the ``trust`` functions behind them.
Each refusal is exactly one line with the documented prefix, and nothing is changed or
written.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import xsp_trust as trust
from _hardening_support import (CertMaterial, RefusingControl, certificate_with_name, child_env,
                                configure_webex_state, copy_state, make_cert_material,
                                snapshot, xsp_command)
from xsp.cli.engine import Engine

TRUSTS = "/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts"
CERTIFICATES = "/Interface/CTI/CTIServer/SSLSettings/Certificates"


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> CertMaterial:
    """Certificate files good and bad, made once for the module."""
    return make_cert_material(tmp_path_factory.mktemp("material"))


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state configured the Webex way, copied by each test that changes it."""
    store, _ = configure_webex_state(tmp_path_factory.mktemp("configured"), 8012)
    return store.dir


@pytest.fixture
def engine(configured: Path, tmp_path: Path) -> Engine:
    """An XSP engine on a fresh copy of ``configured``; it never starts a node."""
    return Engine(copy_state(configured, tmp_path / "state"), "xsp1", control=RefusingControl())


BAD = sorted([
    "truncated PEM (cut in the middle)", "truncated PEM (END line lost)",
    "PEM with a hole in its base64", "truncated DER", "binary garbage",
    "garbage behind a DER header", "NUL bytes", "a private key",
    "a certificate signing request (PEM)", "a certificate signing request (DER)",
    "a CRL (PEM)", "a CRL (DER)", "empty", "blank lines only", "text without a certificate",
    "a huge file (> 1 MiB)", "a directory instead of a file", "a file that does not exist"])
# An empty chainFile is documented as "no chain" (accepted with a warning), and a private
# key is what keyFile takes: those two are not refusals in those two places.
CHAIN_MAY_BE_EMPTY = {"empty", "blank lines only"}


def _bad_files_for(role: str) -> list[str]:
    if role == "keyFile":
        return [b for b in BAD if b != "a private key"] + ["a certificate"]
    if role == "chainFile":
        return [b for b in BAD if b not in CHAIN_MAY_BE_EMPTY]
    return BAD


def _bad(material: CertMaterial, what: str) -> Path:
    return material.pki.server_cert if what == "a certificate" else material.bad[what]


def _refused_without_a_trace(engine: Engine, line: str) -> str:
    before = snapshot(engine.store.dir)
    result = engine.execute(line)
    assert not result.ok, result.lines
    assert len(result.lines) == 1, result.lines
    [refusal] = result.lines
    assert refusal.startswith("Error: ") and "internal error" not in refusal, refusal
    assert len(refusal.splitlines()) == 1, f"the refusal spans lines: {refusal!r}"
    assert snapshot(engine.store.dir) == before, "a refused command changed the state"
    return refusal


# -- the CLI commands ----------------------------------------------------------------------

@pytest.mark.parametrize("what", BAD)
def test_update_trust_refuses_a_bad_file_in_one_line_and_changes_nothing(
        engine: Engine, material: CertMaterial, what: str) -> None:
    """updateTrust with a damaged, wrong-type, empty, huge, directory or missing file."""
    path = _bad(material, what)
    refusal = _refused_without_a_trace(engine, f"cd {TRUSTS};updateTrust newalias {path}")
    assert str(path) in refusal


@pytest.mark.parametrize("role,what", [(role, what)
                                       for role in ("keyFile", "certificateFile", "chainFile")
                                       for what in _bad_files_for(role)])
def test_ssl_update_refuses_a_bad_file_in_one_line_and_changes_nothing(
        engine: Engine, material: CertMaterial, role: str, what: str) -> None:
    """sslUpdate with one bad file among good ones: one line, no key left in private/."""
    files = {"keyFile": material.pki.server_key, "certificateFile": material.pki.server_cert,
             "chainFile": material.pki.server_chain}
    files[role] = _bad(material, what)
    arguments = " ".join(f"{name} {path}" for name, path in files.items())
    _refused_without_a_trace(engine, f"cd {CERTIFICATES};sslUpdate 127.0.0.1 {arguments}")


def test_ssl_update_with_good_files_is_accepted(engine: Engine, material: CertMaterial) -> None:
    """The control case of the two tests above: the same line with good files succeeds."""
    pki = material.pki
    result = engine.execute(f"cd {CERTIFICATES};sslUpdate 127.0.0.1 keyFile {pki.server_key} "
                            f"certificateFile {pki.server_cert} chainFile {pki.server_chain}")
    assert result.ok and "...Done" in result.lines, result.lines


@pytest.mark.parametrize("command,what", [
    ("updateTrust", "binary garbage"), ("updateTrust", "a huge file (> 1 MiB)"),
    ("updateTrust", "a directory instead of a file"), ("sslUpdate", "a CRL (PEM)"),
    ("sslUpdate", "truncated PEM (END line lost)")])
def test_the_shell_prints_the_command_and_one_refusal_line(
        configured: Path, material: CertMaterial, tmp_path: Path, command: str, what: str) -> None:
    """Through `xsp shell -c`: the transcript is the prompt with the command, then one
    `Error:` line; exit status 1, nothing on stderr, configuration and keys untouched."""
    state = copy_state(configured, tmp_path / "state").dir
    pki, bad = material.pki, _bad(material, what)
    if command == "updateTrust":
        line = f"cd {TRUSTS};updateTrust newalias {bad}"
    else:
        line = (f"cd {CERTIFICATES};sslUpdate 127.0.0.1 keyFile {pki.server_key} "
                f"certificateFile {bad} chainFile {pki.server_chain}")
    kept = {name: data for name, data in snapshot(state).items() if name != "xsp.log"}
    result = _xsp("shell", "--state", str(state), "-c", line, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "")
    prompt, *answer = result.stdout.splitlines()
    assert prompt == f"XSP_CLI> {line}"
    assert len(answer) == 1 and answer[0].startswith("Error: "), answer
    assert {n: d for n, d in snapshot(state).items() if n != "xsp.log"} == kept


# -- the utilities, as processes -------------------------------------------------------------

def _xsp(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(xsp_command(*args), capture_output=True, text=True, cwd=cwd,
                          env=child_env(), timeout=60)


def _one_line_failure(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("xsp: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("what", BAD)
def test_split_chain_refuses_a_bad_bundle_in_one_line_and_writes_nothing(
        material: CertMaterial, tmp_path: Path, what: str) -> None:
    """xsp split-chain: exit 1, one `xsp:` line, the output directory never made."""
    out = tmp_path / "out"
    result = _xsp("split-chain", str(_bad(material, what)), "-o", str(out), cwd=tmp_path)
    line = _one_line_failure(result, 1)
    assert line.endswith("(nothing was written)")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("position", ["leaf", "anchor", "untrusted"])
@pytest.mark.parametrize("what", BAD)
def test_trust_verify_refuses_a_bad_file_in_one_line(
        material: CertMaterial, tmp_path: Path, what: str, position: str) -> None:
    """xsp trust verify: exit 2 (a file cannot be used), one `xsp:` line, whatever the
    bad file's place on the command line."""
    pki, bad = material.pki, str(_bad(material, what))
    files = {"leaf": str(pki.server_cert), "anchor": str(pki.partner_ca), "untrusted": str(pki.server_chain)}
    files[position] = bad
    result = _xsp("trust", "verify", files["leaf"], "--anchor", files["anchor"],
                  "--untrusted", files["untrusted"], "--purpose", "server", "--name", "127.0.0.1",
                  cwd=tmp_path)
    _one_line_failure(result, 2)
    assert list(tmp_path.iterdir()) == []


def test_trust_verify_with_good_files_says_ok(material: CertMaterial, tmp_path: Path) -> None:
    """The control case: the same command line with good files verifies."""
    pki = material.pki
    result = _xsp("trust", "verify", str(pki.server_cert), "--anchor", str(pki.partner_ca),
                  "--untrusted", str(pki.server_chain), "--purpose", "server", "--name",
                  "127.0.0.1", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("OK:"), result


# -- the library functions behind them ---------------------------------------------------------

def test_the_bad_file_list_covers_every_bad_file(material: CertMaterial) -> None:
    """The parameter lists above name every file make_cert_material writes."""
    assert sorted(material.bad) == BAD


READERS = ("load_single_ca", "load_certificates", "load_private_key")
VALID_PAIRS = {("load_private_key", "a private key"), ("load_certificates", "a certificate")}


@pytest.mark.parametrize("reader,what", [(r, w) for r in READERS for w in BAD + ["a certificate"]
                                         if (r, w) not in VALID_PAIRS])
def test_trust_readers_raise_one_line_trust_errors(material: CertMaterial, reader: str,
                                                   what: str) -> None:
    """trust.load_single_ca / load_certificates / load_private_key: a TrustError whose
    message is one line, for every file that is not what the reader takes."""
    with pytest.raises(trust.TrustError) as caught:
        getattr(trust, reader)(_bad(material, what))
    assert "\n" not in str(caught.value) and str(caught.value)


@pytest.mark.parametrize("role", ["key", "cert", "chain"])
@pytest.mark.parametrize("what", ["truncated PEM (END line lost)", "binary garbage",
                                  "a CRL (PEM)", "a huge file (> 1 MiB)",
                                  "a directory instead of a file"])
def test_load_key_and_cert_raises_one_line_trust_errors(material: CertMaterial, role: str,
                                                        what: str) -> None:
    """trust.load_key_and_cert (what sslUpdate calls) with one bad file of three."""
    pki = material.pki
    files = {"key": pki.server_key, "cert": pki.server_cert, "chain": pki.server_chain}
    files[role] = material.bad[what]
    with pytest.raises(trust.TrustError) as caught:
        trust.load_key_and_cert(files["key"], files["cert"], files["chain"])
    assert "\n" not in str(caught.value)


# -- defects found here, pinned with the input that showed them ------------------------------

@pytest.mark.parametrize("as_ca", [False, True], ids=["leaf refused as not a CA", "two certificates"])
def test_a_newline_in_a_certificate_name_cannot_split_the_refusal(
        engine: Engine, tmp_path: Path, as_ca: bool) -> None:
    """A CN of "x\\n...Done" must not print a line that reads like an acknowledgement."""
    first = certificate_with_name(tmp_path, "evil\n...Done", ca=as_ca)
    path = first
    if as_ca:
        second = certificate_with_name(tmp_path, "other\n...Done", ca=True)
        path = tmp_path / "two.pem"
        path.write_bytes(first.read_bytes() + second.read_bytes())
    _refused_without_a_trace(engine, f"cd {TRUSTS};updateTrust newalias {path}")


def test_a_newline_in_a_certificate_name_cannot_split_trust_verify(
        material: CertMaterial, tmp_path: Path) -> None:
    """xsp trust verify names an untrusted certificate in one line whatever its CN holds."""
    leaf = certificate_with_name(tmp_path, "evil\nOK: forged", ca=False)
    result = _xsp("trust", "verify", str(leaf), "--anchor", str(material.pki.partner_ca),
                  cwd=tmp_path)
    _one_line_failure(result, 1)


def test_a_fifo_instead_of_a_file_is_refused(tmp_path: Path) -> None:
    """A named pipe given as the bundle is refused at once rather than waited on."""
    fifo = tmp_path / "bundle.pem"
    os.mkfifo(fifo)
    result = subprocess.run(xsp_command("split-chain", str(fifo), "-o", str(tmp_path / "out")),
                            capture_output=True, text=True, env=child_env(), timeout=3)
    _one_line_failure(result, 1)
