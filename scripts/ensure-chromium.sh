#!/usr/bin/env bash
# Make sure Debian's Chromium (for the Playwright end-to-end tests in tests/web/) and a
# Chinese font (so that screenshots show text, not boxes) are installed. Idempotent:
# does nothing when both are there. Playwright's own browser download is not used.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)

if [ ${#need[@]} -eq 0 ]; then
  echo "ensure-chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1) and a CJK font are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "ensure-chromium: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q "${need[@]}"
/usr/bin/chromium --version
