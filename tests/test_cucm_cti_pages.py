"""The CM Administration pages issue 17 adds: a user's Controlled Devices, LDAP
Authentication and the Credential Policy, through the CUCM engine."""
from __future__ import annotations

from tests.test_cucm_shell import cucm_template, engine, refused  # noqa: F401 - fixtures

PHONE = "SEP001794625DE5"


def run(engine, line: str) -> list[str]:
    result = engine.execute(line)
    assert result.ok, result.lines
    return result.lines


def test_controlled_devices_are_added_shown_and_removed(engine):
    run(engine, f"ccmadmin Phone add {PHONE}")
    assert run(engine, f"ccmadmin ApplicationUser addDevice ctiapp {PHONE.lower()}") == ["Update successful"]
    shown = run(engine, "ccmadmin ApplicationUser get ctiapp")
    assert any(line.strip() == f"Controlled Devices = {PHONE}" for line in shown)
    assert refused(engine, f"ccmadmin ApplicationUser addDevice ctiapp {PHONE}") == [
        f"Error: deviceName: {PHONE} is already a controlled device of ctiapp"]
    assert refused(engine, "ccmadmin EndUser addDevice jdoe SEP00AABB112233") == [
        "Error: deviceName: no phone SEP00AABB112233 (ccmadmin Phone add creates one)"]
    assert refused(engine, f"ccmadmin EndUser addDevice nobody {PHONE}") == [
        "Error: userId: no entry nobody (End User Configuration)"]
    # Deleting the phone takes it out of every control list.
    run(engine, f"ccmadmin Phone delete {PHONE}")
    assert engine.store.load().node("cucm1").cucm_settings.application_users[0].controlled_devices == []
    assert refused(engine, f"ccmadmin ApplicationUser removeDevice ctiapp {PHONE}") == [
        f"Error: deviceName: {PHONE} is not a controlled device of ctiapp"]


def test_ldap_authentication_page_keeps_the_password_hidden_and_checks_what_it_needs(engine):
    assert refused(engine, "ccmadmin LdapAuthentication set enabled true")[0].startswith(
        "Error: refusing to save an invalid configuration: ")
    lines = run(engine, 'ccmadmin LdapAuthentication set distinguishedName "cn=admin,dc=example,dc=com" '
                        'password S3cret userSearchBase "ou=people,dc=example,dc=com" host 127.0.0.1 '
                        'port 3389 enabled true')
    assert lines == ["Update successful"]
    shown = "\n".join(run(engine, "ccmadmin LdapAuthentication get"))
    assert "S3cret" not in shown and "********" in shown
    assert "LDAP User Search Base" in shown and "ou=people,dc=example,dc=com" in shown
    ldap = engine.store.load().node("cucm1").cucm_settings.ldap_authentication
    assert (ldap.enabled, ldap.port, ldap.password) == (True, 3389, "S3cret")


def test_credential_policy_page(engine):
    assert run(engine, "ccmadmin CredentialPolicy set failedLogon 5 lockoutDuration 0") == ["Update successful"]
    policy = engine.store.load().node("cucm1").cucm_settings.credential_policy
    assert (policy.failed_logon_limit, policy.lockout_duration_minutes) == (5, 0)
    assert refused(engine, "ccmadmin CredentialPolicy set failedLogon 0") == [
        "Error: failedLogon: 0 is out of range; expected 1 to 100"]
