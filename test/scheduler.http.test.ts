// The scheduler endpoints in-process (createApp(deps).handle): status, start/stop, trigger-now,
// interval, their persistence across a restart, admin protection, OpenAPI.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { timestamp } from "../src/platform/log.ts";
import type { RunResult } from "../src/runs/model.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { collectLogs, createContext, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let schedulers: Scheduler[];
beforeEach(async () => {
  ctx = await createContext("schedhttp");
  schedulers = [];
  await ctx.db.collection("categories").insertOne({ name: "Letterhead", slug: "letterhead", display_name: [{ iso: "en", display_name: "Letterhead" }] });
});
afterEach(async () => {
  for (const s of schedulers) await s.close();
  for (const s of schedulers) await s.settled();
  await ctx.cleanup();
});

/** One "instance" of the service: its scheduler (init as at start-up) and its app. */
async function instance(services: Services): Promise<{ app: App; scheduler: Scheduler }> {
  const scheduler = new Scheduler(services, { intervalCheck: "* * * * * *" });
  schedulers.push(scheduler);
  await scheduler.init();
  return { scheduler, app: createApp({ ...services, version: "test", startedAt: new Date(), scheduler }) };
}

async function call(app: App, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await app.handle(new Request(`http://localhost${path}`, { method, headers }));
  return { status: res.status, body: await res.json() };
}

const collector = () => collectLogs();

/** The first check (every second in these tests) at or after `ms`. */
const checkAtOrAfter = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString();

async function waitForRun(services: Services, runId: string): Promise<RunResult> {
  // A deadline, not a measure: the wait ends as soon as the run does.
  const until = Date.now() + 20_000;
  for (;;) {
    const run = services.history.get(runId);
    if (run && run.status !== "running") return run;
    if (Date.now() > until) throw new Error(`run ${runId} did not finish`);
    await Bun.sleep(25);
  }
}

describe("GET /scheduler/status", () => {
  test("a stopped scheduler: both jobs, no next run, no last run", async () => {
    const { app } = await instance(await ctx.services());
    const res = await call(app, "GET", "/scheduler/status");
    expect(res).toEqual({
      status: 200,
      body: {
        running: false,
        jobs: [
          { name: "cron", kind: "cron", schedule: "0 2 * * *", timezone: ctx.config.syncTimezone, next_run: null, last_run: null },
          { name: "interval", kind: "interval", schedule: "every 24 hours", timezone: null, next_run: null, last_run: null },
        ],
        interval_hours: 24,
      },
    });
  });

  test("a running scheduler: next runs of both jobs", async () => {
    const services = await ctx.services({ ENABLE_SCHEDULER: "true", SYNC_CRON: "30 4 * * *", SYNC_TIMEZONE: "UTC" });
    const last = await services.engine.run("all", "api");
    const { app } = await instance(services);
    const { body } = await call(app, "GET", "/scheduler/status");
    const now = new Date();
    const at0430 = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 4, 30);
    const nextCron = at0430 > now.getTime() ? at0430 : at0430 + 24 * 3_600_000;
    expect(body).toEqual({
      running: true,
      jobs: [
        { name: "cron", kind: "cron", schedule: "30 4 * * *", timezone: "UTC", next_run: new Date(nextCron).toISOString(), last_run: null },
        {
          name: "interval",
          kind: "interval",
          schedule: "every 24 hours",
          timezone: null,
          next_run: checkAtOrAfter(Date.parse(last.finished_at!) + 24 * 3_600_000),
          last_run: null,
        },
      ],
      interval_hours: 24,
    });
  });

  test("answers 503 where no scheduler runs", async () => {
    const services = await ctx.services();
    const app = createApp({ ...services, version: "test", startedAt: new Date() });
    expect(await call(app, "GET", "/scheduler/status")).toEqual({
      status: 503,
      body: { error: "service_unavailable", status: "error", message: "the scheduler is not available in this process" },
    });
  });
});

