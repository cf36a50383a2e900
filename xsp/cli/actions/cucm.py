"""What the CUCM platform commands do: cluster security mode, the CTL file, TLS minimum
version and the node's own certificates.

The answers follow what Cisco's guides print for these commands where they show it;
the rest is kept short and is the emulator's own (the README says which).
"""
from __future__ import annotations

from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from xsp_cli_contexts.schema import Command
from xsp.cli.actions import ActionContext, CommandError, action
from xsp.config.cucm import CertificateName, CucmSettings
from xsp.config.model import Deployment, Node
from xsp.config.store import ConfigFileError
from xsp.cucm.ctlshow import ctl_report
from xsp.cucm.platform import ctl_path, make_certificate, write_ctl

MODE_NAMES = {0: "Non Secure Mode", 1: "Mixed Mode"}


def cucm_change(actx: ActionContext, command: Command,
                mutate: Callable[[Deployment, Node, CucmSettings], list[str] | None],
                restart_note: str | None = None) -> list[str]:
    """Apply ``mutate`` and save; a change the running services see only after a restart
    is recorded for ``emu restart`` and says so."""
    try:
        with actx.store.edit() as deployment:
            node = deployment.node(actx.node_name)
            lines = mutate(deployment, node, node.cucm_settings) or []
            if command.restart:
                node.pending_restart.append(f"{actx.context_path}> {actx.line}")
    except ConfigFileError as exc:
        raise CommandError(f"Error: {exc}") from None
    if command.restart and restart_note:
        lines = [*lines, restart_note]
    return lines


EMU_RESTART = "(emu restart restarts the emulated services)"


# Checks made before the real CLI's question: a command that cannot run says so at once
# (raising), or answers without asking (returning lines), instead of asking in vain.
PRECHECKS: dict[str, Callable[[ActionContext, Command, dict[str, Any]], list[str] | None]] = {}


def _already(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str] | None:
    mode = command.options["mode"]
    if actx.node.cucm_settings.cluster_security_mode == mode:
        return [f"The cluster is already in {MODE_NAMES[mode]}; nothing was changed."]
    return None


def _ctl_exists(actx: ActionContext, command: Command, values: dict[str, Any]) -> None:
    if not ctl_path(actx.store, actx.node_name).exists():
        raise CommandError("Error: there is no CTL file to update: the cluster is in non-secure mode "
                           "(utils ctl set-cluster mixed-mode creates it)")


PRECHECKS["cucm.ctl.set_cluster"] = _already
PRECHECKS["cucm.ctl.update"] = _ctl_exists


def _known_certificate(actx: ActionContext, command: Command, values: dict[str, Any]) -> None:
    _own_name(actx.node.cucm_settings, values["name"])


PRECHECKS["cucm.cert.regen"] = _known_certificate


