"""What the CAPF knows, read from and written to the node's configuration.

Lookups read the stored configuration each time, so a profile set to Install/Upgrade in
the shell is seen by the next session without a restart (as on CUCM, where the CAPF
reads the database). A successful install clears the authentication string, remembers
it as used, sets the status and records the issued certificate against the instance or
phone, in one saved change.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import xsp_trust as trust
from xsp.config.cucm import CapfProfile, CapfSettings, CucmSettings, IssuedLsc, Phone, parse_date
from xsp.config.store import Store
from xsp.cucm.capfserver import Enrolment, KeyOrder, Operation, string_digest
from xsp.cucm.platform import load_certificate, load_key

log = logging.getLogger("xsp.cucm")


class StoreAuthority:
    def __init__(self, store: Store, node_name: str) -> None:
        self.store = store
        self.node_name = node_name

    def _settings(self) -> CucmSettings:
        return self.store.load().node(self.node_name).cucm_settings

    def mixed_mode(self) -> bool:
        return self._settings().mixed_mode

    def today(self) -> dt.date:
        return dt.datetime.now(dt.timezone.utc).date()

    def lookup(self, name: str) -> Enrolment | None:
        settings = self._settings()
        phone = next((p for p in settings.phones if p.device_name == name), None)
        if phone is not None:
            return _enrolment(name, True, phone.capf)
        profile = next((p for p in settings.capf_profiles if p.instance_id == name), None)
        if profile is not None:
            return _enrolment(name, False, profile.capf)
        return None

    def issue(self, enrolment: Enrolment,
              public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> x509.Certificate:
        settings = self._settings()
        years = settings.service_parameters.duration_of_certificate_validity_years
        return trust.issue_lsc(load_certificate(settings, "CAPF"), load_key(self.store, settings, "CAPF"),
                               enrolment.name, public_key, phone=enrolment.phone,
                               lifetime=dt.timedelta(days=365 * years))

    def installed(self, enrolment: Enrolment, certificate: x509.Certificate, used_string: str) -> None:
        def record(capf: CapfSettings) -> None:
            capf.lsc = IssuedLsc(
                serial=f"{certificate.serial_number:X}", subject=certificate.subject.rfc4514_string(),
                not_after=certificate.not_valid_after_utc.isoformat(),
                cert_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                issued_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())
            capf.used_strings.append(string_digest(used_string))
            capf.authentication_string = ""
            capf.certificate_operation = Operation.NONE.value
            capf.certificate_operation_status = "Upgrade Success"
        self._change(enrolment, record)

    def deleted(self, enrolment: Enrolment) -> None:
        def record(capf: CapfSettings) -> None:
            capf.lsc = None
            capf.authentication_string = ""
            capf.certificate_operation = Operation.NONE.value
            capf.certificate_operation_status = "Delete Success"
        self._change(enrolment, record)

    def _change(self, enrolment: Enrolment, mutate: Callable[[CapfSettings], None]) -> None:
        with self.store.edit() as deployment:
            settings = deployment.node(self.node_name).cucm_settings
            entries: list[Phone] | list[CapfProfile] = (settings.phones if enrolment.phone
                                                        else settings.capf_profiles)
            entry = next(e for e in entries if e.key == enrolment.name)
            mutate(entry.capf)


def _enrolment(name: str, phone: bool, capf: CapfSettings) -> Enrolment:
    return Enrolment(
        name=name, phone=phone, operation=Operation(capf.certificate_operation),
        authentication_string=capf.authentication_string,
        completes_by=parse_date(capf.operation_completes_by) if capf.operation_completes_by else None,
        key_order=KeyOrder(capf.key_order), rsa_key_size=capf.rsa_key_size,
        ec_key_size=capf.ec_key_size, used_strings=tuple(capf.used_strings))
