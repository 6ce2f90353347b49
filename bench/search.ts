// Search benchmark: a large catalog synced, then the search endpoints driven over HTTP by wrk
// (Debian package; installed when missing) with a mix of 1-, 3-, 6-letter, two-word and typo
// queries, each endpoint's from the words of its own type (bench/wrk.ts).
//   bun bench/search.ts [--origins 100000] [--duration 20] [--queries 400] [--reseed]
// Runs the mix twice: with the result cache (the default SEARCH_CACHE_MB; repeated queries are
// answered from it while the index is unchanged) and with SEARCH_CACHE_MB=0 (every search reads
// the index).
// Needs the services (scripts/services.sh start) and dist/search-sync (bun run build).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { type CatalogOptions, seedCatalog } from "../scripts/catalog.ts";
import { freePort } from "../scripts/lib/binary.ts";
import { ITEM_TYPES, type ItemType, SEARCH_NAME } from "../src/catalog/types.ts";
import { aptInstall, queryMix, runWrk, writeMixScript } from "./wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const BINARY = join(ROOT, "dist/search-sync");
const { values } = parseArgs({
  options: {
    origins: { type: "string", default: "100000" },
    duration: { type: "string", default: "20" },
    queries: { type: "string", default: "400" },
    reseed: { type: "boolean" },
  },
});
const originsPerType = Number(values.origins);
const duration = Number(values.duration);
const distinctQueries = Number(values.queries);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
const MONGODB_URI = process.env.MONGODB_URI ?? "mongodb://127.0.0.1:27027";
const DB = `bench_search_${originsPerType}`;
const PREFIX = `bench-search-${originsPerType}:`;

aptInstall({ wrk: "wrk" });

const mongo = new MongoClient(MONGODB_URI);
const redis = new Redis(REDIS_URL);
const opts: CatalogOptions = { seed: 42, originsPerType, suppliersPerOrigin: 2 };
const meta = await mongo.db(DB).collection<{ _id: string; opts: CatalogOptions }>("bench_meta").findOne({ _id: "catalog" });
if (values.reseed || !meta || JSON.stringify(meta.opts) !== JSON.stringify(opts)) {
  console.log(`seeding ${DB} with ${originsPerType} origins per type`);
  await seedCatalog(mongo.db(DB), opts);
  await mongo.db(DB).collection<{ _id: string; opts: CatalogOptions }>("bench_meta").replaceOne({ _id: "catalog" }, { opts }, { upsert: true });
}

const dir = mkdtempSync(join(tmpdir(), "bench-search-"));
const port = freePort();
const url = `http://127.0.0.1:${port}`;
const startService = async (extra: Record<string, string> = {}) => {
  const proc = Bun.spawn([BINARY, "serve"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      REDIS_URL,
      MONGODB_URI,
      DB_NAME: DB,
      REDIS_KEY_PREFIX: PREFIX,
      PORT: String(port),
      LISTEN_HOST: "127.0.0.1",
      ENABLE_SCHEDULER: "false",
      ...extra,
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await Bun.sleep(50);
  }
  return proc;
};
let service = await startService();
try {
  const info = (await (await fetch(`${url}/info`)).json()) as { index: Record<string, { entries: number }> };
  if (Object.values(info.index).some((t) => t.entries === 0)) {
    console.log("syncing…");
    const run = (await (await fetch(`${url}/re-sync-all?force=true`, { method: "POST" })).json()) as { status: string; duration_ms: number };
    console.log(`sync ${run.status} in ${(run.duration_ms / 1000).toFixed(1)} s`);
  }
  const after = (await (await fetch(`${url}/info`)).json()) as { index: Record<string, { entries: number }> };
  const entries = Object.values(after.index).reduce((sum, t) => sum + t.entries, 0);
  let indexBytes = 0;
  for (const key of await redis.keys(`${PREFIX}*`)) indexBytes += Number(await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0"));

  // Queries from each type's own vocabulary (words of 6+ letters of its serving index).
  const words = {} as Record<ItemType, string[]>;
  for (const type of ITEM_TYPES) {
    const base = `${PREFIX}{${SEARCH_NAME[type]}}:`;
    words[type] = (await redis.zrange(`${base}g:${await redis.get(`${base}cur`)}:vocab`, "0", "-1")).filter((w) => /^\p{L}{6,}$/u.test(w));
  }
  const requests = queryMix(words, distinctQueries);
  const script = writeMixScript(dir, requests);
  const wrk = (connections: number) => runWrk(url, script, connections, duration);
  const cacheCounters = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { hits: read("search_cache_hits_total"), misses: read("search_cache_misses_total") };
  };
  const summary = (r: ReturnType<typeof wrk>) => ({ rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms, non_2xx: r.non_2xx });
  const one = wrk(1);
  const many = wrk(32);
  const counters = await cacheCounters();
  console.log(many.raw);
  service.kill("SIGTERM");
  await service.exited;
  service = await startService({ SEARCH_CACHE_MB: "0" });
  const oneUncached = wrk(1);
  const manyUncached = wrk(32);
  const result = {
    origins_per_type: originsPerType,
    entries,
    distinct_requests: new Set(requests).size,
    redis_index_bytes: indexBytes,
    redis_bytes_per_entry: Math.round(indexBytes / entries),
    cached: {
      one_connection: summary(one),
      thirty_two_connections: summary(many),
      cache_hit_ratio: Number((counters.hits / Math.max(1, counters.hits + counters.misses)).toFixed(4)),
    },
    uncached: { one_connection: summary(oneUncached), thirty_two_connections: summary(manyUncached) },
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, `bench/results/search-${originsPerType}-q${distinctQueries}.json`), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  service.kill("SIGTERM");
  await service.exited;
  rmSync(dir, { recursive: true, force: true });
  await mongo.close();
  redis.disconnect();
}
