"""The reference procedure, trust and certificate steps included, through `xsp shell`."""
from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest

import xsp_trust as trust

WARN = "*** Warning: BroadWorks needs to be restarted for the changes to take effect ***"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> trust.DemoPKI:
    """The demo PKI, made once for the module."""
    return trust.make_demo_pki(tmp_path_factory.mktemp("pki"))


def test_whole_xsp_procedure_gives_broadworks_answers(xsp, state, pki, tmp_path):
    split = xsp("split-chain", str(pki.combined_chain), "-o", str(tmp_path))
    assert split.returncode == 0, split.stderr
    root, issuing = tmp_path / "root2023.txt", tmp_path / "issuing2023.txt"
    as_step = xsp("shell", "--state", str(state), "--node", "as1",
                  "-c", "cd /System/ClientIdentity", "-c", "add bwcticlient.webex.com")
    assert as_step.returncode == 0
    procedure = f"""\
        cd /Interface/CTI/CTIServer
        add 127.0.0.1 8012 true true true
        get
        cd /Interface/CTI/CTIServer/SSLSettings/Protocols
        add 127.0.0.1 TLSv1.2
        cd /Interface/CTI/CTIServer/SSLSettings/Ciphers
        add 127.0.0.1 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305
        cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts
        updateTrust webexclientroot2023 {root}
        updateTrust webexclientissuing2023 {issuing}
        get
        cd /System/CommunicationUtility/DefaultSettings/ExternalAuthentication/CertificateAuthentication
        set allowClientApp true
        cd /Interface/CTI/CTIServer/SSLSettings/Certificates
        sslUpdate 127.0.0.1 keyFile {pki.server_key} certificateFile {pki.server_cert} chainFile {pki.server_chain}
        """
    result = xsp("shell", "--state", str(state), input=textwrap.dedent(procedure))
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert textwrap.dedent(f"""\
        XSP_CLI/Interface/CTI/CTIServer> add 127.0.0.1 8012 true true true
        ...Done
        {WARN}
        XSP_CLI/Interface/CTI/CTIServer> get
          Interface IP  Port  Secure  Server Certificate  Client Auth Req
        =================================================================
             127.0.0.1  8012    true                true             true

        1 entry found.

        """) in out
    assert textwrap.dedent("""\
        XSP_CLI/Interface/CTI/CTIServer/SSLSettings/Ciphers> add 127.0.0.1 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305
        Notice: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305 stored as its IANA name TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        ...Done
        """) in out
    assert textwrap.dedent("""\
        XSP_CLI/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts> get
                           Alias                       Owner                              Issuer
        ========================================================================================
          webexclientissuing2023  Internal Private TLS SubCA               Internal Private Root
             webexclientroot2023       Internal Private Root  Internal Private Root[self-signed]

        2 entries found.

        """) in out
    assert f"chainFile {pki.server_chain}\n...Done\n{WARN}\n" in out

    # A new shell sees it all; the interface certificate is the partner's now.
    shown = xsp("shell", "--state", str(state), "-c", "int;cti;ctis;ssl;cert;get")
    row = shown.stdout.splitlines()[3]
    assert row.startswith("     127.0.0.1  localhost  Partner Demo TLS Issuing CA  ")
    assert row.endswith(" UTC        false")
    identities = xsp("shell", "--state", str(state), "--node", "as1", "-c", "sys;clienti;get")
    assert "  bwcticlient.webex.com" in identities.stdout


def test_keys_are_kept_0600_and_the_replaced_key_is_removed(xsp, state, pki):
    xsp("shell", "--state", str(state), "-c", "int;cti;ctis;add 127.0.0.1 8012 true true true")
    keys = list((state / "private").glob("*.key"))
    assert len(keys) == 1
    result = xsp("shell", "--state", str(state), "-c",
                 f"int;cti;ctis;ssl;cert;sslUpdate 127.0.0.1 keyFile {pki.server_key} "
                 f"certificateFile {pki.server_cert} chainFile {pki.server_chain}")
    assert result.returncode == 0, result.stdout
    after = list((state / "private").glob("*.key"))
    assert len(after) == 1 and after != keys
    assert stat.S_IMODE(after[0].stat().st_mode) == 0o600
    assert after[0].read_bytes() == Path(pki.server_key).read_bytes()
    # The key is never printed, and the configuration holds no key material.
    assert "PRIVATE KEY" not in result.stdout
    assert "PRIVATE KEY" not in (state / "config.yaml").read_text()


