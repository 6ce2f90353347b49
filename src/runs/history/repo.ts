import { and, desc, eq } from "drizzle-orm";
import type { RunReason, RunResult, RunStatus, Scope, Trigger } from "../model.ts";
import type { HistoryDb } from "./db.ts";
import { settings, syncRuns } from "./schema.ts";

type Row = typeof syncRuns.$inferSelect;

/** The newest run of a trigger, as /scheduler/status shows it for each job. */
export interface LastRun {
  run_id: string;
  status: RunStatus;
  finished_at: string | null;
}

function toRow(r: RunResult): typeof syncRuns.$inferInsert {
  return {
    id: r.run_id,
    trigger: r.trigger,
    scope: r.scope,
    status: r.status,
    dryRun: r.dry_run,
    force: r.force,
    startedAt: new Date(r.started_at),
    finishedAt: r.finished_at ? new Date(r.finished_at) : null,
    durationMs: r.duration_ms,
    types: r.types as Record<string, unknown>,
    // "<reason>:<active run id>" for a skipped run, so the holder's id survives.
    reason: r.active_run_id ? `${r.reason ?? "in_progress"}:${r.active_run_id}` : (r.reason ?? null),
    error: r.error ?? null,
  };
}

function fromRow(row: Row): RunResult {
  const colon = (row.reason ?? "").indexOf(":");
  const reason = (colon < 0 ? row.reason : row.reason!.slice(0, colon)) as RunReason | null;
  const activeRunId = colon < 0 ? null : row.reason!.slice(colon + 1);
  // Rows written before each type recorded `published`: a successful run had published them all.
  const legacy = row.status === "success" && !row.dryRun;
  const types = (row.types ?? {}) as RunResult["types"];
  for (const t of Object.values(types)) t!.published ??= legacy;
  return {
    status: row.status as RunStatus,
    run_id: row.id,
    trigger: row.trigger as Trigger,
    scope: row.scope as Scope,
    dry_run: row.dryRun,
    force: row.force,
    published: Object.keys(types).length ? Object.values(types).some((t) => t!.published) : legacy,
    started_at: row.startedAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
    duration_ms: row.durationMs,
    types,
    ...(reason ? { reason } : {}),
    ...(activeRunId ? { active_run_id: activeRunId } : {}),
    ...(row.error ? { error: row.error } : {}),
  };
}

export class HistoryRepo {
  constructor(
    readonly db: HistoryDb,
    readonly path: string,
  ) {}

  /** Inserts or replaces the row of a run (called at its start and at its end). */
  save(run: RunResult): void {
    const row = toRow(run);
    this.db.insert(syncRuns).values(row).onConflictDoUpdate({ target: syncRuns.id, set: row }).run();
  }

  get(runId: string): RunResult | null {
    const row = this.db.select().from(syncRuns).where(eq(syncRuns.id, runId)).get();
    return row ? fromRow(row) : null;
  }

  /** Newest first. */
  list(limit: number): RunResult[] {
    return this.db.select().from(syncRuns).orderBy(desc(syncRuns.startedAt)).limit(limit).all().map(fromRow);
  }

  lastSuccess(scope?: Scope): RunResult | null {
    const where = and(eq(syncRuns.status, "success"), eq(syncRuns.dryRun, false), scope ? eq(syncRuns.scope, scope) : undefined);
    const row = this.db.select().from(syncRuns).where(where).orderBy(desc(syncRuns.finishedAt)).limit(1).get();
    return row ? fromRow(row) : null;
  }

  /** The newest run of a trigger (cron, interval), or null. */
  lastRunOf(trigger: Trigger): LastRun | null {
    const row = this.db
      .select({ id: syncRuns.id, status: syncRuns.status, finishedAt: syncRuns.finishedAt })
      .from(syncRuns)
      .where(eq(syncRuns.trigger, trigger))
      .orderBy(desc(syncRuns.startedAt))
      .limit(1)
      .get();
    return row ? { run_id: row.id, status: row.status as RunStatus, finished_at: row.finishedAt?.toISOString() ?? null } : null;
  }

  /** Runs recorded as `running`. */
  running(): RunResult[] {
    return this.db.select().from(syncRuns).where(eq(syncRuns.status, "running")).all().map(fromRow);
  }

  /** Records the end of a run unless it is no longer `running` (its own process recorded it meanwhile). */
  finishRunning(run: RunResult): boolean {
    const updated = this.db
      .update(syncRuns)
      .set(toRow(run))
      .where(and(eq(syncRuns.id, run.run_id), eq(syncRuns.status, "running")))
      .returning({ id: syncRuns.id })
      .all();
    return updated.length > 0;
  }

  getSetting(key: string): string | null {
    return this.db.select().from(settings).where(eq(settings.key, key)).get()?.value ?? null;
  }

  setSetting(key: string, value: string): void {
    const row = { key, value, updatedAt: new Date() };
    this.db.insert(settings).values(row).onConflictDoUpdate({ target: settings.key, set: row }).run();
  }
}
