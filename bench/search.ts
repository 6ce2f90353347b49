// Search benchmark: a large catalog synced, then the search endpoints driven over HTTP by wrk
// (Debian package; installed when missing) with a mix of 1-, 3-, 6-letter and multi-word queries.
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

if (!Bun.which("wrk")) {
  console.log("installing wrk (Debian package)");
  Bun.spawnSync(["apt-get", "install", "-y", "-qq", "wrk"], { stdout: "inherit", stderr: "inherit" });
}

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

  // Queries from the index's own vocabulary: prefixes of 1, 3 and 6 letters and two-word phrases.
  const vocab = (await redis.zrange(`${PREFIX}{category}:g:${await redis.get(`${PREFIX}{category}:cur`)}:vocab`, "0", "-1")).filter((w) =>
    /^\p{L}{6,}$/u.test(w),
  );
  const queries: string[] = [];
  for (let i = 0; i < distinctQueries; i++) {
    // Every pair of words once before any repeats, so --queries sets how many distinct searches there are.
    const w = vocab[i % vocab.length]!;
    const v = vocab[(Math.floor(i / vocab.length) + i) % vocab.length]!;
    queries.push([w.slice(0, 1), w.slice(0, 3), w.slice(0, 6), `${w} ${v.slice(0, 3)}`][i % 4]!);
  }
  const paths = ["/category-search", "/boxes-search", "/options-search"];
  const requests = queries.map((q, i) => `${paths[i % 3]}?query=${encodeURIComponent(q)}${i % 5 === 0 ? "&iso=nl" : ""}`);
  const script = join(dir, "mix.lua");
  writeFileSync(
    script,
    `local paths = {${requests.map((p) => JSON.stringify(p)).join(",")}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`,
  );
  const wrk = (connections: number) => {
    const out = Bun.spawnSync([
      "wrk",
      "-t",
      connections > 1 ? "2" : "1",
      "-c",
      String(connections),
      "-d",
      `${duration}s`,
      "--latency",
      "-s",
      script,
      url,
    ]).stdout.toString();
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const pct = (_p: string) => /(\d+)%\s+([\d.]+)(us|ms|s)/g;
    const latency: Record<string, number> = {};
    for (const m of out.matchAll(pct(""))) latency[`p${m[1]}`] = Number(m[2]) * (m[3] === "us" ? 0.001 : m[3] === "s" ? 1000 : 1);
    const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
    return { connections, rps, p50_ms: latency.p50, p99_ms: latency.p99, non_2xx: Number(errors), raw: out };
  };
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
