// Run triggers (the old service's endpoints) and GET /sync-status.
import { Elysia, t } from "elysia";
import { type AdminConfig, adminGuard, type ClientIp } from "../platform/http/admin.ts";
import { ApiError, errorResponse } from "../platform/http/errors.ts";
import { Integer, Nullable, responses } from "../platform/http/openapi.ts";
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
  wait: t.Optional(
    t.BooleanString({
      description: "false: answer 202 with the run id at once (default true: answer when the run ends)",
      examples: [false],
      error: "wait: must be true or false",
    }),
  ),
  force: t.Optional(
    t.BooleanString({
      description: "publish even if the index would shrink more than SYNC_MAX_SHRINK_PERCENT (default false)",
      examples: [false],
      error: "force: must be true or false",
    }),
  ),
  dry_run: t.Optional(
    t.BooleanString({
      description: "build and report differences, publish nothing (default false)",
      examples: [true],
      error: "dry_run: must be true or false",
    }),
  ),
});

// The answers' shapes, for the OpenAPI document (RunResult in model.ts is what they are made of).
const RUN_ID_EXAMPLE = "20260101T020000Z-abcdef12";
const TypeResultBody = t.Object({
  documents: Integer(),
  entries: Integer(),
  previous_entries: Integer(),
  skipped: t.Record(t.String(), t.Object({ count: Integer(), examples: t.Array(t.String()) }), { description: "skipped documents by reason" }),
  published: t.Boolean(),
  warning: t.Optional(t.String()),
  diff: t.Optional(
    t.Object(
      { added: Integer(), removed: Integer(), added_examples: t.Array(t.String()), removed_examples: t.Array(t.String()) },
      { description: "with dry_run" },
    ),
  ),
});
const runFields = {
  run_id: t.String({ examples: [RUN_ID_EXAMPLE] }),
  trigger: t.String({ description: "manual, cron, interval, api, cli or resync" }),
  scope: t.String({ description: "all, categories, boxes or options" }),
  dry_run: t.Boolean(),
  force: t.Boolean(),
  published: t.Boolean({ description: "some type was published" }),
  started_at: t.String({ description: "ISO 8601 time" }),
  finished_at: Nullable(t.String()),
  duration_ms: Nullable(t.Number()),
  types: t.Record(t.String(), TypeResultBody, { description: "per type: categories, boxes, options" }),
  reason: t.Optional(t.String({ description: "why skipped or rejected: in_progress, recent_success, shrink" })),
  active_run_id: t.Optional(t.String()),
};
const RunStatusBody = t.String({ description: "running, success, failed, rejected, skipped or cleared" });
/** A run's result, as /sync-status and the history show it. */
const RunResultBody = t.Object({ ...runFields, status: RunStatusBody, error: t.Optional(t.String()) });
const RunAnswer = t.Object(
  { ...runFields, status: RunStatusBody, run_status: RunStatusBody, message: t.Optional(t.String()) },
  { description: "the run's result; its status also as run_status" },
);
/** The body of a run started without waiting for its end (the fields of runStarted). */
export const runStartedFields = {
  run_id: t.String({ examples: [RUN_ID_EXAMPLE] }),
  run_status: t.Literal("running"),
  scope: t.String(),
  trigger: t.String(),
};
/** The change follower's block of /sync-status and /info (null where no follower runs). */
export const ChangeStreamBody = Nullable(
  t.Object(
    { mode: t.String(), state: t.String(), reason: Nullable(t.String()), lag_seconds: Nullable(t.Number()), events_applied: t.Record(t.String(), Integer()) },
    { description: "this process's change-stream follower" },
  ),
);
const SyncStatusBody = t.Object({
  status: t.String({ description: "running, never_run, or the last run's status" }),
  last_sync: Nullable(t.String()),
  duration_seconds: Nullable(t.Number()),
  items_synced: t.Record(t.String(), Integer(), { description: "the last run's entries per type" }),
  last_run: Nullable(RunResultBody),
  active: Nullable(
    t.Object({
      run_id: t.String(),
      scope: t.String(),
      trigger: t.String(),
      started_at: t.String(),
      stage: t.String(),
      progress: t.Record(t.String(), t.Object({})),
      updated_at: t.String(),
    }),
  ),
  change_stream: ChangeStreamBody,
  history: t.Optional(t.Array(RunResultBody, { description: "with history=true: past runs, newest first" })),
  trends: t.Optional(t.Object({ runs: Integer(), success_rate: Nullable(t.Number()) }, { description: "with history=true: figures over the past runs" })),
});

/** The answers of a trigger that runs until the run ends (wait=false: 202 at once). */
const triggerResponses = (withQuery: boolean) =>
  responses(
    {
      200: { description: "the run succeeded (cleared, for /clear-data)", schema: RunAnswer },
      ...(withQuery ? { 202: { description: "wait=false: the run started", schema: t.Object({ ...runStartedFields, status: t.Literal("running") }) } } : {}),
    },
    ["sync_in_progress", ...(withQuery ? (["sync_rejected", "invalid_request"] as const) : []), "sync_failed", "service_unavailable"],
  );

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

