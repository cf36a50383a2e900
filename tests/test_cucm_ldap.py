"""CTIManager's LDAP authentication against a real OpenLDAP slapd: the service account
bind, the user search, the bind as the user, bad passwords and lockout, a wrong service
account and a directory that does not answer, each with its trace lines."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests._cucm_support import HOST, add_cucm_node, change, running
from tests._ldap_support import PEOPLE, SERVICE_DN, SERVICE_PASSWORD, slapd
from tests.test_cucm_cti import PASSWORD, users
from xsp.config.cucm import LdapAuthentication
from xsp.config.store import Store
from xsp.cucm import jtapi
from xsp.node.addresses import free_port

LDAP_PASSWORD = "Directory-Pass1"
FAILED = "Authentication failed - Check UserID and Password (CTI error 0x8CCC0060)"


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    """A real slapd on loopback holding the end user wwhite."""
    with slapd(tmp_path_factory.mktemp("slapd")) as server:
        server.add_person("wwhite", LDAP_PASSWORD, "White")
        yield server


def ldap_page(directory, **overrides) -> LdapAuthentication:
    fields = dict(enabled=True, distinguished_name=SERVICE_DN, password=SERVICE_PASSWORD,
                  user_search_base=PEOPLE, host=directory.host, port=directory.port, timeout_seconds=2)
    return LdapAuthentication(**{**fields, **overrides})


@pytest.fixture
def store(tmp_path: Path, directory) -> Store:
    """A state with a CUCM node whose LDAP Authentication page points at ``directory``."""
    store = Store(tmp_path / "state")
    add_cucm_node(store)
    change(store, users)
    change(store, lambda s: setattr(s, "ldap_authentication", ldap_page(directory)))
    return store


@pytest.fixture
def node(store: Store):
    """The CUCM node of ``store``, running."""
    with running(store) as runtime:
        yield runtime


def provider(node, user: str, password: str):
    connection = jtapi.CtiConnection.connect(HOST, node.cti.port)
    try:
        return connection.open_provider(user, password)
    finally:
        connection.close()


def test_an_end_user_logs_in_with_the_directory_password(node, directory):
    completed = provider(node, "wwhite", LDAP_PASSWORD)
    assert completed.get("reason") == 0 and completed.get("loginUserName") == "wwhite"
    trace = [line.split(" |", 3)[3] for line in node.manager.trace.lines()]
    dn = f"uid=wwhite,{PEOPLE}"
    expected = [
        "Directory(1,200,23,1) |authenticationDB::login (Authenticating using LDAP)",
        f"Directory(1,200,23,1) |authenticationLDAP::Authenticate():enter; Authenticating with SSL not "
        f"enabled (ldap://{directory.host}:{directory.port})",
        f"Directory(1,200,23,1) |LDAP authentication bind SUCCESS for {SERVICE_DN}",
        "Directory(1,200,23,1) |Retrieve the specified user entry: (&(objectClass=*)(uid=wwhite))",
        f"Directory(1,200,23,1) |LDAP Search for User base: '{PEOPLE}'",
        "Directory(1,200,23,1) |LDAP Search complete. Code: 0; 1 entries",
        f"Directory(1,200,23,1) |Attempt to authenticate DN: {dn}",
        f"Directory(1,200,23,1) |LDAP authentication bind SUCCESS for {dn}",
        "Directory(1,200,23,1) |Successfully authenticated user: wwhite",
    ]
    start = trace.index(expected[0])
    assert trace[start:start + len(expected)] == expected


def test_with_ldap_the_local_password_of_an_end_user_no_longer_works_but_application_users_stay_local(node):
    with pytest.raises(jtapi.JtapiError) as refused:
        provider(node, "wwhite", PASSWORD)  # the node's own password for wwhite
    assert str(refused.value) == FAILED
    assert provider(node, "plainapp", PASSWORD).get("reason") == 0


def test_bad_directory_passwords_lock_the_user_out(node, caplog):
    caplog.set_level(logging.INFO, logger="xsp.cucm")
    for attempt in (1, 2, 3):
        with pytest.raises(jtapi.JtapiError) as refused:
            provider(node, "wwhite", "wrong")
        assert str(refused.value) == FAILED
    assert any(f"LDAP authentication bind FAILED for uid=wwhite,{PEOPLE}" in line
               for line in node.manager.trace.lines())
    assert any(r.getMessage().endswith("(login wwhite): 0x8CCC0060 wrong password for wwhite "
                                       "(failed logon 3 of 3; now locked out)") for r in caplog.records)
    with pytest.raises(jtapi.JtapiError):
        provider(node, "wwhite", LDAP_PASSWORD)
    assert node.manager.trace.lines()[-2].endswith(
        "result=Failure error=0x8CCC0060 wwhite is locked out by the credential policy after 3 failed logons")


def test_a_wrong_service_account_password_is_said_and_does_not_count_against_the_user(store, directory):
    change(store, lambda s: setattr(s, "ldap_authentication", ldap_page(directory, password="not-it")))
    with running(store) as node:
        for _ in range(4):
            with pytest.raises(jtapi.JtapiError) as refused:
                provider(node, "wwhite", LDAP_PASSWORD)
            assert str(refused.value) == FAILED
        assert node.manager.trace.lines()[-3].endswith(
            f"LDAP authentication bind FAILED for {SERVICE_DN}: invalidCredentials")
        assert node.manager.trace.lines()[-2].endswith(
            f"result=Failure error=0x8CCC0060 LDAP bind of the service account {SERVICE_DN} failed "
            "(invalidCredentials); check the LDAP Authentication page")
        change(store, lambda s: setattr(s, "ldap_authentication", ldap_page(directory)))
        assert provider(node, "wwhite", LDAP_PASSWORD).get("reason") == 0


def test_a_directory_that_does_not_answer_is_the_ldap_timeout_error(store, directory):
    port = free_port()  # nothing listens there
    change(store, lambda s: setattr(s, "ldap_authentication", ldap_page(directory, port=port)))
    with running(store) as node:
        with pytest.raises(jtapi.JtapiError) as refused:
            provider(node, "wwhite", LDAP_PASSWORD)
        assert str(refused.value) == ("Authentication failed - Directory server did not answer "
                                      "(CTI error 0x8CCC0075)")
        assert f"result=Failure error=0x8CCC0075 LDAP server ldap://127.0.0.1:{port} did not answer within 2 s" \
            in node.manager.trace.lines()[-2]
