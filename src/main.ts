#!/usr/bin/env bun
// The search-sync executable: `serve` (default), `sync`, `status`, `history`.
import { parseArgs } from "node:util";
import pkg from "../package.json";
import { createApp } from "./app.ts";
import { ITEM_TYPES, type ItemType } from "./catalog/types.ts";
import { ConfigError, loadEnv, parseConfig, type Config } from "./config.ts";
import { HistoryDbError } from "./history/db.ts";
import { createLogger, type Logger } from "./log.ts";
import { Scheduler } from "./scheduler/scheduler.ts";
import { createServices, waitForRedis, type Services } from "./services.ts";
import type { RunResult } from "./sync/types.ts";

const USAGE = `Usage: search-sync [command] [options]

Commands:
  serve                 run the HTTP service (default)
  sync                  run one sync now and exit (0 success, 1 failed, 3 rejected, 4 another run active)
      --type T          categories, boxes or options (default: all three)
      --force           publish even if the index would shrink more than SYNC_MAX_SHRINK_PERCENT
      --dry-run         build and report differences, publish nothing
      --json            print the result as JSON
  status                print the sync status (--json for JSON)
  history               print past runs (--limit N, default 20; --json for JSON)

Options:
  -h, --help            this text
  -v, --version         the version

Configuration comes from the environment and an optional .env file in the working
directory; see the README for every variable.`;

export const EXIT = { ok: 0, failed: 1, usage: 2, rejected: 3, skipped: 4 } as const;

function fail(message: string, code: number = EXIT.usage): never {
  process.stderr.write(`search-sync: ${message}\n`);
  process.exit(code);
}

function loadConfig(): Config {
  try {
    return parseConfig(loadEnv());
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

function openServices(config: Config, logger: Logger): Services {
  try {
    return createServices(config, logger);
  } catch (err) {
    if (err instanceof HistoryDbError) fail(err.message);
    throw err;
  }
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  const services = openServices(config, logger);
  const startedAt = new Date();
  if (config.adminApiKey === null)
    logger.warn("ADMIN_API_KEY is not set: admin endpoints (sync triggers, scheduler, push updates) answer only to loopback clients");

  if (await waitForRedis(services.redis, 3_000)) {
    const holder = await services.lock.holder().catch(() => null);
    const interrupted = services.history.markInterrupted(holder);
    if (interrupted) logger.warn(`Marked ${interrupted} interrupted run(s) as failed`);
  } else {
    logger.warn("Redis is not reachable yet; the service starts anyway and keeps retrying");
  }

  const scheduler = new Scheduler(services);
  const app = createApp({ ...services, version: pkg.version, startedAt, scheduler });
  app.listen({ hostname: config.listenHost, port: config.port });
  logger.info(`search-sync ${pkg.version} listening on http://${config.listenHost}:${app.server?.port}`);
  await scheduler.init();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received: stopping`);
    await app.stop();
    // Stops the jobs; a run a tick already started is in activeRunId below.
    await scheduler.close();
    const running = services.engine.activeRunId;
    if (running) {
      logger.info(`Waiting up to ${config.shutdownTimeoutSeconds} s for run ${running} to finish`);
      const finished = await Promise.race([
        waitForIdle(services).then(() => true),
        Bun.sleep(config.shutdownTimeoutSeconds * 1000).then(() => false),
      ]);
      if (!finished) await services.engine.abortActive("shutdown");
    }
    await services.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

async function waitForIdle(services: Services): Promise<void> {
  while (services.engine.activeRunId) await Bun.sleep(100);
}

function exitCodeOf(result: RunResult): number {
  if (result.status === "success") return EXIT.ok;
  if (result.status === "rejected") return EXIT.rejected;
  if (result.status === "skipped") return EXIT.skipped;
  return EXIT.failed;
}

async function syncCommand(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { type: { type: "string" }, force: { type: "boolean" }, "dry-run": { type: "boolean" }, json: { type: "boolean" } },
    strict: true,
  });
  const type = values.type;
  if (type !== undefined && !ITEM_TYPES.includes(type as ItemType)) fail(`--type must be one of ${ITEM_TYPES.join(", ")}, not "${type}"`);
  const logger = createLogger({ format: values.json ? "json" : config.logFormat, level: values.json ? "warn" : config.logLevel });
  const services = openServices(config, logger);
  try {
    if (!(await waitForRedis(services.redis, 5_000))) fail("Redis is not reachable", EXIT.failed);
    const result = await services.engine.run((type as ItemType | undefined) ?? "all", "cli", { force: values.force, dryRun: values["dry-run"] });
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (result.status === "skipped") process.stderr.write(`search-sync: another run is in progress (${result.active_run_id})\n`);
    return exitCodeOf(result);
  } finally {
    await services.close();
  }
}

async function statusCommand(config: Config, args: string[], history: boolean): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean" }, limit: { type: "string" } }, strict: true });
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail(`--limit must be an integer from 1 to 1000, not "${values.limit}"`);
  const services = openServices(config, createLogger({ format: "text", level: "error" }));
  try {
    if (history) {
      const runs = services.history.list(limit);
      if (values.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      else printHistory(runs);
    } else {
      await waitForRedis(services.redis, 3_000);
      const status = await services.status.get();
      if (values.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else printStatus(status.active?.stage ?? null, status.last_run);
    }
    return EXIT.ok;
  } finally {
    await services.close();
  }
}

function printStatus(activeStage: string | null, last: RunResult | null): void {
  const lines = [`Active run:   ${activeStage ?? "none"}`];
  if (last) {
    lines.push(
      `Last run:     ${last.run_id} (${last.trigger}, ${last.scope})`,
      `Status:       ${last.status}${last.error ? ` — ${last.error}` : ""}`,
      `Finished:     ${last.finished_at ?? "-"}`,
      `Duration:     ${((last.duration_ms ?? 0) / 1000).toFixed(1)} seconds`,
    );
    for (const [type, r] of Object.entries(last.types)) lines.push(`${type.padEnd(13)} ${r?.entries ?? 0} entries from ${r?.documents ?? 0} documents`);
  } else lines.push("Last run:     never");
  process.stdout.write(`${lines.join("\n")}\n`);
}

function printHistory(runs: RunResult[]): void {
  const header = ["run_id", "trigger", "scope", "status", "started_at", "duration_s", "entries"];
  const rows = runs.map((r) => [
    r.run_id,
    r.trigger,
    r.scope,
    r.status,
    r.started_at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    r.duration_ms === null ? "-" : (r.duration_ms / 1000).toFixed(1),
    String(Object.values(r.types).reduce((sum, t) => sum + (t?.entries ?? 0), 0)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  process.stdout.write(`${[line(header), ...rows.map(line)].join("\n")}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command = "serve", ...rest] = argv;
  if (command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === "-v" || command === "--version") {
    process.stdout.write(`search-sync ${pkg.version}\n`);
    return;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    switch (command) {
      case "serve":
        if (rest.length) fail(`serve takes no arguments (got ${rest.join(" ")})\n${USAGE}`);
        return await serve(loadConfig());
      case "sync":
        process.exit(await syncCommand(loadConfig(), rest));
      case "status":
        process.exit(await statusCommand(loadConfig(), rest, false));
      case "history":
        process.exit(await statusCommand(loadConfig(), rest, true));
      default:
        fail(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) fail(`${(err as Error).message}\n${USAGE}`);
    throw err;
  }
}

await main(process.argv.slice(2));
