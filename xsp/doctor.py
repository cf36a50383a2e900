"""The readiness check: is this node configured the way Webex needs it?

Checks run inmost to outmost, as the guide orders the procedure. Each finding says
pass or fail, why, and the exact CLI commands that fix it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509

import xsp_trust as trust
from xsp.config.model import CTIServer, Deployment, Node
from xsp.hostport import host_port
from xsp.procedure import (CERT_AUTH, CERTIFICATES, CIPHERS, CLIENT_IDENTITY, CTI_SERVER,
                           PROTOCOLS, RECOMMENDED_CIPHER, TRUSTS, WEBEX_CLIENT_CN)
from xsp.tls.effective import effective, server_key_type

EXPIRY_WARNING = dt.timedelta(days=30)


@dataclass
class Finding:
    check: str
    ok: bool
    why: str
    fix: list[str] = field(default_factory=list)
    warn: bool = False  # passes, but is shown with its fix: allowed, and weaker than it should be


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _secure_interfaces(node: Node) -> list[CTIServer]:
    return [s for s in node.xsp_settings.cti_servers if s.secure and s.client_auth_req]


def check(deployment: Deployment, node_name: str) -> list[Finding]:
    node = deployment.node(node_name)
    cli = node.prompt_name
    findings: list[Finding] = []

    identities = deployment.client_identities
    findings.append(Finding(
        "ClientIdentity holds the Webex client CN",
        WEBEX_CLIENT_CN in identities,
        f"AS ClientIdentity: {', '.join(identities) or 'empty'}",
        [f"AS_CLI{CLIENT_IDENTITY}> add {WEBEX_CLIENT_CN}"]))

    interfaces = _secure_interfaces(node)
    ip = interfaces[0].ip if interfaces else "<Interface IP>"
    findings.append(Finding(
        "a secure CTI interface requires client certificates",
        bool(interfaces),
        (', '.join(host_port(s.ip, s.port) for s in interfaces) if interfaces
         else "no CTIServer entry with Secure and Client Auth Req true"),
        [f"{cli}{CTI_SERVER}> add {ip} 8012 true true true"]))

    for server in interfaces:
        findings.extend(_interface_findings(node, server, cli))
    if not interfaces:
        missing = "no secure CTI interface to check yet"
        findings += [
            Finding("TLS 1.2 is effective on the interface", False, missing,
                    [f"{cli}{PROTOCOLS}> add {ip} TLSv1.2"]),
            Finding("a cipher suite can be negotiated under TLS 1.2", False, missing,
                    [f"{cli}{CIPHERS}> add {ip} {RECOMMENDED_CIPHER}"]),
            Finding("the interface certificate is the partner's, complete and not expiring", False,
                    missing, [f"{cli}{CERTIFICATES}> sslUpdate {ip} keyFile <key file> "
                              f"certificateFile <certificate file> chainFile <chain file>"]),
        ]

    findings.append(_trust_finding(node, cli))

    findings.append(Finding(
        "certificate authentication is allowed (allowClientApp)",
        node.xsp_settings.allow_client_app,
        f"allowClientApp = {str(node.xsp_settings.allow_client_app).lower()}",
        [f"{cli}{CERT_AUTH}> set allowClientApp true"]))

    findings.append(Finding(
        "nothing awaits a restart",
        not node.pending_restart,
        (f"{len(node.pending_restart)} change(s) await a restart, first: {node.pending_restart[0]}"
         if node.pending_restart else "the running configuration is the stored one"),
        ["bwrestart   (in this emulator: emu restart)"]))
    return findings


def _interface_findings(node: Node, server: CTIServer, cli: str) -> list[Finding]:
    from xsp.tls.suites import plan

    findings = []
    eff = effective(node.xsp_settings, server)
    has_12 = "TLSv1.2" in eff.protocols
    findings.append(Finding(
        f"TLS 1.2 is effective on {server.ip}",
        has_12,
        f"effective protocols {', '.join(eff.protocols) or 'none'} (from {eff.protocols_from})",
        [f"{cli}{PROTOCOLS}> add {server.ip} TLSv1.2"]))

    key_type = server_key_type(server)
    suite_plan = plan(["TLSv1.2"], list(eff.ciphers), key_type)
    usable = [s.iana_name for s in suite_plan.suites if s.negotiable]
    findings.append(Finding(
        f"a cipher suite can be negotiated under TLS 1.2 on {server.ip}",
        bool(usable),
        (f"{len(usable)} negotiable, e.g. {usable[0]} (list from {eff.ciphers_from})" if usable
         else f"none of the {len(eff.ciphers)} effective suites (from {eff.ciphers_from}) "
              f"can be negotiated with TLS 1.2 and an {key_type.upper()} key"),
        [f"{cli}{CIPHERS}> add {server.ip} {RECOMMENDED_CIPHER if key_type == 'rsa' else 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'}"]))

    findings.append(_certificate_finding(node, server, cli))
    weak = _weakness_finding(node, server, cli)
    if weak is not None:
        findings.append(weak)
    return findings


def _weakness_finding(node: Node, server: CTIServer, cli: str) -> Finding | None:
    """TLSv1, TLSv1.1 or a suite without encryption, offered: a warning, not a failure,
    since a partner may need them for an old client; what each costs is said plainly."""
    from xsp.tls.effective import plan_for

    suite_plan = plan_for(node.xsp_settings, server)
    if not suite_plan.weaknesses:
        return None
    eff = effective(node.xsp_settings, server)
    weak_protocols = [p for p in suite_plan.protocols if p in ("TLSv1", "TLSv1.1")]
    weak_suites = [w.split(" ", 1)[0] for w in suite_plan.weaknesses if not w.startswith("TLSv")]
    fix = [_delete_command(cli, server, eff.protocols_from, "Protocols", p) for p in weak_protocols]
    fix += [_delete_command(cli, server, eff.ciphers_from, "Ciphers", c) for c in weak_suites]
    return Finding(
        f"no TLSv1, TLSv1.1 or NULL suite is effective on {server.ip}", True,
        f"{'; '.join(suite_plan.weaknesses)}: a client may use it (client certificates are "
        "still checked at full strength)", fix, warn=True)


def _delete_command(cli: str, server: CTIServer, level: str, what: str, name: str) -> str:
    if level == "Interface/CTI/CTIServer/SSLSettings":
        return f"{cli}/{level}/{what}> delete {server.ip} {name}"
    return f"{cli}/{level}/{what}> delete {name}"


def _certificate_finding(node: Node, server: CTIServer, cli: str) -> Finding:
    fix = [f"{cli}{CERTIFICATES}> sslUpdate {server.ip} keyFile <key file> "
           f"certificateFile <certificate file> chainFile <chain file>"]
    name = f"the certificate of {server.ip} is the partner's, complete and not expiring"
    certificate = server.certificate
    if certificate is None:
        return Finding(name, False, "the interface has no server certificate", fix)
    cert = _cert(certificate.cert_pem)
    info = trust.describe(cert)
    if info.self_signed:
        return Finding(name, False, "still the self-signed certificate that CTIServer add created", fix)
    if not certificate.chain_pem.strip():
        return Finding(name, False, f"no chain is installed for CN={info.subject_cn}", fix)
    left = info.not_after - _now()
    if left < EXPIRY_WARNING:
        state = "expired" if left.total_seconds() < 0 else f"expires in {left.days} day(s)"
        return Finding(name, False, f"CN={info.subject_cn} {state} ({info.not_after:%Y-%m-%d})", fix)
    return Finding(name, True, f"CN={info.subject_cn} issued by {info.issuer_cn}, valid until "
                               f"{info.not_after:%Y-%m-%d}, with its chain", fix)


def _trust_finding(node: Node, cli: str) -> Finding:
    name = "the trust anchors hold the Webex CAs, none expired"
    fix = ["xsp split-chain CombinedCertChain2023.txt",
           f"{cli}{TRUSTS}> updateTrust webexclientroot2023 root2023.txt",
           f"{cli}{TRUSTS}> updateTrust webexclientissuing2023 issuing2023.txt"]
    anchors = [(t.alias, _cert(t.cert_pem)) for t in node.xsp_settings.trusts]
    if not anchors:
        return Finding(name, False, "no trust anchor is configured: every client certificate is refused", fix)
    now = _now()
    expired = [alias for alias, cert in anchors if cert.not_valid_after_utc < now]
    if expired:
        return Finding(name, False, f"expired anchor(s): {', '.join(expired)}", fix)
    subjects = {cert.subject for _, cert in anchors}
    incomplete = [alias for alias, cert in anchors
                  if not trust.describe(cert).self_signed and cert.issuer not in subjects]
    roots = [alias for alias, cert in anchors if trust.describe(cert).self_signed]
    if not roots:
        return Finding(name, False, "no root CA among the anchors (both the root and the issuing CA are required)", fix)
    if incomplete:
        return Finding(name, False, f"the issuer of {', '.join(incomplete)} is not among the anchors", fix)
    return Finding(name, True, f"{len(anchors)} anchor(s): {', '.join(a for a, _ in anchors)}", fix)


def render(findings: list[Finding], goal: str = "Webex") -> list[str]:
    lines = []
    for f in findings:
        state = "FAIL" if not f.ok else "WARN" if f.warn else "PASS"
        lines.append(f"[{state}] {f.check}: {f.why}")
        if state != "PASS":
            lines.extend(f"       fix: {command}" for command in f.fix)
    failed = sum(not f.ok for f in findings)
    warned = sum(f.ok and f.warn for f in findings)
    lines.append("")
    if failed:
        lines.append(f"Not ready: {failed} of {len(findings)} check(s) failed.")
    elif warned:
        lines.append(f"Ready for {goal}, with {warned} warning(s).")
    else:
        lines.append(f"Ready for {goal}.")
    return lines


def client_verdict(cert_file: str, anchor_pems: list[str]) -> str | None:
    """What the node's verifier says of the client certificate in ``cert_file`` (with
    the chain after it) against these anchors, when it refuses it; None otherwise."""
    try:
        certs = trust.load_certificates(cert_file)
        leaf, *chain = certs
        anchors = [_cert(pem) for pem in anchor_pems]
        if not anchors:
            return None
        result = trust.verify_chain(leaf, anchors, untrusted=chain, purpose="client")
    except (trust.TrustError, ValueError):
        return None
    return None if result.ok else result.message


async def probe(host: str, port: int, cert: str, key: str, ca: str | None,
                user: str, anchor_pems: list[str] | None = None, *,
                cli: str = "XSP_CLI", interface_ip: str | None = None) -> Finding:
    """A real mTLS handshake and subscription, as Webex would make them. A refusal says
    why in the words of the node's verifier when it is the certificate's."""
    import ssl

    from xsp.webex.client import WebexClient, WebexClientError, tls_context

    name = f"a client with {cert} is accepted and subscribed"
    if ca:
        context = tls_context(cert, key, ca)
    else:
        # Without --ca the server is not verified: the probe is about the client side.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(cert, key)
    try:
        async with WebexClient(host, port, ssl_context=context, request_timeout=5) as client:
            await client.subscribe(user)
            async for event in client.events():
                return Finding(name, True, f"handshake with {host_port(host, port)}, CTI interface "
                               f"protocol, then {event.type} for {user}")
    except WebexClientError as exc:
        why = str(exc)
        verdict = client_verdict(cert, anchor_pems or [])
        if verdict is not None:
            why += f" (the node's verifier: {verdict})"
        return Finding(name, False, why,
                       probe_fix(exc, verdict, cert, user, cli, interface_ip or host))
    return Finding(name, False, "the channel ended before the subscription event", [])


def probe_fix(failure: Exception, verdict: str | None, cert: str, user: str, cli: str,
              interface_ip: str) -> list[str]:
    """The probe's own fix, from what refused it: the other checks can all pass while the
    probe fails (another client certificate, another user, a handshake the settings
    cannot make)."""
    from xsp.webex.client import RequestFailed

    if verdict is not None:
        if verdict.startswith(trust.Reason.UNKNOWN_ISSUER.value):
            issuer = _issuer_of(cert)
            return [f"{cli}{TRUSTS}> updateTrust <alias> <file of the CA {issuer}>"]
        return [f"--cert: a client certificate the node accepts ({cert} cannot pass its check)"]
    if isinstance(failure, RequestFailed):
        if failure.status == 404:
            return [f"AS_CLI> emu adduser {user}"]
        if failure.status in (401, 403):
            subject = _subject_cn_of(cert)
            return [f"AS_CLI{CLIENT_IDENTITY}> add {subject}",
                    f"{cli}{CERT_AUTH}> set allowClientApp true"]
    # A handshake the interface's settings cannot make, or an interface not listening:
    # what the interface offers, and whether it listens, say which.
    return [f"{cli}> emu effective {interface_ip}", f"{cli}> emu status"]


def _issuer_of(cert: str) -> str:
    try:
        return trust.load_certificates(cert)[0].issuer.rfc4514_string()
    except (trust.TrustError, ValueError):
        return "that issued the certificate"


def _subject_cn_of(cert: str) -> str:
    try:
        return trust.describe(trust.load_certificates(cert)[0]).subject_cn or "<client CN>"
    except (trust.TrustError, ValueError):
        return "<client CN>"
