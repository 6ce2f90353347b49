// The one-shot commands: sync, status, history, healthcheck. `serve` lives in src/main.ts.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { waitForRedis } from "../app/container.ts";
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import type { Config } from "../platform/config.ts";
import { createLogger, writeLine } from "../platform/log.ts";
import type { SyncEngine } from "../runs/engine.ts";
import type { RunOptions, RunResult, Scope } from "../runs/model.ts";
import { EXIT, fail, loadConfig, openServices } from "./common.ts";
import { formatHistory, formatStatus, formatSummary } from "./format.ts";
import { ProgressDisplay } from "./progress.ts";
import { COMMAND_USAGE, type Command } from "./usage.ts";

// How long `sync` waits for its alert to be delivered before exiting: every attempt of the
// retry schedule (4 × 5 s, plus 1 + 2 + 4 s of backoff).
const ALERT_DRAIN_MS = 30_000;
// Interrupted: the alert of the aborted run gets this long, so the command still exits promptly.
const ALERT_DRAIN_INTERRUPTED_MS = 3_000;
const HEALTHCHECK_TIMEOUT_MS = 3_000;
// 128 + the signal's number, as shells report a command a signal ended.
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** Parses a command's options strictly: an unknown option or a stray argument is a usage error (exit 2). */
export function options<T extends NonNullable<ParseArgsConfig["options"]>>(command: Command, args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n\n${COMMAND_USAGE[command]}`);
  }
}

function exitCodeOf(result: RunResult): number {
  if (result.status === "success") return EXIT.ok;
  if (result.status === "rejected") return EXIT.rejected;
  if (result.status === "skipped") return EXIT.skipped;
  return EXIT.failed;
}

export async function syncCommand(config: Config, args: string[]): Promise<number> {
  const values = options("sync", args, { type: { type: "string" }, force: { type: "boolean" }, "dry-run": { type: "boolean" }, json: { type: "boolean" } });
  const type = values.type as ItemType | undefined;
  if (type !== undefined && !ITEM_TYPES.includes(type)) fail(`--type must be one of ${ITEM_TYPES.join(", ")}, not "${type}"\n\n${COMMAND_USAGE.sync}`);
  const json = values.json === true;
  // The bar and log lines share the terminal: a log line first erases the bar (redrawn at the next update).
  let progress: ProgressDisplay | null = null;
  const logger = createLogger({ format: json ? "json" : config.logFormat, level: json ? "warn" : config.logLevel }, (line, level) => {
    progress?.clear();
    writeLine(line, level);
  });
  if (!json) progress = new ProgressDisplay(process.stderr.isTTY ? process.stderr : null, logger);
  // The run builds in this thread, not in a worker: the command answers no requests meanwhile.
  const services = openServices(config, logger, { onProgress: progress ? (active) => progress!.update(active) : undefined });
  const interrupt = onInterrupt(services.engine, () => progress?.clear());
  try {
    if (!(await waitForRedis(services.redis, 5_000))) fail("Redis is not reachable", EXIT.failed);
    const result = await interrupt.run(type ?? "all", { force: values.force, dryRun: values["dry-run"] });
    progress?.clear();
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (result.status === "skipped") process.stderr.write(`search-sync: another run is in progress (${result.active_run_id}); nothing was done\n`);
    // JSON logs already carry the run's end as one object: stdout stays one JSON object per line.
    else if (config.logFormat === "text") process.stdout.write(`${formatSummary(result)}\n`);
    await services.alerts.drain(interrupt.signal ? ALERT_DRAIN_INTERRUPTED_MS : ALERT_DRAIN_MS);
    return interrupt.signal ? SIGNAL_EXIT[interrupt.signal] : exitCodeOf(result);
  } finally {
    await services.close();
  }
}

/**
 * SIGINT (Ctrl-C) or SIGTERM during `sync`: the run is aborted at its next batch, cleans up (temp
 * files, unpublished generations, the lock) and is recorded as failed; a second signal exits at
 * once. A signal before the run has started, or once it has ended (while its alert is sent), exits
 * at once: there is nothing to clean up.
 */
function onInterrupt(engine: SyncEngine, beforeMessage: () => void) {
  let signal: keyof typeof SIGNAL_EXIT | null = null;
  let phase: "before" | "running" | "ended" = "before";
  const reason = (sig: keyof typeof SIGNAL_EXIT) => `interrupted by ${sig}`;
  const handle = (sig: keyof typeof SIGNAL_EXIT) => {
    beforeMessage();
    if (signal || phase !== "running") {
      process.stderr.write(`search-sync: ${sig}: exiting now\n`);
      process.exit(SIGNAL_EXIT[sig]);
    }
    signal = sig;
    process.stderr.write(`search-sync: ${sig}: stopping the run (send it again to exit at once)\n`);
    engine.abortActive(reason(sig));
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => handle(sig));
  return {
    get signal() {
      return signal;
    },
    async run(scope: Scope, opts: RunOptions): Promise<RunResult> {
      phase = "running";
      try {
        const outcome = await engine.trigger(scope, "cli", opts);
        if (!outcome.started) return outcome.result;
        // A signal while the lock was being taken: the run stops at its first batch.
        if (signal) engine.abortActive(reason(signal));
        return await outcome.done;
      } finally {
        phase = "ended";
      }
    },
  };
}

export async function statusCommand(config: Config, args: string[]): Promise<number> {
  const values = options("status", args, { json: { type: "boolean" } });
  const services = openServices(config, createLogger({ format: "text", level: "error" }));
  try {
    if (!(await waitForRedis(services.redis, 3_000))) fail("Redis is not reachable: the status cannot be read", EXIT.failed);
    const status = await services.status.get();
    process.stdout.write(`${values.json ? JSON.stringify(status, null, 2) : formatStatus(status)}\n`);
    return EXIT.ok;
  } finally {
    await services.close();
  }
}

export async function historyCommand(config: Config, args: string[]): Promise<number> {
  const values = options("history", args, { json: { type: "boolean" }, limit: { type: "string" } });
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!/^\d+$/.test(values.limit ?? "20") || limit < 1 || limit > 1000)
    fail(`--limit must be an integer from 1 to 1000, not "${values.limit}"\n\n${COMMAND_USAGE.history}`);
  const services = openServices(config, createLogger({ format: "text", level: "error" }));
  try {
    const runs = services.history.list(limit);
    process.stdout.write(`${values.json ? JSON.stringify(runs, null, 2) : formatHistory(runs)}\n`);
    return EXIT.ok;
  } finally {
    await services.close();
  }
}

/** Exit 0 when the local service answers /healthz. Docker reserves exit code 2, so every failure here is 1. */
export async function healthcheckCommand(args: string[]): Promise<number> {
  options("healthcheck", args, {});
  const config = loadConfig(EXIT.failed);
  const host = ["0.0.0.0", "::", "[::]"].includes(config.listenHost) ? "127.0.0.1" : config.listenHost;
  const url = `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${config.port}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS) });
    if (res.ok) return EXIT.ok;
    process.stderr.write(`search-sync: healthcheck: ${url} answered ${res.status}\n`);
  } catch (err) {
    const reason = (err as Error).name === "TimeoutError" ? `no answer within ${HEALTHCHECK_TIMEOUT_MS / 1000} s` : (err as Error).message;
    process.stderr.write(`search-sync: healthcheck: ${url}: ${reason}\n`);
  }
  return EXIT.failed;
}