describe("POST /scheduler/start and /scheduler/stop", () => {
  test("are idempotent and say whether anything changed", async () => {
    const { logger, lines } = collector();
    const services = await ctx.services({}, logger);
    await services.engine.run("all", "api"); // nothing for the interval job to catch up
    const { app } = await instance(services);
    expect(lines).toContain("scheduler: off (ENABLE_SCHEDULER=false); POST /scheduler/start turns it on");

    const started = await call(app, "POST", "/scheduler/start");
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({
      message: "Scheduler started successfully",
      status: "running",
      changed: true,
      detail: "scheduler started",
      running: true,
      interval_hours: 24,
    });
    expect(started.body.jobs.map((j: { next_run: string | null }) => typeof j.next_run)).toEqual(["string", "string"]);
    expect(lines).toContain("✅ Automatic re-sync scheduler started successfully!");

    const again = await call(app, "POST", "/scheduler/start");
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      message: "Scheduler started successfully",
      status: "running",
      changed: false,
      detail: "scheduler already running; nothing changed",
      running: true,
    });

    const stopped = await call(app, "POST", "/scheduler/stop");
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({
      message: "Scheduler stopped successfully",
      status: "stopped",
      changed: true,
      detail: "scheduler stopped",
      running: false,
    });
    expect(stopped.body.jobs.map((j: { next_run: string | null }) => j.next_run)).toEqual([null, null]);

    const stoppedAgain = await call(app, "POST", "/scheduler/stop");
    expect(stoppedAgain.status).toBe(200);
    expect(stoppedAgain.body).toMatchObject({
      message: "Scheduler stopped successfully",
      status: "stopped",
      changed: false,
      detail: "scheduler already stopped; nothing changed",
      running: false,
    });
  });

  test("start answers 500 with the reason when croner refuses the cron pattern", async () => {
    const { logger, lines } = collector();
    // SYNC_CRON is checked with croner at start-up (config.error.test.ts); a config built in code is not.
    const services = await ctx.services({}, logger);
    const { app, scheduler } = await instance({ ...services, config: { ...services.config, syncCron: "0 61 * * *" } });
    expect(await call(app, "POST", "/scheduler/start")).toEqual({
      status: 500,
      body: { error: "internal_error", status: "error", message: "the scheduler could not start: CronPattern: hour value out of range: '61'" },
    });
    expect(lines).toContain("⚠️ Failed to start scheduler: CronPattern: hour value out of range: '61'");
    expect(scheduler.running).toBe(false);
  });
});

describe("POST /scheduler/trigger-now", () => {
  test("answers 202 with the run id; the run is recorded with trigger manual", async () => {
    const services = await ctx.services();
    const { app } = await instance(services);
    const res = await call(app, "POST", "/scheduler/trigger-now");
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      message: "Manual re-sync triggered successfully",
      status: "triggered",
      run_id: expect.any(String),
      run_status: "running",
      scope: "all",
      trigger: "manual",
    });
    const run = await waitForRun(services, res.body.run_id);
    expect(run).toMatchObject({ status: "success", trigger: "manual", scope: "all", published: true });
  });

  test("answers 409 with the active run's id while a run is active", async () => {
    const services = await ctx.services();
    const { app } = await instance(services);
    const held = await services.lock.acquire("20990101T000000Z-elsewhere");
    expect("lock" in held).toBe(true);
    const res = await call(app, "POST", "/scheduler/trigger-now");
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      error: "sync_in_progress",
      run_id: "20990101T000000Z-elsewhere",
      status: "error",
      run_status: "skipped",
      reason: "in_progress",
      trigger: "manual",
    });
    expect(services.history.get(res.body.skipped_run_id)).toMatchObject({ status: "skipped", reason: "in_progress", trigger: "manual" });
  });
});

describe("PUT /scheduler/interval", () => {
  test("reschedules the interval job at once", async () => {
    const services = await ctx.services({ ENABLE_SCHEDULER: "true" });
    const last = await services.engine.run("all", "api");
    const { app } = await instance(services);
    const res = await call(app, "PUT", "/scheduler/interval?hours=12");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      changed: true,
      message: "interval changed from 24 to 12 hours",
      previous_interval_hours: 24,
      interval_hours: 12,
      running: true,
    });
    expect(res.body.jobs[1]).toMatchObject({ schedule: "every 12 hours", next_run: checkAtOrAfter(Date.parse(last.finished_at!) + 12 * 3_600_000) });

    const decimal = await call(app, "PUT", "/scheduler/interval?hours=1.5");
    expect(decimal.body).toMatchObject({ changed: true, interval_hours: 1.5 });
    expect(decimal.body.jobs[1]).toMatchObject({ schedule: "every 1.5 hours", next_run: checkAtOrAfter(Date.parse(last.finished_at!) + 1.5 * 3_600_000) });

    const same = await call(app, "PUT", "/scheduler/interval?hours=1.5");
    expect(same.body).toMatchObject({ changed: false, message: "interval already 1.5 hours; nothing changed", interval_hours: 1.5 });
  });

  test("accepts the bounds 1 and 168", async () => {
    const { app } = await instance(await ctx.services());
    for (const hours of ["1", "168", "168.0"]) {
      const res = await call(app, "PUT", `/scheduler/interval?hours=${hours}`);
      expect({ hours, status: res.status, interval_hours: res.body.interval_hours }).toEqual({ hours, status: 200, interval_hours: Number(hours) });
    }
  });
});

