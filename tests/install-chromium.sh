#!/bin/sh
# Headless Chromium and its driver for the live page's browser tests, from the
# distribution's packages (Debian: chromium, chromium-driver). Does nothing when both are
# already there; otherwise needs root (CI runs as root) and a reachable package mirror.
set -eu

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium: chromium and chromium-driver are missing; run as root, or: sudo apt-get install chromium chromium-driver" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get here; install Chromium and its chromedriver from your system's packages" >&2
    exit 1
fi
# Another apt run (unattended upgrades, a parallel set-up) holds the lock for a while:
# wait for it rather than fail.
LOCK="-o DPkg::Lock::Timeout=600"
export DEBIAN_FRONTEND=noninteractive
apt-get $LOCK update -q
apt-get $LOCK install -y -q --no-install-recommends chromium chromium-driver
