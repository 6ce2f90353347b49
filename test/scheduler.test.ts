// The scheduler's jobs on the real services: cron ticks, the interval backup, failures, replicas.
// Cron patterns with seconds, and a one-second "hour" for the interval, keep every test short.
import { afterEach, beforeEach, describe, expect, setSystemTime, test } from "bun:test";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { createServices, type Services } from "../src/app/container.ts";
import { parseConfig } from "../src/platform/config.ts";
import type { HistoryRepo } from "../src/runs/history/repo.ts";
import type { RunResult } from "../src/runs/model.ts";
import { newRunId } from "../src/runs/model.ts";
import { scheduleJob } from "../src/scheduler/jobs.ts";
import { Scheduler, type SchedulerOptions } from "../src/scheduler/scheduler.ts";
import { claimedCronTicks, collectLogs, createContext, MONGODB_URI, REDIS_DOWN_ENV, type TestContext } from "./helpers.ts";

// Tests that wait on real timers; bun applies its 5 s default otherwise (bunfig's [test] timeout is not read).
const TIMER_TEST_MS = 30_000;
const STAMP = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /;

let ctx: TestContext;
let schedulers: Scheduler[];
let closeLater: Array<() => Promise<void>>;
beforeEach(async () => {
  ctx = await createContext("scheduler");
  schedulers = [];
  closeLater = [];
  await ctx.db.collection("categories").insertMany([
    { name: "Letterhead", slug: "letterhead", display_name: [{ iso: "en", display_name: "Letterhead" }] },
    {
      name: "Flyers",
      slug: "flyers",
      display_name: [
        { iso: "en", display_name: "Flyers" },
        { iso: "nl", display_name: "Folders" },
      ],
    },
  ]);
  await ctx.db.collection("boxes").insertOne({ name: "Box", slug: "box", display_name: [{ iso: "en", display_name: "Box" }] });
});
afterEach(async () => {
  for (const s of schedulers) await s.close();
  for (const s of schedulers) await s.settled();
  for (const close of closeLater) await close();
  await ctx.cleanup();
});

const collector = () => collectLogs();

function schedulerOf(services: Pick<Services, "config" | "engine" | "history" | "status" | "lock" | "redis" | "keys" | "logger">, opts: SchedulerOptions = {}) {
  const s = new Scheduler(services, { intervalCheck: "* * * * * *", ...opts });
  schedulers.push(s);
  return s;
}

async function waitFor<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/**
 * Resolves after `n` ticks of `pattern` on a croner job of our own: a job of the scheduler with
 * that pattern would have fired by then too, however late timers run on a loaded machine.
 */
async function ticksOf(pattern: string, n: number): Promise<void> {
  let seen = 0;
  let stop = () => {};
  await new Promise<void>((resolve) => {
    const job = scheduleJob({ name: "probe", pattern, run: () => void (++seen >= n && resolve()), onError: () => {} });
    stop = () => job.stop();
  });
  stop();
}

const rowsOf = (history: HistoryRepo, trigger: string) =>
  history
    .list(1000)
    .filter((r) => r.trigger === trigger)
    .reverse();

/** A successful full run recorded in the history, as if it had finished at `finishedAt`. */
function recordSuccess(history: HistoryRepo, finishedAt: Date): RunResult {
  const started = new Date(finishedAt.getTime() - 1_000);
  const run: RunResult = {
    status: "success",
    run_id: newRunId(started),
    trigger: "api",
    scope: "all",
    dry_run: false,
    force: false,
    published: true,
    started_at: started.toISOString(),
    finished_at: finishedAt.toISOString(),
    duration_ms: 1_000,
    types: {},
  };
  history.save(run);
  return run;
}

