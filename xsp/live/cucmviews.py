"""Reading a CUCM node into the live page's ``CucmView``: cluster security, the CTL and
ITL it serves, CAPF profiles and phones, its services and CTIManager's providers.

What CAPF knows of a device appears as operation, status and the issued certificate's
subject, serial and fingerprint; the authentication string and any PEM or key never do.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import xsp_trust as trust
from cryptography import x509
from cryptography.x509.oid import NameOID

from xsp.config.cucm import CapfSettings, CucmSettings
from xsp.config.model import Node
from xsp.live.model import (CapfProfileView, CtlRecordView, CucmView, LscView, ProviderView,
                            ServiceView, TrustFileView)

if TYPE_CHECKING:
    from xsp.config.store import Store
    from xsp.cucm.runtime import CucmRuntime


@functools.lru_cache(maxsize=16)
def trust_file_view(file: str, data: bytes) -> TrustFileView:
    """A CTL or ITL file's signer and records; parsed once per content (the page polls)."""
    try:
        parsed = trust.read_ctl(data)
    except trust.CtlError as exc:
        return TrustFileView(file, 0, "", "", False, [], problem=str(exc))
    try:
        trust.verify_ctl(data)
        verified = True
    except trust.CtlError:
        verified = False
    records = [CtlRecordView(r.role_label, r.subject_name, r.serial_number.hex().upper(),
                             trust.describe(r.certificate).sha256_colons
                             if r.certificate is not None else None)
               for r in parsed.records]
    return TrustFileView(file, parsed.timestamp, parsed.signer_name,
                         parsed.signer_serial.hex().upper(), verified, records)


@functools.lru_cache(maxsize=1024)
def _fingerprint(pem: str) -> str | None:
    try:
        return trust.describe(x509.load_pem_x509_certificate(pem.encode())).sha256_colons
    except ValueError:
        return None


def _capf(kind: str, name: str, user: str | None, capf: CapfSettings) -> CapfProfileView:
    lsc = capf.lsc
    certificate = (LscView(lsc.subject, lsc.serial, lsc.not_after, _fingerprint(lsc.cert_pem),
                           lsc.serial in capf.compromised_serials)
                   if lsc is not None else None)
    return CapfProfileView(kind, name, user, capf.certificate_operation,
                           capf.certificate_operation_status, capf.operation_completes_by or None,
                           certificate)


def _services(settings: CucmSettings, runtime: "CucmRuntime | None") -> list[ServiceView]:
    ports = settings.ports
    problems = runtime.problems if runtime is not None else {}

    def service(name: str, key: str, transport: str, configured: int,
                bound: int | None) -> ServiceView:
        listening = bound is not None
        problem = None if listening else problems.get(key, "the node is not running"
                                                      if runtime is None else "not running")
        return ServiceView(name, transport, ports.address, bound if bound is not None else configured,
                           listening, problem)

    r = runtime
    return [
        service("Cisco TFTP", "TFTP", "udp", ports.tftp, r.tftp.port if r and r.tftp else None),
        service("TFTP over HTTP", "HTTP", "tcp", ports.http, r.http_port if r and r.http else None),
        service("Cisco CAPF", "CAPF", "tcp", ports.capf, r.capf.port if r and r.capf else None),
        service("CTIManager", "CTI", "tcp", ports.cti, r.cti.port if r and r.cti else None),
        service("CTIManager TLS", "CTI TLS", "tcp", ports.cti_tls,
                r.cti_tls.port if r and r.cti_tls else None),
    ]


def _providers(runtime: "CucmRuntime | None") -> list[ProviderView]:
    if runtime is None or runtime.manager is None:
        return []
    shown = []
    for provider in sorted(runtime.manager.providers.values(), key=lambda p: p.provider_id):
        connection = provider.connection
        instance = None
        if connection.certificate is not None:
            names = connection.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            instance = str(names[0].value) if names else None
        shown.append(ProviderView(provider.provider_id, provider.user_id, instance, connection.peer,
                                  connection.port, connection.tls, sorted(provider.devices)))
    return shown


def cucm_view(node: Node, store: "Store", runtime: "CucmRuntime | None") -> CucmView:
    settings = node.cucm_settings
    from xsp.cucm.platform import CTL_NAME, ITL_NAME, ctl_path
    path = ctl_path(store, node.name)
    ctl = trust_file_view(CTL_NAME, path.read_bytes()) if path.exists() else None
    served = runtime.files.files if runtime is not None and runtime.files is not None else {}
    itl = trust_file_view(ITL_NAME, served[ITL_NAME]) if ITL_NAME in served else None
    profiles = [_capf(p.kind, p.instance_id, p.user_id, p.capf) for p in settings.capf_profiles]
    phones = [_capf("Phone", p.device_name, None, p.capf) for p in settings.phones]
    return CucmView(node.name, runtime is not None, settings.mixed_mode, settings.tls_min_version,
                    list(node.pending_restart), ctl, itl, profiles, phones,
                    _services(settings, runtime), _providers(runtime))
