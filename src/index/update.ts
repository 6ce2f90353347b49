// Push updates: add, remove or replace one item's entries in a generation without a full run.
import type { ItemType } from "../catalog/types.ts";
import { type PushOp, planPush, skusOf } from "./push-plan.ts";
import type { IndexStore } from "./store.ts";

const MAX_ATTEMPTS = 20;
/** Upper bound of the random pause before the next compare-and-set attempt, doubled per attempt up to this. */
const MAX_BACKOFF_MS = 200;

interface PushOutcome {
  added: number;
  removed: number;
  /** False when no index has been published yet for the type. */
  applied: boolean;
}

/**
 * Applies an op to the serving generation (mode 'serving', journaled for a build in progress)
 * or to a given generation being built (mode 'building', used to replay the journal). Throws
 * PushRefused when the op would take an item past a limit.
 */
export function applyPush(store: IndexStore, type: ItemType, op: PushOp, target: { building: string } | "serving"): Promise<PushOutcome> {
  return oneAtATime(
    store,
    skusOf(op).map((sku) => `${type}\u0000${sku}`),
    () => applyWithRetries(store, type, op, target),
  );
}

async function applyWithRetries(store: IndexStore, type: ItemType, op: PushOp, target: { building: string } | "serving"): Promise<PushOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await Bun.sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
    const outcome = await store.tryPush(type, op, target, (current, form) => {
      const plan = planPush(op, current, form);
      // A push past a limit is refused whole (PushRefused); a journaled one is replayed as far as it fits.
      if (plan.refused && target === "serving") throw plan.refused;
      return plan;
    });
    if (outcome === "no-index") return { added: 0, removed: 0, applied: false };
    if (outcome !== "conflict") return { added: outcome.added, removed: outcome.removed, applied: true };
  }
  throw new Error(`push update for ${type} kept conflicting with concurrent updates; try again`);
}

// Pushes to one item through this process wait for each other, so they never conflict among
// themselves; only another replica's push to the same item can, and the compare-and-set with a
// random backoff settles that.
const tails = new WeakMap<IndexStore, Map<string, Promise<void>>>();

function oneAtATime<T>(store: IndexStore, keys: string[], work: () => Promise<T>): Promise<T> {
  const queue = tails.get(store) ?? new Map<string, Promise<void>>();
  tails.set(store, queue);
  const ahead = keys.map((key) => queue.get(key));
  const result = Promise.all(ahead).then(work);
  const tail = result.then(
    () => {},
    () => {},
  );
  for (const key of keys) queue.set(key, tail);
  void tail.then(() => {
    for (const key of keys) if (queue.get(key) === tail) queue.delete(key);
  });
  return result;
}
