#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (export page, live jobs page).
#
# Idempotent: does nothing when a chromium is already on PATH. Never downloads a browser of
# its own (no `playwright install`): tests drive /usr/bin/chromium through the playwright
# package. Without apt (or root/sudo) it says so and exits 0; the browser tests then skip
# and name the reason.
set -uo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium || command -v chromium-browser)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: cannot install chromium (the browser tests will skip)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "not root and no passwordless sudo: cannot install chromium (the browser tests will skip)"
    exit 0
  fi
fi
echo "installing Debian's chromium for the browser tests (about a minute) ..."
if $SUDO apt-get update -qq >/dev/null 2>&1 \
   && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1; then
  echo "chromium installed: $(command -v chromium)"
else
  echo "chromium could not be installed (the browser tests will skip)"
fi
exit 0
