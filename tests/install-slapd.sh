#!/bin/sh
# OpenLDAP's slapd for the LDAP login tests, which start it as a real directory server,
# from the distribution's packages (Debian: slapd). Does nothing when it is already
# there; otherwise needs root (CI runs as root) and a reachable package mirror.
set -eu

if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-slapd: slapd is missing; run as root, or: sudo apt-get install slapd" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-slapd: no apt-get here; install OpenLDAP's slapd from your system's packages" >&2
    exit 1
fi
# Another apt run (the browser set-up, unattended upgrades) holds the lock for a while:
# wait for it rather than fail.
LOCK="-o DPkg::Lock::Timeout=600"
export DEBIAN_FRONTEND=noninteractive
apt-get $LOCK update -q
apt-get $LOCK install -y -q --no-install-recommends slapd
# The package starts its own slapd on port 389; the tests start theirs on free ports.
if command -v service >/dev/null 2>&1; then service slapd stop >/dev/null 2>&1 || true; fi
