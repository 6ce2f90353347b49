#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, starts Redis and the
# MongoDB-compatible server, builds the binary, runs every test, prints "N passed, N failed".
# Extra arguments go to `bun test` (e.g. a file filter).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/bootstrap.sh --browser || exit 1
scripts/services.sh start || exit 1
eval "$(scripts/services.sh env)"
bun run build >&2 || { echo "test: the build failed" >&2; exit 1; }

mkdir -p .local
log=.local/test-output.log
bun test --timeout 30000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# In CI the sync benchmark also runs once at its smallest size, to show it still works (no timing checks).
if [[ "${CI:-}" == "true" && "$status" -eq 0 ]]; then
  bun bench/sync.ts --sizes 10000 --skip-guide >&2 || { echo "test: bench/sync.ts failed" >&2; status=1; }
fi

passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
if [[ "$status" -ne 0 && "$failed" -eq 0 ]]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
exit "$status"
