import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One row per run: success, failed, rejected or skipped (and running while it runs). */
export const syncRuns = sqliteTable(
  "sync_runs",
  {
    id: text("id").primaryKey(),
    trigger: text("trigger").notNull(),
    scope: text("scope").notNull(),
    status: text("status").notNull(),
    dryRun: integer("dry_run", { mode: "boolean" }).notNull().default(false),
    force: integer("force", { mode: "boolean" }).notNull().default(false),
    startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
    durationMs: integer("duration_ms"),
    /** JSON: per type { documents, entries, skipped: { reason: { count, examples } } } */
    types: text("types", { mode: "json" }).$type<Record<string, unknown>>(),
    /** Why a run was skipped or rejected (in_progress, recent_success, shrink), or null. */
    reason: text("reason"),
    error: text("error"),
    /** REPLICA_NAME of the process that ran it; null for runs recorded before replicas were named. */
    replica: text("replica"),
  },
  (t) => [index("sync_runs_started_at").on(t.startedAt), index("sync_runs_status").on(t.status)],
);

/** Settings changed at run time that must survive a restart (scheduler state, interval). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