CERT_REFUSALS = [
    ("updateTrust a {pki.server_key}", "Error: {pki.server_key}: the file holds a private key; updateTrust takes a CA certificate only"),
    ("updateTrust a {pki.server_cert}", "Error: {pki.server_cert} holds CN=localhost, which is not a CA certificate; updateTrust takes a CA certificate"),
    ("updateTrust a {pki.combined_chain}",
     "Error: {pki.combined_chain} holds 2 certificates (CN=Internal Private Root, CN=Internal Private "
     "TLS SubCA); updateTrust takes one CA certificate per alias (split it with: xsp split-chain "
     "{pki.combined_chain})"),
    ("updateTrust a /nonexistent/file.pem", "Error: cannot read /nonexistent/file.pem: No such file or directory"),
]


@pytest.mark.parametrize("line", [r[0] for r in CERT_REFUSALS])
def test_bad_trust_files_are_refused_and_change_nothing(xsp, state, pki, line):
    xsp("shell", "--state", str(state), "-c", "get")
    before = (state / "config.yaml").read_bytes()
    expected = dict(CERT_REFUSALS)[line]
    line = line.format(pki=pki)
    result = xsp("shell", "--state", str(state), "-c",
                 f"cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts;{line}")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == expected.format(pki=pki)
    assert (state / "config.yaml").read_bytes() == before


def test_sslupdate_with_a_key_of_another_certificate_is_refused(xsp, state, pki):
    xsp("shell", "--state", str(state), "-c", "int;cti;ctis;add 127.0.0.1 8012 true true true")
    before = (state / "config.yaml").read_bytes()
    keys = sorted((state / "private").iterdir())
    result = xsp("shell", "--state", str(state), "-c",
                 f"int;cti;ctis;ssl;cert;sslUpdate 127.0.0.1 keyFile {pki.webex_client_key} "
                 f"certificateFile {pki.server_cert} chainFile {pki.server_chain}")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"Error: the key in {pki.webex_client_key} does not match the certificate CN=localhost in {pki.server_cert}")
    assert (state / "config.yaml").read_bytes() == before
    assert sorted((state / "private").iterdir()) == keys


def test_sslupdate_warns_about_a_certificate_expiring_within_30_days(xsp, state, tmp_path):
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc)
    root = trust.CertificateAuthority.new_root("Soon Root")
    issuing = root.new_intermediate("Soon Issuing CA")
    server = issuing.issue_server("xsp.example.com", ips=["127.0.0.1"],
                                  not_before=now - dt.timedelta(days=1),
                                  not_after=now + dt.timedelta(days=10))
    server.write(tmp_path / "s.pem", tmp_path / "s.key", tmp_path / "chain.pem")
    xsp("shell", "--state", str(state), "-c", "int;cti;ctis;add 127.0.0.1 8012 true true true")
    result = xsp("shell", "--state", str(state), "-c",
                 f"int;cti;ctis;ssl;cert;sslUpdate 127.0.0.1 keyFile {tmp_path / 's.key'} "
                 f"certificateFile {tmp_path / 's.pem'} chainFile {tmp_path / 'chain.pem'}")
    assert result.returncode == 0, result.stdout
    answer = result.stdout.splitlines()[1:]
    assert answer[0].startswith("Warning: ") and "expires" in answer[0] and "days" in answer[0]
    assert answer[-2:] == ["...Done", WARN]


@pytest.mark.parametrize("when, said", [
    ("expired", "expired on {end}; every client certificate it vouches for is refused"),
    ("not yet valid", "is not valid before {start} UTC; until then every client certificate "
                      "it vouches for is refused"),
])
def test_update_trust_warns_about_an_anchor_that_is_not_valid_now(xsp, state, tmp_path, when, said):
    """The anchor is stored (a CA change may be prepared ahead), with a warning saying
    what it means for the clients, as sslUpdate warns about an expiring certificate."""
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    day = dt.timedelta(days=1)
    start, end = ((now - 400 * day, now - 2 * day) if when == "expired"
                  else (now + 5 * day, now + 400 * day))
    root = trust.CertificateAuthority.new_root("Odd Root", not_before=start, not_after=end)
    (tmp_path / "odd.pem").write_bytes(root.cert_pem)
    result = xsp("shell", "--state", str(state), "-c",
                 f"cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts;"
                 f"updateTrust oddroot {tmp_path / 'odd.pem'};get")
    assert result.returncode == 0, result.stdout
    answer = result.stdout.splitlines()
    expected = said.format(end=f"{end:%Y-%m-%d}", start=f"{start:%Y-%m-%d %H:%M}")
    assert answer[1:4] == [f"Warning: trust anchor CN=Odd Root {expected}", "...Done", WARN]
    assert any(line.split()[:1] == ["oddroot"] for line in answer[4:]), answer
