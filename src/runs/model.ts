import type { SkippedSummary } from "../catalog/entries.ts";
import type { ItemType } from "../catalog/types.ts";

export const TRIGGERS = ["manual", "cron", "interval", "api", "cli"] as const;
export type Trigger = (typeof TRIGGERS)[number];
export type Scope = ItemType | "all";
export type RunStatus = "running" | "success" | "failed" | "rejected" | "skipped";

export interface DiffSummary {
  added: number;
  removed: number;
  added_examples: string[];
  removed_examples: string[];
}

export interface TypeResult {
  documents: number;
  entries: number;
  /** Entries the serving index had before this run. */
  previous_entries: number;
  skipped: SkippedSummary;
  /** With dry_run: how the built index differs from the serving one. */
  diff?: DiffSummary;
}

export interface RunResult {
  status: RunStatus;
  run_id: string;
  trigger: Trigger;
  scope: Scope;
  dry_run: boolean;
  force: boolean;
  published: boolean;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  types: Partial<Record<ItemType, TypeResult>>;
  /** Why a run was skipped or rejected: in_progress, recent_success, shrink. */
  reason?: string;
  /** The run holding the lock, when skipped for in_progress. */
  active_run_id?: string;
  error?: string;
}

export interface RunOptions {
  force?: boolean;
  dryRun?: boolean;
}
