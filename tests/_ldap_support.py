"""A real OpenLDAP directory for the LDAP login tests: slapd from the system's packages
(tests/install-slapd.sh installs it), started on a free loopback port with its own
configuration and database in a temporary directory, and filled over LDAP."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ldap3

from xsp.node.addresses import free_port

SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
PEOPLE = f"ou=people,{SUFFIX}"
SERVICE_DN = f"uid=cucm-svc,{PEOPLE}"
SERVICE_PASSWORD = "svc-secret"

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{root}"
rootpw {password}
directory {dir}/db
"""


def slapd_path() -> str | None:
    return shutil.which("slapd") or ("/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists() else None)


@dataclass
class Directory:
    host: str
    port: int

    def add_person(self, uid: str, password: str, surname: str) -> str:
        dn = f"uid={uid},{PEOPLE}"
        with self.admin() as connection:
            assert connection.add(dn, ["inetOrgPerson"], {"cn": uid, "sn": surname, "userPassword": password}), \
                connection.result
        return dn

    @contextmanager
    def admin(self) -> Iterator[ldap3.Connection]:
        connection = ldap3.Connection(ldap3.Server(self.host, port=self.port), ROOT_DN, ROOT_PASSWORD,
                                      auto_bind=True)
        try:
            yield connection
        finally:
            connection.unbind()


@contextmanager
def slapd(base: Path) -> Iterator[Directory]:
    binary = slapd_path()
    assert binary, "slapd is missing: make test installs it (tests/install-slapd.sh)"
    (base / "db").mkdir(parents=True)
    conf = base / "slapd.conf"
    conf.write_text(CONFIG.format(dir=base, suffix=SUFFIX, root=ROOT_DN, password=ROOT_PASSWORD))
    port = free_port()
    process = subprocess.Popen([binary, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"slapd did not start: {process.stderr.read().decode() if process.stderr else ''}")
                time.sleep(0.05)
        directory = Directory("127.0.0.1", port)
        with directory.admin() as connection:
            connection.add(SUFFIX, ["dcObject", "organization"], {"o": "Example", "dc": "example"})
            connection.add(PEOPLE, ["organizationalUnit"], {"ou": "people"})
        directory.add_person("cucm-svc", SERVICE_PASSWORD, "Service")
        yield directory
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()
