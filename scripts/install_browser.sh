#!/usr/bin/env bash
# Install Debian's chromium for the Playwright browser tests (Playwright's own
# browser download cannot work offline). Usage: scripts/install_browser.sh [--help]
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  echo "usage: $0    install /usr/bin/chromium with apt-get if it is missing"
  exit 0
fi
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  command -v sudo >/dev/null || { echo "error: chromium missing and not root (no sudo)" >&2; exit 2; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
/usr/bin/chromium --version
