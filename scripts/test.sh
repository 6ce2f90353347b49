#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, starts Redis and the
# MongoDB-compatible server, builds the binary, runs every test, then runs the sync, search,
# scheduler and HTTP suites again on a private 3-master, 3-replica Redis Cluster, and prints
# "N passed, N failed, N skipped" over both (skipped: tests that did not run, skip and todo).
# Extra arguments go to `bun test` (e.g. a file filter) and skip the Cluster pass;
# SS_TEST_REDIS=cluster runs just those files on a Cluster.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CLUSTER_SUITES=(test/sync test/search.test.ts test/items.test.ts test/scheduler test/http.test.ts test/e2e/replicas.test.ts)

scripts/bootstrap.sh --browser || exit 1
scripts/services.sh start || exit 1
eval "$(scripts/services.sh env)"
bun run build >&2 || { echo "test: the build failed" >&2; exit 1; }

# Typecheck, lint (Biome, biome.json) and unused code (Knip, knip.jsonc) come first: a finding fails the run like a failed test.
bun run check >&2 || { echo "test: typecheck or lint failed (bun run check)" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

mkdir -p .local
passed=0
failed=0
skipped=0
status=0

# The number on the last " N <word>" line of bun's summary in a log; 0 when there is none
# (bun prints " N skip" and " N todo" only when there are any).
summary_count() { grep -Eo "^ *[0-9]+ $2\$" "$1" | tail -n 1 | grep -Eo '[0-9]+' || echo 0; }

# Runs `bun test` with the given arguments and adds its counts to the totals (skip and todo count as skipped).
run_suite() {
  local log=".local/test-output-$1.log" rc p f s t
  shift
  bun test --timeout 30000 "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(summary_count "$log" pass)
  f=$(summary_count "$log" fail)
  s=$(summary_count "$log" skip)
  t=$(summary_count "$log" todo)
  if [[ "$rc" -ne 0 && "$f" -eq 0 ]]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s + t))
  [[ "$rc" -eq 0 ]] || status=1
}

run_suite main "$@"
if [[ $# -eq 0 && -z "${SS_TEST_REDIS:-}" ]]; then
  echo "test: the sync, search, scheduler and HTTP suites again, on a Redis Cluster" >&2
  SS_TEST_REDIS=cluster run_suite cluster "${CLUSTER_SUITES[@]}"
fi

# In CI the sync benchmark also runs once at its smallest size, to show it still works (no timing checks).
if [[ "${CI:-}" == "true" && "$status" -eq 0 ]]; then
  bun bench/sync.ts --sizes 10000 --skip-guide >&2 || { echo "test: bench/sync.ts failed" >&2; status=1; failed=$((failed + 1)); }
fi

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
