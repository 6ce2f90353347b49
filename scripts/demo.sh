#!/usr/bin/env bash
# Runs the product end to end on local data: services up, sample catalog seeded, the binary
# built and started (left running), a full sync, a search, and the status printed.
#   DEMO_PORT (default 8000)   where the service listens (127.0.0.1)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${DEMO_PORT:-8000}"
DEMO_DIR="$ROOT/.local/demo"
URL="http://127.0.0.1:$PORT"
step() { printf '\n==> %s\n' "$*"; }

step "Installing what is missing"
scripts/bootstrap.sh
step "Starting Redis and the MongoDB-compatible server"
scripts/services.sh start
eval "$(scripts/services.sh env)"
export DB_NAME="${DB_NAME:-search_sync_demo}"

step "Seeding the sample catalog into database $DB_NAME"
bun scripts/seed.ts --db "$DB_NAME"

step "Building dist/search-sync"
bun run build

step "Starting the service on $URL (logs: .local/demo/search-sync.log)"
mkdir -p "$DEMO_DIR"
if [[ -f "$DEMO_DIR/search-sync.pid" ]] && kill -0 "$(cat "$DEMO_DIR/search-sync.pid")" 2>/dev/null; then
  kill -TERM "$(cat "$DEMO_DIR/search-sync.pid")"
  for _ in $(seq 50); do kill -0 "$(cat "$DEMO_DIR/search-sync.pid")" 2>/dev/null || break; sleep 0.1; done
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "demo: port $PORT is taken by another program; set DEMO_PORT" >&2
  exit 1
fi
cp dist/search-sync "$DEMO_DIR/search-sync"
(
  cd "$DEMO_DIR"
  PORT="$PORT" LISTEN_HOST=127.0.0.1 REDIS_KEY_PREFIX="search-sync-demo:" nohup ./search-sync serve >search-sync.log 2>&1 &
  echo $! >search-sync.pid
)
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "$URL/healthz" >/dev/null || { tail -n 20 "$DEMO_DIR/search-sync.log" >&2; exit 1; }

pretty() { bun -e 'const t = await Bun.stdin.text(); try { console.log(JSON.stringify(JSON.parse(t), null, 2)) } catch { console.log(t) }'; }

step "GET /info"
curl -s "$URL/info" | pretty
step "POST /re-sync-all"
curl -s -X POST "$URL/re-sync-all" | bun -e '
  const r = JSON.parse(await Bun.stdin.text());
  console.log(`status ${r.status}, run ${r.run_id}, ${(r.duration_ms / 1000).toFixed(2)} s`);
  for (const [type, t] of Object.entries(r.types ?? {})) {
    const skipped = Object.entries(t.skipped).map(([k, v]) => `${k}=${v.count}`).join(" ");
    console.log(`  ${type.padEnd(10)} ${String(t.entries).padStart(6)} entries from ${t.documents} documents; skipped: ${skipped || "none"}`);
  }'
step "GET /category-search?query=flyer&limit=5"
curl -s "$URL/category-search?query=flyer&limit=5" | pretty
step "GET /sync-status (summary; the full body also has last_run with every skipped example)"
curl -s "$URL/sync-status" | bun -e '
  const { status, last_sync, duration_seconds, items_synced, active } = JSON.parse(await Bun.stdin.text());
  console.log(JSON.stringify({ status, last_sync, duration_seconds, items_synced, active }, null, 2));'
printf '\nThe service is still running on %s (Swagger UI: %s/swagger). Stop it with: kill %s\n' "$URL" "$URL" "$(cat "$DEMO_DIR/search-sync.pid")"