describe("cron job", () => {
  test(
    "fires on its pattern, runs a full sync recorded with trigger cron, and logs the guide's lines",
    async () => {
      const { logger, lines } = collector();
      const services = await ctx.services({ SYNC_CRON: "* * * * * *", ENABLE_SCHEDULER: "true" }, logger);
      recordSuccess(services.history, new Date()); // a fresh success: the interval job has nothing to catch up
      const scheduler = schedulerOf(services);
      const initSecond = Math.floor(Date.now() / 1000) * 1000;
      await scheduler.init();
      expect(scheduler.running).toBe(true);

      const run = await waitFor("a cron run", () => rowsOf(services.history, "cron").find((r) => r.status === "success"));
      expect(run).toMatchObject({ trigger: "cron", scope: "all", status: "success", published: true });
      expect(run.types.categories).toMatchObject({ documents: 2, entries: 3 });

      // The engine logs the outcome just after it records it.
      await waitFor("the engine's last line", () => lines.includes("Options: 0"));
      expect(lines.slice(0, 3)).toEqual([
        "scheduler: on (ENABLE_SCHEDULER=true)",
        "✅ Automatic re-sync scheduler started successfully!",
        // The guide's "Log Analysis" pattern.
        expect.stringMatching(/^✅ Scheduler started: cron '.+' in .+, and a run at least every \d+(\.\d+)? h$/),
      ]);
      const start = lines.findIndex((l) => STAMP.test(l) && l.endsWith("] Starting scheduled re-sync..."));
      expect(start).toBeGreaterThan(0);
      const stamp = /^\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\]/.exec(lines[start]!)!.slice(1).map(Number);
      const logged = new Date(stamp[0]!, stamp[1]! - 1, stamp[2]!, stamp[3]!, stamp[4]!, stamp[5]!); // local time
      // Local time, to the second, of the line logged after the scheduler started and before the run did.
      expect(logged.getTime()).toBeGreaterThanOrEqual(initSecond);
      expect(logged.getTime()).toBeLessThanOrEqual(Date.parse(run.started_at));
      const after = lines.slice(start + 1);
      expect(after.find((l) => l.endsWith("] Re-sync completed successfully!"))).toMatch(STAMP);
      expect(after).toContainEqual(expect.stringMatching(/^Duration: \d+\.\d seconds$/));
      expect(after).toContain("Categories: 3");
      expect(after).toContain("Boxes: 1");
      expect(after).toContain("Options: 0");

      const status = scheduler.status();
      expect(status.running).toBe(true);
      expect(status.jobs[0]!.next_run).not.toBeNull();
      expect(status.jobs[0]!.last_run).not.toBeNull();
      expect(rowsOf(services.history, "interval")).toEqual([]);
    },
    TIMER_TEST_MS,
  );

  test(
    "a first tick that fires late is claimed under its scheduled second, also when a second turned while the scheduler started",
    async () => {
      const services = await ctx.services({ SYNC_CRON: "*/2 * * * * *", ENABLE_SCHEDULER: "true" });
      recordSuccess(services.history, new Date());
      const scheduler = schedulerOf(services);
      // The clock stands still (setSystemTime) and moves only where the test says: at 1 ms before an
      // even second when the scheduler starts; past that second while its second job (the interval
      // check) is made, i.e. after croner took the cron job's first target; past the next second
      // when that first tick fires (croner fires ticks up to a second late, more on a busy machine).
      const second = Math.floor(Date.now() / 1000) + 2;
      const start = (second - (second % 2) + 1) * 1000 + 999;
      const tick = start + 1;
      const realSetTimeout = globalThis.setTimeout;
      let cronerTimers = 0;
      setSystemTime(new Date(start));
      try {
        globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
          if (new Error().stack?.includes("croner") && ++cronerTimers === 2) setSystemTime(new Date(start + 200));
          return realSetTimeout(...args);
        }) as typeof setTimeout;
        await scheduler.init();
        globalThis.setTimeout = realSetTimeout;
        setSystemTime(new Date(tick + 1200));
        const until = performance.now() + 5_000;
        while (!rowsOf(services.history, "cron").length && performance.now() < until) await Bun.sleep(25);
        // Before the clock runs again: no later tick may be claimed meanwhile.
        await scheduler.close();
      } finally {
        globalThis.setTimeout = realSetTimeout;
        setSystemTime();
      }
      expect(cronerTimers).toBeGreaterThanOrEqual(2);
      expect(claimedCronTicks(await ctx.keys(), start - 60_000).map((t) => new Date(t).toISOString())).toEqual([new Date(tick).toISOString()]);
    },
    TIMER_TEST_MS,
  );

  test(
    "a closed scheduler fires no more ticks",
    async () => {
      const services = await ctx.services({ SYNC_CRON: "* * * * * *", ENABLE_SCHEDULER: "true" });
      recordSuccess(services.history, new Date());
      const scheduler = schedulerOf(services);
      await scheduler.init();
      await waitFor("a cron run", () => rowsOf(services.history, "cron").length > 0);
      await scheduler.close();
      await scheduler.settled();
      const count = rowsOf(services.history, "cron").length;
      expect(scheduler.running).toBe(false);
      expect(scheduler.status().jobs.map((j) => j.next_run)).toEqual([null, null]);
      await ticksOf("* * * * * *", 2);
      await scheduler.settled();
      expect(rowsOf(services.history, "cron").length).toBe(count);
    },
    TIMER_TEST_MS,
  );
});

