// Sync benchmark: how close a full run (S) comes to the source limit (A: streaming the six
// collections through the same driver, projections and batch size) and the sink limit (B:
// the same Redis writes, precomputed, pipelined), with the run's peak memory.
//   bun bench/sync.ts [--sizes 10000,100000,1000000] [--reseed] [--skip-guide]
// Needs the services (scripts/services.sh start) and dist/search-sync (bun run build).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { type Db, MongoClient } from "mongodb";
import { type CatalogOptions, originDocs, SUPPLIER_COLLECTION, seedCatalog, supplierDocs } from "../scripts/catalog.ts";
import { cpuSeconds } from "../scripts/lib/procs.ts";
import { addDisplayNames, type ItemRecord, originRecord, SkipTally, supplierLink, validDisplayNames } from "../src/catalog/entries.ts";
import { ITEM_TYPES, type ItemType } from "../src/catalog/types.ts";
import { Keys } from "../src/index/keys.ts";
import { SetSorter } from "../src/index/set-sorter.ts";
import { IndexStore, type ItemWrite } from "../src/index/store.ts";
import { parseConfig } from "../src/platform/config.ts";
import { CatalogSource, ORIGIN_PROJECTION, SUPPLIER_PROJECTION } from "../src/source/mongo.ts";

const ROOT = resolve(import.meta.dir, "..");
const BINARY = join(ROOT, "dist/search-sync");
const SUPPLIERS_PER_ORIGIN = 2;
const SEED = 42;

const { values } = parseArgs({
  options: { sizes: { type: "string", default: "10000,100000,1000000" }, reseed: { type: "boolean" }, "skip-guide": { type: "boolean" } },
});
const sizes = values.sizes!.split(",").map((s) => Number(s.trim()));
if (sizes.some((n) => !Number.isInteger(n) || n < 9)) throw new Error(`--sizes must be whole numbers ≥ 9, got ${values.sizes}`);

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6390";
const MONGODB_URI = process.env.MONGODB_URI ?? "mongodb://127.0.0.1:27027";
const config = parseConfig({ REDIS_URL, MONGODB_URI });
const BATCH = config.syncBatchSize;
const mongo = new MongoClient(MONGODB_URI);
const redis = new Redis(REDIS_URL);

const seconds = (ms: number) => Math.round(ms) / 1000;

// CPU-seconds of the local servers (from the pid files of scripts/services.sh; null when the
// MongoDB server is external), so each phase shows which process the cores went to.
function pidFrom(file: string): number | null {
  try {
    const pid = Number(readFileSync(join(ROOT, ".local", file), "utf8").trim());
    return existsSync(`/proc/${pid}/stat`) ? pid : null;
  } catch {
    return null;
  }
}
const SERVER_PIDS = { mongo: pidFrom("ferretdb/ferretdb.pid") ?? pidFrom("mongod/mongod.pid"), redis: pidFrom("redis/redis.pid") };
function cpuOf(pid: number | null): number {
  return pid === null ? NaN : cpuSeconds(pid);
}
interface Cpu {
  mongo: number;
  redis: number;
  /** The reading or writing process: this script for A, the binary for S. */
  client: number;
}
const round1 = (x: number) => Math.round(x * 10) / 10;
/** Runs a phase and the CPU-seconds the servers and this process spent meanwhile. */
async function withCpu<T>(phase: () => Promise<T>): Promise<{ result: T; cpu: Cpu }> {
  const before = { mongo: cpuOf(SERVER_PIDS.mongo), redis: cpuOf(SERVER_PIDS.redis), self: process.cpuUsage() };
  const result = await phase();
  const self = process.cpuUsage(before.self);
  return {
    result,
    cpu: {
      mongo: round1(cpuOf(SERVER_PIDS.mongo) - before.mongo),
      redis: round1(cpuOf(SERVER_PIDS.redis) - before.redis),
      client: round1((self.user + self.system) / 1e6),
    },
  };
}

/** Seeds `db` with a catalog of about `n` documents unless it already holds exactly that one. */
async function ensureCatalog(db: Db, n: number): Promise<CatalogOptions> {
  const opts: CatalogOptions = {
    seed: SEED,
    originsPerType: Math.max(1, Math.round(n / (3 * (1 + SUPPLIERS_PER_ORIGIN)))),
    suppliersPerOrigin: SUPPLIERS_PER_ORIGIN,
  };
  const meta = await db.collection<{ _id: string; opts: CatalogOptions }>("bench_meta").findOne({ _id: "catalog" });
  if (!values.reseed && meta && JSON.stringify(meta.opts) === JSON.stringify(opts)) return opts;
  const started = performance.now();
  await seedCatalog(db, opts);
  await db.collection<{ _id: string; opts: CatalogOptions }>("bench_meta").replaceOne({ _id: "catalog" }, { opts }, { upsert: true });
  console.log(`  seeded ${db.databaseName} in ${seconds(performance.now() - started)} s`);
  return opts;
}

