"""Trust anchors (``Trusts``) and interface certificates (``SSLSettings/Certificates``)."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from xsp_cli_contexts.schema import Command
from xsp.cli import render
from xsp.cli.actions import ActionContext, CommandError, action
from xsp.cli.actions.cti import key_file_name, remove_private
from xsp.config.model import Deployment, InterfaceCertificate, Node, TrustAnchor

if TYPE_CHECKING:
    import xsp_trust as trust


@functools.lru_cache(maxsize=4096)
def describe_pem(pem: str) -> "trust.CertInfo":
    """``trust.describe`` of a stored certificate, parsed and checked once per content.

    Listing a thousand anchors would otherwise parse each and verify its signature
    (to say whether it is self-signed) on every ``get``.
    """
    import xsp_trust as trust
    from cryptography import x509
    return trust.describe(x509.load_pem_x509_certificate(pem.encode()))


@action("trust.get")
def trust_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    rows = []
    # The real CLI lists trust anchors alphabetically by alias, whatever the order of adds.
    for anchor in sorted(actx.node.xsp_settings.trusts, key=lambda a: a.alias.lower()):
        info = describe_pem(anchor.cert_pem)
        issuer = info.issuer_cn + ("[self-signed]" if info.self_signed else "")
        rows.append([anchor.alias, info.subject_cn, issuer])
    return render.table(["Alias", "Owner", "Issuer"], rows)


@action("trust.update")
def trust_update(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    import xsp_trust as trust  # cryptography loads on first use, not at shell start-up

    alias, path = values["alias"], values["trustCertificateFile"]
    try:
        certificate = trust.load_single_ca(path)
    except trust.TrustError as exc:
        # Name the file unless the message already does.
        message = str(exc) if path in str(exc) else f"{path}: {exc}"
        raise CommandError(f"Error: {message}") from None
    from cryptography.hazmat.primitives.serialization import Encoding
    pem = certificate.public_bytes(Encoding.PEM).decode()

    warnings = [f"Warning: {w}" for w in trust.anchor_warnings(certificate)]

    def mutate(deployment: Deployment, node: Node) -> list[str]:
        trusts = node.xsp_settings.trusts
        index = next((i for i, t in enumerate(trusts) if t.alias == alias), None)
        if index is None:
            trusts.append(TrustAnchor(alias, pem))
            return warnings
        trusts[index] = TrustAnchor(alias, pem)
        return [f"Trust anchor {alias} already existed: its certificate is replaced.", *warnings]

    return actx.change(command, mutate)


@action("trust.delete")
def trust_delete(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    def mutate(deployment: Deployment, node: Node) -> None:
        existing = next((t for t in node.xsp_settings.trusts if t.alias == values["alias"]), None)
        if existing is None:
            raise CommandError(render.NOT_FOUND)
        node.xsp_settings.trusts.remove(existing)

    return actx.change(command, mutate)


@action("cert.get")
def cert_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    rows: list[list[object]] = []
    for server in actx.node.xsp_settings.cti_servers:
        if server.certificate is None:
            rows.append([server.ip, "none", "", "", ""])
            continue
        info = describe_pem(server.certificate.cert_pem)
        rows.append([server.ip, info.subject_cn, info.issuer_cn,
                     info.not_after.strftime("%Y-%m-%d %H:%M UTC"), info.self_signed])
    return render.table(["Interface IP", "Subject", "Issuer", "Not After", "Self-Signed"], rows)


@action("cert.update")
def cert_update(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    import xsp_trust as trust  # cryptography loads on first use, not at shell start-up

    ip = values["interfaceIp"]
    try:
        credentials = trust.load_key_and_cert(values["keyFile"],
                                              values["certificateFile"],
                                              values["chainFile"])
    except trust.TrustError as exc:
        raise CommandError(f"Error: {exc}") from None
    key_name = actx.store.write_private(
        key_file_name(actx.node_name, ip, credentials.certificate.serial_number), credentials.key_pem)
    replaced: list[str] = []

    def mutate(deployment: Deployment, node: Node) -> list[str]:
        server = node.xsp_settings.cti_server(ip)
        if server is None:
            raise CommandError(render.NOT_FOUND)
        if server.certificate is not None and server.certificate.key_file != key_name:
            replaced.append(server.certificate.key_file)
        server.certificate = InterfaceCertificate(
            cert_pem=credentials.cert_pem.decode(), chain_pem=credentials.chain_pem.decode(),
            key_file=key_name, self_signed=trust.describe(credentials.certificate).self_signed)
        return [f"Warning: {w}" for w in credentials.warnings]

    try:
        lines = actx.change(command, mutate)
    except CommandError:
        remove_private(actx, key_name)
        raise
    for old in replaced:
        remove_private(actx, old)
    return lines
