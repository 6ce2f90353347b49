// Run triggers (the old service's endpoints) and GET /sync-status.
import { Elysia, t } from "elysia";
import { type AdminConfig, adminGuard, type ClientIp } from "../platform/http/admin.ts";
import { ApiError, ERROR_STATUS } from "../platform/http/errors.ts";
import { decimalQuery } from "../platform/http/params.ts";
import { errorText, type SyncEngine, type TriggerOutcome } from "./engine.ts";
import type { HistoryRepo } from "./history/repo.ts";
import type { RunErrorCode, RunResult, Scope, SyncStatus, Trigger } from "./model.ts";
import type { StatusStore } from "./status.ts";
import { computeTrends } from "./trends.ts";

interface SyncRoutesDeps {
  config: AdminConfig;
  clientIp?: ClientIp;
  engine: Pick<SyncEngine, "trigger">;
  status: Pick<StatusStore, "get">;
  history: Pick<HistoryRepo, "list">;
  /** The change follower's block (src/changes/), given as a function: runs/ does not import it. */
  changeStream?: () => object | null;
}

const RunQuery = t.Object({
  wait: t.Optional(t.BooleanString({ description: "false: answer 202 with the run id at once", error: "wait: must be true or false" })),
  force: t.Optional(
    t.BooleanString({ description: "publish even if the index would shrink more than SYNC_MAX_SHRINK_PERCENT", error: "force: must be true or false" }),
  ),
  dry_run: t.Optional(t.BooleanString({ description: "build and report differences, publish nothing", error: "dry_run: must be true or false" })),
});

/** HTTP answer for a finished run: 200 success, 409 skipped or rejected, 503 failed; always the whole result. */
export function runResponse(result: RunResult): Response {
  if (result.status === "success") return Response.json(result);
  if (result.status === "skipped") {
    const code: RunErrorCode = "sync_in_progress";
    return Response.json(
      {
        ...result,
        error: code,
        message: `a run is already in progress (${result.active_run_id})`,
        run_id: result.active_run_id,
        skipped_run_id: result.run_id,
      },
      { status: ERROR_STATUS[code] },
    );
  }
  // The result goes first: its `error` (the text) must not replace the error code; the text is the message.
  const code: RunErrorCode = result.status === "rejected" ? "sync_rejected" : "sync_failed";
  return Response.json({ ...result, error: code, message: result.error ?? result.status }, { status: ERROR_STATUS[code] });
}

/** HTTP answer for a run started without waiting for its end: 202 with its id. */
export function runStartedResponse(runId: string, scope: Scope, trigger?: Trigger): Response {
  return Response.json({ run_id: runId, status: "running", scope, ...(trigger && { trigger }) }, { status: 202 });
}

export function syncRoutes(deps: SyncRoutesDeps) {
  const admin = adminGuard(deps.config, deps.clientIp);
  // `server.timeout(request, 0)`: a client waiting for a run's result sends and receives nothing until the
  // run ends, and Bun closes a connection idle for idleTimeout (Elysia: 30 s), long before a big run ends.
  type Waiting = { request: Request; server: { timeout(request: Request, seconds: number): void } | null };
  const start = async (scope: Scope, query: typeof RunQuery.static, ctx?: Waiting) => {
    let outcome: TriggerOutcome;
    try {
      outcome = await deps.engine.trigger(scope, "api", { force: query.force, dryRun: query.dry_run });
    } catch (err) {
      // Taking the run lock needs Redis: unreachable is a 503 with the reason, not a 500.
      throw new ApiError("service_unavailable", `could not start a run (is Redis reachable?): ${errorText(err)}`);
    }
    if (!outcome.started) return runResponse(outcome.result);
    if (query.wait === false) return runStartedResponse(outcome.runId, scope);
    ctx?.server?.timeout(ctx.request, 0);
    return runResponse(await outcome.done);
  };
  const detail = (summary: string) => ({ summary, tags: ["sync"] });
  const app = new Elysia({ name: "sync-routes", normalize: false }).post(
    "/re-sync-all",
    ({ query, request, server }) => start("all", query, { request, server }),
    { query: RunQuery, beforeHandle: admin, detail: detail("Re-sync categories, boxes and options") },
  );
  for (const [path, scope, label] of [
    ["/generate-data-set", "categories", "categories"],
    ["/generate-box-data", "boxes", "boxes"],
    ["/generate-option-data", "options", "options"],
  ] as const) {
    app
      .get(path, ({ query, request, server }) => start(scope, query, { request, server }), {
        query: RunQuery,
        beforeHandle: admin,
        detail: detail(`Re-sync ${label} only`),
      })
      .post(path, ({ query, request, server }) => start(scope, query, { request, server }), {
        query: RunQuery,
        beforeHandle: admin,
        detail: detail(`Re-sync ${label} only`),
      });
  }
  return app.get(
    "/sync-status",
    async ({ query }) => {
      let status: SyncStatus;
      try {
        status = await deps.status.get();
      } catch {
        throw new ApiError("service_unavailable", "Redis is unreachable: the sync status cannot be read");
      }
      const last = status.last_run;
      const body: Record<string, unknown> = {
        status: status.active ? "running" : (last?.status ?? "never_run"),
        last_sync: last?.finished_at ?? null,
        duration_seconds: last?.duration_ms != null ? last.duration_ms / 1000 : null,
        items_synced: last ? Object.fromEntries(Object.entries(last.types).map(([type, r]) => [type, r?.entries ?? 0])) : {},
        last_run: last,
        active: status.active,
        change_stream: deps.changeStream?.() ?? null,
      };
      if (query.history) {
        const runs = deps.history.list(query.limit ?? 20);
        body.history = runs;
        body.trends = computeTrends(runs);
      }
      return body;
    },
    {
      query: t.Object({
        history: t.Optional(t.BooleanString({ error: "history: must be true or false" })),
        limit: t.Optional(decimalQuery("limit", 1000, "how many past runs (default 20)")),
      }),
      detail: { summary: "Last run, the active run's progress, and (history=true) past runs with trends", tags: ["status"] },
    },
  );
}