@action("cucm.ctl.set_cluster")
def set_cluster(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    mode = command.options["mode"]
    already = _already(actx, command, values)
    if already:
        return already

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        cucm.cluster_security_mode = mode
        # The CTL carries the mode to phones and clients, so it is signed again either way.
        cucm.ctl_timestamp, _ = write_ctl(actx.store, node.name, cucm)
        name = MODE_NAMES[mode]
        lines = ["", f"Moving Cluster to {name}", f"Cluster set to {name}"]
        if mode == 1:
            lines.append("You must reset all phones in the cluster.")
        return [*lines, ""]

    return cucm_change(actx, command, mutate,
                       "Please Restart the TFTP and Cisco CallManager services on all nodes in the "
                       f"cluster that run these services {EMU_RESTART}")


@action("cucm.ctl.update")
def update_ctl(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    _ctl_exists(actx, command, values)

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        cucm.ctl_timestamp, signer = write_ctl(actx.store, node.name, cucm)
        lines = ["", "Updating CTL file", "CTL file Updated", ""]
        if signer != "CallManager":
            lines.insert(3, f"Signed by the {signer} SAST: the CallManager certificate is not in "
                            "the CTL file the clients hold")
        return lines

    return cucm_change(actx, command, mutate,
                       "Please Restart the TFTP services on all nodes in the cluster that run these "
                       f"services {EMU_RESTART}")


@action("cucm.ctl.show")
def show_ctl(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    path = ctl_path(actx.store, actx.node_name)
    if not path.exists():
        raise CommandError("Error: there is no CTL file: the cluster is in non-secure mode "
                           "(utils ctl set-cluster mixed-mode creates it)")
    lines, verified = ctl_report(path.read_bytes())
    if not verified:
        raise CommandError("\n".join(lines))
    return lines


@action("cucm.tls.set")
def set_tls(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    version = values["version"]

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        cucm.tls_min_version = version
        return [f"Successfully set minimum TLS version to {version}"]

    return cucm_change(actx, command, mutate,
                       f"The secure interfaces use it after the node restarts {EMU_RESTART}")


@action("cucm.tls.show")
def show_tls(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    return [f"Configured TLS minimum version: {actx.node.cucm_settings.tls_min_version}"]


def _certificate(cucm: CucmSettings, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cucm.certificate(name).cert_pem.encode())


def _own_name(cucm: CucmSettings, typed: str) -> CertificateName:
    match = next((c.name for c in cucm.certificates if c.name.lower() == typed.lower()), None)
    if match is None:
        names = ", ".join(c.name for c in cucm.certificates)
        raise CommandError(f"Error: name: no own certificate {typed}; expected one of {names}")
    return match


@action("cucm.cert.list")
def cert_list(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    cucm = actx.node.cucm_settings
    lines = []
    for entry in cucm.certificates:
        certificate = _certificate(cucm, entry.name)
        how = ("Self-signed certificate generated by system" if certificate.issuer == certificate.subject
               else f"Certificate Signed by {certificate.issuer.rfc4514_string()}")
        lines.append(f"{entry.name}/{entry.name}.pem: {how}")
    return lines


@action("cucm.cert.show")
def cert_show(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    cucm = actx.node.cucm_settings
    certificate = _certificate(cucm, _own_name(cucm, values["name"]))
    key = certificate.public_key()
    kind = ("RSA" if isinstance(key, rsa.RSAPublicKey) else "EC" if isinstance(key, ec.EllipticCurvePublicKey)
            else type(key).__name__)
    size = key.key_size if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)) else 0
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    return ["[", f"  Version: V{certificate.version.value + 1}",
            f"  Serial Number: {certificate.serial_number:X}",
            f"  SignatureAlgorithm: {certificate.signature_algorithm_oid._name}",  # noqa: SLF001
            f"  Issuer Name: {certificate.issuer.rfc4514_string()}",
            f"  Validity From: {certificate.not_valid_before_utc:%a %b %d %H:%M:%S UTC %Y}",
            f"           To:   {certificate.not_valid_after_utc:%a %b %d %H:%M:%S UTC %Y}",
            f"  Subject Name: {certificate.subject.rfc4514_string()}",
            f"  Key: {kind} {size} bits",
            f"  SHA-256 Fingerprint: {fingerprint}",
            "]", "",
            *certificate.public_bytes(serialization.Encoding.PEM).decode("ascii").splitlines()]


@action("cucm.cert.regen")
def cert_regen(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    name = _own_name(actx.node.cucm_settings, values["name"])

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        fresh = make_certificate(actx.store, node.name, cucm.hostname, name)
        cucm.certificates = [fresh if c.name == name else c for c in cucm.certificates]
        return [f"Successfully Regenerated Certificate for {name}."]

    # The CTL keeps the old certificate until utils ctl update CTLFile, as on CUCM.
    return cucm_change(actx, command, mutate,
                       f"Restart the services that use the {name} certificate {EMU_RESTART}")


@action("emu.set_port")
def emu_set_port(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    # Only the CUCM engine offers this command (cucm.yaml), so the node is a CUCM node.
    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        setattr(cucm.ports, values["service"].replace("-", "_"), values["port"])
        return [f"{values['service']} will listen on {cucm.ports.address}:{values['port']}"]

    return cucm_change(actx, command, mutate, "The service listens there after emu restart.")
