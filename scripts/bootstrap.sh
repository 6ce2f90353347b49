#!/usr/bin/env bash
# Installs what building and testing need, if missing: Bun (from the npm registry) and the
# project's packages (from bun.lock). Safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUN_VERSION="1.4.5"

if ! command -v bun >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || { echo "bootstrap: npm is needed to install Bun (apt-get install -y npm)" >&2; exit 1; }
  echo "bootstrap: installing Bun $BUN_VERSION from the npm registry" >&2
  npm install -g --silent "bun@$BUN_VERSION" >&2
fi
cd "$ROOT"
bun install --frozen-lockfile >&2
