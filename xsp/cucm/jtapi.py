"""A JTAPI/TSP-like CTI client: what a secure CTI application does before and while it talks
to CTIManager (blocking I/O; the library behind ``xsp jtapi-client`` and the pytest
fixture).

1. The CTL: downloaded over TFTP. The first one is trusted as it comes (trust on first
   use, as Cisco's JTAPI and TSP do) once it verifies with its own SAST; every later one
   must be signed by a SAST of the CTL held, or it is refused and the old one kept.
2. CAPF: an instance without a certificate enrols with its Instance ID and
   authentication string; the CAPF must be the CTL's CAPF record; the key is saved 0600.
3. CTIManager: on 2749 with the instance certificate, checking CTIManager's certificate
   against the CTL's CallManager records, or on 2748 when the application is not secure.
   A secure application with no CTL does not connect at all.
"""
from __future__ import annotations

import logging
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tftpy
from tftpy.TftpShared import TftpFileNotFoundError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import xsp_trust as trust
from xsp.config.store import atomic_write
from xsp.cucm.capfclient import CapfClientSession
from xsp.cucm.capfenrol import EnrolError, enrol
from xsp.cucm.ctierrors import CtiCode
from xsp.cucm.ctiwire import Decoder, FramingError, Message
from xsp.cucm.platform import CTL_NAME

TIMEOUT = 10.0
SERVER_ROLES = (trust.CtlRole.CCM, trust.CtlRole.CCM_TFTP)
MAX_CTL = 1024 * 1024
# tftpy's client logs a missing file or a timeout at ERROR; the client says it in one line.
logging.getLogger("tftpy.TftpContexts").setLevel(logging.CRITICAL)


class JtapiError(Exception):
    """A step failed; ``str()`` is the one line the user reads (the TSP's words, and the
    CTI error code when CTIManager gave one)."""

    def __init__(self, text: str, code: CtiCode | int | None = None) -> None:
        self.code = code.code if isinstance(code, CtiCode) else code
        shown = f"{text} (CTI error 0x{self.code:08X})" if self.code is not None else text
        super().__init__(shown)
        self.text = text


# -- the CTL -----------------------------------------------------------------------------

def fetch_ctl(host: str, port: int, timeout: float = 5.0) -> bytes | None:
    """``CTLFile.tlv`` from the TFTP server, or None when it has none."""
    with tempfile.TemporaryDirectory(prefix="xsp-jtapi-") as tmp:
        target = Path(tmp, CTL_NAME)
        client = tftpy.TftpClient(host, port)
        try:
            client.download(CTL_NAME, str(target), timeout=timeout, retries=1)
        except TftpFileNotFoundError:
            return None
        except tftpy.TftpTimeout:
            raise JtapiError(f"cannot download {CTL_NAME} from {host}:{port}: no answer") from None
        except (tftpy.TftpException, OSError) as exc:
            raise JtapiError(f"cannot download {CTL_NAME} from {host}:{port}: {exc}") from None
        data = target.read_bytes()
        if len(data) > MAX_CTL:
            raise JtapiError(f"{CTL_NAME} from {host}:{port} is over {MAX_CTL} bytes; not a CTL")
        return data


@dataclass(frozen=True)
class CtlUpdate:
    installed: bool  # the held CTL is now the downloaded one
    message: str


