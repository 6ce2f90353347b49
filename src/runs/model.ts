// The shapes of a run: its result (history rows, HTTP bodies, alerts) and its progress (the status key).
import type { SkippedSummary } from "../catalog/entries.ts";
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import type { ErrorCode } from "../platform/http/errors.ts";

// resync: the change follower's full run when its stream could not be resumed (or had never run).
export const TRIGGERS = ["manual", "cron", "interval", "api", "cli", "resync"] as const;
export type Trigger = (typeof TRIGGERS)[number];
export type Scope = ItemType | "all";

/** What newRunId makes: "<UTC time>-<8 hex digits>", e.g. 20260101T020000Z-abcdef12. */
export const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${stamp}-${crypto.randomUUID().slice(0, 8)}`;
}

export function scopeTypes(scope: Scope): ItemType[] {
  return scope === "all" ? [...ITEM_TYPES] : [scope];
}

/** `cleared`: GET /clear-data emptied the index and the dataset files (a run of its own kind, under the run lock). */
export type RunStatus = "running" | "success" | "failed" | "rejected" | "skipped" | "cleared";
/** Why a run was skipped (another run holds the lock; the interval job's last success is recent) or rejected (the shrink guard). */
export type RunReason = "in_progress" | "recent_success" | "shrink";
/** The `error` code of a trigger's answer when its run did not succeed. */
export type RunErrorCode = Extract<ErrorCode, "sync_in_progress" | "sync_rejected" | "sync_failed">;

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
  /** This run's index of the type was made the serving one. */
  published: boolean;
  /** What went wrong once it served (its dataset file could not be put in place). */
  warning?: string;
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
  /** Some type was published; each type's `published` says which. */
  published: boolean;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  types: Partial<Record<ItemType, TypeResult>>;
  reason?: RunReason;
  /** The run holding the lock, when skipped for in_progress. */
  active_run_id?: string;
  error?: string;
  /** REPLICA_NAME of the process that ran it (absent for runs recorded before it was kept). */
  replica?: string;
}

export interface RunOptions {
  force?: boolean;
  dryRun?: boolean;
}

interface TypeProgress {
  documents_read: number;
  documents_total: number;
  entries_written: number;
}

type RunStage = "starting" | `${ItemType}: origins` | `${ItemType}: suppliers` | "comparing" | "publishing" | "clearing";

export interface ActiveRun {
  run_id: string;
  scope: Scope;
  trigger: Trigger;
  started_at: string;
  stage: RunStage;
  progress: Partial<Record<ItemType, TypeProgress>>;
  updated_at: string;
}

/** The status key: the active run's progress and the last finished run, shared by every replica. */
export interface SyncStatus {
  active: ActiveRun | null;
  last_run: RunResult | null;
}
