#!/usr/bin/env bash
# Installs what building and testing need, if missing: Bun (from the npm registry) and the
# project's packages (from bun.lock); Go from Debian when FerretDB must be built (no MongoDB
# given, no mongod; scripts/lib/go.sh says which Go will do); promtool (Debian's prometheus package) for the checks of
# the metrics and alerting rules, and strace for the unit's system call filter; with --browser also Debian's chromium, which the dashboard test
# drives through playwright-core (no browser download). Safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUN_VERSION="1.4.5"
sudo=""; [[ "$(id -u)" -eq 0 ]] || sudo="sudo"

# apt-get install of Debian packages, quietly; false when this is not a Debian-like machine.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"; } >&2
}

if ! command -v bun >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || { echo "bootstrap: npm is needed to install Bun (apt-get install -y npm)" >&2; exit 1; }
  echo "bootstrap: installing Bun $BUN_VERSION from the npm registry" >&2
  npm install -g --silent "bun@$BUN_VERSION" >&2
fi
cd "$ROOT"
bun install --frozen-lockfile >&2

# Go, to build FerretDB (scripts/services.sh) where no MongoDB is given and no mongod is installed.
# shellcheck source=lib/go.sh
source "$ROOT/scripts/lib/go.sh"
go_needed="$(go_plan)"
case "$go_needed" in
  "install golang-go "*)
    echo "bootstrap: installing Debian's golang-go ${go_needed##* } to build FerretDB $FERRETDB_VERSION" >&2
    apt_install golang-go || echo "bootstrap: apt-get install golang-go failed" >&2 ;;
  "install golang-"*)
    echo "bootstrap: installing Debian's ${go_needed#install } to build FerretDB $FERRETDB_VERSION" >&2
    apt_install "${go_needed#install }" || echo "bootstrap: apt-get install ${go_needed#install } failed" >&2 ;;
  none:*)
    cat >&2 <<EOF
bootstrap: ${go_needed#none: }.
  FerretDB is the local MongoDB-compatible server for the demo and the tests; its go.mod asks for
  Go 1.24, which Go 1.21 or newer downloads by itself. Any one of these will do:
    - Go from https://go.dev/dl/ unpacked into /usr/local/go (scripts/services.sh looks there);
    - a golang-1.2x-go package of bookworm-backports (apt-get install -t bookworm-backports golang-1.23-go);
    - mongod on the PATH (MongoDB's own packages), which scripts/services.sh starts instead;
    - MONGODB_URI=mongodb://… naming a MongoDB you already have.
EOF
    ;;
esac

# promtool checks deploy/prometheus-rules.yml and a scrape of /metrics (test/e2e/prometheus.test.ts).
# Debian ships it in the prometheus package, whose install also enables a Prometheus server:
# on a machine run by systemd that server is switched off again, only the tool is wanted.
if ! command -v promtool >/dev/null 2>&1; then
  echo "bootstrap: installing promtool (Debian's prometheus package)" >&2
  if apt_install --no-install-recommends prometheus; then
    if [[ -d /run/systemd/system ]]; then $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true; fi
  else
    echo "bootstrap: promtool could not be installed; the promtool tests will be skipped" >&2
  fi
fi

# strace lets test/systemd.test.ts check every system call against the unit's SystemCallFilter.
if ! command -v strace >/dev/null 2>&1; then
  apt_install --no-install-recommends strace || echo "bootstrap: strace could not be installed; that test will be skipped" >&2
fi

if [[ "${1:-}" == "--browser" ]] && ! command -v chromium >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "bootstrap: the dashboard test needs Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)" >&2; exit 1; }
  echo "bootstrap: installing Debian's chromium for the dashboard test" >&2
  apt_install chromium
fi
