#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian packages) for the dashboard's browser test
# (tests/web/test_browser.py), when they are absent. Needs root (or sudo) and the Debian archive.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    echo "chromium and chromedriver already installed: $(chromium --version 2>/dev/null || true)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO="sudo"; else echo "install-chromium: need root or sudo to apt-get install" >&2; exit 1; fi
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt process (unattended upgrades, a parallel job) may hold the lock: wait for it rather than fail.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
chromium --version
chromedriver --version
