#!/bin/sh
# OpenLDAP's slapd for the LDAP login tests, which start it as a real directory server,
# from the distribution's packages (Debian: slapd). Does nothing when it is already
# there; otherwise needs root (CI runs as root) and a reachable package mirror.
set -eu

if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
    exit 0
fi
sh "$(dirname "$0")/apt-install.sh" install-slapd "OpenLDAP's slapd" slapd
# The package starts its own slapd on port 389; the tests start theirs on free ports.
if command -v service >/dev/null 2>&1; then service slapd stop >/dev/null 2>&1 || true; fi
