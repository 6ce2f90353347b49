// The help texts: `search-sync --help` and `search-sync <command> --help`.
export const COMMANDS = ["serve", "sync", "status", "history", "healthcheck", "check-config"] as const;
export type Command = (typeof COMMANDS)[number];

const FOOTER = `Configuration comes from the environment and an optional .env file in the working
directory; see the README for every variable.`;

export const USAGE = `Usage: search-sync [command] [options]

Commands:
  serve                 run the HTTP service (default)
  sync                  run one sync now and exit with its outcome
  status                print the sync status
  history               print past runs
  healthcheck           exit 0 when the local service answers GET /healthz, else 1
  check-config          check the configuration and test Redis, MongoDB and the history database

Options:
  -h, --help            this text; search-sync <command> --help for a command's options
  -v, --version         the version

${FOOTER}`;

export const COMMAND_USAGE: Record<Command, string> = {
  serve: `Usage: search-sync serve

Runs the HTTP service on LISTEN_HOST:PORT (default 0.0.0.0:8000) with the scheduler.
SIGTERM or SIGINT stops it: requests stop, an active run gets SHUTDOWN_TIMEOUT_SECONDS to finish.

${FOOTER}`,
  sync: `Usage: search-sync sync [--type T] [--force] [--dry-run] [--json]

Runs one sync now, taking the same run lock as the service. On a terminal a progress bar
shows the stage, documents read of the estimated total, entries per second and the ETA;
elsewhere progress comes as plain log lines.

Options:
  --type T              categories, boxes or options (default: all three)
  --force               publish even if the index would shrink more than SYNC_MAX_SHRINK_PERCENT
  --dry-run             build and report differences, publish nothing
  --json                print the run's result as JSON on stdout (no progress)
  -h, --help            this text

Ctrl-C (SIGINT) or SIGTERM aborts the run, which is recorded as failed (interrupted);
a second one exits at once.

Exit codes: 0 success, 1 failed, 2 bad arguments or configuration,
3 rejected by the shrink guard, 4 skipped because another run is active,
130 interrupted by SIGINT, 143 interrupted by SIGTERM.

${FOOTER}`,
  status: `Usage: search-sync status [--json]

Prints the sync status all replicas share (the Redis status key): the active run with its
progress, and the last finished run.

Options:
  --json                print it as JSON (what GET /sync-status returns under last_run and active)
  -h, --help            this text

${FOOTER}`,
  history: `Usage: search-sync history [--limit N] [--json]

Prints past runs from the history database, newest first.

Options:
  --limit N             how many runs, 1 to 1000 (default 20)
  --json                print them as JSON
  -h, --help            this text

${FOOTER}`,
  healthcheck: `Usage: search-sync healthcheck

Asks the service on this machine for GET /healthz (http://127.0.0.1:$PORT, or LISTEN_HOST when it
names one address) and exits 0 when it answers 200 within 3 seconds, 1 otherwise. For Docker's
HEALTHCHECK, which has no curl in the image.

${FOOTER}`,
  "check-config": `Usage: search-sync check-config

Reads the configuration as the service would and tests what it points at, printing one line
per check ("ok", "warn" or "FAIL", the check, the detail):
  configuration         every variable valid (SYNC_CRON and SYNC_TIMEZONE checked with croner)
  scheduler             whether it would start, and why (ENABLE_SCHEDULER or the state saved
                        through the API); the cron job's next run
  history database      HISTORY_DB_PATH can be opened and written (or created)
  dataset files         the directory of DATA_SET_FILE is writable
  Redis, MongoDB        each answers a ping within 5 seconds
Nothing is started, created or migrated.

Exit codes: 0 every check passed (warnings allowed), 1 a check failed,
2 the configuration is invalid (one line naming the variable, as at start).

${FOOTER}`,
};
