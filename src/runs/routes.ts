// Run triggers (the old service's endpoints) and GET /sync-status.
import { Elysia, t } from "elysia";
import { type AdminConfig, adminGuard, type ClientIp } from "../platform/http/admin.ts";
import { ApiError, errorResponse } from "../platform/http/errors.ts";
import { decimalQuery } from "../platform/http/params.ts";
import { errorText, type SyncEngine, type TriggerOutcome } from "./engine.ts";
import type { HistoryRepo } from "./history/repo.ts";
import type { RunErrorCode, RunResult, Scope, SyncStatus, Trigger } from "./model.ts";
import type { StatusStore } from "./status.ts";
import { computeTrends } from "./trends.ts";

interface SyncRoutesDeps {
  config: AdminConfig;
  clientIp?: ClientIp;
  engine: Pick<SyncEngine, "trigger" | "clear">;
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

const CLEAR_SUMMARY =
  "Destructive: empties the search index (this service's keys only) and the dataset files; search answers nothing until the next run. 409 while a run is active";

/**
 * HTTP answer for a finished run: 200 success or cleared, 409 skipped or rejected, 503 failed; always
 * the whole result, its status also as `run_status` (an error answer's `status` is "error").
 */
export function runResponse(result: RunResult): Response {
  // The run's `status` and `error` (its text) would replace the error answer's: they become `run_status` and `message`.
  const { status, error, ...rest } = result;
  const body = { ...rest, run_status: status };
  if (status === "success") return Response.json({ ...body, status });
  if (status === "cleared")
    return Response.json({ message: "Search index and dataset files cleared; search answers nothing until the next run", ...body, status });
  if (status === "skipped") {
    return errorResponse("sync_in_progress", `a run is already in progress (${result.active_run_id})`, {
      ...body,
      run_id: result.active_run_id,
      skipped_run_id: result.run_id,
    });
  }
  const code: RunErrorCode = status === "rejected" ? "sync_rejected" : "sync_failed";
  return errorResponse(code, error ?? status, body);
}

/** The body of a run started without waiting for its end. */
export function runStarted(runId: string, scope: Scope, trigger: Trigger) {
  return { run_id: runId, run_status: "running", scope, trigger };
}

export function syncRoutes(deps: SyncRoutesDeps) {
  const admin = adminGuard(deps.config, deps.clientIp);
  // `server.timeout(request, 0)`: a client waiting for a run's result sends and receives nothing until the
  // run ends, and Bun closes a connection idle for idleTimeout (Elysia: 30 s), long before a big run ends.
  type Waiting = { request: Request; server: { timeout(request: Request, seconds: number): void } | null };
  const begin = async (trigger: () => Promise<TriggerOutcome>): Promise<TriggerOutcome> => {
    try {
      return await trigger();
    } catch (err) {
      // Taking the run lock needs Redis: unreachable is a 503 with the reason, not a 500.
      throw new ApiError("service_unavailable", `could not start a run (is Redis reachable?): ${errorText(err)}`);
    }
  };
  const start = async (scope: Scope, query: typeof RunQuery.static, ctx: Waiting) => {
    const outcome = await begin(() => deps.engine.trigger(scope, "api", { force: query.force, dryRun: query.dry_run }));
    if (!outcome.started) return runResponse(outcome.result);
    if (query.wait === false) return Response.json({ ...runStarted(outcome.runId, scope, "api"), status: "running" }, { status: 202 });
    ctx.server?.timeout(ctx.request, 0);
    return runResponse(await outcome.done);
  };
  const clear = async () => {
    const outcome = await begin(() => deps.engine.clear("api"));
    return runResponse(outcome.started ? await outcome.done : outcome.result);
  };
  const detail = (summary: string) => ({ summary, tags: ["sync"] });
  const app = new Elysia({ name: "sync-routes", normalize: false })
    .post("/re-sync-all", ({ query, request, server }) => start("all", query, { request, server }), {
      query: RunQuery,
      beforeHandle: admin,
      detail: detail("Re-sync categories, boxes and options"),
    })
    .post(
      "/sync",
      async () => {
        const outcome = await begin(() => deps.engine.trigger("all", "api"));
        if (!outcome.started) return runResponse(outcome.result);
        // The replaced service's answer once its background re-sync had started: HTTP 200, status "200".
        return { message: "Success Resynced", status: "200", ...runStarted(outcome.runId, "all", "api") };
      },
      { beforeHandle: admin, detail: detail("The replaced service's re-sync: starts a full run without waiting (200, its run id)") },
    )
    .get("/clear-data", clear, { beforeHandle: admin, detail: detail(CLEAR_SUMMARY) })
    .post("/clear-data", clear, { beforeHandle: admin, detail: detail(CLEAR_SUMMARY) });
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
        let runs: RunResult[];
        try {
          runs = deps.history.list(query.limit ?? 20);
        } catch (err) {
          throw new ApiError("service_unavailable", `the history database cannot be read now: ${errorText(err)}`);
        }
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