class CtlStore:
    """The CTL a client holds, in ``directory/CTLFile.tlv``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / CTL_NAME

    def held(self) -> bytes | None:
        return self.path.read_bytes() if self.path.is_file() else None

    def held_file(self) -> trust.CtlFile | None:
        data = self.held()
        return trust.read_ctl(data) if data is not None else None

    def update(self, data: bytes | None, source: str) -> CtlUpdate:
        held = self.held()
        if data is None:
            if held is None:
                return CtlUpdate(False, f"no {CTL_NAME} on {source}, and none held")
            return CtlUpdate(False, f"no {CTL_NAME} on {source}; keeping the CTL held")
        if held == data:
            return CtlUpdate(True, f"{CTL_NAME} from {source} is the one held")
        try:
            trusted = trust.read_ctl(held) if held is not None else None
            parsed = trust.verify_ctl(data, trusted)
        except trust.CtlError as exc:
            kept = "keeping the CTL held" if held is not None else "no CTL held"
            return CtlUpdate(False, f"{CTL_NAME} from {source} refused: {exc}; {kept}")
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, data)
        if trusted is None:
            return CtlUpdate(True, f"{CTL_NAME} from {source} ({len(data)} bytes) trusted on first use; "
                                   f"stored as {self.path}")
        return CtlUpdate(True, f"{CTL_NAME} from {source} installed: signed by {parsed.signer_name}, "
                               "a SAST of the CTL held")


# -- CAPF --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    cert_file: Path
    key_file: Path
    certificate: x509.Certificate


def credentials_of(directory: Path, instance_id: str) -> Credentials | None:
    cert_file, key_file = directory / f"{instance_id}.pem", directory / f"{instance_id}.key"
    if not (cert_file.is_file() and key_file.is_file()):
        return None
    return Credentials(cert_file, key_file, x509.load_pem_x509_certificate(cert_file.read_bytes()))


def enrol_instance(host: str, port: int, instance_id: str, auth_string: str, ctl: bytes,
                   directory: Path) -> Credentials:
    """One CAPF install for ``instance_id``; the certificate and its key (0600) saved."""
    session = CapfClientSession(instance_id, auth_string)
    try:
        enrol(host, port, session, ctl=ctl)
    except EnrolError as exc:
        raise JtapiError(f"CAPF enrolment failed: {exc}") from None
    if session.certificate is None or session.private_key is None:
        why = session.reason_info or {0: "no pending operation", 7: "refused (wrong authentication "
                                      "string?)", 9: "unknown instance"}.get(session.end_reason or 0, "")
        raise JtapiError(f"CAPF issued no certificate for {instance_id}: reason {session.end_reason} {why}")
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{instance_id}.pem", directory / f"{instance_id}.key"
    atomic_write(key_file, session.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        mode=0o600)
    atomic_write(cert_file, session.certificate.public_bytes(serialization.Encoding.PEM))
    return Credentials(cert_file, key_file, session.certificate)


# -- CTIManager --------------------------------------------------------------------------

def tls_context(ctl: trust.CtlFile, credentials: Credentials) -> ssl.SSLContext:
    """Trusts exactly the CTL's CallManager records; presents the instance certificate."""
    anchors = [r.certificate for r in ctl.records if r.role in SERVER_ROLES and r.certificate is not None]
    if not anchors:
        raise JtapiError("the CTL held lists no CallManager record to check CTIManager with")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the CTL pins the certificate itself
    context.load_verify_locations(cadata="".join(
        c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in anchors))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_cert_chain(credentials.cert_file, credentials.key_file)
    return context


@dataclass
class CtiConnection:
    """One connection to CTIManager; messages in and out, in order."""
    sock: socket.socket
    where: str
    tls_version: str = ""
    cipher: str = ""
    seq: int = 0
    received: list[Message] = field(default_factory=list)
    _decoder: Decoder = field(default_factory=Decoder)
    _pending: list[Message] = field(default_factory=list)

    @classmethod
    def connect(cls, host: str, port: int, context: ssl.SSLContext | None = None,
                timeout: float = TIMEOUT) -> CtiConnection:
        where = f"{host}:{port}"
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise JtapiError(f"cannot reach CTIManager at {where}: {exc.strerror or exc}") from None
        if context is None:
            return cls(raw, where)
        try:
            tls = context.wrap_socket(raw)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            raise JtapiError(f"CTIManager at {where} presented a certificate that is not in the CTL held "
                             f"({exc.verify_message})") from None
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            reason = getattr(exc, "reason", None) or str(exc)
            raise JtapiError(f"TLS with CTIManager at {where} failed: {reason}") from None
        return cls(tls, where, tls.version() or "", (tls.cipher() or ("",))[0])

    def send(self, name: str, **fields: object) -> int:
        self.seq += 1
        self.sock.sendall(Message(name, {"seq": self.seq, **fields}).encode())
        return self.seq

    def next_message(self, timeout: float = TIMEOUT) -> Message:
        self.sock.settimeout(timeout)
        while not self._pending:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise JtapiError(f"no answer from CTIManager at {self.where} within {timeout:.0f} s") from None
            except OSError as exc:
                raise JtapiError(f"CTIManager at {self.where} closed the connection: {exc}") from None
            if not data:
                raise JtapiError(f"CTIManager at {self.where} closed the connection")
            try:
                self._pending.extend(self._decoder.feed(data))
            except FramingError as exc:
                raise JtapiError(f"CTIManager at {self.where} sent what is not a CTI message: {exc}") from None
        message = self._pending.pop(0)
        self.received.append(message)
        return message

    def wait_for(self, *names: str, timeout: float = TIMEOUT) -> Message:
        while True:
            message = self.next_message(timeout)
            if message.name == "ProviderClosedEvent" and "ProviderClosedEvent" not in names:
                raise _failure(message, "description")
            if message.name in names:
                return message

    def open_provider(self, login: str, password: str, *, heartbeat: int = 60,
                      application_id: str = "xsp-jtapi") -> Message:
        """ProviderOpenRequest to ProviderOpenCompletedEvent; ``JtapiError`` when refused."""
        self.send("ProviderOpenRequest", provider="CTIManager", login=login, password=password,
                  heartbeat=heartbeat, timer=10, priority=0, applicationID=application_id,
                  pluginName="Cisco JTAPI", lightWeightProviderOpen=0, authType=0)
        self.wait_for("ProviderOpenResponse")
        completed = self.wait_for("ProviderOpenCompletedEvent")
        if completed.get("reason", 0) != 0:
            raise _failure(completed, "failureDescription", "reason")
        return completed

    def open_device(self, device_name: str, application_id: str = "xsp-jtapi") -> tuple[Message, Message]:
        seq = self.send("DeviceOpenRequest", deviceName=device_name, applicationID=application_id)
        while True:
            response = self.wait_for("DeviceOpenResponse")
            if response.get("seq") == seq:
                break
        if response.get("result", 0) != 0:
            raise _failure(response, "failureDescription", "result")
        return response, self.wait_for("DeviceInServiceEvent")

    def heartbeat(self) -> Message:
        self.send("HeartbeatRequest")
        return self.wait_for("HeartbeatResponse")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _failure(message: Message, text_field: str, code_field: str = "reason") -> JtapiError:
    code = message.get(code_field)
    known = CtiCode.of(code) if isinstance(code, int) else None
    text = str(message.get(text_field) or (known.text if known else "failed"))
    return JtapiError(text, code if isinstance(code, int) and code else None)


