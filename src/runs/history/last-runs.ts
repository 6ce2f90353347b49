// The newest history row of a trigger (cron, interval): the "last_run" of each job in /scheduler/status.
import { desc, eq } from "drizzle-orm";
import type { Trigger } from "../model.ts";
import type { HistoryRepo } from "./repo.ts";
import { syncRuns } from "./schema.ts";

export interface LastRun {
  run_id: string;
  status: string;
  finished_at: string | null;
}

export function lastRunOf(history: HistoryRepo, trigger: Trigger): LastRun | null {
  const row = history.db
    .select({ id: syncRuns.id, status: syncRuns.status, finishedAt: syncRuns.finishedAt })
    .from(syncRuns)
    .where(eq(syncRuns.trigger, trigger))
    .orderBy(desc(syncRuns.startedAt))
    .limit(1)
    .get();
  return row ? { run_id: row.id, status: row.status, finished_at: row.finishedAt?.toISOString() ?? null } : null;
}
