// bench/sync.ts as CI runs it (scripts/test.sh): a sync that fails inside it fails the benchmark.
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { ensureBinary, runCommand } from "../../scripts/lib/binary.ts";
import { MONGODB_URI, REDIS_URL, scanAll, testRedis } from "../env.ts";

const ROOT = resolve(import.meta.dir, "../..");

test("bench/sync.ts exits non-zero, naming the failure, when the sync it runs fails", async () => {
  ensureBinary();
  // The benchmark's sync writes under bench-sync-<n>:, where a key of the wrong type makes it fail
  // (WRONGTYPE) while the benchmark's own reads and writes work.
  const redis = testRedis();
  const key = "bench-sync-9:{category}:cur";
  await redis.hset(key, "not", "a string");
  try {
    const ran = await runCommand(["bun", "bench/sync.ts", "--sizes", "9", "--skip-guide"], ROOT, { REDIS_URL, MONGODB_URI }, 60_000);
    expect(ran.stdout).toContain("B sink:");
    expect(ran.code).not.toBe(0);
    expect(ran.stderr).toContain("the sync failed (exit 1): WRONGTYPE");
  } finally {
    for (const k of await scanAll(redis, "bench-sync-9:*")) await redis.del(k);
    redis.disconnect();
  }
}, 90_000);
