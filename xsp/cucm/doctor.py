"""The readiness check of a CUCM node for secure CTI (JTAPI/TSP over 2749): mixed mode, the
CTL current, the users in the right access control groups, their CAPF profiles and
status, the minimum TLS version. Each finding has the CLI lines that fix it.
"""
from __future__ import annotations

import datetime as dt

from cryptography import x509

import xsp_trust as trust
from xsp.config.cucm import (STANDARD_CTI_ENABLED, STANDARD_CTI_SECURE, ApplicationUser, CapfProfile,
                             CucmSettings, EndUser, parse_date)
from xsp.config.store import Store
from xsp.cucm.platform import ctl_path, load_certificate
from xsp.doctor import Finding

ADMIN = "admin:"


def _group_line(user: ApplicationUser, group: str) -> str:
    verb = "addEndUsers" if isinstance(user, EndUser) else "addAppUsers"
    return f'{ADMIN}ccmadmin AccessControlGroup {verb} "{group}" {user.user_id}'


def _profile_page(profile: CapfProfile) -> str:
    return "ApplicationUserCapfProfile" if profile.kind == "Application User" else "EndUserCapfProfile"


def check(store: Store, node_name: str) -> list[Finding]:
    settings = store.load().node(node_name).cucm_settings
    findings = [Finding("the cluster is in mixed mode", settings.mixed_mode,
                        "Cluster Security Mode " + ("1 (mixed)" if settings.mixed_mode else "0 (non-secure): "
                                                    "every CTI connection must use port 2748"),
                        [f"{ADMIN}utils ctl set-cluster mixed-mode"])]
    findings.append(_ctl_finding(store, node_name, settings))
    findings += _user_findings(settings)
    findings += _profile_findings(settings)
    if settings.tls_min_version == "1.3":
        findings.append(Finding("the minimum TLS version suits the CTI clients", True,
                                "1.3: only TLS 1.3 on 2749 and CAPF; TAPI supports it from 15SU4 on",
                                [f"{ADMIN}set tls min-version 1.2"], warn=True))
    else:
        findings.append(Finding("the minimum TLS version suits the CTI clients", True,
                                f"{settings.tls_min_version}: TLS 1.2 and 1.3 on 2749 and CAPF"))
    return findings


def _ctl_finding(store: Store, node_name: str, settings: CucmSettings) -> Finding:
    name = "the CTL file is current"
    fix = [f"{ADMIN}utils ctl update CTLFile"]
    path = ctl_path(store, node_name)
    if not path.exists():
        return Finding(name, False, "no CTLFile.tlv: clients of a secure CTI user will not connect",
                       [f"{ADMIN}utils ctl set-cluster mixed-mode"] if not settings.mixed_mode else fix)
    try:
        parsed = trust.verify_ctl(path.read_bytes())
    except trust.CtlError as exc:
        return Finding(name, False, f"CTLFile.tlv does not verify: {exc}", fix)
    listed = {r.certificate for r in parsed.records if r.certificate is not None}
    missing = [n for n in ("CallManager", "CAPF") if load_certificate(settings, n) not in listed]
    if missing:
        return Finding(name, False, f"CTLFile.tlv lacks the current {' and '.join(missing)} certificate; "
                       "clients will refuse CTIManager or CAPF", fix)
    when = dt.datetime.fromtimestamp(parsed.timestamp, dt.timezone.utc)
    return Finding(name, True, f"CTLFile.tlv of {when:%Y-%m-%d %H:%M} UTC lists the current CallManager "
                               f"and CAPF certificates, signed by {parsed.signer_name}")


def _user_findings(settings: CucmSettings) -> list[Finding]:
    users: list[ApplicationUser] = [*settings.application_users, *settings.end_users]
    secure = [u for u in users if STANDARD_CTI_SECURE in u.groups]
    with_profiles = {p.user_id for p in settings.capf_profiles}
    not_enabled = [u for u in secure if STANDARD_CTI_ENABLED not in u.groups]
    findings = [Finding(f"secure CTI users are in {STANDARD_CTI_ENABLED!r}", not not_enabled,
                        (f"not in it: {', '.join(u.user_id for u in not_enabled)}" if not_enabled else
                         f"{len(secure)} secure CTI user(s)"),
                        [_group_line(u, STANDARD_CTI_ENABLED) for u in not_enabled])]
    outside = [u for u in users if u.user_id in with_profiles and STANDARD_CTI_SECURE not in u.groups]
    findings.append(Finding(f"users with a CAPF profile are in {STANDARD_CTI_SECURE!r}", not outside,
                            (f"not in it, so refused on 2749: {', '.join(u.user_id for u in outside)}"
                             if outside else "every user with a CAPF profile is"),
                            [_group_line(u, STANDARD_CTI_SECURE) for u in outside]))
    bare = [u for u in secure if u.user_id not in with_profiles]
    findings.append(Finding("secure CTI users have a CAPF profile", not bare,
                            (f"no instance certificate possible for: {', '.join(u.user_id for u in bare)}"
                             if bare else "each has one"),
                            [f"{ADMIN}ccmadmin {'EndUser' if isinstance(u, EndUser) else 'ApplicationUser'}"
                             f"CapfProfile add <instance ID> {'endUser' if isinstance(u, EndUser) else 'applicationUser'} "
                             f"{u.user_id} certificateOperation Install/Upgrade authenticationString <4-10 digits>"
                             for u in bare]))
    return findings


def _profile_findings(settings: CucmSettings) -> list[Finding]:
    findings = []
    today = dt.datetime.now(dt.timezone.utc).date()
    for profile in settings.capf_profiles:
        capf = profile.capf
        page = _profile_page(profile)
        renew = [f"{ADMIN}ccmadmin {page} set {profile.instance_id} certificateOperation Install/Upgrade "
                 "authenticationString <4-10 digits>"]
        name = f"CAPF profile {profile.instance_id} ({profile.user_id})"
        lsc = capf.lsc
        if capf.certificate_operation == "Install/Upgrade":
            expired = capf.operation_completes_by and parse_date(capf.operation_completes_by) < today
            findings.append(Finding(name, not expired,
                                    (f"Install/Upgrade expired on {capf.operation_completes_by}" if expired else
                                     f"Install/Upgrade pending until {capf.operation_completes_by}: the "
                                     "application enrols with its authentication string"), renew))
        elif lsc is None:
            findings.append(Finding(name, False, f"no certificate issued and no operation pending "
                                                 f"(status {capf.certificate_operation_status})", renew))
        elif lsc.serial in capf.compromised_serials:
            findings.append(Finding(name, False, f"certificate serial {lsc.serial} marked compromised by "
                                                 "CTIManager (two providers presented it)", renew))
        else:
            not_after = x509.load_pem_x509_certificate(lsc.cert_pem.encode()).not_valid_after_utc
            findings.append(Finding(name, not_after.date() > today,
                                    f"certificate serial {lsc.serial} valid to {not_after:%Y-%m-%d} "
                                    f"(status {capf.certificate_operation_status})", renew))
    return findings
