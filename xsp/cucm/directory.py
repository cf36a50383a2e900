"""CTIManager's login check: the credential policy, then the directory (the node's own
users, or LDAP for end users when LDAP authentication is enabled), each step traced.

Application users always authenticate against the node, as on CUCM. LDAP follows the
trace of the call-flow note: bind with the service account, search the user under the
user search base, bind as the user's DN with the password given. The lockout counters
live in memory (the emulator's choice): a restart of the node forgets them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from threading import Lock

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars

from xsp.config.cucm import ApplicationUser, CredentialPolicy, CucmSettings, EndUser, LdapAuthentication
from xsp.cucm.ctierrors import CtiCode, CtiRefused
from xsp.cucm.ctitrace import SdlTrace
from xsp.cucm.passwords import check_password

DIRECTORY = "Directory(1,200,23,1)"


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class Lockouts:
    """Failed logons per user, held to the credential policy."""

    def __init__(self) -> None:
        self._users: dict[str, _Failures] = {}
        self._lock = Lock()

    def locked_until(self, user_id: str, now: float) -> float | None:
        with self._lock:
            state = self._users.get(user_id.lower())
            if state is not None and state.locked_until > now:
                return state.locked_until
            return None

    def failed(self, user_id: str, policy: CredentialPolicy, now: float) -> int:
        """Records one failed logon; returns how many count, and locks at the limit."""
        with self._lock:
            state = self._users.setdefault(user_id.lower(), _Failures())
            window = policy.reset_failed_logon_minutes * 60
            state.times = [t for t in state.times if now - t < window] + [now]
            if len(state.times) >= policy.failed_logon_limit:
                # A duration of 0 locks until an administrator resets it, as on CUCM.
                duration = policy.lockout_duration_minutes * 60 or float("inf")
                state.locked_until = now + duration
                state.times = []
                return policy.failed_logon_limit
            return len(state.times)

    def succeeded(self, user_id: str) -> None:
        with self._lock:
            self._users.pop(user_id.lower(), None)


User = ApplicationUser | EndUser


@dataclass(frozen=True)
class LoginOk:
    user: User
    application_user: bool
    source: str  # "local" or "LDAP"


def login(settings: CucmSettings, login_id: str, password: str, lockouts: Lockouts,
          trace: SdlTrace, handler: str, seq: int) -> LoginOk:
    """Checks ``login_id``/``password``; raises ``CtiRefused`` with the CTI error when refused."""
    trace.signal("CtiLoginCheckReq", "ready", DIRECTORY, handler,
                 f"Login={login_id} Seq#={seq} Auth Style=0")
    app = next((u for u in settings.application_users if u.user_id == login_id), None)
    end = next((u for u in settings.end_users if u.user_id == login_id), None)
    user: User | None = app or end
    now = time.monotonic()
    if user is not None:
        until = lockouts.locked_until(user.user_id, now)
        if until is not None:
            trace.info(DIRECTORY, f"Credential policy: {login_id} is locked out "
                                  f"({settings.credential_policy.failed_logon_limit} failed logons)")
            _refused(trace, handler, seq, CtiCode.AUTHENTICATION_FAILED,
                     f"{login_id} is locked out by the credential policy after "
                     f"{settings.credential_policy.failed_logon_limit} failed logons")
        trace.info(DIRECTORY, f"Credential policy: {login_id} not locked")
    if user is None:
        trace.info(DIRECTORY, f"userid {login_id} not found")
        _refused(trace, handler, seq, CtiCode.AUTHENTICATION_FAILED, f"no user {login_id}")
    assert user is not None
    ldap = settings.ldap_authentication
    use_ldap = end is not None and app is None and ldap.enabled
    if not password:
        # An LDAP simple bind with an empty password is an anonymous bind that succeeds.
        ok = False
        trace.info(DIRECTORY, "empty password refused")
    elif use_ldap:
        trace.info(DIRECTORY, "authenticationDB::login (Authenticating using LDAP)")
        ok = _ldap_login(ldap, login_id, password, ldap.timeout_seconds,
                         trace, handler, seq)
    else:
        trace.info(DIRECTORY, "authenticationDB::login (Authenticating against the local database)")
        ok = bool(user.password_hash) and check_password(password, user.password_hash)
    if not ok:
        count = lockouts.failed(user.user_id, settings.credential_policy, now)
        limit = settings.credential_policy.failed_logon_limit
        trace.info(DIRECTORY, f"Credential policy: failed logon {count} of {limit} for {login_id}")
        locked = "; now locked out" if count >= limit else ""
        _refused(trace, handler, seq, CtiCode.AUTHENTICATION_FAILED,
                 f"wrong password for {login_id} (failed logon {count} of {limit}{locked})")
    lockouts.succeeded(user.user_id)
    trace.info(DIRECTORY, f"Successfully authenticated user: {login_id}")
    trace.signal("CtiLoginCheckRes", "authenticating", handler, DIRECTORY,
                 f"Seq#={seq} result=Success LoginUserID={login_id} Expire days=4294967295")
    return LoginOk(user, app is not None, "LDAP" if use_ldap else "local")


def _refused(trace: SdlTrace, handler: str, seq: int, code: CtiCode, detail: str) -> None:
    trace.signal("CtiLoginCheckRes", "authenticating", handler, DIRECTORY,
                 f"Seq#={seq} result=Failure error={code.hex} {detail}")
    raise CtiRefused(code, detail)


def _ldap_login(ldap: LdapAuthentication, login_id: str, password: str, timeout: int,
                trace: SdlTrace, handler: str, seq: int) -> bool:
    url = f"ldap://{ldap.host}:{ldap.port}"
    server = ldap3.Server(ldap.host, port=ldap.port, connect_timeout=timeout, get_info=ldap3.NONE)
    trace.info(DIRECTORY, f"authenticationLDAP::Authenticate():enter; Authenticating with SSL not enabled ({url})")
    try:
        service = ldap3.Connection(server, user=ldap.distinguished_name, password=ldap.password,
                                   receive_timeout=timeout, raise_exceptions=False)
        if not service.bind():
            trace.info(DIRECTORY, f"LDAP authentication bind FAILED for {ldap.distinguished_name}: "
                                  f"{service.result.get('description', '')}")
            _refused(trace, handler, seq, CtiCode.AUTHENTICATION_FAILED,
                     f"LDAP bind of the service account {ldap.distinguished_name} failed "
                     f"({service.result.get('description', '')}); check the LDAP Authentication page")
        trace.info(DIRECTORY, f"LDAP authentication bind SUCCESS for {ldap.distinguished_name}")
        query = f"(&(objectClass=*)({ldap.user_id_attribute}={escape_filter_chars(login_id)}))"
        trace.info(DIRECTORY, f"Retrieve the specified user entry: {query}")
        trace.info(DIRECTORY, f"LDAP Search for User base: '{ldap.user_search_base}'")
        service.search(ldap.user_search_base, query, attributes=[], size_limit=2)
        entries = list(service.response or [])
        service.unbind()
        dns = [e["dn"] for e in entries if e.get("type") == "searchResEntry"]
        trace.info(DIRECTORY, f"LDAP Search complete. Code: {service.result.get('result', -1)}; "
                              f"{len(dns)} entries")
        if len(dns) != 1:
            trace.info(DIRECTORY, f"no single entry for {login_id} under {ldap.user_search_base}")
            return False
        trace.info(DIRECTORY, f"Attempt to authenticate DN: {dns[0]}")
        user = ldap3.Connection(server, user=dns[0], password=password, receive_timeout=timeout,
                                raise_exceptions=False)
        bound = bool(user.bind())
        trace.info(DIRECTORY, f"LDAP authentication bind {'SUCCESS' if bound else 'FAILED'} for {dns[0]}")
        if bound:
            user.unbind()
        return bound
    except ldap_errors.LDAPException as exc:
        trace.info(DIRECTORY, f"LDAP server {url} did not answer: {exc}")
        _refused(trace, handler, seq, CtiCode.DIRECTORY_TIMEOUT,
                 f"LDAP server {url} did not answer within {timeout} s ({type(exc).__name__})")
    return False  # not reached: _refused raises
