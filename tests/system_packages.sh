#!/bin/sh
# System packages the tests need that pip cannot install: OpenLDAP's slapd, which the
# LDAP login tests start as a real directory server. Installed only when missing, so a
# machine that has it runs no apt at all.
set -e
if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "tests need slapd (Debian package slapd); run as root or: apt-get install slapd" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends slapd ldap-utils
# The package starts its own slapd on port 389; the tests start theirs on free ports.
if command -v service >/dev/null 2>&1; then service slapd stop >/dev/null 2>&1 || true; fi
