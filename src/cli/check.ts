// `search-sync check-config`: the configuration as the service would read it, and whether what it
// points at answers (Redis, MongoDB) or can be written (history database, dataset files). One line
// per check; nothing is started, created or migrated.
import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Cron } from "croner";
import { drizzle } from "drizzle-orm/bun-sqlite";
import type { MongoClient } from "mongodb";
import { waitForRedis } from "../app/container.ts";
import type { Config } from "../platform/config.ts";
import { redactUri, redactValue } from "../platform/redact.ts";
import { createRedis, evictionWarning, redisErrorText } from "../platform/redis.ts";
import { withTimeout } from "../platform/timeouts.ts";
import { datasetPath } from "../runs/dataset.ts";
import { type HistoryDb, newerSchema } from "../runs/history/db.ts";
import { HistoryRepo } from "../runs/history/repo.ts";
import * as schema from "../runs/history/schema.ts";
import { startState } from "../scheduler/scheduler.ts";
import { probeChangeStreams } from "../source/changes.ts";
import { createMongoClient } from "../source/mongo.ts";
import { options } from "./commands.ts";
import { EXIT, loadConfig } from "./common.ts";

// Each connection check gives up after this long (the clients' own timeouts are 2 s).
const CHECK_TIMEOUT_MS = 5_000;

type Outcome = "ok" | "warn" | "FAIL";

interface Check {
  outcome: Outcome;
  name: string;
  detail: string;
}

