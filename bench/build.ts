// Build benchmark: the CPU a run spends on its own work, without the MongoDB server's share and
// its noise. The engine's build (src/runs/build.ts, as the CLI runs it) reads the catalog of
// bench/sync.ts from documents generated in memory instead of MongoDB, and writes a generation
// and its dataset files as a run does. Prints this process's CPU-seconds per round; run it on two
// checkouts in turn to compare them (the figures of one machine at one time only).
//   bun bench/build.ts [--size 100000] [--rounds 3]
// Needs Redis (scripts/services.sh start); its keys go under "bench-build:" and are removed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Document } from "mongodb";
import { originDocs, SUPPLIER_COLLECTION, supplierDocs } from "../scripts/catalog.ts";
import { ITEM_TYPES } from "../src/catalog/types.ts";
import { Keys } from "../src/index/keys.ts";
import { IndexStore } from "../src/index/store.ts";
import { parseConfig } from "../src/platform/config.ts";
import { createRedis, scanKeys } from "../src/platform/redis.ts";
import { build } from "../src/runs/build.ts";
import type { CatalogSource } from "../src/source/mongo.ts";

const { values } = parseArgs({ options: { size: { type: "string", default: "100000" }, rounds: { type: "string", default: "3" } } });
const size = Number(values.size);
const rounds = Number(values.rounds);
if (!Number.isInteger(size) || size < 9 || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`--size must be a whole number ≥ 9 and --rounds ≥ 1, got ${values.size} and ${values.rounds}`);
}

const PREFIX = "bench-build:";
// The catalog of bench/sync.ts: 2 suppliers per origin, messy cases included.
const catalog = { seed: 42, originsPerType: Math.max(1, Math.round(size / 9)), suppliersPerOrigin: 2 };
const config = parseConfig({ REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6390" });
const redis = createRedis(config.redis);
const store = new IndexStore(redis, new Keys(PREFIX));
const dir = mkdtempSync(join(tmpdir(), "bench-build-"));

// Each collection's documents, generated as they are read (held all at once, they would be most of the heap).
const generators = new Map<string, () => Iterable<Document>>();
const collections = {} as typeof config.collections;
for (const type of ITEM_TYPES) {
  collections[type] = { origin: type, supplier: SUPPLIER_COLLECTION[type] };
  generators.set(type, () => originDocs(type, catalog));
  generators.set(SUPPLIER_COLLECTION[type], () => supplierDocs(type, catalog));
}
const source = {
  async *batches(collection: string, _projection: Document, batchSize: number): AsyncGenerator<Document[]> {
    let batch: Document[] = [];
    for (const doc of generators.get(collection)!()) {
      batch.push(doc);
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  },
} as unknown as CatalogSource;

const cpuSince = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
};
const removeKeys = async () => {
  const keys = await scanKeys(redis, `${PREFIX}*`);
  for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
};

let from = process.cpuUsage();
let documents = 0;
for (const generate of generators.values()) for (const _ of generate()) documents++;
console.log(`${documents} documents, generated alone in ${cpuSince(from).toFixed(2)} CPU-s (part of each round below)`);
try {
  for (let round = 1; round <= rounds; round++) {
    await removeKeys();
    Bun.gc(true);
    from = process.cpuUsage();
    const started = performance.now();
    const job = { runId: `round${round}`, types: [...ITEM_TYPES], compare: false };
    await build(
      { config: { collections, dataSetFile: join(dir, "dataset.json"), syncBatchSize: config.syncBatchSize }, store, source },
      job,
      () => {},
      new AbortController().signal,
    );
    const cpu = cpuSince(from);
    console.log(
      `round ${round}: ${cpu.toFixed(2)} CPU-s in ${((performance.now() - started) / 1000).toFixed(2)} s, RSS ${(process.memoryUsage.rss() / 2 ** 20).toFixed(0)} MB`,
    );
  }
} finally {
  await removeKeys();
  rmSync(dir, { recursive: true, force: true });
  redis.disconnect();
}