/** A: every document of the six collections, streamed and discarded, the types read concurrently as the engine does. */
async function sourceLimit(dbName: string): Promise<{ ms: number; documents: number }> {
  const source = new CatalogSource(mongo, dbName);
  const started = performance.now();
  const counts = await Promise.all(
    ITEM_TYPES.map(async (type) => {
      let documents = 0;
      for await (const docs of source.batches(config.collections[type].origin, ORIGIN_PROJECTION, BATCH)) documents += docs.length;
      for await (const docs of source.batches(config.collections[type].supplier, SUPPLIER_PROJECTION, BATCH)) documents += docs.length;
      return documents;
    }),
  );
  return { ms: performance.now() - started, documents: counts.reduce((a, b) => a + b, 0) };
}

/** B: the engine's Redis writes for the same catalog, built beforehand batch by batch, only their execution (and packing the sets into pieces) timed. */
async function sinkLimit(opts: CatalogOptions): Promise<{ ms: number; entries: number; setsMs: number; setsRedisCpu: number }> {
  const keys = new Keys("bench-sink:");
  const store = new IndexStore(redis, keys);
  let ms = 0;
  let entries = 0;
  let setsMs = 0;
  let setsRedisCpu = 0;
  let sets = new SetSorter();
  const exec = async (type: ItemType, writes: ItemWrite[], newItems: number) => {
    const pipe = redis.pipeline();
    entries += store.queueItemWrites(pipe, type, "g", writes, newItems, sets);
    const started = performance.now();
    await pipe.exec();
    ms += performance.now() - started;
  };
  for (const type of ITEM_TYPES) {
    const tally = new SkipTally();
    const records = new Map<string, ItemRecord>();
    let batch: ItemWrite[] = [];
    for (const doc of originDocs(type, opts)) {
      const origin = originRecord(doc, tally);
      if (!origin) continue;
      records.set(origin.sku, origin.record);
      batch.push({ ...origin, added: origin.record.e.map((_, i) => i) });
      if (batch.length === BATCH) {
        await exec(type, batch, batch.length);
        batch = [];
      }
    }
    await exec(type, batch, batch.length);
    let touched = new Map<string, ItemWrite>();
    let docsInBatch = 0;
    for (const doc of supplierDocs(type, opts)) {
      const sku = supplierLink(doc, tally);
      const record = sku ? records.get(sku) : undefined;
      if (sku && record) {
        const added = addDisplayNames(record, validDisplayNames(doc.display_name, "", tally));
        if (added.length) {
          // Queued commands serialise the record, so later merges do not change an earlier batch.
          const w = touched.get(sku) ?? { sku, record, added: [] };
          w.added.push(...added);
          touched.set(sku, w);
        }
      }
      if (++docsInBatch === BATCH) {
        await exec(type, [...touched.values()], 0);
        touched = new Map();
        docsInBatch = 0;
      }
    }
    await exec(type, [...touched.values()], 0);
    const started = performance.now();
    const redisBefore = cpuOf(SERVER_PIDS.redis);
    await store.writeSets(type, "g", sets);
    setsRedisCpu += cpuOf(SERVER_PIDS.redis) - redisBefore;
    setsMs += performance.now() - started;
    ms += performance.now() - started;
    sets.close();
    sets = new SetSorter();
    if (SUPPLIER_COLLECTION[type] !== config.collections[type].supplier) throw new Error("collection names differ from the engine's");
  }
  await unlinkPrefix("bench-sink:");
  return { ms, entries, setsMs, setsRedisCpu: Math.round(setsRedisCpu * 10) / 10 };
}

async function unlinkPrefix(prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (batch.length) await redis.unlink(...batch);
  } while (cursor !== "0");
}