const ok = (name: string, detail: string): Check => ({ outcome: "ok", name, detail });
const warn = (name: string, detail: string): Check => ({ outcome: "warn", name, detail });
const failed = (name: string, detail: string): Check => ({ outcome: "FAIL", name, detail });

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function bounded<T>(promise: Promise<T>): Promise<T> {
  return withTimeout(promise, CHECK_TIMEOUT_MS, () => {
    throw new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`);
  });
}

function redisTarget(redis: Config["redis"]): string {
  const list = (nodes: { host: string; port: number }[]) => nodes.map((n) => `${n.host}:${n.port}`).join(",");
  if (redis.mode === "cluster") return `Cluster nodes ${list(redis.clusterNodes)}`;
  if (redis.mode === "sentinel") return `master ${redis.sentinelName} through Sentinels ${list(redis.sentinels)}`;
  return redis.url ? redactValue(redis.url) : `${redis.host}:${redis.port} db ${redis.db}`;
}

async function checkRedis(config: Config): Promise<Check[]> {
  const target = redisTarget(config.redis);
  let client: ReturnType<typeof createRedis> | null = null;
  try {
    client = createRedis(config.redis);
    const started = performance.now();
    const ready = waitForRedis(client, CHECK_TIMEOUT_MS).then((up) => (up ? "ready" : `no connection within ${CHECK_TIMEOUT_MS / 1000} s`));
    // One server: its first connection error is the answer. Cluster and Sentinel clients may see a
    // node fail on the way to a healthy topology, so they get the whole time.
    const refused = new Promise<string>((resolve) => config.redis.mode === "standalone" && client?.once("error", () => resolve("no connection")));
    const state = await Promise.race([ready, refused]);
    if (state !== "ready") throw new Error(state);
    const answer = await bounded(client.ping());
    const reached = ok("Redis", `${target} answered ${answer} in ${Math.round(performance.now() - started)} ms`);
    const eviction = await bounded(evictionWarning(client)).catch(() => null);
    return eviction ? [reached, warn("Redis memory", eviction)] : [reached];
  } catch (err) {
    return [failed("Redis", `${target}: ${client ? redisErrorText(client, err) : messageOf(err)}`)];
  } finally {
    client?.disconnect();
  }
}

async function checkMongo(config: Config): Promise<Check[]> {
  const target = `${redactValue(config.mongoUri)} (database ${config.dbName})`;
  const client = createMongoClient(config.mongoUri);
  try {
    const started = performance.now();
    await bounded(client.db(config.dbName).command({ ping: 1 }));
    const reached = ok("MongoDB", `${target} answered ping in ${Math.round(performance.now() - started)} ms`);
    return config.changeStreams === "off" ? [reached] : [reached, await checkChangeStreams(config, client)];
  } catch (err) {
    return [failed("MongoDB", `${target}: ${messageOf(err)}`)];
  } finally {
    await client.close().catch(() => {});
  }
}

/** What the service would find at start: with SYNC_CHANGE_STREAMS=on, a server without change streams stops it. */
async function checkChangeStreams(config: Config, client: MongoClient): Promise<Check> {
  const setting = `SYNC_CHANGE_STREAMS=${config.changeStreams}`;
  let reason: string | null;
  try {
    reason = await bounded(probeChangeStreams(client.db(config.dbName), config.collections.categories.origin));
  } catch (err) {
    return warn("change streams", `could not ask MongoDB whether it has them: ${messageOf(err)}`);
  }
  if (reason === null) return ok("change streams", `MongoDB has them; ${setting} follows them`);
  if (config.changeStreams === "on") return failed("change streams", `${setting}, but MongoDB does not support them (${reason}): the service would not start`);
  return ok("change streams", `MongoDB does not support them (${reason}); ${setting}: runs alone keep the index in step`);
}

/** The nearest directory that exists at or above `path`'s directory, and whether this user may write there. */
function writableDir(path: string): { dir: string; error: string | null } {
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    if (!statSync(dir).isDirectory()) return { dir, error: `${dir} is not a directory` };
    accessSync(dir, constants.W_OK);
    return { dir, error: null };
  } catch (err) {
    return { dir, error: messageOf(err) };
  }
}

/** The history database can be opened and written; the file is not created or migrated here. */
function checkHistory(config: Config): { check: Check; repo: HistoryRepo | null; close(): void } {
  const file = resolve(process.cwd(), config.historyDbPath);
  const { dir, error } = writableDir(file);
  if (!existsSync(file)) {
    const check = error
      ? failed("history database", `${file} does not exist and cannot be created: ${error}`)
      : ok("history database", `${file} does not exist yet; it is created at start (${dir} is writable)`);
    return { check, repo: null, close() {} };
  }
  let sqlite: Database | null = null;
  try {
    sqlite = new Database(file, { readwrite: true, create: false, strict: true });
    sqlite.exec("PRAGMA busy_timeout = 3000");
    // Takes the write lock and gives it back: proves the file (and its journal) can be written.
    sqlite.exec("BEGIN IMMEDIATE; ROLLBACK;");
    // WAL mode needs the -wal and -shm files next to it.
    if (error) throw new Error(`its directory is not writable: ${error}`);
    const newer = newerSchema(sqlite);
    if (newer) throw new Error(newer);
    const runs = (sqlite.query("SELECT count(*) AS n FROM sync_runs").get() as { n: number } | null)?.n ?? 0;
    const open = sqlite;
    return {
      check: ok("history database", `${file} is writable (${runs} runs recorded)`),
      repo: new HistoryRepo(drizzle({ client: open, schema }) as HistoryDb, file),
      close: () => open.close(),
    };
  } catch (err) {
    sqlite?.close();
    return { check: failed("history database", `${file}: ${messageOf(err)}`), repo: null, close() {} };
  }
}

function checkDatasets(config: Config): Check {
  const file = resolve(process.cwd(), datasetPath(config.dataSetFile, "categories"));
  const { dir, error } = writableDir(file);
  return error ? failed("dataset files", `${dir} is not writable: ${error}`) : ok("dataset files", `written next to ${file} (${dir} is writable)`);
}

function checkScheduler(config: Config, repo: HistoryRepo | null): Check {
  let saved: ReturnType<HistoryRepo["getSettingEntry"]> = null;
  try {
    saved = repo?.getSettingEntry("scheduler.running") ?? null;
  } catch {
    // a database from before the settings table: nothing saved
  }
  const state = startState(config, saved);
  const job = new Cron(config.syncCron, { paused: true, timezone: config.syncTimezone });
  const next = job.nextRun();
  job.stop();
  return ok(
    "scheduler",
    `${state.line.replace(/^scheduler: /, "")}; cron '${config.syncCron}' in ${config.syncTimezone}, next run ${next?.toISOString() ?? "never"}`,
  );
}

function configuration(config: Config): Check[] {
  const env = resolve(process.cwd(), ".env");
  const source = existsSync(env) ? `the environment and ${env}` : "the environment (no .env in the working directory)";
  const checks = [ok("configuration", `valid, read from ${source}`)];
  if (config.adminApiKey === null) checks.push(warn("admin endpoints", "ADMIN_API_KEY is not set: they answer only to loopback clients"));
  return checks;
}

export async function checkConfigCommand(args: string[]): Promise<number> {
  options("check-config", args, {});
  const config = loadConfig();
  const history = checkHistory(config);
  try {
    const checks = [
      ...configuration(config),
      checkScheduler(config, history.repo),
      history.check,
      checkDatasets(config),
      ...(await Promise.all([checkRedis(config), checkMongo(config)])).flat(),
    ];
    for (const c of checks) process.stdout.write(`${redactUri(`${c.outcome.padEnd(5)} ${c.name}: ${c.detail}`)}\n`);
    const bad = checks.filter((c) => c.outcome === "FAIL").length;
    if (bad) process.stderr.write(`search-sync: check-config: ${bad} of ${checks.length} checks failed\n`);
    return bad ? EXIT.failed : EXIT.ok;
  } finally {
    history.close();
  }
}