describe("persistence", () => {
  test("start/stop and the interval survive a restart (two instances on one history database)", async () => {
    const { logger, lines } = collector();
    const first = await instance(await ctx.services());
    expect((await call(first.app, "PUT", "/scheduler/interval?hours=6")).status).toBe(200);
    expect((await call(first.app, "POST", "/scheduler/start")).body.changed).toBe(true);
    await first.scheduler.close();

    // ENABLE_SCHEDULER=false and SYNC_INTERVAL_HOURS=24 in the environment: what the API set wins.
    const second = await instance(await ctx.services({ SYNC_INTERVAL_HOURS: "24" }, logger));
    const status = await call(second.app, "GET", "/scheduler/status");
    expect(status.body).toMatchObject({ running: true, interval_hours: 6 });
    expect(status.body.jobs[1].schedule).toBe("every 6 hours");
    expect(lines).toContain("Scheduler interval: 6 hours (set through PUT /scheduler/interval; SYNC_INTERVAL_HOURS=24 is not used)");
    expect((await call(second.app, "POST", "/scheduler/stop")).body.changed).toBe(true);
    await second.scheduler.close();

    const third = await instance(await ctx.services({ ENABLE_SCHEDULER: "true" }, logger));
    expect((await call(third.app, "GET", "/scheduler/status")).body).toMatchObject({ running: false, interval_hours: 6 });
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^scheduler: off \(saved state from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d via POST \/scheduler\/stop; env says on: ENABLE_SCHEDULER=true is not used\); POST \/scheduler\/start turns it on$/,
      ),
    );
  });

  test("the start rule: a state saved through the API wins over ENABLE_SCHEDULER, and the start line says so with its date", async () => {
    const { logger, lines } = collector();
    const first = await instance(await ctx.services({ ENABLE_SCHEDULER: "true" }, logger));
    expect(lines).toContain("scheduler: on (ENABLE_SCHEDULER=true)");
    expect(first.scheduler.running).toBe(true);
    await first.scheduler.close();

    const before = Date.now();
    const secondServices = await ctx.services({}, logger);
    const second = await instance(secondServices);
    expect(second.scheduler.running).toBe(false);
    expect((await call(second.app, "POST", "/scheduler/start")).body.changed).toBe(true);
    await second.scheduler.close();
    const savedAt = secondServices.history.getSettingEntry("scheduler.running")!;
    expect(savedAt.value).toBe("true");
    expect(savedAt.updatedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);

    // ENABLE_SCHEDULER=false now, but the operator started it through the API after that was written.
    lines.length = 0;
    const third = await instance(await ctx.services({ ENABLE_SCHEDULER: "false" }, logger));
    expect(third.scheduler.running).toBe(true);
    expect(lines[0]).toBe(
      `scheduler: on (saved state from ${timestamp(savedAt.updatedAt)} via POST /scheduler/start; env says off: ENABLE_SCHEDULER=false is not used)`,
    );
    expect(lines[1]).toBe("✅ Automatic re-sync scheduler started successfully!");
    expect(lines[2]).toStartWith("✅ Scheduler started: cron ");
    await third.scheduler.close();

    lines.length = 0;
    const fourth = await instance(await ctx.services({ ENABLE_SCHEDULER: "true" }, logger));
    expect(fourth.scheduler.running).toBe(true);
    expect(lines[0]).toBe(`scheduler: on (saved state from ${timestamp(savedAt.updatedAt)} via POST /scheduler/start; env agrees)`);
  });
});

describe("admin protection and documentation", () => {
  test("with ADMIN_API_KEY set, changes need the key; the status stays open", async () => {
    const key = "k".repeat(24);
    const { app } = await instance(await ctx.services({ ADMIN_API_KEY: key }));
    for (const [method, path] of [
      ["POST", "/scheduler/start"],
      ["POST", "/scheduler/stop"],
      ["POST", "/scheduler/trigger-now"],
      ["PUT", "/scheduler/interval?hours=12"],
      ["PUT", "/scheduler/interval?hours=abc"],
    ] as const) {
      const res = await call(app, method, path);
      expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 401, error: "unauthorized" });
    }
    expect((await call(app, "GET", "/scheduler/status")).status).toBe(200);
    expect((await call(app, "PUT", "/scheduler/interval?hours=12", { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await call(app, "POST", "/scheduler/stop", { "x-api-key": key })).status).toBe(200);
  });

  test("the scheduler endpoints are in /swagger/json under the scheduler tag", async () => {
    const { app } = await instance(await ctx.services());
    const { body } = await call(app, "GET", "/swagger/json");
    const ops = [
      ["get", "/scheduler/status"],
      ["post", "/scheduler/start"],
      ["post", "/scheduler/stop"],
      ["post", "/scheduler/trigger-now"],
      ["put", "/scheduler/interval"],
    ] as const;
    for (const [method, path] of ops) {
      const op = body.paths[path]?.[method];
      expect({ path, tags: op?.tags, summary: typeof op?.summary }).toEqual({ path, tags: ["scheduler"], summary: "string" });
    }
    expect(body.paths["/scheduler/interval"].put.parameters).toContainEqual(expect.objectContaining({ name: "hours", in: "query" }));
  });
});
