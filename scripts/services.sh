#!/usr/bin/env bash
# Local Redis + MongoDB-compatible server for dev and tests. Data lives in .local/ (git-ignored).
#   scripts/services.sh start|stop|status|env|build-cs
#   eval "$(scripts/services.sh env)"     # exports REDIS_URL, MONGODB_URI and MONGODB_CS_URI
# Mongo source, in order: MONGODB_URI / HOST (mongodb://…) from the environment (nothing started),
# else mongod from PATH, else FerretDB v1.24.2 on SQLite (built into .local/bin on first use).
# Besides it, a MongoDB server with change streams for the change-stream tests: mongo-java-server
# (in memory; scripts/mongo-java-server/, built with Maven into .local/ on first use), at MONGODB_CS_URI.
# Ports: SS_REDIS_PORT (6390), SS_MONGO_PORT (27027), SS_MONGO_CS_PORT (27037).
# `status` exits 3 when something is down. `build-cs` builds the mongo-java-server jar if it is older
# than its sources (`start` does too; a server already running keeps its jar until it is restarted).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
REDIS_PORT="${SS_REDIS_PORT:-6390}"
MONGO_PORT="${SS_MONGO_PORT:-27027}"
MONGO_CS_PORT="${SS_MONGO_CS_PORT:-27037}"
MONGO_CS_SRC="$ROOT/scripts/mongo-java-server"
MONGO_CS_JAR="$LOCAL/mongo-java-server/mongo-cs-server.jar"
MONGO_CS_DIR="$LOCAL/mongo-cs"
MONGO_CS_PID="$MONGO_CS_DIR/mongo-cs.pid"
FERRETDB_VERSION="v1.24.2"
FERRETDB_BIN="$LOCAL/bin/ferretdb"
REDIS_DIR="$LOCAL/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
MONGOD_DIR="$LOCAL/mongod"
MONGOD_PID="$MONGOD_DIR/mongod.pid"
FERRET_DIR="$LOCAL/ferretdb"
FERRET_PID="$FERRET_DIR/ferretdb.pid"
LOCAL_MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT"

# shellcheck source=lib/go.sh
source "$ROOT/scripts/lib/go.sh"

say() { echo "services: $*" >&2; }
die() { echo "services: error: $*" >&2; exit 1; }

[[ "$REDIS_PORT" =~ ^[0-9]+$ ]] || die "SS_REDIS_PORT must be a number, got '$REDIS_PORT'"
[[ "$MONGO_PORT" =~ ^[0-9]+$ ]] || die "SS_MONGO_PORT must be a number, got '$MONGO_PORT'"
[[ "$MONGO_CS_PORT" =~ ^[0-9]+$ ]] || die "SS_MONGO_CS_PORT must be a number, got '$MONGO_CS_PORT'"

