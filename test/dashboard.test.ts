// GET /dashboard: the page itself, then the page in headless Chromium (Debian's `chromium`
// driven by playwright-core; no browser download) after five real runs. The screenshot goes to
// test-artifacts/dashboard.png.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { DASHBOARD_CSP } from "../src/ops/dashboard.ts";
import type { RunResult } from "../src/runs/model.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { type Browser, launchBrowser } from "./browser.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { heldEngine, oid, SUPPLIER, seedLarge } from "./sync.fixtures.ts";

const ARTIFACTS = resolve(import.meta.dir, "../test-artifacts");
const COLORS = { success: "#2e7d32", failed: "#c62828", rejected: "#ef6c00" };

let ctx: TestContext;
let services: Services;
let scheduler: Scheduler;
let app: App;
let origin: string;
let browser: Browser;
const runs: RunResult[] = [];

beforeAll(async () => {
  ctx = await createContext("dashboard");
  await seedLarge(ctx.db, ["categories", "boxes", "options"], 10);
  services = await ctx.services({ ENABLE_SCHEDULER: "true" });
  runs.push(await services.engine.run("all", "api"));
  runs.push(await services.engine.run("all", "cron"));
  const broken = await ctx.services({ DATA_SET_FILE: "/dev/null/x/data_set.json" });
  runs.push(await broken.engine.run("options", "interval"));
  const gone = [0, 1, 2, 3, 4, 5, 6, 7];
  await ctx.db.collection("boxes").deleteMany({ _id: { $in: gone.map((i) => oid("boxes", 0, i)) } });
  await ctx.db.collection(SUPPLIER.boxes).deleteMany({ _id: { $in: gone.map((i) => oid("boxes", 1, i)) } });
  runs.push(await services.engine.run("all", "cron"));
  runs.push(await services.engine.run("all", "manual", { force: true }));
  expect(runs.map((r) => r.status)).toEqual(["success", "success", "failed", "rejected", "success"]);

  // Started after the runs: the last success is fresh, so the interval job does not run at once.
  scheduler = new Scheduler(services);
  await scheduler.init();
  app = createApp({ ...services, version: "test", startedAt: new Date(), scheduler });
  app.listen({ hostname: "127.0.0.1", port: 0 });
  origin = `http://127.0.0.1:${app.server!.port}`;

  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await scheduler?.close();
  await ctx?.cleanup();
});

/** Opens the dashboard and waits until it has rendered the data; records every request and error. */
async function open(url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (req) => requests.push(req.url()));
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  await page.goto(url);
  await page.waitForSelector("body[data-loaded='true']", { timeout: 10_000 });
  return { page, requests, errors };
}

