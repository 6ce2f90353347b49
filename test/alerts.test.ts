// Alerts to ALERT_WEBHOOK_URL, against real local HTTP receivers: one that records, one that
// hangs, one that answers 500. A receiver never holds up or fails a run.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { ALERT_DEFAULTS, Alerter, alertPayload } from "../src/runs/alerts.ts";
import type { RunResult } from "../src/runs/model.ts";
import { collectLogs, createContext, type TestContext } from "./helpers.ts";
import { oid, seedLarge } from "./sync.fixtures.ts";

interface Received {
  at: number;
  path: string;
  headers: Record<string, string>;
  body: any;
}

/** A receiver on 127.0.0.1:0 that records each POST and answers with `answer(n)` (n counts from 1); "hang" never answers. */
function receiver(answer: (n: number) => number | "hang" | Promise<number | "hang"> = () => 200) {
  const received: Received[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      received.push({ at: performance.now(), path: new URL(req.url).pathname, headers: Object.fromEntries(req.headers), body: await req.json() });
      const a = await answer(received.length);
      if (a === "hang") return new Promise<Response>(() => {});
      return new Response(a === 200 ? "ok" : "nope", { status: a });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, received, stop: () => server.stop(true) };
}

const capture = () => collectLogs();

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(10);
  }
}

const failedRun: RunResult = {
  status: "failed",
  run_id: "20260101T020000Z-abcdef12",
  trigger: "cron",
  scope: "all",
  dry_run: false,
  force: false,
  published: false,
  started_at: "2026-01-01T02:00:00.000Z",
  finished_at: "2026-01-01T02:00:12.345Z",
  duration_ms: 12_345,
  types: {
    categories: { documents: 200, entries: 150, previous_entries: 148, skipped: { linked_invalid: { count: 2, examples: ["a", "b"] } }, published: false },
  },
  error: "connection to mongodb://admin:hunter2@db.internal:27017 refused",
};

describe("the alert body", () => {
  test("a failed run: run id, status, scope, duration, counts, error (password removed), Slack text", () => {
    expect(alertPayload(failedRun, "https://search.example/")).toEqual({
      text:
        "❌ search-sync re-sync failed: all, cron, run 20260101T020000Z-abcdef12\n" +
        "Duration: 12.3 seconds\n" +
        "Entries: categories 150\n" +
        "Error: connection to mongodb://admin:***@db.internal:27017 refused\n" +
        "Dashboard: https://search.example/dashboard",
      service: "search-sync",
      event: "run",
      run_id: "20260101T020000Z-abcdef12",
      status: "failed",
      trigger: "cron",
      scope: "all",
      dry_run: false,
      force: false,
      started_at: "2026-01-01T02:00:00.000Z",
      finished_at: "2026-01-01T02:00:12.345Z",
      duration_seconds: 12.3,
      counts: { categories: { documents: 200, entries: 150, previous_entries: 148, skipped: 2 } },
      reason: null,
      error: "connection to mongodb://admin:***@db.internal:27017 refused",
      dashboard_url: "https://search.example/dashboard",
    });
  });

  test("the production delivery settings: 5 s timeout, 3 retries, backoff from 1 s", () => {
    expect(ALERT_DEFAULTS).toEqual({ timeoutMs: 5_000, retries: 3, backoffMs: 1_000 });
  });
});

