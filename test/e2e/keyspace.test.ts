// No public endpoint's cost grows with the Redis keyspace (issue 14: /info scanned every key and,
// called by 16 clients, took a Redis core). Counted on a private Redis, where the service is the
// only client but the test: the commands an endpoint issues, from INFO commandstats.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ensureBinary, serviceEnv } from "../../scripts/lib/binary.ts";
import { getJson, killAll, postJson, startRedis, startService } from "../../scripts/lib/procs.ts";
import { scanKeys } from "../../src/platform/redis.ts";
import { createContext } from "../helpers.ts";
import { ITEM_TYPES, seedLarge } from "../sync.fixtures.ts";

afterEach(killAll);

const ENDPOINTS = [
  "/info",
  "/healthz-startup",
  "/metrics",
  "/sync-status",
  "/sync-status?history=true",
  "/scheduler/status",
  "/category-search?query=item&limit=10",
  "/boxes-search?query=&limit=10",
];

/**
 * Commands Redis has executed so far (scripts' own calls included), from INFO commandstats; not
 * XRANGE, the history stream's poll, which runs every second whatever the endpoints do.
 */
async function commandsSoFar(redis: Redis): Promise<number> {
  const stats = await redis.info("commandstats");
  return [...stats.matchAll(/^cmdstat_(?!xrange:)[^:]+:calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function commandsPerEndpoint(redis: Redis, url: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const path of ENDPOINTS) {
    const before = await commandsSoFar(redis);
    const res = await fetch(`${url}${path}`);
    await res.arrayBuffer();
    expect({ path, status: res.status }).toEqual({ path, status: 200 });
    out[path] = (await commandsSoFar(redis)) - before;
  }
  return out;
}

test("the commands each public endpoint sends to Redis do not grow when 20,000 keys are added (10,000 under the prefix); /info counts the service's keys without a SCAN", async () => {
  const redisServer = await startRedis();
  const ctx = await createContext("keyspace");
  const redis = new Redis(redisServer.url);
  try {
    await seedLarge(ctx.db, ITEM_TYPES, 20);
    const svc = await startService(ensureBinary(), ctx.dir, serviceEnv(ctx, { REDIS_URL: redisServer.url, HISTORY_DB_PATH: join(ctx.dir, "history.db") }));
    expect((await postJson(`${svc.url}/re-sync-all`)).body.status).toBe("success");
    const ours = (await scanKeys(redis, `${ctx.prefix}*`)).length;
    expect((await getJson(`${svc.url}/info`)).body.redis.keys_under_prefix).toBe(ours);
    await commandsPerEndpoint(redis, svc.url); // scripts loaded, search answers cached

    const small = await commandsPerEndpoint(redis, svc.url);
    for (let i = 0; i < 10_000; i += 1_000) {
      const batch = Array.from({ length: 1_000 }, (_, j) => [`${ctx.prefix}unrelated:${i + j}`, "x", `elsewhere:${i + j}`, "x"]).flat();
      await redis.mset(...batch);
    }
    expect(await redis.dbsize()).toBe(ours + 20_000);
    const large = await commandsPerEndpoint(redis, svc.url);
    console.log(JSON.stringify({ commands_per_request: { before: small, after: large } }));
    expect(large).toEqual(small);
    // Only the service's own keys: what others put under the prefix is not counted.
    expect((await getJson(`${svc.url}/info`)).body.redis.keys_under_prefix).toBe(ours);
    expect(await svc.stop()).toBe(0);
  } finally {
    redis.disconnect();
    await ctx.cleanup();
  }
}, 60_000);
