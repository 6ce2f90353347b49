// `search-sync check-config` through the compiled binary: a line per check, exit 0 when all pass,
// 1 when one fails (with no password in sight), 2 on a bad setting, the same line as at start.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installBinary, type Ran, runCommand, startBinary } from "../../scripts/lib/binary.ts";
import { silentLogger, timestamp } from "../../src/platform/log.ts";
import { HistoryRepo } from "../../src/runs/history/repo.ts";
import { createContext, type TestContext } from "../helpers.ts";

let ctx: TestContext;
let binary: string;
beforeEach(async () => {
  ctx = await createContext("checkconfig");
  binary = installBinary(ctx.dir);
});
afterEach(async () => {
  await ctx.cleanup();
});

function checkConfig(env: Record<string, string> = {}): Promise<Ran> {
  return runCommand([binary, "check-config"], ctx.dir, { HOME: ctx.dir, ...ctx.env, SYNC_TIMEZONE: "UTC", ...env });
}

const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
const quote = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

describe("search-sync check-config", () => {
  test("everything reachable: a line per check, exit 0; nothing created", async () => {
    const history = join(ctx.dir, "history.db");
    const { code, stdout, stderr } = await checkConfig({ ADMIN_API_KEY: "k".repeat(24) });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const redis = ctx.env.REDIS_CLUSTER_NODES ? `Cluster nodes ${ctx.env.REDIS_CLUSTER_NODES}` : ctx.env.REDIS_URL!;
    expect(stdout.trimEnd().split("\n")).toEqual([
      "ok    configuration: valid, read from the environment (no .env in the working directory)",
      expect.stringMatching(
        new RegExp(`^${quote("ok    scheduler: off (ENABLE_SCHEDULER=false); POST /scheduler/start turns it on; cron '0 2 * * *' in UTC, next run ")}${ISO}$`),
      ),
      `ok    history database: ${history} does not exist yet; it is created at start (${ctx.dir} is writable)`,
      `ok    dataset files: written next to ${join(ctx.dir, "data_set.json")} (${ctx.dir} is writable)`,
      expect.stringMatching(new RegExp(`^${quote(`ok    Redis: ${redis} answered PONG in `)}\\d+ ms$`)),
      expect.stringMatching(new RegExp(`^${quote(`ok    MongoDB: ${ctx.env.MONGODB_URI} (database ${ctx.dbName}) answered ping in `)}\\d+ ms$`)),
      expect.stringMatching(/^ok {4}change streams: MongoDB does not support them \(.+\); SYNC_CHANGE_STREAMS=auto: runs alone keep the index in step$/),
    ]);
    expect(existsSync(history)).toBe(false);
  });

  test("a Redis that evicts keys when full: a warning line (exit 0), and the service warns at start", async () => {
    const before = ((await ctx.redis.config("GET", "maxmemory-policy")) as string[])[1]!;
    await ctx.redis.config("SET", "maxmemory-policy", "allkeys-lru");
    try {
      const { code, stdout } = await checkConfig();
      expect(code).toBe(0);
      const warning =
        "Redis evicts keys when it is full (maxmemory-policy allkeys-lru): the index can lose keys and search answer wrongly until the next run; set maxmemory-policy noeviction";
      expect(stdout).toContain(`warn  Redis memory: ${warning}\n`);
      const service = await startBinary(binary, ctx.dir, { HOME: ctx.dir, ...ctx.env, HISTORY_DB_PATH: join(ctx.dir, "history.db") });
      expect(await service.stop()).toBe(0);
      expect(service.output()).toContain(`WARN  ${warning}`);
    } finally {
      await ctx.redis.config("SET", "maxmemory-policy", before);
    }
    expect((await checkConfig()).stdout).not.toContain("Redis memory");
  });

  test("SYNC_CHANGE_STREAMS=on: FAIL (exit 1) where MongoDB has no change streams, as the service would stop; ok where it has", async () => {
    const without = await checkConfig({ SYNC_CHANGE_STREAMS: "on" });
    expect(without.code).toBe(1);
    expect(without.stdout).toMatch(/^FAIL {2}change streams: SYNC_CHANGE_STREAMS=on, but MongoDB does not support them \(.+\): the service would not start$/m);
    const csUri = process.env.MONGODB_CS_URI ?? `mongodb://127.0.0.1:${process.env.SS_MONGO_CS_PORT ?? 27037}`;
    const withThem = await checkConfig({ SYNC_CHANGE_STREAMS: "on", MONGODB_URI: csUri });
    expect(withThem.stdout).toContain("ok    change streams: MongoDB has them; SYNC_CHANGE_STREAMS=on follows them\n");
    expect(withThem.code).toBe(0);
    // off: not asked.
    expect((await checkConfig({ SYNC_CHANGE_STREAMS: "off" })).stdout).not.toContain("change streams");
  });

  test("an existing history database: writable, runs counted, the saved scheduler state named with its date", async () => {
    const path = join(ctx.dir, "history.db");
    const repo = HistoryRepo.open(path, silentLogger);
    repo.setSetting("scheduler.running", "true");
    const saved = repo.getSettingEntry("scheduler.running")!;
    await repo.close(5_000);

    const { code, stdout } = await checkConfig();
    expect(code).toBe(0);
    const out = stdout.split("\n");
    expect(out).toContain("warn  admin endpoints: ADMIN_API_KEY is not set: they answer only to loopback clients");
    expect(out).toContain(`ok    history database: ${path} is writable (0 runs recorded)`);
    const scheduler = out.find((l) => l.startsWith("ok    scheduler: "));
    expect(scheduler).toStartWith(
      `ok    scheduler: on (saved state from ${timestamp(saved.updatedAt)} via POST /scheduler/start; env says off: ENABLE_SCHEDULER=false is not used); cron '0 2 * * *' in UTC, next run `,
    );
  });

  test("Redis and MongoDB unreachable, history not creatable: FAIL lines, exit 1, no password", async () => {
    writeFileSync(join(ctx.dir, "a-file"), "");
    const { code, stdout, stderr } = await checkConfig({
      REDIS_URL: "redis://:redis-secret-pw@127.0.0.1:1",
      REDIS_CLUSTER_NODES: "",
      MONGODB_URI: "mongodb://admin:mongo-secret-pw@127.0.0.1:2/?serverSelectionTimeoutMS=500",
      HISTORY_DB_PATH: join(ctx.dir, "a-file", "history.db"),
    });
    expect(code).toBe(1);
    expect(stderr).toBe("search-sync: check-config: 3 of 7 checks failed\n");
    const out = stdout.trimEnd().split("\n");
    expect(out.filter((l) => l.startsWith("FAIL"))).toEqual([
      `FAIL  history database: ${join(ctx.dir, "a-file", "history.db")} does not exist and cannot be created: ${join(ctx.dir, "a-file")} is not a directory`,
      "FAIL  Redis: redis://:***@127.0.0.1:1: no connection (last connection error: connect ECONNREFUSED 127.0.0.1:1)",
      expect.stringMatching(/^FAIL {2}MongoDB: mongodb:\/\/admin:\*\*\*@127\.0\.0\.1:2\/\?serverSelectionTimeoutMS=500 \(database \S+\): .*ECONNREFUSED/),
    ]);
    expect(stdout + stderr).not.toContain("secret-pw");
  });

  test("a bad setting: exit 2 and the one line the service prints at start", async () => {
    expect(await checkConfig({ SYNC_CRON: "99 99 * * *" })).toEqual({
      code: 2,
      stdout: "",
      stderr: `search-sync: Invalid SYNC_CRON="99 99 * * *": expected a cron pattern of 5 or 6 fields, e.g. '0 2 * * *' (minute value out of range: '99')\n`,
    });
  });
});
