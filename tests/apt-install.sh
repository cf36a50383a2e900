#!/bin/sh
# apt-install.sh WHO WHAT PACKAGE...: install a test set-up's distribution packages.
# WHO names the calling script in its messages, WHAT says in words what is missing.
# Needs root (CI runs as root) and a reachable package mirror.
set -eu

who=$1 what=$2
shift 2
if [ "$(id -u)" -ne 0 ]; then
    echo "$who: $what is missing; run as root, or: sudo apt-get install $*" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: no apt-get here; install $what from your system's packages" >&2
    exit 1
fi
# Another apt run (the other set-up, unattended upgrades) holds the lock for a while:
# wait for it rather than fail.
LOCK="-o DPkg::Lock::Timeout=600"
export DEBIAN_FRONTEND=noninteractive
apt-get $LOCK update -q
apt-get $LOCK install -y -q --no-install-recommends "$@"