describe("delivery", () => {
  test("a receiver answering 500: 1 + 3 attempts with doubling backoff, then one warning without the URL's secret path", async () => {
    const r = receiver(() => 500);
    const { lines, logger } = capture();
    const url = `${r.url}/services/T000/SECRETTOKEN`;
    const alerter = new Alerter({ url, notifyOnSuccess: false, baseUrl: "http://localhost:8000", logger, timeoutMs: 1_000, retries: 3, backoffMs: 50 });
    // Returns at once: nothing for the caller to wait on.
    expect(alerter.notify(failedRun)).toBeUndefined();
    await alerter.drain(5_000);
    r.stop();
    expect(r.received.length).toBe(4);
    expect(r.received.map((x) => x.path)).toEqual(Array(4).fill("/services/T000/SECRETTOKEN"));
    expect(r.received[0]!.headers["content-type"]).toBe("application/json");
    expect(r.received[0]!.body).toEqual(JSON.parse(JSON.stringify(alertPayload(failedRun, "http://localhost:8000"))));
    const gaps = r.received.slice(1).map((x, i) => x.at - r.received[i]!.at);
    expect(gaps.map((g, i) => g >= 50 * 2 ** i - 5)).toEqual([true, true, true]);
    expect(lines).toEqual([`Alert webhook ${r.url} failed for run 20260101T020000Z-abcdef12 after 4 attempt(s): HTTP 500`]);
  });

  test("a receiver that hangs: each attempt times out, the caller is never held up", async () => {
    const r = receiver(() => "hang");
    const { lines, logger } = capture();
    const alerter = new Alerter({ url: r.url, notifyOnSuccess: false, baseUrl: "http://localhost:8000", logger, timeoutMs: 200, retries: 3, backoffMs: 10 });
    const started = performance.now();
    expect(alerter.notify(failedRun)).toBeUndefined();
    await alerter.drain(10_000);
    const took = performance.now() - started;
    r.stop();
    expect(r.received.length).toBe(4);
    expect(took).toBeGreaterThanOrEqual(4 * 200 + 10 + 20 + 40 - 20);
    expect(lines).toEqual([`Alert webhook ${r.url} failed for run 20260101T020000Z-abcdef12 after 4 attempt(s): no answer within 200 ms`]);
  });

  test("a receiver that fails once, then accepts: delivered on the second attempt, nothing logged", async () => {
    const r = receiver((n) => (n === 1 ? 503 : 200));
    const { lines, logger } = capture();
    const alerter = new Alerter({ url: r.url, notifyOnSuccess: false, baseUrl: "http://localhost:8000", logger, backoffMs: 10 });
    alerter.notify(failedRun);
    await alerter.drain(5_000);
    r.stop();
    expect(r.received.length).toBe(2);
    expect(lines).toEqual([]);
  });

  test("the change follower's alerts: starting a full run (password removed), and a lag above the limit", async () => {
    const r = receiver();
    const { lines, logger } = capture();
    const alerter = new Alerter({ url: r.url, notifyOnSuccess: false, baseUrl: "https://search.example/", logger, backoffMs: 10 });
    alerter.notifyChangeStream({ event: "change_stream_resync", reason: "invalidate event on boxes (mongodb://admin:hunter2@db.internal)" });
    alerter.notifyChangeStream({ event: "change_stream_lag", lag_seconds: 75, max_lag_seconds: 60 });
    await alerter.drain(5_000);
    r.stop();
    const bodies = r.received.map((x) => ({ ...x.body, at: typeof x.body.at }));
    expect(bodies).toEqual([
      {
        text: "⚠️ search-sync change streams: starting a full run (invalidate event on boxes (mongodb://admin:***@db.internal))\nDashboard: https://search.example/dashboard",
        service: "search-sync",
        event: "change_stream_resync",
        reason: "invalidate event on boxes (mongodb://admin:***@db.internal)",
        at: "string",
        dashboard_url: "https://search.example/dashboard",
      },
      {
        text: "⚠️ search-sync change streams: 75 s behind MongoDB (alert above 60 s)\nDashboard: https://search.example/dashboard",
        service: "search-sync",
        event: "change_stream_lag",
        lag_seconds: 75,
        max_lag_seconds: 60,
        at: "string",
        dashboard_url: "https://search.example/dashboard",
      },
    ]);
    expect(lines).toEqual([]);
  });

  test("a 4xx other than 429 is not retried", async () => {
    const r = receiver(() => 404);
    const { lines, logger } = capture();
    const alerter = new Alerter({ url: r.url, notifyOnSuccess: false, baseUrl: "http://localhost:8000", logger, backoffMs: 10 });
    alerter.notify(failedRun);
    await alerter.drain(5_000);
    r.stop();
    expect(r.received.length).toBe(1);
    expect(lines).toEqual([`Alert webhook ${r.url} failed for run 20260101T020000Z-abcdef12 after 1 attempt(s): HTTP 404`]);
  });

  test("nothing listening: retried, then logged", async () => {
    const r = receiver();
    r.stop(); // the port is now closed
    const { lines, logger } = capture();
    const alerter = new Alerter({ url: `${r.url}/hook/SECRETTOKEN`, notifyOnSuccess: false, baseUrl: "http://localhost:8000", logger, backoffMs: 10 });
    alerter.notify(failedRun);
    await alerter.drain(5_000);
    expect(lines.length).toBe(1);
    expect(lines[0]!.startsWith(`Alert webhook ${r.url} failed for run 20260101T020000Z-abcdef12 after 4 attempt(s): `)).toBe(true);
    expect(lines[0]).not.toContain("SECRETTOKEN");
  });
});

