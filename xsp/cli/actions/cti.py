"""``Interface/CTI/CTIServer``: the CTI listeners of an XSP|ADP."""
from __future__ import annotations

import contextlib
from typing import Any

from xsp_cli_contexts.schema import Command
from xsp.cli import render
from xsp.cli.actions import ActionContext, CommandError, action
from xsp.config.model import CTIServer, Deployment, InterfaceCertificate, Node

HEADERS = ("Interface IP", "Port", "Secure", "Server Certificate", "Client Auth Req")


def key_file_name(node_name: str, ip: str, serial: int) -> str:
    return f"{node_name}-{ip.replace(':', '_')}-{serial:x}.key"


@action("cti.get")
def cti_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    return render.table(HEADERS, [[s.ip, s.port, s.secure, s.server_certificate, s.client_auth_req]
                                  for s in actx.node.xsp_settings.cti_servers])


@action("cti.add")
def cti_add(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    import xsp_trust as trust  # cryptography loads on first use, not at shell start-up

    ip, secure = values["interfaceIp"], values["secure"]
    if not secure and (values["serverCertificate"] or values["clientAuthReq"]):
        raise CommandError("Error: serverCertificate and clientAuthReq need secure true "
                           "(an interface without TLS has neither)")
    if actx.node.xsp_settings.cti_server(ip) is not None:
        raise CommandError(render.ALREADY_PRESENT)
    certificate = None
    if secure:
        # As on a real XSP, a secure interface starts with a self-signed certificate.
        issued = trust.self_signed_server(ip, ips=[ip])
        key_name = actx.store.write_private(
            key_file_name(actx.node_name, ip, issued.certificate.serial_number), issued.key_pem)
        certificate = InterfaceCertificate(cert_pem=issued.cert_pem.decode(), key_file=key_name,
                                           self_signed=True)

    def mutate(deployment: Deployment, node: Node) -> None:
        if node.xsp_settings.cti_server(ip) is not None:
            raise CommandError(render.ALREADY_PRESENT)
        node.xsp_settings.cti_servers.append(CTIServer(
            ip=ip, port=values["port"], secure=secure,
            server_certificate=values["serverCertificate"],
            client_auth_req=values["clientAuthReq"], certificate=certificate))

    try:
        return actx.change(command, mutate)
    except CommandError:
        if certificate is not None:
            remove_private(actx, certificate.key_file)
        raise


@action("cti.delete")
def cti_delete(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    removed: list[CTIServer] = []

    def mutate(deployment: Deployment, node: Node) -> None:
        server = node.xsp_settings.cti_server(values["interfaceIp"])
        if server is None:
            raise CommandError(render.NOT_FOUND)
        node.xsp_settings.cti_servers.remove(server)
        removed.append(server)

    lines = actx.change(command, mutate)
    # The key goes only once the configuration no longer names it.
    for server in removed:
        if server.certificate is not None:
            remove_private(actx, server.certificate.key_file)
    return lines


def remove_private(actx: ActionContext, relative: str) -> None:
    if relative:
        with contextlib.suppress(FileNotFoundError):
            actx.store.resolve(relative).unlink()
