// Differences between two generations of one type (for dry runs), in bounded memory.
import { displayNameKey, entriesOf, type ItemRecord } from "../catalog/entries.ts";
import type { ItemType } from "../catalog/types.ts";
import type { IndexStore } from "../index/store.ts";
import type { DiffSummary } from "./model.ts";

const MAX_EXAMPLES = 20;

function entryKeys(sku: string, record: ItemRecord | null): Map<string, string> {
  const out = new Map<string, string>();
  if (!record) return out;
  for (const e of entriesOf(sku, record)) out.set(displayNameKey(e.iso, e.display_name), `${sku} ${e.iso} ${e.display_name}`);
  return out;
}

/** Entries in `from` missing in `to`, scanning `from` item by item. */
async function missing(store: IndexStore, type: ItemType, from: string, to: string | null): Promise<{ count: number; examples: string[] }> {
  const result = { count: 0, examples: [] as string[] };
  for await (const batch of store.itemBatches(type, from)) {
    const others = to
      ? await store.readItems(
          type,
          to,
          batch.map((item) => item.sku),
        )
      : [];
    batch.forEach(({ sku, record }, i) => {
      const have = entryKeys(sku, others[i] ?? null);
      for (const [key, example] of entryKeys(sku, record)) {
        if (have.has(key)) continue;
        result.count++;
        if (result.examples.length < MAX_EXAMPLES) result.examples.push(example);
      }
    });
  }
  return result;
}

export async function diffGenerations(store: IndexStore, type: ItemType, built: string, serving: string | null): Promise<DiffSummary> {
  const added = await missing(store, type, built, serving);
  const removed = serving ? await missing(store, type, serving, built) : { count: 0, examples: [] };
  return { added: added.count, removed: removed.count, added_examples: added.examples, removed_examples: removed.examples };
}
