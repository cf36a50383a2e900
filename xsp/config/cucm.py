"""The typed configuration of a Cisco Unified CM node (a publisher).

Two kinds of settings live here, as on the real system: the platform's (cluster security
mode, minimum TLS version, its certificates), set on the ``admin:`` CLI, and those of
the CM Administration pages (application and end users, access control groups, CAPF
profiles, phones, service parameters). Each field's rule is checked here, so a file
edited by hand is held to the same rules as the CLI.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal

from xsp.config.fields import CERTIFICATE, SECTION, ModelError

# The access control groups a fresh CUCM has that CTI applications need.
STANDARD_CTI_ENABLED = "Standard CTI Enabled"
STANDARD_CTI_SECURE = "Standard CTI Secure Connection"
STANDARD_CTI_SRTP = "Standard CTI Allow Reception of SRTP Key Material"
STANDARD_GROUPS = (
    "Standard CCM End Users",
    "Standard CCM Super Users",
    STANDARD_CTI_ENABLED,
    STANDARD_CTI_SECURE,
    STANDARD_CTI_SRTP,
    "Standard CTI Allow Control of All Devices",
)

OPERATIONS = ("No Pending Operation", "Install/Upgrade", "Delete", "Troubleshoot")
KEY_ORDERS = ("RSA Only", "EC Only", "EC Preferred, RSA Backup")
RSA_KEY_SIZES = (512, 1024, 2048, 3072, 4096)
EC_KEY_SIZES = (256, 384, 521)
STATUSES = ("None", "Operation Pending", "Upgrade Success", "Upgrade Failed", "Delete Success",
            "Delete Failed")
AUTHENTICATION_MODE = "By Authentication String"

INSTANCE_ID = re.compile(r"[A-Za-z0-9]{1,128}")
AUTH_STRING = re.compile(r"[0-9]{4,10}")
DEVICE_NAME = re.compile(r"SEP[0-9A-F]{12}")
USER_ID = re.compile(r"[A-Za-z0-9._@-]{1,128}")

CertificateName = Literal["CallManager", "CAPF", "ITLRecovery"]


def _check(pattern: re.Pattern[str], value: str, path: str, expected: str) -> None:
    if not pattern.fullmatch(value):
        raise ModelError(path, f"{value!r} is not {expected}")


def parse_date(value: str, path: str = "") -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ModelError(path, f"{value!r} is not a date; expected YYYY-MM-DD") from None


@dataclass
class PlatformCertificate:
    """One of the node's own certificates (``show cert own``), made at node creation."""
    name: CertificateName
    cert_pem: str = field(metadata=CERTIFICATE)
    key_file: str = field(default="")

    @property
    def key(self) -> str:
        return self.name


@dataclass
class IssuedLsc:
    """The certificate a CAPF operation issued, recorded against its instance or phone."""
    serial: str
    subject: str
    not_after: str
    cert_pem: str = field(metadata=CERTIFICATE)
    issued_at: str = field(default="")


@dataclass
class CapfSettings:
    """The Certificate Authority Proxy Function fields of a CAPF profile or a phone."""
    certificate_operation: str = "No Pending Operation"
    authentication_string: str = ""
    key_order: str = "RSA Only"
    rsa_key_size: int = 2048
    ec_key_size: int = 384
    operation_completes_by: str = ""
    certificate_operation_status: str = "None"
    lsc: IssuedLsc | None = None
    # SHA-256 of each authentication string a certificate was issued with: one use only.
    used_strings: list[str] = field(default_factory=list)
    # Serials (hex) of issued certificates CTIManager marked compromised after two
    # providers kept presenting them; refused until CAPF issues a new one.
    compromised_serials: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.certificate_operation not in OPERATIONS:
            raise ModelError("certificate_operation", f"{self.certificate_operation!r} is not one of "
                             f"{', '.join(OPERATIONS)}")
        if self.authentication_string:
            _check(AUTH_STRING, self.authentication_string, "authentication_string", "4 to 10 digits")
        if self.key_order not in KEY_ORDERS:
            raise ModelError("key_order", f"{self.key_order!r} is not one of {'; '.join(KEY_ORDERS)}")
        if self.rsa_key_size not in RSA_KEY_SIZES:
            raise ModelError("rsa_key_size", f"{self.rsa_key_size} is not one of "
                             f"{', '.join(map(str, RSA_KEY_SIZES))}")
        if self.ec_key_size not in EC_KEY_SIZES:
            raise ModelError("ec_key_size", f"{self.ec_key_size} is not one of "
                             f"{', '.join(map(str, EC_KEY_SIZES))}")
        if self.operation_completes_by:
            parse_date(self.operation_completes_by, "operation_completes_by")
        if self.certificate_operation_status not in STATUSES:
            raise ModelError("certificate_operation_status",
                             f"{self.certificate_operation_status!r} is not one of {', '.join(STATUSES)}")


@dataclass
class ApplicationUser:
    user_id: str
    password_hash: str = ""
    description: str = ""
    groups: list[str] = field(default_factory=list)
    # Device Information > Controlled Devices: the phones this user's CTI provider may open.
    controlled_devices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check(USER_ID, self.user_id, "user_id", "a user ID (1 to 128 letters, digits, '.', '_', '-', '@')")
        for i, device in enumerate(self.controlled_devices):
            _check(DEVICE_NAME, device, f"controlled_devices[{i}]", "a device name (SEP and 12 hex digits)")

    @property
    def key(self) -> str:
        return self.user_id


@dataclass
class EndUser(ApplicationUser):
    last_name: str = ""
    first_name: str = ""