describe("interval job", () => {
  test(
    "skips with recent_success when a run succeeded less than one interval ago",
    async () => {
      const { logger, lines } = collector();
      const services = await ctx.services({ SYNC_INTERVAL_HOURS: "10", ENABLE_SCHEDULER: "true" }, logger);
      // A success 9 "hours" ago (an hour lasts 1 s here): the interval job is due in about a second.
      const first = recordSuccess(services.history, new Date(Date.now() - 9_000));
      const scheduler = schedulerOf(services, { hourMs: 1_000 });
      await scheduler.init();
      const due = Date.parse(scheduler.status().jobs[1]!.next_run!);
      expect(due).toBeGreaterThanOrEqual(Date.parse(first.finished_at!) + 10_000);
      // Another success, as if a run had finished just before the tick: the tick must find it and skip
      // (with 9 s to spare before that success would be one interval old).
      const second = recordSuccess(services.history, new Date(due - 1));

      const skipped = await waitFor("an interval tick", () => rowsOf(services.history, "interval")[0]);
      expect(skipped).toMatchObject({ status: "skipped", reason: "recent_success", trigger: "interval", scope: "all" });
      expect(Date.parse(skipped.started_at)).toBeGreaterThanOrEqual(due);
      const skipLine = /^\[.{19}\] Scheduled re-sync skipped: the last successful run finished at .{19}, less than 10 hours ago$/;
      await waitFor("the skip's log line", () => lines.some((l) => skipLine.test(l)));
      // The next tick is one interval after that recent success, on the job's next check.
      const next = Date.parse(scheduler.status().jobs[1]!.next_run!);
      const stale = Date.parse(second.finished_at!) + 10_000;
      expect(next).toBeGreaterThanOrEqual(stale);
      expect(next).toBeLessThan(stale + 1_000);
      expect(scheduler.status().jobs[1]!.last_run).toEqual({ run_id: skipped.run_id, status: "skipped", finished_at: skipped.finished_at });
    },
    TIMER_TEST_MS,
  );

  test(
    "runs once at start-up when the last success is older than one interval, then waits a whole interval",
    async () => {
      const services = await ctx.services({ ENABLE_SCHEDULER: "true" });
      const old = recordSuccess(services.history, new Date(Date.now() - 2 * 24 * 3_600_000));
      const scheduler = schedulerOf(services);
      await scheduler.init();
      const run = await waitFor("the catch-up run", () => rowsOf(services.history, "interval").find((r) => r.status === "success"));
      expect(run).toMatchObject({ trigger: "interval", scope: "all", published: true });
      expect(Date.parse(run.started_at)).toBeGreaterThan(Date.parse(old.finished_at!));
      // No burst for the two days missed: one run, and the next one a whole interval (24 h) later.
      await ticksOf("* * * * * *", 2);
      await scheduler.settled();
      expect(rowsOf(services.history, "interval").map((r) => r.status)).toEqual(["success"]);
      const next = Date.parse(scheduler.status().jobs[1]!.next_run!);
      expect(next - Date.parse(run.finished_at!)).toBeGreaterThanOrEqual(24 * 3_600_000);
      expect(next - Date.parse(run.finished_at!)).toBeLessThan(24 * 3_600_000 + 1_000);
    },
    TIMER_TEST_MS,
  );

  test(
    "runs at start-up when nothing has ever synced",
    async () => {
      const services = await ctx.services({ ENABLE_SCHEDULER: "true" });
      const scheduler = schedulerOf(services);
      await scheduler.init();
      const run = await waitFor("the catch-up run", () => rowsOf(services.history, "interval").find((r) => r.status !== "running"));
      expect(run.status).toBe("success");
    },
    TIMER_TEST_MS,
  );

  test(
    "a recent success at start-up: no catch-up, the next run is one interval after it",
    async () => {
      const services = await ctx.services({ ENABLE_SCHEDULER: "true", SYNC_INTERVAL_HOURS: "12" });
      const recent = recordSuccess(services.history, new Date(Date.now() - 3_600_000));
      const scheduler = schedulerOf(services);
      await scheduler.init();
      const next = Date.parse(scheduler.status().jobs[1]!.next_run!);
      const due = Date.parse(recent.finished_at!) + 12 * 3_600_000;
      expect(next).toBeGreaterThanOrEqual(due);
      expect(next).toBeLessThan(due + 1_000);
      await ticksOf("* * * * * *", 2);
      await scheduler.settled();
      expect(rowsOf(services.history, "interval")).toEqual([]);
    },
    TIMER_TEST_MS,
  );

  test(
    "a success seen only in the shared status key (another replica's run) also counts",
    async () => {
      const services = await ctx.services({ ENABLE_SCHEDULER: "true", HISTORY_DB_PATH: join(ctx.dir, "a.db") });
      const other = await ctx.services({ HISTORY_DB_PATH: join(ctx.dir, "b.db") });
      const run = await other.engine.run("all", "api");
      const scheduler = schedulerOf(services);
      await scheduler.init();
      const next = Date.parse(scheduler.status().jobs[1]!.next_run!);
      expect(next - Date.parse(run.finished_at!)).toBeGreaterThanOrEqual(24 * 3_600_000);
      await ticksOf("* * * * * *", 2);
      await scheduler.settled();
      expect(rowsOf(services.history, "interval")).toEqual([]);
    },
    TIMER_TEST_MS,
  );
});

