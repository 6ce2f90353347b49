// The scheduler endpoints of the re-sync guide (docs/re-sync-guide.md): status, start, stop, trigger-now, interval.
import { Elysia, t } from "elysia";
import { type AdminConfig, adminGuard, type ClientIp } from "../platform/http/admin.ts";
import { ApiError, type ErrorCode } from "../platform/http/errors.ts";
import { Nullable, responses } from "../platform/http/openapi.ts";
import type { SyncEngine } from "../runs/engine.ts";
import { beginRun, runResponse, runStarted, runStartedFields } from "../runs/routes.ts";
import { parseIntervalHours } from "./hours.ts";
import { type Scheduler, SchedulerStartError } from "./scheduler.ts";

interface SchedulerRoutesDeps {
  config: AdminConfig;
  clientIp?: ClientIp;
  engine: Pick<SyncEngine, "trigger">;
  /** Absent where no scheduler runs: the endpoints then answer 503. */
  scheduler?: Scheduler;
}

/** SchedulerStatus (scheduler.ts) in the OpenAPI document. */
const statusFields = {
  running: t.Boolean(),
  jobs: t.Array(
    t.Object({
      name: t.String({ description: "cron or interval" }),
      kind: t.String(),
      schedule: t.String({ examples: ["0 2 * * *"] }),
      timezone: Nullable(t.String()),
      next_run: Nullable(t.String()),
      last_run: Nullable(t.Object({ run_id: t.String(), status: t.String(), finished_at: Nullable(t.String()) })),
    }),
  ),
  interval_hours: t.Number(),
};
export const SchedulerStatusBody = t.Object(statusFields, { description: "the scheduler: running or not, its two jobs" });
const ChangeBody = t.Object({
  message: t.String(),
  status: t.String({ description: "running or stopped" }),
  changed: t.Boolean(),
  detail: t.String(),
  ...statusFields,
});

export function schedulerRoutes(deps: SchedulerRoutesDeps) {
  const admin = adminGuard(deps.config, deps.clientIp);
  const detail = (summary: string, answers: Parameters<typeof responses>[0], errors: ErrorCode[]) => ({
    summary,
    tags: ["scheduler"],
    responses: responses(answers, [...errors, "service_unavailable"]),
  });
  const scheduler = (): Scheduler => {
    if (!deps.scheduler) throw new ApiError("service_unavailable", "the scheduler is not available in this process");
    return deps.scheduler;
  };
  const change = async (action: "start" | "stop") => {
    const s = scheduler();
    let changed: boolean;
    try {
      ({ changed } = await s[action]());
    } catch (err) {
      if (err instanceof SchedulerStartError) throw new ApiError("internal_error", err.message);
      throw err;
    }
    const [done, state] = action === "start" ? ["started", "running"] : ["stopped", "stopped"];
    return {
      // The replaced service's message and status (it said so whether or not anything changed); ours is `detail`.
      message: `Scheduler ${done} successfully`,
      status: state,
      changed,
      detail: changed ? `scheduler ${done}` : `scheduler already ${state}; nothing changed`,
      ...s.status(),
    };
  };

  return new Elysia({ name: "scheduler-routes" })
    .get("/scheduler/status", () => scheduler().status(), {
      detail: detail(
        "Scheduler running or not, each job with its schedule, next run and last run",
        { 200: { description: "the scheduler", schema: SchedulerStatusBody } },
        [],
      ),
    })
    .post("/scheduler/start", () => change("start"), {
      beforeHandle: admin,
      detail: detail("Start both jobs (idempotent; persisted across restarts)", { 200: { description: "running", schema: ChangeBody } }, ["internal_error"]),
    })
    .post("/scheduler/stop", () => change("stop"), {
      beforeHandle: admin,
      detail: detail(
        "Stop both jobs (idempotent; persisted across restarts); a run already started finishes",
        { 200: { description: "stopped", schema: ChangeBody } },
        [],
      ),
    })
    .post(
      "/scheduler/trigger-now",
      async () => {
        const outcome = await beginRun(() => deps.engine.trigger("all", "manual"));
        if (!outcome.started) return runResponse(outcome.result);
        const body = { message: "Manual re-sync triggered successfully", status: "triggered", ...runStarted(outcome.runId, "all", "manual") };
        return Response.json(body, { status: 202 });
      },
      {
        beforeHandle: admin,
        detail: detail(
          "Start a full re-sync now: 202 with the run id, 409 when a run is active",
          { 202: { description: "the run started", schema: t.Object({ message: t.String(), status: t.Literal("triggered"), ...runStartedFields }) } },
          ["sync_in_progress"],
        ),
      },
    )
    .put(
      "/scheduler/interval",
      async ({ query }) => {
        const parsed = parseIntervalHours(query.hours);
        if (!parsed.ok) throw new ApiError("invalid_request", parsed.message, { field: "hours" });
        const s = scheduler();
        const { changed, previous } = await s.setIntervalHours(parsed.hours);
        return {
          changed,
          message: changed ? `interval changed from ${previous} to ${parsed.hours} hours` : `interval already ${parsed.hours} hours; nothing changed`,
          previous_interval_hours: previous,
          ...s.status(),
        };
      },
      {
        // A string, parsed by hand: decimals are allowed, and anything else gets one clear 422.
        query: t.Object({
          hours: t.Optional(t.String({ description: "required: hours between interval runs, 1 to 168, decimals allowed", examples: ["1.5"] })),
        }),
        beforeHandle: admin,
        detail: detail(
          "Change the interval job's period at once; persisted across restarts",
          {
            200: {
              description: "the interval, changed or not",
              schema: t.Object({ changed: t.Boolean(), message: t.String(), previous_interval_hours: t.Number(), ...statusFields }),
            },
          },
          ["invalid_request"],
        ),
      },
    );
}