@dataclass
class CapfProfile:
    """An Application User CAPF Profile or an End User CAPF Profile."""
    kind: Literal["Application User", "End User"]
    user_id: str
    instance_id: str
    capf: CapfSettings = field(default_factory=CapfSettings)

    def __post_init__(self) -> None:
        _check(INSTANCE_ID, self.instance_id, "instance_id", "an Instance ID (1 to 128 letters and digits)")

    @property
    def key(self) -> str:
        return self.instance_id


@dataclass
class Phone:
    device_name: str
    description: str = ""
    capf: CapfSettings = field(default_factory=CapfSettings)

    def __post_init__(self) -> None:
        _check(DEVICE_NAME, self.device_name, "device_name", "a device name (SEP and 12 hex digits)")

    @property
    def key(self) -> str:
        return self.device_name


@dataclass
class ServiceParameters:
    # Cisco CTIManager
    cti_instance_id_retry_count: int = 3
    # Cisco Certificate Authority Proxy Function
    capf_operation_expires_in_days: int = 10
    duration_of_certificate_validity_years: int = 5

    def __post_init__(self) -> None:
        for name, low, high in (("cti_instance_id_retry_count", 1, 100),
                                ("capf_operation_expires_in_days", 1, 365),
                                ("duration_of_certificate_validity_years", 1, 20)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ModelError(name, f"{value} is out of range {low}-{high}")


@dataclass
class CucmPorts:
    """Where the emulated services listen (an emulator setting, not a CUCM one).

    TFTP's own port 69 needs root; the emulator binds 6969 unless told otherwise.
    """
    address: str = "127.0.0.1"
    tftp: int = 6969
    http: int = 6970
    capf: int = 3804
    cti: int = 2748
    cti_tls: int = 2749

    def __post_init__(self) -> None:
        for name in ("tftp", "http", "capf", "cti", "cti_tls"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise ModelError(name, f"{value} is out of range 0-65535")


@dataclass
class LdapAuthentication:
    """System > LDAP > LDAP Authentication: end users authenticate against the directory.

    Application users always authenticate locally, as on CUCM. The service account's
    password is kept so the node can bind with it (CUCM keeps it encrypted in its database).
    """
    enabled: bool = False
    distinguished_name: str = ""
    password: str = ""
    user_search_base: str = ""
    host: str = ""
    port: int = 389
    # The attribute a user ID is matched against (sAMAccountName on Active Directory).
    user_id_attribute: str = "uid"
    # Seconds the directory may take to answer (the emulator's own setting).
    timeout_seconds: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ModelError("port", f"{self.port} is out of range 1-65535")
        if not 1 <= self.timeout_seconds <= 60:
            raise ModelError("timeout_seconds", f"{self.timeout_seconds} is out of range 1-60")
        if self.enabled:
            for name in ("distinguished_name", "user_search_base", "host"):
                if not getattr(self, name):
                    raise ModelError(name, "required when LDAP authentication is enabled")


@dataclass
class CredentialPolicy:
    """User Management > User Settings > Credential Policy Default (CUCM's defaults)."""
    failed_logon_limit: int = 3
    reset_failed_logon_minutes: int = 30
    lockout_duration_minutes: int = 30

    def __post_init__(self) -> None:
        for name, low, high in (("failed_logon_limit", 1, 100), ("reset_failed_logon_minutes", 1, 120),
                                ("lockout_duration_minutes", 0, 1440)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ModelError(name, f"{value} is out of range {low}-{high}")


@dataclass
class CucmSettings:
    hostname: str
    certificates: list[PlatformCertificate]
    # The Cluster Security Mode enterprise parameter: 0 non-secure, 1 mixed.
    cluster_security_mode: Literal[0, 1] = 0
    tls_min_version: Literal["1.2", "1.3"] = "1.2"
    # When the CTL file was last written (Unix time); 0 when there is none.
    ctl_timestamp: int = 0
    application_users: list[ApplicationUser] = field(default_factory=list, metadata=SECTION)
    end_users: list[EndUser] = field(default_factory=list, metadata=SECTION)
    custom_groups: list[str] = field(default_factory=list)
    capf_profiles: list[CapfProfile] = field(default_factory=list, metadata=SECTION)
    phones: list[Phone] = field(default_factory=list, metadata=SECTION)
    service_parameters: ServiceParameters = field(default_factory=ServiceParameters)
    ports: CucmPorts = field(default_factory=CucmPorts)
    ldap_authentication: LdapAuthentication = field(default_factory=LdapAuthentication)
    credential_policy: CredentialPolicy = field(default_factory=CredentialPolicy)

    def __post_init__(self) -> None:
        for attribute in ("application_users", "end_users", "capf_profiles", "phones", "certificates"):
            seen: set[str] = set()
            for i, entry in enumerate(getattr(self, attribute)):
                key = str(entry.key)
                if key.lower() in seen:
                    raise ModelError(f"{attribute}[{i}]", f"{key!r} is used twice")
                seen.add(key.lower())
        groups = set(STANDARD_GROUPS) | set(self.custom_groups)
        for attribute in ("application_users", "end_users"):
            for i, user in enumerate(getattr(self, attribute)):
                for group in user.groups:
                    if group not in groups:
                        raise ModelError(f"{attribute}[{i}].groups", f"no access control group {group!r}")
        for i, profile in enumerate(self.capf_profiles):
            users = self.application_users if profile.kind == "Application User" else self.end_users
            if not any(u.user_id == profile.user_id for u in users):
                raise ModelError(f"capf_profiles[{i}].user_id",
                                 f"no {profile.kind.lower()} {profile.user_id!r}")

    @property
    def mixed_mode(self) -> bool:
        return self.cluster_security_mode == 1

    def certificate(self, name: str) -> PlatformCertificate:
        return next(c for c in self.certificates if c.name == name)

    def groups(self) -> list[str]:
        return [*STANDARD_GROUPS, *self.custom_groups]