describe("GET /dashboard", () => {
  test("one self-contained HTML page: inline script and style, nothing to fetch elsewhere, a CSP that forbids it", async () => {
    const res = await app.handle(new Request("http://localhost/dashboard"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
    const html = await res.text();
    expect(html.startsWith("<!doctype html>")).toBe(true);
    // No resource from anywhere: no src attributes, no stylesheet links, no CSS url()/@import.
    expect(html.match(/\ssrc=|<link(?![^>]*href="data:)|url\(|@import/g)).toBeNull();
    // The only absolute URL is the SVG namespace (an identifier, never fetched).
    expect([...new Set(html.match(/https?:\/\/[^\s"')]+/g))]).toEqual(["http://www.w3.org/2000/svg"]);
  });

  test("in Chromium after five runs: five points coloured by status, entries per type, failures with errors, the scheduler's next runs", async () => {
    const { page, requests, errors } = await open(`${origin}/dashboard`);

    const points = await page.$$eval("#duration-chart circle.point", (nodes) =>
      nodes.map((n) => ({ run: n.getAttribute("data-run-id"), status: n.getAttribute("data-status"), fill: n.getAttribute("fill") })),
    );
    expect(points).toEqual(runs.map((r) => ({ run: r.run_id, status: r.status, fill: COLORS[r.status as keyof typeof COLORS] })));
    expect(await page.textContent("#run-count")).toBe("5");
    // Three published runs × three types.
    expect(await page.locator("#entries-chart circle.point").count()).toBe(9);
    expect(await page.locator("#entries-chart polyline").count()).toBe(3);

    const failures = await page.$$eval("#failures-body tr.failure", (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)));
    expect(failures.map((cells) => cells.slice(1))).toEqual([
      // Which replica ran it: every replica's history holds every run.
      ["rejected", `${runs[3]!.run_id} (cron, all, on ${runs[3]!.replica})`, runs[3]!.error!],
      ["failed", `${runs[2]!.run_id} (interval, options, on ${runs[2]!.replica})`, "dataset file data_set_options.json: ENOTDIR: not a directory"],
    ]);

    const status = (await page.textContent("#status-body"))!;
    expect(status).toContain(runs[4]!.run_id);
    expect(status).toContain("categories 30, boxes 6, options 30");
    const jobs = await page.$$eval("#scheduler-body tr", (rows) =>
      rows
        .slice(1)
        .map((r) => `${r.querySelector("td")!.textContent} ${r.querySelectorAll("td")[2]!.textContent!.includes(" (in ") ? "next run shown" : "no next run"}`),
    );
    expect(jobs).toEqual(["cron next run shown", "interval next run shown"]);
    expect(await page.textContent("#scheduler-body .big")).toBe("running");

    // Every request went to the service itself, and nothing failed on the page.
    expect(requests.every((url) => url.startsWith(`${origin}/`))).toBe(true);
    // (Idle, the page also asks for /sync-status alone every 5 s.)
    expect([...new Set(requests.map((url) => url.slice(origin.length)))].filter((path) => path !== "/sync-status").sort()).toEqual([
      "/dashboard",
      "/scheduler/status",
      "/sync-status?history=true&limit=100",
    ]);
    expect(errors).toEqual([]);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(existsSync(join(ARTIFACTS, "dashboard.png"))).toBe(true);
    await page.close();
  }, 30_000);

  test("in Chromium without a scheduler in the process: the page still renders and says so", async () => {
    const bare = createApp({ ...services, version: "test", startedAt: new Date() });
    bare.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const { page, errors } = await open(`http://127.0.0.1:${bare.server!.port}/dashboard`);
      expect(await page.textContent("#scheduler-body")).toBe("the scheduler is not available in this process");
      expect(await page.locator("#duration-chart circle.point").count()).toBe(5);
      // The 503 of /scheduler/status is the only console error.
      expect(errors.map((e) => e.replace(/\d+/g, "N"))).toEqual(["Failed to load resource: the server responded with a status of N (Service Unavailable)"]);
      await page.close();
    } finally {
      await bare.stop();
    }
  }, 30_000);
});

describe("GET /dashboard after a rejected run and a dry run", () => {
  test("entries show what serves, the dry run is marked and not the serving state, the x axis names runs by position, another process's run shows within seconds", async () => {
    const own = await createContext("dashboard-states");
    await seedLarge(own.db, ["categories", "boxes", "options"], 10);
    const s = await own.services();
    const bare = createApp({ ...s, version: "test", startedAt: new Date() });
    bare.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const url = `http://127.0.0.1:${bare.server!.port}/dashboard`;
      const first = await s.engine.run("all", "api");
      const gone = [0, 1, 2, 3, 4, 5, 6, 7];
      await own.db.collection("boxes").deleteMany({ _id: { $in: gone.map((i) => oid("boxes", 0, i)) } });
      await own.db.collection(SUPPLIER.boxes).deleteMany({ _id: { $in: gone.map((i) => oid("boxes", 1, i)) } });
      const rejected = await s.engine.run("all", "cron");
      expect([first.status, rejected.status]).toEqual(["success", "rejected"]);

      const { page } = await open(url);
      expect(await page.textContent("#serving-status")).toBe("rejected");
      expect(await page.textContent("#serving-entries")).toBe("categories 30, boxes 30, options 30");
      expect(await page.textContent("#unpublished-entries")).toBe("categories 30, boxes 6, options 30");

      const dry = await s.engine.run("all", "manual", { dryRun: true });
      expect(dry).toMatchObject({ status: "success", dry_run: true });
      await page.reload();
      await page.waitForSelector("body[data-loaded='true']");
      // The serving state is still the rejected run's; the dry run is labelled and outlined.
      expect(await page.textContent("#serving-status")).toBe("rejected");
      expect(await page.textContent("#status-body .badge.dry-run")).toBe("dry run: success");
      expect(await page.textContent("#serving-entries")).toBe("categories 30, boxes 30, options 30");
      const points = await page.$$eval("#duration-chart circle.point", (nodes) =>
        nodes.map((n) => [n.getAttribute("data-status"), n.getAttribute("data-dry-run"), n.getAttribute("fill")]),
      );
      expect(points).toEqual([
        ["success", null, COLORS.success],
        ["rejected", null, COLORS.rejected],
        ["success", "true", "#fff"],
      ]);
      expect(await page.$$eval("#duration-chart text.x-label", (nodes) => nodes.map((n) => n.textContent))).toEqual(["run 1 (oldest)", "run 3 (latest)"]);

      // A run started by another process (another engine on the same Redis) while the page is idle.
      const other = heldEngine(s);
      const outcome = await other.engine.trigger("categories", "cli");
      await other.held;
      try {
        // The page asks every 5 s while idle; 15 s is a bound for a loaded machine (it was 30 s).
        await page.locator("#serving-status", { hasText: /^running$/ }).waitFor({ timeout: 15_000 });
        expect(await page.textContent("#status-body")).toContain(outcome.started ? outcome.runId : "no run");
      } finally {
        other.release();
        if (outcome.started) await outcome.done;
      }
      await page.close();
    } finally {
      await bare.stop();
      await own.cleanup();
    }
  }, 60_000);
});
