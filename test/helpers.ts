// Per-test isolation on the real services: own key prefix, own Mongo database, own temp dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster, Redis } from "ioredis";
import { type Db, MongoClient } from "mongodb";
import { createServices, type Services, waitForRedis } from "../src/app/container.ts";
import { type Config, parseConfig } from "../src/platform/config.ts";
import { createLogger, type Logger, silentLogger, TEXT_PREFIX } from "../src/platform/log.ts";
import { MONGODB_URI, REDIS_ENV, scanAll, testRedis } from "./env.ts";

export { MONGODB_URI };

/** Redis variables that point a service at a port where nothing listens (for "Redis down" tests). */
export const REDIS_DOWN_ENV: Record<string, string> =
  "REDIS_CLUSTER_NODES" in REDIS_ENV ? { REDIS_CLUSTER_NODES: "127.0.0.1:1" } : { REDIS_URL: "redis://127.0.0.1:1" };

export interface TestContext {
  name: string;
  prefix: string;
  dbName: string;
  dir: string;
  env: Record<string, string>;
  config: Config;
  db: Db;
  mongo: MongoClient;
  /** A client of the test Redis (Cluster or plain) for inspecting keys. */
  redis: Redis | Cluster;
  /** Builds the product's services with this context's config (closed by cleanup). */
  services(overrides?: Record<string, string>, logger?: Logger): Promise<Services>;
  /** Keys under this context's prefix. */
  keys(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const rand = () => Math.random().toString(36).slice(2, 8);

export async function createContext(name: string, extraEnv: Record<string, string> = {}): Promise<TestContext> {
  const id = `${name.replace(/[^a-z0-9]/gi, "").slice(0, 20)}${rand()}`;
  const prefix = `t:${id}:`;
  const dbName = `t_${id}`;
  const dir = mkdtempSync(join(tmpdir(), `ss-${name}-`));
  const env: Record<string, string> = {
    ...REDIS_ENV,
    MONGODB_URI,
    DB_NAME: dbName,
    REDIS_KEY_PREFIX: prefix,
    HISTORY_DB_PATH: join(dir, "history.db"),
    DATA_SET_FILE: join(dir, "data_set.json"),
    ENABLE_SCHEDULER: "false",
    SYNC_BATCH_SIZE: "100",
    ...extraEnv,
  };
  const mongo = new MongoClient(MONGODB_URI);
  const redis = testRedis();
  const opened: Services[] = [];
  const keys = () => scanAll(redis, `${prefix}*`);
  return {
    name,
    prefix,
    dbName,
    dir,
    env,
    config: parseConfig(env),
    db: mongo.db(dbName),
    mongo,
    redis,
    async services(overrides = {}, logger = silentLogger) {
      const s = createServices(parseConfig({ ...env, ...overrides }), logger);
      opened.push(s);
      await waitForRedis(s.redis, 5_000);
      return s;
    },
    keys,
    async cleanup() {
      for (const s of opened) await s.close().catch(() => {});
      const all = await keys();
      await Promise.all(all.map((key) => redis.unlink(key)));
      await mongo
        .db(dbName)
        .dropDatabase()
        .catch(() => {});
      await mongo.close();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A text logger whose output is kept as messages: one entry per line, timestamp and level taken
 * off (test/log.test.ts checks those), so a test compares the guide's wording.
 */
export function collectLogs(level: "debug" | "info" | "warn" | "error" = "info"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ format: "text", level }, (text) => {
    for (const line of text.split("\n")) lines.push(line.replace(TEXT_PREFIX, ""));
  });
  return { lines, logger };
}

/** What SPEC §3 names as admin endpoints: every run trigger, scheduler change and push update (and the index's clearing). */
export const EXPECTED_ADMIN = [
  "POST /re-sync-all",
  "POST /sync",
  "GET /clear-data",
  "POST /clear-data",
  ...["/generate-data-set", "/generate-box-data", "/generate-option-data"].flatMap((p) => [`GET ${p}`, `POST ${p}`]),
  "POST /scheduler/start",
  "POST /scheduler/stop",
  "POST /scheduler/trigger-now",
  "PUT /scheduler/interval",
  ...["/categories", "/boxes", "/options"].flatMap((p) => [`POST ${p}`, `PUT ${p}`, `DELETE ${p}`]),
];

/** The cron ticks (ms since the epoch, ascending) from `from` on that a replica claimed, read from the Redis key names (<prefix>scheduler:tick:cron:<second>). */
export function claimedCronTicks(keys: string[], from: number): number[] {
  return keys
    .map((key) => Number(/scheduler:tick:cron:(\d+)$/.exec(key)?.[1] ?? Number.NaN) * 1000)
    .filter((tick) => tick >= from)
    .sort((x, y) => x - y);
}