describe("failures", () => {
  /**
   * A MongoDB address that is down (nothing listens) until open() lets connections through to
   * the test MongoDB, so a run can fail and the next one succeed without touching the shared server.
   */
  class MongoDoor {
    private server: TCPSocketListener<{ up: Promise<Socket<undefined>> }> | null = null;
    private constructor(readonly port: number) {}

    static reserve(): MongoDoor {
      const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const port = probe.port;
      probe.stop(true);
      return new MongoDoor(port);
    }

    get uri(): string {
      return `mongodb://127.0.0.1:${this.port}`;
    }

    open(): void {
      const target = new URL(MONGODB_URI);
      this.server = Bun.listen<{ up: Promise<Socket<undefined>> }>({
        hostname: "127.0.0.1",
        port: this.port,
        socket: {
          open(client) {
            client.data = {
              up: Bun.connect({
                hostname: target.hostname,
                port: Number(target.port || 27017),
                socket: { data: (_s, chunk) => void client.write(chunk), close: () => void client.end() },
              }),
            };
          },
          data: (client, chunk) => void client.data.up.then((up) => up.write(chunk)),
          close: (client) => void client.data.up.then((up) => up.end()).catch(() => {}),
        },
      });
    }

    close(): void {
      this.server?.stop(true);
      this.server = null;
    }
  }

  test("a run that fails logs the guide's error line, and the next tick runs normally once MongoDB is back", async () => {
    const { logger, lines } = collector();
    const door = MongoDoor.reserve(); // MongoDB down
    closeLater.push(async () => door.close());
    const services = await ctx.services({ MONGODB_URI: door.uri, SYNC_CRON: "* * * * * *", ENABLE_SCHEDULER: "true" }, logger);
    recordSuccess(services.history, new Date());
    const scheduler = schedulerOf(services);
    await scheduler.init();

    // MongoDB's server selection takes up to 2 s to give up, so allow for a slow, loaded machine.
    const failed = await waitFor("a failed cron run", () => rowsOf(services.history, "cron").find((r) => r.status === "failed"), 10_000);
    expect(failed.error).toContain(`127.0.0.1:${door.port}`);
    await waitFor("the error line", () => lines.some((l) => l.startsWith("Error during scheduled re-sync: ")));
    expect(lines.find((l) => l.startsWith("Error during scheduled re-sync: "))).toContain(failed.error!);

    door.open(); // MongoDB is back
    const ok = await waitFor("a successful cron run", () => rowsOf(services.history, "cron").find((r) => r.status === "success"), 10_000);
    expect(Date.parse(ok.started_at)).toBeGreaterThan(Date.parse(failed.started_at));
    expect(ok.types.categories?.entries).toBe(3);
    expect(scheduler.running).toBe(true);
  }, 25_000);

  test(
    "a tick that throws (Redis unreachable) is logged and the job keeps ticking",
    async () => {
      const { logger, lines } = collector();
      const config = parseConfig({ ...ctx.env, ...REDIS_DOWN_ENV, SYNC_CRON: "* * * * * *", ENABLE_SCHEDULER: "true" });
      const services = createServices(config, logger);
      closeLater.push(() => services.close());
      recordSuccess(services.history, new Date());
      const scheduler = schedulerOf(services);
      await scheduler.init();
      expect(lines).toContain("✅ Automatic re-sync scheduler started successfully!");
      const errors = () => lines.filter((l) => l.startsWith("Error during scheduled re-sync: "));
      await waitFor("two failed ticks", () => errors().length >= 2);
      expect(scheduler.running).toBe(true);
      expect(scheduler.status().jobs[0]!.next_run).not.toBeNull();
    },
    TIMER_TEST_MS,
  );

  test(
    "a cron pattern croner refuses logs the guide's line and leaves the scheduler stopped",
    async () => {
      const { logger, lines } = collector();
      const services = await ctx.services({ ENABLE_SCHEDULER: "true" }, logger);
      // SYNC_CRON itself is checked with croner at start-up (config.error.test.ts); a config built in code is not.
      const scheduler = schedulerOf({ ...services, config: { ...services.config, syncCron: "0 61 * * *" } });
      await scheduler.init();
      expect(lines).toContain("⚠️ Failed to start scheduler: CronPattern: hour value out of range: '61'");
      expect(scheduler.running).toBe(false);
      await expect(scheduler.start()).rejects.toThrow("the scheduler could not start: CronPattern: hour value out of range: '61'");
    },
    TIMER_TEST_MS,
  );
});

