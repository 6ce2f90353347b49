// What a serving index holds, read through the store, and whether two indexes hold the same
// entries: "the index equals what a full run builds" for the change-stream tests and bench.
import { Redis } from "ioredis";
import { entriesOf, type ItemRecord } from "../../src/catalog/entries.ts";
import { type Entry, ITEM_TYPES, type ItemType } from "../../src/catalog/types.ts";
import { Keys } from "../../src/index/keys.ts";
import { IndexStore } from "../../src/index/store.ts";

export type IndexEntries = Record<ItemType, Entry[]>;

/** Every entry of the serving index of a type, sorted. */
export async function servingEntries(store: IndexStore, type: ItemType): Promise<Entry[]> {
  const gen = await store.currentGen(type);
  if (!gen) return [];
  const items = new Map<string, ItemRecord>();
  for await (const batch of store.itemBatches(type, gen)) for (const { sku, record } of batch) items.set(sku, record);
  return sortEntries([...items].flatMap(([sku, record]) => entriesOf(sku, record)));
}

export function sortEntries(entries: Entry[]): Entry[] {
  const key = (e: Entry) => JSON.stringify([e.sku, e.iso, e.display_name, e.origin_name, e.name, e.slug, e.linked]);
  return [...entries].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The serving entries of every type. */
export async function allServingEntries(store: IndexStore): Promise<IndexEntries> {
  const out = {} as IndexEntries;
  for (const type of ITEM_TYPES) out[type] = await servingEntries(store, type);
  return out;
}

/** The serving entries of every type under `prefix` in the Redis at `url` (another process's index). */
export async function indexEntriesAt(url: string, prefix: string): Promise<IndexEntries> {
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  try {
    return await allServingEntries(new IndexStore(redis, new Keys(prefix)));
  } finally {
    redis.disconnect();
  }
}

/** null when both hold the same entries, else what differs (counts per type and a first few entries). */
export function entriesDiff(actual: IndexEntries, expected: IndexEntries): string | null {
  const lines: string[] = [];
  for (const type of ITEM_TYPES) {
    const a = new Set(actual[type].map((e) => JSON.stringify(e)));
    const b = new Set(expected[type].map((e) => JSON.stringify(e)));
    const extra = [...a].filter((e) => !b.has(e));
    const missing = [...b].filter((e) => !a.has(e));
    if (extra.length || missing.length)
      lines.push(`${type}: ${missing.length} missing, ${extra.length} extra (of ${b.size}); e.g. ${[...missing.slice(0, 2), ...extra.slice(0, 2)].join(" ")}`);
  }
  return lines.length ? lines.join("\n") : null;
}
