"""CTIManager's decisions, apart from sockets: who may open a provider on which port, which
devices a provider may open, and what two providers with one certificate lead to.

``check_login`` runs in a worker thread (LDAP blocks) and reads the stored
configuration afresh, as CTIManager reads the database: a user moved into "Standard CTI
Secure Connection" is seen by the next login. ``admit`` runs on the event loop and
owns the registry of open providers, so the duplicate-certificate rule needs no lock.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from xsp.config.cucm import (STANDARD_CTI_ENABLED, STANDARD_CTI_SECURE, CapfProfile,
                             CucmSettings)
from xsp.config.store import Store
from xsp.cucm.ctierrors import CtiCode, CtiRefused
from xsp.cucm.ctitrace import SdlTrace
from xsp.cucm.directory import LoginOk, Lockouts, login
from xsp.cucm.ctiwire import Message
from xsp.live.observer import NULL_OBSERVER, Observer

log = logging.getLogger("xsp.cucm")

ALL_DEVICES = "Standard CTI Allow Control of All Devices"
DB_ACCESS = "CTIDbAccess(1,200,26,1)"
LINE_MGR = "CTIDeviceLineMgr(1,200,25,1)"
MAX_DEVICES_PER_PROVIDER = 64
PHONE_DEVICE_TYPE = 7  # as DeviceOpenResponse shows a phone in the trace


@dataclass(frozen=True)
class Connection:
    conn_id: int
    peer: str
    port: int  # the port the client reached (2748 or 2749 by default)
    tls: bool
    certificate: x509.Certificate | None = None

    @property
    def handler(self) -> str:
        return f"CTIHandler(1,200,22,{self.conn_id})"


@dataclass(frozen=True)
class Admitted:
    login: LoginOk
    secure_user: bool
    certificate_serial: str  # hex, empty on 2748


@dataclass
class Provider:
    provider_id: int
    user_id: str
    connection: Connection
    certificate_serial: str
    close: Callable[[CtiCode, str], None]
    devices: dict[str, str] = field(default_factory=dict)  # device name -> handle


class CtiManager:
    def __init__(self, store: Store, node_name: str, trace: SdlTrace) -> None:
        self.store = store
        self.node_name = node_name
        self.trace = trace
        self.lockouts = Lockouts()
        self.providers: dict[int, Provider] = {}
        # Duplicate-certificate incidents per certificate serial, towards the retry count.
        self.duplicates: dict[str, int] = {}
        self._ids = itertools.count(16777217)
        # The ports the listeners really have (a test binds port 0), named in refusals.
        self.ports: tuple[int, int] | None = None
        self._handles = itertools.count(1)
        # The live page's observer, read at each report: the page may come after the node.
        self.observe: Callable[[], Observer] = lambda: NULL_OBSERVER

    def settings(self) -> CucmSettings:
        return self.store.load().node(self.node_name).cucm_settings

    # -- login (worker thread) ---------------------------------------------------------
    def check_login(self, connection: Connection, request: Message) -> Admitted:
        settings = self.settings()
        handler, seq = connection.handler, int(request.get("seq", 0) or 0)
        user_id, password = str(request.get("login", "")), str(request.get("password", ""))
        self.trace.signal("CtiProceedWithAppLogin", "init_complete_await_auth", handler,
                          "CtiManager(1,200,21,1)", f"peer={connection.peer} port={connection.port} "
                          f"TLS={'T' if connection.tls else 'F'}")
        ok = login(settings, user_id, password, self.lockouts, self.trace, handler, seq)
        user = ok.user
        cti_enabled = STANDARD_CTI_ENABLED in user.groups
        # In non-secure mode the group means nothing and everyone belongs on 2748.
        secure_user = settings.mixed_mode and STANDARD_CTI_SECURE in user.groups
        plain_port, tls_port = self.ports or (settings.ports.cti, settings.ports.cti_tls)
        listen_port = tls_port if secure_user else plain_port
        self.trace.signal("CtiUserSettingsReq", "ready", DB_ACCESS, handler, f"mUserId={user_id}")
        self.trace.signal("CtiUserSettingsRes", "verifying", handler, DB_ACCESS,
                          f"SuperProvider = Disabled CTI Enabled = {'Enabled' if cti_enabled else 'Disabled'} "
                          f"Userid = {user_id} result=0")
        self.trace.info(handler, f"mCtiUserSettings.mbSecurityEnabled={int(secure_user)}")
        self.trace.info(handler, f"mListenPort={listen_port}")
        if not cti_enabled:
            self._refuse(connection, CtiCode.NOT_CTI_USER,
                         f"{user_id} is not in {STANDARD_CTI_ENABLED!r}")
        serial = ""
        if connection.tls:
            if not settings.mixed_mode:
                self._refuse(connection, CtiCode.SECURITY_MISMATCH,
                             f"{user_id} connected on TLS port {connection.port} but the cluster is in "
                             f"non-secure mode: every CTI connection must use port {plain_port}")
            if not secure_user:
                self._refuse(connection, CtiCode.NOT_SECURE_USER,
                             f"{user_id} connected on TLS port {connection.port} but is not in "
                             f"{STANDARD_CTI_SECURE!r}: use port {plain_port}")
            serial = self._check_certificate(connection, settings, user_id)
        elif secure_user:
            self._refuse(connection, CtiCode.SECURITY_MISMATCH,
                         f"{user_id} is in {STANDARD_CTI_SECURE!r} and the cluster is in mixed mode: "
                         f"connect on TLS port {tls_port}, not {connection.port}")
        return Admitted(ok, secure_user, serial)

    def _check_certificate(self, connection: Connection, settings: CucmSettings, user_id: str) -> str:
        certificate = connection.certificate
        assert certificate is not None  # the TLS listener requires one
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else ""
        serial = f"{certificate.serial_number:X}"
        profiles = [p for p in settings.capf_profiles if p.user_id == user_id]
        profile: CapfProfile | None = next((p for p in profiles if p.instance_id == common_name), None)
        self.trace.info(connection.handler, f"client certificate CN={common_name} serial={serial}; "
                                            f"CAPF profiles of {user_id}: "
                                            f"{', '.join(p.instance_id for p in profiles) or 'none'}")
        if profile is None:
            self._refuse(connection, CtiCode.INVALID_CERTIFICATE,
                         f"the certificate CN={common_name} is not the Instance ID of a CAPF profile "
                         f"of {user_id}")
        assert profile is not None
        if serial in profile.capf.compromised_serials:
            self._refuse(connection, CtiCode.CERTIFICATE_COMPROMISED,
                         f"the certificate of instance {common_name} (serial {serial}) was marked "
                         "compromised; install a new one with CAPF")
        if profile.capf.lsc is None or profile.capf.lsc.serial != serial:
            self._refuse(connection, CtiCode.INVALID_CERTIFICATE,
                         f"the certificate of instance {common_name} (serial {serial}) is not the one "
                         "CAPF issued to it")
        return serial

    def _refuse(self, connection: Connection, code: CtiCode, detail: str) -> None:
        self.trace.info(connection.handler, f"ProviderOpen refused: {code.hex} {detail}")
        raise CtiRefused(code, detail)

    # -- providers (event loop) --------------------------------------------------------
    def new_provider_id(self) -> int:
        return next(self._ids)

    def admit(self, provider_id: int, connection: Connection, admitted: Admitted,
              close: Callable[[CtiCode, str], None]) -> Provider:
        serial = admitted.certificate_serial
        if serial:
            twins = [p for p in self.providers.values() if p.certificate_serial == serial]
            if twins:
                self._duplicate(connection, admitted, twins)
        provider = Provider(provider_id, admitted.login.user.user_id, connection, serial, close)
        self.providers[provider.provider_id] = provider
        self.observe().nodes_changed()
        return provider

    def _duplicate(self, connection: Connection, admitted: Admitted, twins: list[Provider]) -> None:
        serial = admitted.certificate_serial
        self.duplicates[serial] = count = self.duplicates.get(serial, 0) + 1
        limit = self.settings().service_parameters.cti_instance_id_retry_count
        detail = (f"two providers present the certificate serial {serial} (incident {count} of "
                  f"{limit} allowed by CTI InstanceId Retry Count)")
        for twin in twins:
            self.trace.info(twin.connection.handler, f"ProviderClosed: {detail}")
            twin.close(CtiCode.DUPLICATE_CERTIFICATE, detail)
        if count >= limit:
            self._mark_compromised(serial)
            detail += "; the certificate is now marked compromised"
        self._refuse(connection, CtiCode.DUPLICATE_CERTIFICATE, detail)

    def _mark_compromised(self, serial: str) -> None:
        with self.store.edit() as deployment:
            settings = deployment.node(self.node_name).cucm_settings
            for profile in settings.capf_profiles:
                if profile.capf.lsc is not None and profile.capf.lsc.serial == serial:
                    if serial not in profile.capf.compromised_serials:
                        profile.capf.compromised_serials.append(serial)
                    log.warning("%s CTIManager: certificate serial %s of instance %s marked compromised",
                                self.node_name, serial, profile.instance_id)
        self.duplicates.pop(serial, None)

    def closed(self, provider: Provider) -> None:
        if self.providers.pop(provider.provider_id, None) is not None:
            self.observe().nodes_changed()

    # -- devices (event loop) ----------------------------------------------------------
    def open_device(self, provider: Provider, request: Message) -> tuple[Message, Message]:
        """The DeviceOpenResponse and DeviceInServiceEvent, or ``CtiRefused``."""
        connection = provider.connection
        seq = request.get("seq", 0)
        name = str(request.get("deviceName", "")).upper()
        app_id = request.get("applicationID", "")
        self.trace.signal("CtiDeviceOpenDeviceReq", "ready", connection.handler, connection.handler,
                          f"AsyncResponse={seq} Name={name} AppLoginUserId={provider.user_id} "
                          f"ApplicationIds are {app_id}, ProviderIds are {provider.provider_id}, "
                          f"IsCTIConnectionTLS = {'T' if connection.tls else 'F'}")
        settings = self.settings()
        phone = next((p for p in settings.phones if p.device_name == name), None)
        user = next((u for u in [*settings.application_users, *settings.end_users]
                     if u.user_id == provider.user_id), None)
        if phone is None:
            self._device_refused(connection, seq, name, CtiCode.DEVICE_NOT_FOUND,
                                 f"no phone {name} on {self.node_name}")
        elif user is None or (name not in user.controlled_devices and ALL_DEVICES not in user.groups):
            self._device_refused(connection, seq, name, CtiCode.DEVICE_RESTRICTED,
                                 f"{name} is not among the controlled devices of {provider.user_id}")
        elif name not in provider.devices and len(provider.devices) >= MAX_DEVICES_PER_PROVIDER:
            self._device_refused(connection, seq, name, CtiCode.DEVICE_RESTRICTED,
                                 f"the provider already has {MAX_DEVICES_PER_PROVIDER} devices open")
        handle = provider.devices.get(name) or f"1|{next(self._handles)}"
        provider.devices[name] = handle
        self.observe().nodes_changed()
        device_id = int(handle.split("|")[1])
        self.trace.signal("CtiDeviceOpenDeviceRes", "ready", connection.handler, LINE_MGR,
                          f"mAsyncResponse = {seq} DH={handle} Name={name} Type={PHONE_DEVICE_TYPE} "
                          "mOpenResult=0x0")
        response = Message("DeviceOpenResponse", {
            "seq": seq, "result": 0, "DH": handle, "deviceName": name, "deviceType": PHONE_DEVICE_TYPE,
            "deviceId": device_id, "deviceRestricted": 0})
        event = Message("DeviceInServiceEvent", {"DH": handle, "deviceName": name, "encodingType": 3,
                                                 "deviceLocale": 1})
        self.trace.info(connection.handler, f"CTI {event.describe()}")
        return response, event

    def _device_refused(self, connection: Connection, seq: object, name: str, code: CtiCode,
                        detail: str) -> None:
        self.trace.signal("CtiDeviceOpenDeviceRes", "ready", connection.handler, LINE_MGR,
                          f"mAsyncResponse = {seq} Name={name} mOpenResult={code.hex} {detail}")
        raise CtiRefused(code, detail)