/** S: one full run of the compiled binary; wall time and peak RSS from /usr/bin/time. */
async function syncRun(dbName: string, prefix: string): Promise<{ ms: number; rssMb: number; cpuS: number; entries: number; status: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-sync-"));
  try {
    const started = performance.now();
    const timeFile = join(dir, "time.txt");
    const proc = Bun.spawn(["/usr/bin/time", "-v", "-o", timeFile, BINARY, "sync", "--json"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", REDIS_URL, MONGODB_URI, DB_NAME: dbName, REDIS_KEY_PREFIX: prefix, HISTORY_DB_PATH: join(dir, "h.db") },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const code = await proc.exited;
    const err = await Bun.file(timeFile).text();
    const ms = performance.now() - started;
    const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1] ?? NaN);
    const cpuS = Number(/User time \(seconds\): ([\d.]+)/.exec(err)?.[1] ?? NaN) + Number(/System time \(seconds\): ([\d.]+)/.exec(err)?.[1] ?? NaN);
    const result = (out.trim() ? JSON.parse(out) : null) as { status: string; error?: string; types: Record<string, { entries: number }> } | null;
    // The figures of a sync that did not succeed mean nothing, and CI's smoke run must fail with it.
    if (code !== 0 || result?.status !== "success") throw new Error(`the sync failed (exit ${code}): ${result?.error ?? (stderr.trim() || result?.status)}`);
    const entries = Object.values(result.types).reduce((a, t) => a + t.entries, 0);
    return { ms, rssMb: Math.round(rssKb / 102.4) / 10, cpuS: round1(cpuS), entries, status: result.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The old guide's workload: 150 categories, 75 boxes, 200 options, with suppliers. */
async function guideWorkload(): Promise<{ ms: number; entries: number }> {
  const db = mongo.db("bench_guide");
  const counts: Record<ItemType, number> = { categories: 150, boxes: 75, options: 200 };
  for (const type of ITEM_TYPES) {
    const opts: CatalogOptions = { seed: SEED, originsPerType: counts[type], suppliersPerOrigin: SUPPLIERS_PER_ORIGIN, messy: false };
    await db
      .collection(type)
      .drop()
      .catch(() => {});
    await db
      .collection(SUPPLIER_COLLECTION[type])
      .drop()
      .catch(() => {});
    await db.collection(type).insertMany([...originDocs(type, opts)]);
    await db.collection(SUPPLIER_COLLECTION[type]).insertMany([...supplierDocs(type, opts)]);
  }
  const run = await syncRun("bench_guide", "bench-guide:");
  await unlinkPrefix("bench-guide:");
  return { ms: run.ms, entries: run.entries };
}

const rows: Record<string, unknown>[] = [];
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
for (const n of sizes) {
  console.log(`N = ${n.toLocaleString("en")}`);
  const dbName = `bench_n${n}`;
  const opts = await ensureCatalog(mongo.db(dbName), n);
  const { result: a, cpu: aCpu } = await withCpu(() => sourceLimit(dbName));
  console.log(`  A source: ${a.documents} documents in ${seconds(a.ms)} s; CPU-s ${JSON.stringify(aCpu)}`);
  const { result: b, cpu: bCpu } = await withCpu(() => sinkLimit(opts));
  console.log(
    `  B sink:   ${b.entries} entries in ${seconds(b.ms)} s; Redis CPU-s ${bCpu.redis} (of which the phrase and word sets, sorted, into pieces: ${seconds(b.setsMs)} s, Redis ${b.setsRedisCpu} CPU-s)`,
  );
  const prefix = `bench-sync-${n}:`;
  const { result: s, cpu: sServers } = await withCpu(() => syncRun(dbName, prefix));
  const sCpu: Cpu = { ...sServers, client: s.cpuS };
  console.log(`  S sync:   ${s.entries} entries in ${seconds(s.ms)} s (${s.status}), peak RSS ${s.rssMb} MB; CPU-s ${JSON.stringify(sCpu)}`);
  await unlinkPrefix(prefix);
  const row = {
    n,
    documents: a.documents,
    entries: s.entries,
    a_s: seconds(a.ms),
    b_s: seconds(b.ms),
    s_s: seconds(s.ms),
    entries_per_s: Math.round(s.entries / (s.ms / 1000)),
    s_over_max_ab: Math.round((s.ms / Math.max(a.ms, b.ms)) * 100) / 100,
    s_over_sum_ab: Math.round((s.ms / (a.ms + b.ms)) * 100) / 100,
    peak_rss_mb: s.rssMb,
    status: s.status,
    // CPU-seconds per process in each phase, and the cores they kept busy together.
    a_cpu_s: aCpu,
    a_cores: round1((aCpu.mongo + aCpu.client) / (a.ms / 1000)),
    b_redis_cpu_s: bCpu.redis,
    s_cpu_s: sCpu,
    s_cores: round1((sCpu.mongo + sCpu.redis + sCpu.client) / (s.ms / 1000)),
  };
  rows.push(row);
  writeFileSync(join(ROOT, `bench/results/sync-${n}.json`), `${JSON.stringify({ ...row, at: new Date().toISOString() }, null, 2)}\n`);
}

console.log("\n| N | documents | entries | A source s | B sink s | S sync s | entries/s | S/max(A,B) | S/(A+B) | peak RSS MB |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows)
  console.log(
    `| ${r.n} | ${r.documents} | ${r.entries} | ${r.a_s} | ${r.b_s} | ${r.s_s} | ${r.entries_per_s} | ${r.s_over_max_ab} | ${r.s_over_sum_ab} | ${r.peak_rss_mb} |`,
  );
console.log("\nCPU-seconds (MongoDB server / reader or sync / Redis) and cores busy:");
console.log("| N | A: mongo | A: reader | A cores | B: Redis | S: mongo | S: sync | S: Redis | S cores |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  const [a, s] = [r.a_cpu_s as Cpu, r.s_cpu_s as Cpu];
  console.log(`| ${r.n} | ${a.mongo} | ${a.client} | ${r.a_cores} | ${r.b_redis_cpu_s} | ${s.mongo} | ${s.client} | ${s.redis} | ${r.s_cores} |`);
}
if (!values["skip-guide"]) {
  const guide = await guideWorkload();
  console.log(
    `\nGuide workload (150 categories, 75 boxes, 200 options, with suppliers): ${guide.entries} entries, full run incl. process start ${seconds(guide.ms)} s (old service: 45.2 s)`,
  );
  writeFileSync(join(ROOT, "bench/results/sync-guide.json"), `${JSON.stringify({ ...guide, at: new Date().toISOString() }, null, 2)}\n`);
}
await mongo.close();
redis.disconnect();
