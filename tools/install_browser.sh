#!/usr/bin/env bash
# Install the browser that tests/browser drives: Debian's (or Ubuntu's) `chromium` package.
# Playwright's own browser download is not used: it needs hosts that classrooms and CI may not
# reach. Does nothing when a Chromium is already there. Needs root (CI) or sudo (a laptop).
#   bash tools/install_browser.sh
set -euo pipefail

for exe in "${TLCOURSE_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$exe" ] && [ -x "$exe" ]; then
        echo "browser: $exe ($("$exe" --version 2>/dev/null || echo 'version unknown'))"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "No Chromium found and no apt-get here. Install Chromium or Chrome with your system's" >&2
    echo "package manager, then run the browser test with TLCOURSE_CHROMIUM=/path/to/chromium." >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "Installing Chromium needs root: run 'apt-get install chromium' as root." >&2
        exit 1
    fi
fi

echo "Installing Debian's chromium package (about 100 MB)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation
/usr/bin/chromium --version
