// Push updates: add, remove or replace one item's entries in a generation without a full run.
import type { ItemType } from "../catalog/types.ts";
import { type PushOp, planPush } from "./push-plan.ts";
import type { IndexStore } from "./store.ts";

const MAX_ATTEMPTS = 20;

interface PushOutcome {
  added: number;
  removed: number;
  /** False when no index has been published yet for the type. */
  applied: boolean;
}

/**
 * Applies an op to the serving generation (mode 'serving', journaled for a build in progress)
 * or to a given generation being built (mode 'building', used to replay the journal).
 */
export async function applyPush(store: IndexStore, type: ItemType, op: PushOp, target: { building: string } | "serving"): Promise<PushOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const outcome = await store.tryPush(type, op, target, (current) => planPush(op, current));
    if (outcome === "no-index") return { added: 0, removed: 0, applied: false };
    if (outcome !== "conflict") return { added: outcome.added, removed: outcome.removed, applied: true };
  }
  throw new Error(`push update for ${type} kept conflicting with concurrent updates; try again`);
}