# -- the whole client --------------------------------------------------------------------

@dataclass
class JtapiOptions:
    user: str
    password: str
    directory: Path
    host: str = "127.0.0.1"
    tftp_port: int = 69
    capf_port: int = 3804
    cti_port: int = 2748
    cti_tls_port: int = 2749
    secure: bool = False
    instance_id: str = ""
    auth_string: str = ""
    devices: tuple[str, ...] = ()
    heartbeat: int = 60


def start(options: JtapiOptions, say: Callable[[str], None] = lambda line: None) -> CtiConnection:
    """Runs the client's steps up to the devices in service; says each in one line.

    Returns the open connection (the caller closes it); raises ``JtapiError`` at the
    first step that fails.
    """
    store = CtlStore(options.directory)
    source = f"TFTP {options.host}:{options.tftp_port}"
    try:
        downloaded = fetch_ctl(options.host, options.tftp_port)
    except JtapiError as exc:
        say(f"CTL: {exc}")
        downloaded = None
    update = store.update(downloaded, source)
    say(f"CTL: {update.message}")
    context = None
    port = options.cti_port
    if options.secure:
        held = store.held_file()
        if held is None:
            raise JtapiError("Initialization failed - no CTL file: a secure CTI application does not "
                             "connect to CTIManager without one")
        if not options.instance_id:
            raise JtapiError("a secure connection needs an Instance ID (--instance-id)")
        credentials = credentials_of(options.directory, options.instance_id)
        if credentials is None:
            if not options.auth_string:
                raise JtapiError(f"no certificate for instance {options.instance_id} and no "
                                 "authentication string to enrol with CAPF (--auth-string)")
            held_bytes = store.held()
            assert held_bytes is not None
            credentials = enrol_instance(options.host, options.capf_port, options.instance_id,
                                         options.auth_string, held_bytes, options.directory)
            say(f"CAPF: certificate for instance {options.instance_id} installed "
                f"({credentials.certificate.subject.rfc4514_string()}, issued by "
                f"{credentials.certificate.issuer.rfc4514_string()}); key {credentials.key_file} (0600)")
        else:
            say(f"CAPF: using the certificate held for instance {options.instance_id} "
                f"(serial {credentials.certificate.serial_number:X})")
        context = tls_context(held, credentials)
        port = options.cti_tls_port
    connection = CtiConnection.connect(options.host, port, context)
    shown = 0

    def flush() -> None:
        nonlocal shown
        for message in connection.received[shown:]:
            say(message.describe())
        shown = len(connection.received)

    try:
        if context is not None:
            say(f"CTIManager: {connection.tls_version} with {connection.where} ({connection.cipher}); "
                "its certificate is a CallManager record of the CTL held")
        else:
            say(f"CTIManager: connected to {connection.where} without TLS")
        connection.open_provider(options.user, options.password, heartbeat=options.heartbeat)
        flush()
        for device in options.devices:
            connection.open_device(device)
            flush()
        return connection
    except JtapiError:
        flush()
        connection.close()
        raise
