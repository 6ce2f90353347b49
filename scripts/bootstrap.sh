#!/usr/bin/env bash
# Installs what building and testing need, if missing: Bun (from the npm registry) and the
# project's packages (from bun.lock); with --browser also Debian's chromium, which the
# dashboard test drives through playwright-core (no browser download). Safe to run again.
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

if [[ "${1:-}" == "--browser" ]] && ! command -v chromium >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "bootstrap: the dashboard test needs Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)" >&2; exit 1; }
  echo "bootstrap: installing Debian's chromium for the dashboard test" >&2
  sudo=""; [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } >&2
fi