# The user's own MongoDB, if any. Our own local URI (e.g. exported earlier by `env`) does not count.
user_mongo_uri() {
  local uri=""
  if [[ -n "${MONGODB_URI:-}" ]]; then
    uri="$MONGODB_URI"
  elif [[ "${HOST:-}" == mongodb://* || "${HOST:-}" == mongodb+srv://* ]]; then
    uri="$HOST"
  fi
  [[ "$uri" == "$LOCAL_MONGO_URI" || "$uri" == "$LOCAL_MONGO_URI/" ]] && uri=""
  printf '%s' "$uri"
}

redact() { sed -E 's#(mongodb(\+srv)?://)[^@/]*@#\1***@#' <<<"$1"; }

# Alive and not a zombie (an exited child nobody has reaped yet still answers kill -0).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$state" != Z && "$state" != X ]]
}

# pid from a pid file if that process is alive and is the expected program (guards against pid reuse).
live_pid() {
  local file="$1" comm="$2" pid
  [[ -f "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm"* ]] || return 1
  printf '%s' "$pid"
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

log_tail() { [[ -f "$1" ]] && tail -n 20 "$1" | sed 's/^/  | /' >&2 || true; }

stop_pid() {
  local name="$1" pid="$2" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || { say "$name stopped (pid $pid)"; return 0; }
    sleep 0.1
  done
  say "$name did not exit after 10 s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
}

mongo_ping() {
  (cd "$ROOT" && SS_PING_URI="$1" timeout 20 bun -e '
    const { MongoClient } = await import("mongodb");
    const client = new MongoClient(process.env.SS_PING_URI ?? "", { serverSelectionTimeoutMS: 3000 });
    try { await client.db("admin").command({ ping: 1 }); } finally { await client.close(); }
  ') >/dev/null 2>&1
}

# ---------- Redis ----------

ensure_redis_installed() {
  command -v redis-server >/dev/null && return 0
  say "redis-server not found, installing it with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null || die "redis-server still missing after apt-get install"
}

start_redis() {
  local pid log="$REDIS_DIR/redis.log" i
  if pid="$(live_pid "$REDIS_PID" redis-server)"; then
    say "redis already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT (redis) is already in use by a process not started by this script"
  ensure_redis_installed
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PID"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --daemonize yes \
    --pidfile "$REDIS_PID" --logfile "$log" --save "" --appendonly no --protected-mode no >/dev/null
  for ((i = 0; i < 100; i++)); do
    if [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]; then
      say "redis started (pid $(cat "$REDIS_PID" 2>/dev/null || echo '?')) on 127.0.0.1:$REDIS_PORT"
      return 0
    fi
    sleep 0.1
  done
  log_tail "$log"
  die "redis did not answer PING on 127.0.0.1:$REDIS_PORT within 10 s (log: $log)"
}

stop_redis() {
  local pid
  if pid="$(live_pid "$REDIS_PID" redis-server)"; then stop_pid redis "$pid"; else say "redis not running"; fi
  rm -f "$REDIS_PID"
}

# ---------- MongoDB (mongod or FerretDB) ----------

# Prints "mongod PID" or "ferretdb PID" for the local server we started, if it is alive.
local_mongo() {
  local pid
  if pid="$(live_pid "$MONGOD_PID" mongod)"; then echo "mongod $pid"; return 0; fi
  if pid="$(live_pid "$FERRET_PID" ferretdb)"; then echo "ferretdb $pid"; return 0; fi
  return 1
}

# The Go module zip lacks build/version/version.txt, so `go install …@version` builds a binary
# that panics at start; build from a writable copy of the module with that file added.
build_ferretdb() {
  local go dir tmp
  go="$(find_go)" || die "FerretDB binary missing and no Go $FERRETDB_MIN_GO or newer to build it (scripts/bootstrap.sh installs one where Debian has it; or put mongod on PATH, or set MONGODB_URI)"
  say "building FerretDB $FERRETDB_VERSION into $FERRETDB_BIN with $go (first time only, ~1.5 min)"
  dir="$(cd /tmp && "$go" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    bun -e 'console.log(JSON.parse(await Bun.stdin.text()).Dir)')"
  [[ -d "$dir" ]] || die "go mod download did not give a source dir for FerretDB"
  tmp="$(mktemp -d)"
  cp -r "$dir" "$tmp/src"
  chmod -R u+w "$tmp/src"
  echo "$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  if ! (cd "$tmp/src" && "$go" build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb); then
    rm -rf "$tmp"
    die "FerretDB build failed"
  fi
  rm -rf "$tmp"
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  say "FerretDB built: $("$FERRETDB_BIN" --version | head -n 1)"
}

wait_mongo() {
  local name="$1" pid="$2" log="$3" secs="$4" i
  for ((i = 0; i < secs * 4; i++)); do
    alive "$pid" || { log_tail "$log"; die "$name exited during start-up (log: $log)"; }
    if port_open "$MONGO_PORT" && mongo_ping "$LOCAL_MONGO_URI"; then
      say "$name started (pid $pid) on 127.0.0.1:$MONGO_PORT"
      return 0
    fi
    sleep 0.25
  done
  log_tail "$log"
  die "$name did not answer ping on 127.0.0.1:$MONGO_PORT within $secs s (log: $log)"
}

start_mongod() {
  local log="$MONGOD_DIR/mongod.log"
  mkdir -p "$MONGOD_DIR/data"
  rm -f "$MONGOD_PID"
  mongod --dbpath "$MONGOD_DIR/data" --port "$MONGO_PORT" --bind_ip 127.0.0.1 --fork \
    --logpath "$log" --pidfilepath "$MONGOD_PID" >/dev/null || { log_tail "$log"; die "mongod failed to start"; }
  wait_mongo mongod "$(tr -dc '0-9' <"$MONGOD_PID")" "$log" 30
}

start_ferretdb() {
  local log="$FERRET_DIR/ferretdb.log" pid
  [[ -x "$FERRETDB_BIN" ]] || build_ferretdb
  mkdir -p "$FERRET_DIR/data"
  # setsid: not in the caller's process group, so killing the caller's job leaves it running.
  setsid nohup "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$FERRET_DIR/data/" \
    --listen-addr="127.0.0.1:$MONGO_PORT" --telemetry=disable --debug-addr=- \
    --state-dir="$FERRET_DIR" --log-level=warn </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$FERRET_PID"
  wait_mongo ferretdb "$pid" "$log" 20
}

start_mongo() {
  local uri cur
  uri="$(user_mongo_uri)"
  if [[ -n "$uri" ]]; then
    say "mongo: using $(redact "$uri") from the environment, not starting a local server"
    return 0
  fi
  if cur="$(local_mongo)"; then
    say "${cur% *} already running (pid ${cur#* }) on 127.0.0.1:$MONGO_PORT"
    return 0
  fi
  port_open "$MONGO_PORT" && die "port $MONGO_PORT (mongo) is already in use by a process not started by this script"
  if command -v mongod >/dev/null; then start_mongod; else start_ferretdb; fi
}

stop_mongo() {
  local cur stopped=0
  # Both, in case the source changed between runs (e.g. mongod installed later).
  for cur in "mongod $MONGOD_PID" "ferretdb $FERRET_PID"; do
    local name="${cur% *}" file="${cur#* }" pid
    if pid="$(live_pid "$file" "$name")"; then stop_pid "$name" "$pid"; stopped=1; fi
    rm -f "$file"
  done
  ((stopped)) || say "mongo not running"
}

# ---------- MongoDB with change streams (mongo-java-server) ----------

ensure_java_and_maven() {
  command -v java >/dev/null && command -v mvn >/dev/null && return 0
  say "java or mvn not found, installing them with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
  command -v java >/dev/null && command -v mvn >/dev/null || die "java or mvn still missing after apt-get install"
}

# Builds the jar when it is missing or older than its sources (Maven Central the first time; the
# local Maven repository after that, also offline).
build_mongo_cs() {
  local newer
  newer="$(find "$MONGO_CS_SRC" -type f -newer "$MONGO_CS_JAR" 2>/dev/null | head -n 1 || true)"
  [[ -f "$MONGO_CS_JAR" && -z "$newer" ]] && return 0
  ensure_java_and_maven
  say "building mongo-java-server into $(dirname "$MONGO_CS_JAR") (first time: downloads from Maven Central)"
  (cd "$MONGO_CS_SRC" && mvn -q -B package) >&2 || die "building mongo-java-server failed (mvn package in $MONGO_CS_SRC)"
}

start_mongo_cs() {
  local log="$MONGO_CS_DIR/mongo-cs.log" pid i
  if pid="$(live_pid "$MONGO_CS_PID" java)"; then
    say "mongo-java-server already running (pid $pid) on 127.0.0.1:$MONGO_CS_PORT"
    return 0
  fi
  port_open "$MONGO_CS_PORT" && die "port $MONGO_CS_PORT (mongo-java-server) is already in use by a process not started by this script"
  build_mongo_cs
  mkdir -p "$MONGO_CS_DIR"
  # setsid: not in the caller's process group, so killing the caller's job leaves it running.
  setsid nohup java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar "$MONGO_CS_JAR" "$MONGO_CS_PORT" \
    </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$MONGO_CS_PID"
  for ((i = 0; i < 120; i++)); do
    alive "$pid" || { log_tail "$log"; die "mongo-java-server exited during start-up (log: $log)"; }
    if port_open "$MONGO_CS_PORT" && mongo_ping "mongodb://127.0.0.1:$MONGO_CS_PORT"; then
      say "mongo-java-server started (pid $pid) on 127.0.0.1:$MONGO_CS_PORT"
      return 0
    fi
    sleep 0.25
  done
  log_tail "$log"
  die "mongo-java-server did not answer ping on 127.0.0.1:$MONGO_CS_PORT within 30 s (log: $log)"
}

stop_mongo_cs() {
  local pid
  if pid="$(live_pid "$MONGO_CS_PID" java)"; then stop_pid mongo-java-server "$pid"; else say "mongo-java-server not running"; fi
  rm -f "$MONGO_CS_PID"
}

# ---------- commands ----------

# Fail before starting anything if a port is held by something that is not ours.
preflight() {
  if ! live_pid "$REDIS_PID" redis-server >/dev/null && port_open "$REDIS_PORT"; then
    die "port $REDIS_PORT (redis) is already in use by a process not started by this script"
  fi
  if [[ -z "$(user_mongo_uri)" ]] && ! local_mongo >/dev/null && port_open "$MONGO_PORT"; then
    die "port $MONGO_PORT (mongo) is already in use by a process not started by this script"
  fi
  if ! live_pid "$MONGO_CS_PID" java >/dev/null && port_open "$MONGO_CS_PORT"; then
    die "port $MONGO_CS_PORT (mongo-java-server) is already in use by a process not started by this script"
  fi
}

status() {
  local pid cur uri rc=0
  if pid="$(live_pid "$REDIS_PID" redis-server)"; then
    echo "redis: running (pid $pid) redis://127.0.0.1:$REDIS_PORT"
  else
    echo "redis: not running (redis://127.0.0.1:$REDIS_PORT)"; rc=3
  fi
  uri="$(user_mongo_uri)"
  if [[ -n "$uri" ]]; then
    echo "mongo: external $(redact "$uri") (from the environment, not managed here)"
  elif cur="$(local_mongo)"; then
    echo "mongo: running ${cur% *} (pid ${cur#* }) $LOCAL_MONGO_URI"
  else
    echo "mongo: not running ($LOCAL_MONGO_URI)"; rc=3
  fi
  if pid="$(live_pid "$MONGO_CS_PID" java)"; then
    echo "mongo-java-server: running (pid $pid) mongodb://127.0.0.1:$MONGO_CS_PORT"
  else
    echo "mongo-java-server: not running (mongodb://127.0.0.1:$MONGO_CS_PORT)"; rc=3
  fi
  return "$rc"
}

print_env() {
  local uri
  uri="$(user_mongo_uri)"
  printf 'export REDIS_URL=%q\n' "redis://127.0.0.1:$REDIS_PORT"
  printf 'export MONGODB_URI=%q\n' "${uri:-$LOCAL_MONGO_URI}"
  printf 'export MONGODB_CS_URI=%q\n' "mongodb://127.0.0.1:$MONGO_CS_PORT"
}

case "${1:-}" in
  start) preflight; start_redis; start_mongo; start_mongo_cs ;;
  stop) stop_redis; stop_mongo; stop_mongo_cs ;;
  status) status ;;
  env) print_env ;;
  build-cs) build_mongo_cs ;;
  *) echo "usage: $0 start|stop|status|env|build-cs" >&2; exit 2 ;;
esac