describe("replicas", () => {
  test("two replicas with a cron every 2 s: exactly one run per tick, the other replica records skipped", async () => {
    const env = { SYNC_CRON: "*/2 * * * * *", ENABLE_SCHEDULER: "true" };
    const a = await ctx.services({ ...env, HISTORY_DB_PATH: join(ctx.dir, "replica-a.db") });
    const b = await ctx.services({ ...env, HISTORY_DB_PATH: join(ctx.dir, "replica-b.db") });
    await a.engine.run("all", "api"); // a fresh success both see: the interval jobs stay quiet
    const replicas = [schedulerOf(a), schedulerOf(b)];
    await Promise.all(replicas.map((s) => s.init()));
    // From here on every tick fires on both replicas. The replica that runs a tick is the one that
    // claimed it in Redis (<prefix>scheduler:tick:cron:<second>).
    const from = Date.now();
    const claimedTicks = async () => claimedCronTicks(await ctx.keys(), from);
    await waitFor("five ticks claimed", async () => (await claimedTicks()).length >= 5, 30_000);
    await Promise.all(replicas.map((s) => s.close()));
    await Promise.all(replicas.map((s) => s.settled()));

    const ticks = await claimedTicks();
    const rows = [...rowsOf(a.history, "cron").map((r) => ({ ...r, replica: "a" })), ...rowsOf(b.history, "cron").map((r) => ({ ...r, replica: "b" }))];
    // A row belongs to the latest claimed tick at or before its start (croner never fires early).
    const tickOf = (startedAt: string) => Math.max(...ticks.filter((tick) => tick <= Date.parse(startedAt)));
    // The last claimed tick may have fired on one replica only when both were closed: it is not judged.
    const judged = ticks.slice(0, -1);
    expect(judged.length).toBeGreaterThanOrEqual(4);
    for (const tick of judged) {
      const atTick = rows.filter((r) => tickOf(r.started_at) === tick);
      expect({ tick: new Date(tick).toISOString(), statuses: atTick.map((r) => r.status).sort() }).toEqual({
        tick: new Date(tick).toISOString(),
        statuses: ["skipped", "success"],
      });
      expect(new Set(atTick.map((r) => r.replica)).size).toBe(2);
      expect(atTick.find((r) => r.status === "skipped")!.reason).toBe("in_progress");
    }
  }, 60_000);
});
