"""The platform side of a CUCM node: its own certificates and the CTL/ITL files they sign.

A new node gets, as a fresh install does, a CallManager certificate (the TFTP and
CTIManager server identity, and the CTL's signer), a CAPF certificate (the CA that
signs LSCs) and an ITLRecovery certificate (the second SAST). ``CTLFile.tlv`` is
written only when the cluster security mode changes or ``utils ctl update CTLFile``
runs, so a certificate changed without an update leaves the old file, as on CUCM;
``ITLFile.tlv`` is made afresh whenever the TFTP service starts.
"""
from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import xsp_trust as trust
from xsp_trust._keys import PrivateKey
from xsp_trust import CtlEntry, CtlRole
from xsp.config.cucm import CertificateName, CucmSettings, PlatformCertificate
from xsp.config.store import Store, atomic_write

CTL_NAME = "CTLFile.tlv"
ITL_NAME = "ITLFile.tlv"


CERTIFICATE_NAMES: tuple[CertificateName, ...] = ("CallManager", "CAPF", "ITLRecovery")


def make_certificate(store: Store, node_name: str, hostname: str,
                     name: CertificateName) -> PlatformCertificate:
    """A new self-signed certificate for ``name``; its key is written 0600 under a name of
    its own, so a running service keeps the key it started with until it restarts."""
    # CUCM's self-signed certificates are valid for five years.
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    end = start + dt.timedelta(days=5 * 365)
    issued: trust.IssuedCert
    if name == "CAPF":
        issued = trust.CertificateAuthority.new_root(f"CAPF-{secrets.token_hex(4)}",
                                                     not_before=start, not_after=end)
    else:
        common_name = hostname if name == "CallManager" else f"ITLRECOVERY_{hostname}"
        issued = trust.self_signed_server(common_name, not_before=start, not_after=end)
    serial = f"{issued.certificate.serial_number:x}"[:12]
    key_file = store.write_private(f"{node_name}-{name}-{serial}.key", issued.key_pem)
    return PlatformCertificate(name, issued.cert_pem.decode("ascii"), key_file)


def new_settings(store: Store, node_name: str, hostname: str) -> CucmSettings:
    """The settings of a freshly installed publisher."""
    return CucmSettings(hostname=hostname, certificates=[
        make_certificate(store, node_name, hostname, name) for name in CERTIFICATE_NAMES])


def load_certificate(settings: CucmSettings, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(settings.certificate(name).cert_pem.encode())


def load_key(store: Store, settings: CucmSettings, name: str) -> PrivateKey:
    return trust.load_private_key(store.resolve(settings.certificate(name).key_file))


def files_dir(store: Store, node_name: str) -> Path:
    """Where the node's TFTP files live in the state (public files, not keys)."""
    path = store.dir / "cucm" / node_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _entries(settings: CucmSettings) -> list[CtlEntry]:
    callmanager = load_certificate(settings, "CallManager")
    address = settings.ports.address
    return [CtlEntry(CtlRole.SAST, callmanager, settings.hostname, address),
            CtlEntry(CtlRole.SAST, load_certificate(settings, "ITLRecovery")),
            CtlEntry(CtlRole.CCM_TFTP, callmanager, settings.hostname, address),
            CtlEntry(CtlRole.CAPF, load_certificate(settings, "CAPF"), settings.hostname, address)]


def sign_file(store: Store, settings: CucmSettings, filename: str, timestamp: int,
              signer: CertificateName = "CallManager") -> bytes:
    key = load_key(store, settings, signer)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"the {signer} certificate must have an RSA key to sign the CTL")
    return trust.write_ctl(filename, _entries(settings), load_certificate(settings, signer),
                           key, timestamp=timestamp)


def ctl_signer(store: Store, node_name: str, settings: CucmSettings) -> CertificateName:
    """Which SAST signs the next CTL: one the clients' current CTL already lists.

    A client installs a new CTL only when a SAST of the one it holds signed it, so after
    the CallManager certificate was regenerated, the ITLRecovery SAST signs (the
    emulator's reading of that rule; the two SASTs exist for this).
    """
    path = ctl_path(store, node_name)
    if not path.exists():
        return "CallManager"
    try:
        held = [r.certificate for r in trust.read_ctl(path.read_bytes()).sast_records()]
    except trust.CtlError:
        return "CallManager"
    for name in ("CallManager", "ITLRecovery"):
        if load_certificate(settings, name) in held:
            return name
    return "CallManager"


def write_ctl(store: Store, node_name: str, settings: CucmSettings) -> tuple[int, CertificateName]:
    """Sign and save ``CTLFile.tlv``; returns its timestamp and the SAST that signed it."""
    timestamp = max(int(time.time()), settings.ctl_timestamp + 1)
    signer = ctl_signer(store, node_name, settings)
    data = sign_file(store, settings, CTL_NAME, timestamp, signer)
    atomic_write(files_dir(store, node_name) / CTL_NAME, data)
    return timestamp, signer


def ctl_path(store: Store, node_name: str) -> Path:
    return files_dir(store, node_name) / CTL_NAME
