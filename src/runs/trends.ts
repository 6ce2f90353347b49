// Figures over a list of past runs for GET /sync-status?history=true. Pure.
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import type { RunResult } from "./model.ts";

interface Trends {
  runs: number;
  /** success / (success + failed + rejected), skipped and running runs not counted; null with none. */
  success_rate: number | null;
  mean_duration_ms: number | null;
  p95_duration_ms: number | null;
  /** Entries per type of each successful published run, oldest first. */
  entries_over_time: ({ run_id: string; started_at: string } & Partial<Record<ItemType, number>>)[];
  /** Latest successful run's entries minus the previous successful run's, per type. */
  change_vs_previous: Partial<Record<ItemType, number>> | null;
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** `runs` newest first, as listed. */
export function computeTrends(runs: RunResult[]): Trends {
  const decided = runs.filter((r) => r.status === "success" || r.status === "failed" || r.status === "rejected");
  const durations = decided.map((r) => r.duration_ms).filter((d): d is number => d !== null);
  const published = runs.filter((r) => r.status === "success" && r.published).reverse();
  const entriesOf = (r: RunResult) => {
    const out: Partial<Record<ItemType, number>> = {};
    for (const type of ITEM_TYPES) if (r.types[type]) out[type] = r.types[type]!.entries;
    return out;
  };
  let change: Trends["change_vs_previous"] = null;
  if (published.length >= 2) {
    const latest = entriesOf(published[published.length - 1]!);
    change = {};
    for (const type of ITEM_TYPES) {
      const before = [...published.slice(0, -1)].reverse().find((r) => r.types[type]);
      if (latest[type] !== undefined && before) change[type] = latest[type]! - before.types[type]!.entries;
    }
  }
  return {
    runs: runs.length,
    success_rate: decided.length ? decided.filter((r) => r.status === "success").length / decided.length : null,
    mean_duration_ms: durations.length ? Math.round(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
    p95_duration_ms: percentile(durations, 95),
    entries_over_time: published.map((r) => ({ run_id: r.run_id, started_at: r.started_at, ...entriesOf(r) })),
    change_vs_previous: change,
  };
}
