#!/usr/bin/env bash
# Install Debian's chromium for the Playwright browser tests (Playwright's own
# browser download cannot work offline) and the fonts the site and its figures
# need: Noto CJK (Chinese text in the browser and in matplotlib figures) and Noto
# Color Emoji (the ✅ of resolved questions). Usage: scripts/install_browser.sh [--help]
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  echo "usage: $0    install chromium, fonts-noto-cjk and fonts-noto-color-emoji with apt-get if missing"
  exit 0
fi
PACKAGES=(chromium fonts-noto-cjk fonts-noto-color-emoji)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  command -v sudo >/dev/null || { echo "error: ${missing[*]} missing and not root (no sudo)" >&2; exit 2; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# matplotlib caches the font list: forget it so figures find the new fonts
rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/matplotlib"
/usr/bin/chromium --version
