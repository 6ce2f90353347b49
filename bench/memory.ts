// Index memory: the catalog of bench/search.ts built into item records in memory (origins, then
// their suppliers' display names, as a run merges them), written by the engine's own index writes
// (IndexStore.queueItemWrites, then packSets) under a scratch prefix, then MEMORY USAGE summed over its keys and
// divided by the entries. No MongoDB or service needed.
//   REDIS_URL=redis://127.0.0.1:6390 bun bench/memory.ts [--origins 100000]
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { originDocs, supplierDocs } from "../scripts/catalog.ts";
import { addDisplayNames, docIdText, type ItemRecord, originRecord, SkipTally, supplierLink, validDisplayNames } from "../src/catalog/entries.ts";
import { ITEM_TYPES } from "../src/catalog/types.ts";
import { Keys } from "../src/index/keys.ts";
import { SetSorter } from "../src/index/set-sorter.ts";
import { IndexStore } from "../src/index/store.ts";

const { values } = parseArgs({ options: { origins: { type: "string", default: "100000" } } });
const opts = { seed: 42, originsPerType: Number(values.origins), suppliersPerOrigin: 2 };
const BATCH = 250;
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6390");
const prefix = `bench-memory-${process.pid}:`;
const store = new IndexStore(redis, new Keys(prefix));

let entries = 0;
for (const type of ITEM_TYPES) {
  const tally = new SkipTally();
  const records = new Map<string, ItemRecord>();
  for (const doc of originDocs(type, opts)) {
    const built = originRecord(doc, tally);
    if (built) records.set(built.sku, built.record);
  }
  for (const doc of supplierDocs(type, opts)) {
    const sku = supplierLink(doc, tally);
    const record = sku ? records.get(sku) : undefined;
    if (record) addDisplayNames(record, validDisplayNames(doc.display_name, docIdText(doc), tally));
  }
  const writes = [...records].map(([sku, record]) => ({ sku, record, added: record.e.map((_, i) => i) }));
  const sets = new SetSorter();
  for (let i = 0; i < writes.length; i += BATCH) {
    const pipe = redis.pipeline();
    entries += store.queueItemWrites(pipe, type, "g", writes.slice(i, i + BATCH), 0, sets);
    await pipe.exec();
  }
  await store.writeSets(type, "g", sets);
  sets.close();
}

const bytes: Record<string, number> = {};
let cursor = "0";
do {
  const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
  cursor = next;
  for (const key of keys) {
    // Pieces count together per kind: "word#<id>:<iso>" → "word#pieces".
    const kind = key
      .slice(key.indexOf(":g:g:") + 5)
      .replace(/:.*/, "")
      .replace(/#\d+$/, "#pieces");
    bytes[kind] = (bytes[kind] ?? 0) + Number(await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0"));
  }
} while (cursor !== "0");
for (const type of ITEM_TYPES) await store.unlinkGeneration(type, "g");
redis.disconnect();

const total = Object.values(bytes).reduce((a, b) => a + b, 0);
console.log(`${entries} entries, ${Math.round(total / entries)} bytes per entry (MEMORY USAGE summed over the index's keys)`);
for (const [kind, b] of Object.entries(bytes).sort((x, y) => y[1] - x[1])) console.log(`  ${kind}: ${Math.round(b / entries)} bytes per entry`);
