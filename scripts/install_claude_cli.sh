#!/usr/bin/env bash
# Install the pinned Claude Code CLI into ./.tools/claude-cli for the claude-code wire tests.
#
# Idempotent: does nothing when the pinned version is already there. Never fails the build:
# without npm it says so and exits 0 (the wire tests then skip, naming the reason).
set -euo pipefail

VERSION="${AMATELIER_CLAUDE_CLI_VERSION:-2.1.330}"
PACKAGE="@anthropic-ai/claude-code"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="$ROOT/.tools/claude-cli"
BIN="$PREFIX/node_modules/.bin/claude"
MANIFEST="$PREFIX/node_modules/$PACKAGE/package.json"

installed_version() {
  [ -f "$MANIFEST" ] || return 0
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$MANIFEST" | head -n 1
}

if [ "$(installed_version)" = "$VERSION" ] && [ -x "$BIN" ]; then
  echo "claude CLI $VERSION already installed at $BIN"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: skipping the Claude Code CLI install (claude-code wire tests will skip)"
  exit 0
fi

echo "installing $PACKAGE@$VERSION into $PREFIX ..."
mkdir -p "$PREFIX"
# A private package.json keeps npm from walking up into the repository.
[ -f "$PREFIX/package.json" ] || echo '{"name": "amatelier-test-tools", "private": true}' > "$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --save-exact \
  "$PACKAGE@$VERSION"

if [ "$(installed_version)" = "$VERSION" ] && [ -x "$BIN" ]; then
  echo "installed claude CLI $VERSION at $BIN"
else
  echo "npm finished but $BIN is missing: claude-code wire tests will skip" >&2
  exit 1
fi