/** Starts a run. Taking the run lock needs Redis: unreachable is a 503 with the reason, not a 500. */
export async function beginRun(trigger: () => Promise<TriggerOutcome>): Promise<TriggerOutcome> {
  try {
    return await trigger();
  } catch (err) {
    throw new ApiError("service_unavailable", `could not start a run (is Redis reachable?): ${errorText(err)}`);
  }
}

/** The body of a run started without waiting for its end. */
export function runStarted(runId: string, scope: Scope, trigger: Trigger) {
  return { run_id: runId, run_status: "running", scope, trigger };
}

export function syncRoutes(deps: SyncRoutesDeps) {
  const admin = adminGuard(deps.config, deps.clientIp);
  // A client waiting for a run's result sends and receives nothing until the run ends, and Bun closes a
  // connection idle for idleTimeout (Elysia: 30 s), long before a big run ends. So the request's idle
  // timeout is lifted from its start (taking the run lock can outlast Bun's sweep, every 4 s), and its
  // connection is closed after the answer, since no timeout would close it any more.
  type Waiting = {
    request: Request;
    server: { timeout(request: Request, seconds: number): void } | null;
    set: { headers: Record<string, string | number> };
  };
  const waitForRun = ({ request, server, set }: Waiting) => {
    server?.timeout(request, 0);
    set.headers.connection = "close";
  };
  const start = async (scope: Scope, query: typeof RunQuery.static, ctx: Waiting) => {
    if (query.wait !== false) waitForRun(ctx);
    const outcome = await beginRun(() => deps.engine.trigger(scope, "api", { force: query.force, dryRun: query.dry_run }));
    if (!outcome.started) return runResponse(outcome.result);
    if (query.wait === false) return Response.json({ ...runStarted(outcome.runId, scope, "api"), status: "running" }, { status: 202 });
    return runResponse(await outcome.done);
  };
  const clear = async (ctx: Waiting) => {
    waitForRun(ctx);
    const outcome = await beginRun(() => deps.engine.clear("api"));
    return runResponse(outcome.started ? await outcome.done : outcome.result);
  };
  const detail = (summary: string, answers = triggerResponses(true)) => ({ summary, tags: ["sync"], responses: answers });
  const app = new Elysia({ name: "sync-routes", normalize: false })
    .post("/re-sync-all", ({ query, request, server, set }) => start("all", query, { request, server, set }), {
      query: RunQuery,
      beforeHandle: admin,
      detail: detail("Re-sync categories, boxes and options"),
    })
    .post(
      "/sync",
      async () => {
        const outcome = await beginRun(() => deps.engine.trigger("all", "api"));
        if (!outcome.started) return runResponse(outcome.result);
        // The replaced service's answer once its background re-sync had started: HTTP 200, status "200".
        return { message: "Success Resynced", status: "200", ...runStarted(outcome.runId, "all", "api") };
      },
      {
        beforeHandle: admin,
        detail: detail(
          "The replaced service's re-sync: starts a full run without waiting (200, its run id)",
          responses({ 200: { description: "the run started", schema: t.Object({ message: t.String(), status: t.Literal("200"), ...runStartedFields }) } }, [
            "sync_in_progress",
            "service_unavailable",
          ]),
        ),
      },
    )
    .get("/clear-data", ({ request, server, set }) => clear({ request, server, set }), {
      beforeHandle: admin,
      detail: detail(CLEAR_SUMMARY, triggerResponses(false)),
    })
    .post("/clear-data", ({ request, server, set }) => clear({ request, server, set }), {
      beforeHandle: admin,
      detail: detail(CLEAR_SUMMARY, triggerResponses(false)),
    });
  for (const [path, scope, label] of [
    ["/generate-data-set", "categories", "categories"],
    ["/generate-box-data", "boxes", "boxes"],
    ["/generate-option-data", "options", "options"],
  ] as const) {
    app
      .get(path, ({ query, request, server, set }) => start(scope, query, { request, server, set }), {
        query: RunQuery,
        beforeHandle: admin,
        detail: detail(`Re-sync ${label} only`),
      })
      .post(path, ({ query, request, server, set }) => start(scope, query, { request, server, set }), {
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
        history: t.Optional(
          t.BooleanString({ description: "also list past runs, with trends (default false)", examples: [true], error: "history: must be true or false" }),
        ),
        limit: t.Optional(decimalQuery("limit", 1000, "with history=true: how many past runs, 1-1000 (default 20)", "50")),
      }),
      detail: {
        summary: "Last run, the active run's progress, and (history=true) past runs with trends",
        tags: ["status"],
        responses: responses({ 200: { description: "the sync status", schema: SyncStatusBody } }, ["invalid_request", "service_unavailable"]),
      },
    },
  );
}
