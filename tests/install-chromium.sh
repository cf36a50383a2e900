#!/bin/sh
# Headless Chromium and its driver for the live page's browser tests, from the
# distribution's packages (Debian: chromium, chromium-driver). Does nothing when both are
# already there; otherwise needs root (CI runs as root) and a reachable package mirror.
set -eu

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
sh "$(dirname "$0")/apt-install.sh" install-chromium "Chromium and its chromedriver" \
    chromium chromium-driver
