import { basename } from "node:path";
import { and, desc, eq } from "drizzle-orm";
import { type Logger, silentLogger, TEXT_LINES } from "../../platform/log.ts";
import type { RunReason, RunResult, RunStatus, Scope, Trigger } from "../model.ts";
import { type HistoryDb, openHistoryDb } from "./db.ts";
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
    replica: r.replica ?? null,
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
    ...(row.replica ? { replica: row.replica } : {}),
  };
}

/** What /info shows of the history database. */
export interface HistoryHealth {
  file: string;
  /** Records not yet written (the database was locked or failing), kept in memory and retried. */
  pending_writes: number;
  /** Why the last write failed, while records are pending; null once they are written. */
  last_error: string | null;
  /** The file a corrupt database was moved to at start-up (names only: /info is public). */
  corrupt_file_moved_to: string | null;
}

interface PendingWrite {
  /** What the record is, for the log (e.g. "run <id> (success)"). */
  label: string;
  row: unknown;
  write(): void;
}

// Retries of pending writes: the first soon (a lock held for a moment), then less often.
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

/**
 * The run history and the scheduler's settings. Writes never wait and never get lost: they are
 * queued and written in order, at once when the database is free, otherwise retried in the
 * background until it is (a lock held by another process, a full disk). Reads never wait either:
 * a database that cannot be read now throws at once, and callers answer without it.
 */
export class HistoryRepo {
  private readonly pending: PendingWrite[] = [];
  private retry: ReturnType<typeof setTimeout> | null = null;
  private retryMs = FIRST_RETRY_MS;
  private lastError: string | null = null;

  constructor(
    readonly db: HistoryDb,
    readonly path: string,
    private readonly logger: Logger = silentLogger,
    private readonly corruptMovedTo: string | null = null,
  ) {}

  /** Opens the database at `path`; a corrupt file is moved aside (and said so, loudly) for a fresh one. */
  static open(path: string, logger: Logger): HistoryRepo {
    const { db, file, corrupt } = openHistoryDb(path);
    if (corrupt)
      logger.error(
        `History database ${file} is corrupt (${corrupt.problem}): moved it to ${corrupt.movedTo} and started an empty one; past runs and scheduler settings stay in the moved file`,
        { moved_to: corrupt.movedTo },
      );
    return new HistoryRepo(db, path, logger, corrupt ? basename(corrupt.movedTo) : null);
  }

  health(): HistoryHealth {
    return {
      file: basename(this.path),
      pending_writes: this.pending.length,
      last_error: this.lastError,
      corrupt_file_moved_to: this.corruptMovedTo,
    };
  }

  /** Inserts or replaces the row of a run (called at its start and at its end). */
  save(run: RunResult): void {
    const row = toRow(run);
    this.enqueue({
      label: `run ${run.run_id} (${run.status})`,
      row,
      write: () => this.db.insert(syncRuns).values(row).onConflictDoUpdate({ target: syncRuns.id, set: row }).run(),
    });
  }

  /**
   * Records a finished run of another replica (or this one's, again): a run already recorded stays
   * as it is, unless it is still `running` here (its process died before writing its end).
   */
  import(run: RunResult): void {
    const row = toRow(run);
    this.enqueue({
      label: `imported run ${run.run_id} (${run.status})`,
      row,
      write: () =>
        this.db
          .insert(syncRuns)
          .values(row)
          .onConflictDoUpdate({ target: syncRuns.id, set: row, setWhere: eq(syncRuns.status, "running") })
          .run(),
    });
  }

  get(runId: string): RunResult | null {
    const row = this.db.select().from(syncRuns).where(eq(syncRuns.id, runId)).get();
    return row ? fromRow(row) : null;
  }

  /** Newest first; runs started in the same millisecond by id, so that every replica lists them alike. */
  list(limit: number): RunResult[] {
    return this.db.select().from(syncRuns).orderBy(desc(syncRuns.startedAt), desc(syncRuns.id)).limit(limit).all().map(fromRow);
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
    // This process's pending writes go first: they may end the very runs that look interrupted.
    if (!this.flush()) throw new Error(`history database not writable: ${this.lastError}`);
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
    return this.getSettingEntry(key)?.value ?? null;
  }

  /** A setting with the time it was last set. */
  getSettingEntry(key: string): { value: string; updatedAt: Date } | null {
    const row = this.db.select().from(settings).where(eq(settings.key, key)).get();
    return row ? { value: row.value, updatedAt: row.updatedAt } : null;
  }

  setSetting(key: string, value: string): void {
    const row = { key, value, updatedAt: new Date() };
    this.enqueue({
      label: `setting ${key}`,
      row,
      write: () => this.db.insert(settings).values(row).onConflictDoUpdate({ target: settings.key, set: row }).run(),
    });
  }

  /** Writes the pending records, in order, in one transaction; true when none is left. */
  flush(): boolean {
    if (this.pending.length === 0) return true;
    try {
      this.db.$client
        .transaction(() => {
          for (const w of this.pending) w.write();
        })
        .immediate();
    } catch (err) {
      this.writeFailed((err as Error).message);
      return false;
    }
    const written = this.pending.splice(0).length;
    if (this.lastError !== null) this.logger.info(`History database writable again: wrote ${written} pending record(s)`);
    this.lastError = null;
    this.retryMs = FIRST_RETRY_MS;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    return true;
  }

  /**
   * Waits up to `ms` for the pending writes, then closes the database. Records still not written
   * are logged whole, so that they can be put back by hand.
   */
  async close(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.flush() && Date.now() < deadline) await Bun.sleep(Math.min(FIRST_RETRY_MS, deadline - Date.now()));
    if (this.pending.length) {
      const records = this.pending.map((w) => ({ what: w.label, row: w.row }));
      // JSON logs carry them as a field; text logs as a JSON line each after the message.
      this.logger.error(`${this.pending.length} record(s) could not be written to the history database before exit: ${this.lastError}`, {
        records,
        [TEXT_LINES]: records.map((record) => JSON.stringify(record)),
      });
    }
    if (this.retry) clearTimeout(this.retry);
    this.db.$client.close();
  }

  private enqueue(write: PendingWrite): void {
    this.pending.push(write);
    this.flush();
  }

  private writeFailed(message: string): void {
    if (this.lastError === null)
      this.logger.error(
        `Could not write to the history database: ${message}; keeping ${this.pending.length} record(s) in memory and retrying until it is writable`,
        { pending_writes: this.pending.length },
      );
    this.lastError = message;
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.flush();
    }, this.retryMs);
    // Pending writes do not keep a process alive: close() waits for them.
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}
