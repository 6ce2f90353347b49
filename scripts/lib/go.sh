# Go for building FerretDB v1.24.2, the local MongoDB-compatible server of scripts/services.sh
# (sourced by scripts/bootstrap.sh and scripts/services.sh).
#
# FerretDB v1.24.2's go.mod says `go 1.24` and `toolchain go1.24.3`. Go 1.21 and newer read that
# and fetch the 1.24 toolchain by themselves (GOTOOLCHAIN=auto, the default); older Go cannot
# build it at all. Debian 12 (bookworm) ships golang-go 1.19, too old; Debian 13 (trixie) ships
# 1.24, and bookworm-backports has versioned golang-1.2x-go packages.
FERRETDB_MIN_GO="1.21"
: "${FERRETDB_VERSION:=v1.24.2}"

# major.minor of a Go binary ("1.26"), empty if it does not answer.
go_version_of() {
  "$1" env GOVERSION 2>/dev/null | sed -nE 's/^go([0-9]+\.[0-9]+).*/\1/p'
}

# True when version $1 (major.minor) is at least $2.
version_at_least() {
  [[ -n "$1" && "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]
}

# The first Go new enough to build FerretDB: `go` on the PATH, then GO_DIRS (default: the
# official tarball's /usr/local/go/bin, then Debian's versioned /usr/lib/go-1.N/bin, newest first).
find_go() {
  local dirs candidates=() go
  if command -v go >/dev/null 2>&1; then candidates+=("$(command -v go)"); fi
  dirs="${GO_DIRS-/usr/local/go/bin $(ls -d /usr/lib/go-1.*/bin 2>/dev/null | sort -rV | tr '\n' ' ')}"
  for dir in $dirs; do candidates+=("$dir/go"); done
  for go in ${candidates[@]+"${candidates[@]}"}; do
    [[ -x "$go" ]] && version_at_least "$(go_version_of "$go")" "$FERRETDB_MIN_GO" && { echo "$go"; return 0; }
  done
  return 1
}

# Debian's version of a package that apt would install ("1.19" for golang-go 2:1.19~1), or empty.
apt_candidate() {
  command -v apt-cache >/dev/null 2>&1 || return 0
  apt-cache policy "$1" 2>/dev/null | sed -nE 's/^ *Candidate: ([0-9]+:)?([0-9]+\.[0-9]+).*/\2/p' | head -n 1
}

# What to do about Go, as one line:
#   skip: <why no Go is needed>        have <path> (go<version>)
#   install golang-go <version>        install golang-<version>-go
#   none: <why>                        (nothing suitable from Debian here)
go_plan() {
  local go version versioned
  local local_uri="mongodb://127.0.0.1:${SS_MONGO_PORT:-27027}"
  if [[ -n "${MONGODB_URI:-}" && "${MONGODB_URI%/}" != "$local_uri" ]]; then echo "skip: MONGODB_URI names a MongoDB"; return; fi
  if command -v mongod >/dev/null 2>&1; then echo "skip: mongod is on the PATH"; return; fi
  if go="$(find_go)"; then echo "have $go (go$(go_version_of "$go"))"; return; fi
  version="$(apt_candidate golang-go)"
  if version_at_least "$version" "$FERRETDB_MIN_GO"; then echo "install golang-go $version"; return; fi
  versioned="$(apt-cache search --names-only '^golang-1\.[0-9]+-go$' 2>/dev/null | sed -nE 's/^golang-(1\.[0-9]+)-go .*/\1/p' | sort -rV | head -n 1)"
  if version_at_least "$versioned" "$FERRETDB_MIN_GO"; then echo "install golang-$versioned-go"; return; fi
  echo "none: Debian offers golang-go ${version:-(none)} here; FerretDB $FERRETDB_VERSION needs Go $FERRETDB_MIN_GO or newer"
}