describe("runs of the engine", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createContext("alerts");
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 10);
  });
  afterEach(async () => {
    await ctx.cleanup();
  });

  test("failed and rejected runs are posted; success and skipped are not (NOTIFY_ON_SUCCESS unset)", async () => {
    const r = receiver();
    const s = await ctx.services({ ALERT_WEBHOOK_URL: r.url, BASE_URL: "https://search.example" });
    const success = await s.engine.run("all", "api");
    expect(success.status).toBe("success");

    await ctx.db.collection("boxes").deleteMany({ _id: { $in: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => oid("boxes", 0, i)) } });
    const rejected = await s.engine.run("boxes", "cron");
    expect(rejected.status).toBe("rejected");

    await ctx.redis.set(`${ctx.prefix}lock`, "20240101T000000Z-holder00 token", "PX", 60_000);
    expect((await s.engine.run("categories", "manual")).status).toBe("skipped");
    await ctx.redis.del(`${ctx.prefix}lock`);

    const broken = await ctx.services({ ALERT_WEBHOOK_URL: r.url, BASE_URL: "https://search.example", DATA_SET_FILE: "/dev/null/x/data_set.json" });
    const failed = await broken.engine.run("options", "interval");
    expect(failed.status).toBe("failed");

    await s.alerts.drain(5_000);
    await broken.alerts.drain(5_000);
    r.stop();
    expect(r.received.map((x) => x.body)).toEqual([
      JSON.parse(JSON.stringify(alertPayload(rejected, "https://search.example"))),
      JSON.parse(JSON.stringify(alertPayload(failed, "https://search.example"))),
    ]);
    expect(r.received[0]!.body.text.split("\n")[0]).toBe(`⚠️ search-sync re-sync rejected: boxes, cron, run ${rejected.run_id}`);
    expect(r.received[0]!.body.error).toBe(rejected.error);
    expect(r.received[1]!.body.error).toBe("dataset file data_set_options.json: ENOTDIR: not a directory");
    // Nothing from the configuration travels: no connection strings, no keys.
    for (const x of r.received) expect(JSON.stringify(x.body)).not.toMatch(/mongodb:|redis:|127\.0\.0\.1:6/);
  });

  test("NOTIFY_ON_SUCCESS=true adds successful runs", async () => {
    const r = receiver();
    const s = await ctx.services({ ALERT_WEBHOOK_URL: r.url, NOTIFY_ON_SUCCESS: "true" });
    const run = await s.engine.run("categories", "api");
    await s.alerts.drain(5_000);
    r.stop();
    expect(r.received.map((x) => x.body)).toEqual([JSON.parse(JSON.stringify(alertPayload(run, "http://localhost:8000")))]);
    expect(r.received[0]!.body.text).toBe(
      `✅ search-sync re-sync success: categories, api, run ${run.run_id}\nDuration: ${(Math.round(run.duration_ms! / 100) / 10).toFixed(1)} seconds\nEntries: categories 30\nDashboard: http://localhost:8000/dashboard`,
    );
  });

  test("a receiver that hangs does not hold up the run, nor does one answering 500", async () => {
    for (const answer of ["hang", 500] as const) {
      // The receiver answers nothing until the run has ended: the run must end while its alert is
      // still being delivered (the production timeout and retries would take 27 s to give up).
      let runEnded!: () => void;
      const ended = new Promise<void>((resolve) => (runEnded = resolve));
      const r = receiver(async () => {
        await ended;
        return answer;
      });
      const s = await ctx.services({ ALERT_WEBHOOK_URL: r.url, DATA_SET_FILE: "/dev/null/x/data_set.json" });
      const run = await s.engine.run("categories", "api");
      expect(run.status).toBe("failed");
      let delivered = false;
      void s.alerts.drain(60_000).then(() => (delivered = true));
      await until(() => r.received.length >= 1);
      expect(r.received[0]!.body.run_id).toBe(run.run_id);
      expect({ answer, delivered }).toEqual({ answer, delivered: false });
      runEnded();
      r.stop();
    }
  });
});
