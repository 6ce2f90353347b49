// GET /metrics: the Prometheus exposition, parsed, after real runs and searches.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import pkg from "../package.json";
import { createServices, type Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { HTTP_DURATION_BUCKETS, RUN_DURATION_BUCKETS, SEARCH_DURATION_BUCKETS } from "../src/ops/metrics.ts";
import { parseConfig } from "../src/platform/config.ts";
import { silentLogger } from "../src/platform/log.ts";
import { TRIGGERS } from "../src/runs/model.ts";
import { createContext, REDIS_DOWN_ENV, type TestContext } from "./helpers.ts";
import { type Exposition, family, parseExposition, scrapeWithSearches } from "./metrics.fixtures.ts";
import { oid, SUPPLIER, seedLarge, until } from "./sync.fixtures.ts";

let ctx: TestContext;
let services: Services;
let app: App;

beforeEach(async () => {
  ctx = await createContext("metrics");
  services = await ctx.services();
  app = createApp({ ...services, version: "test", startedAt: new Date() });
});
afterEach(async () => {
  await ctx.cleanup();
});

async function scrape(): Promise<{ exp: Exposition; type: string | null }> {
  const res = await app.handle(new Request("http://localhost/metrics"));
  expect(res.status).toBe(200);
  return { exp: parseExposition(await res.text()), type: res.headers.get("content-type") };
}

const runsZero = () => {
  const out: Record<string, number> = {};
  for (const status of ["success", "failed", "rejected", "skipped"])
    for (const trigger of TRIGGERS) out[`sync_runs_total{status="${status}",trigger="${trigger}"}`] = 0;
  return out;
};

describe("GET /metrics", () => {
  test("before any run: every family present with HELP and TYPE, counters at zero, no serving entries", async () => {
    const { exp, type } = await scrape();
    expect(type).toBe("text/plain; version=0.0.4; charset=utf-8");
    const ours = {
      sync_runs_total: "counter",
      sync_run_duration_seconds: "histogram",
      sync_entries: "gauge",
      sync_skipped_total: "counter",
      sync_last_success_timestamp_seconds: "gauge",
      sync_in_progress: "gauge",
      search_requests_total: "counter",
      search_request_duration_seconds: "histogram",
      http_requests_total: "counter",
      http_request_duration_seconds: "histogram",
      search_sync_build_info: "gauge",
      redis_up: "gauge",
      mongodb_up: "gauge",
    };
    for (const [name, kind] of Object.entries(ours)) {
      expect({ name, type: exp.types.get(name) }).toEqual({ name, type: kind });
      expect(exp.help.get(name)?.length ?? 0).toBeGreaterThan(10);
    }
    expect(family(exp, "sync_runs_total")).toEqual(runsZero());
    expect(family(exp, "sync_entries")).toEqual({ 'sync_entries{type="boxes"}': 0, 'sync_entries{type="categories"}': 0, 'sync_entries{type="options"}': 0 });
    expect(family(exp, "sync_in_progress")).toEqual({ sync_in_progress: 0 });
    expect(family(exp, "sync_last_success_timestamp_seconds")).toEqual({ sync_last_success_timestamp_seconds: 0 });
    expect(family(exp, "sync_run_duration_seconds_count")).toEqual({ sync_run_duration_seconds_count: 0 });
    expect(family(exp, "search_requests_total")).toEqual({});
    // Process metrics are added by the service (main.ts), not by every set of services.
    expect(exp.samples.has("process_cpu_seconds_total")).toBe(false);
  });

  test("runs of every outcome: counted by status and trigger, durations, skipped documents, entries, last success", async () => {
    await seedLarge(ctx.db, ["categories", "boxes"], 10);
    // One supplier pointing at no origin and one without display names: two skip reasons.
    await ctx.db.collection(SUPPLIER.categories).insertMany([
      { _id: new ObjectId(), linked: new ObjectId(), display_name: [{ iso: "en", display_name: "orphan" }] },
      { _id: new ObjectId(), linked: oid("categories", 0, 1) },
    ]);
    const first = await services.engine.run("all", "api");
    expect(first.status).toBe("success");

    const broken = await ctx.services({ DATA_SET_FILE: "/dev/null/no-such-dir/data_set.json" });
    const failed = await broken.engine.run("boxes", "cron");
    expect(failed.status).toBe("failed");

    await ctx.db.collection("boxes").deleteMany({ _id: { $in: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => oid("boxes", 0, i)) } });
    const rejected = await services.engine.run("boxes", "interval");
    expect(rejected.status).toBe("rejected");

    await ctx.redis.set(`${ctx.prefix}lock`, "20240101T000000Z-holder00 token", "PX", 60_000);
    const skipped = await services.engine.run("categories", "cli");
    expect(skipped.status).toBe("skipped");
    await ctx.redis.del(`${ctx.prefix}lock`);

    const { exp } = await scrape();
    expect(family(exp, "sync_runs_total")).toEqual({
      ...runsZero(),
      'sync_runs_total{status="success",trigger="api"}': 1,
      'sync_runs_total{status="rejected",trigger="interval"}': 1,
      'sync_runs_total{status="skipped",trigger="cli"}': 1,
      // The failed run was counted by the services that ran it (another process, as far as metrics go).
    });
    expect(family(exp, "sync_skipped_total")).toEqual({
      'sync_skipped_total{reason="display_name_missing",type="categories"}': 1,
      'sync_skipped_total{reason="linked_unknown_origin",type="categories"}': 1,
      // The rejected run read the suppliers of the 8 deleted boxes.
      'sync_skipped_total{reason="linked_unknown_origin",type="boxes"}': 8,
    });
    // Skipped runs have no duration worth a bucket: two runs observed (success, rejected).
    const duration = family(exp, "sync_run_duration_seconds_bucket");
    expect(Object.keys(duration).length).toBe(RUN_DURATION_BUCKETS.length + 1);
    expect(exp.samples.get('sync_run_duration_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(exp.samples.get("sync_run_duration_seconds_count")).toBe(2);
    expect(exp.samples.get("sync_run_duration_seconds_sum")).toBeCloseTo(((first.duration_ms ?? 0) + (rejected.duration_ms ?? 0)) / 1000, 3);

    const brokenExp = parseExposition(await broken.metrics.exposition());
    expect(brokenExp.samples.get('sync_runs_total{status="failed",trigger="cron"}')).toBe(1);

    // Serving entries: read from Redis at scrape time (the rejected run published nothing).
    expect(family(exp, "sync_entries")).toEqual({ 'sync_entries{type="boxes"}': 30, 'sync_entries{type="categories"}': 30, 'sync_entries{type="options"}': 0 });
    expect(exp.samples.get("sync_last_success_timestamp_seconds")).toBe(Date.parse(first.finished_at!) / 1000);
  });

  test("sync_in_progress follows the shared status key (a run on any replica)", async () => {
    await services.status.set({
      active: {
        run_id: "r1",
        scope: "all",
        trigger: "cron",
        started_at: new Date().toISOString(),
        stage: "starting",
        progress: {},
        updated_at: new Date().toISOString(),
      },
      last_run: null,
    });
    expect((await scrape()).exp.samples.get("sync_in_progress")).toBe(1);
    await services.status.set({ active: null, last_run: null });
    expect((await scrape()).exp.samples.get("sync_in_progress")).toBe(0);
  });

  test("search requests: counted per type and status (422 and 503 too), latency histogram per type", async () => {
    await seedLarge(ctx.db, ["categories"], 3);
    expect((await services.engine.run("categories", "api")).status).toBe("success");
    const get = async (path: string) => (await app.handle(new Request(`http://localhost${path}`))).status;
    const started = performance.now();
    expect(await get("/category-search?query=categories")).toBe(200);
    expect(await get("/categories-search?query=item&iso=en")).toBe(200);
    expect(await get("/category-search?limit=0")).toBe(422);
    expect(await get("/boxes-search?query=x")).toBe(200);
    expect(await get("/options-search?limit=abc")).toBe(422);
    expect(await get("/sync-status")).toBe(200); // not a search: not counted

    const exp = await scrapeWithSearches(() => services.metrics.exposition(), 5);
    const elapsedSeconds = (performance.now() - started) / 1000;
    expect(family(exp, "search_requests_total")).toEqual({
      'search_requests_total{status="200",type="categories"}': 2,
      'search_requests_total{status="422",type="categories"}': 1,
      'search_requests_total{status="200",type="boxes"}': 1,
      'search_requests_total{status="422",type="options"}': 1,
    });
    expect(family(exp, "search_request_duration_seconds_count")).toEqual({
      'search_request_duration_seconds_count{type="boxes"}': 1,
      'search_request_duration_seconds_count{type="categories"}': 3,
      'search_request_duration_seconds_count{type="options"}': 1,
    });
    expect(Object.keys(family(exp, "search_request_duration_seconds_bucket")).length).toBe(3 * (SEARCH_DURATION_BUCKETS.length + 1));
    const sum = exp.samples.get('search_request_duration_seconds_sum{type="categories"}')!;
    // Seconds: each of the three requests took part of the time measured around them all.
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(3 * elapsedSeconds);

    // Redis down: the search answers 503, and that is counted too.
    const down = createServices(parseConfig({ ...ctx.env, ...REDIS_DOWN_ENV }), silentLogger);
    try {
      const downApp = createApp({ ...down, version: "test", startedAt: new Date() });
      expect((await downApp.handle(new Request("http://localhost/boxes-search?query=x"))).status).toBe(503);
      await scrapeWithSearches(() => down.metrics.exposition(), 1);
      const res = await downApp.handle(new Request("http://localhost/metrics"));
      expect(res.status).toBe(200);
      const downExp = parseExposition(await res.text());
      expect(family(downExp, "search_requests_total")).toEqual({ 'search_requests_total{status="503",type="boxes"}': 1 });
      // With Redis unreachable the scrape still answers: entries are left out, sync_in_progress keeps its last value.
      expect(family(downExp, "sync_entries")).toEqual({});
      expect(family(downExp, "sync_in_progress")).toEqual({ sync_in_progress: 0 });
    } finally {
      await down.close();
    }
  });

  test("build info, and Redis and MongoDB pinged at scrape time", async () => {
    const { exp } = await scrape();
    expect(family(exp, "search_sync_build_info")).toEqual({ [`search_sync_build_info{bun="${Bun.version}",version="${pkg.version}"}`]: 1 });
    expect(family(exp, "redis_up")).toEqual({ redis_up: 1 });
    expect(family(exp, "mongodb_up")).toEqual({ mongodb_up: 1 });

    // Both unreachable: the scrape still answers, with 0 for each.
    const down = createServices(parseConfig({ ...ctx.env, ...REDIS_DOWN_ENV, MONGODB_URI: "mongodb://127.0.0.1:1" }), silentLogger);
    try {
      const res = await createApp({ ...down, version: "test", startedAt: new Date() }).handle(new Request("http://localhost/metrics"));
      expect(res.status).toBe(200);
      const downExp = parseExposition(await res.text());
      expect(family(downExp, "redis_up")).toEqual({ redis_up: 0 });
      expect(family(downExp, "mongodb_up")).toEqual({ mongodb_up: 0 });
    } finally {
      await down.close();
    }
  });

  test("HTTP requests of every route: method, route pattern (never the raw path) and status class", async () => {
    const send = async (path: string, method = "GET") => (await app.handle(new Request(`http://localhost${path}`, { method }))).status;
    expect(await send("/healthz")).toBe(200);
    expect(await send("/healthz/")).toBe(200);
    expect(await send("/category-search?query=abc&limit=3")).toBe(200);
    expect(await send("/category-search?limit=0")).toBe(422);
    expect(await send("/no/such/page-1")).toBe(404);
    expect(await send("/no/such/page-2")).toBe(404);
    expect(await send("/healthz", "DELETE")).toBe(405);
    expect(await send("/healthz", "PURGE")).toBe(405);
    // Counted after each answer is sent: scrape until all eight are in (the scrapes count themselves as /metrics).
    const requests = (exp: Exposition) =>
      Object.fromEntries(Object.entries(family(exp, "http_requests_total")).filter(([key]) => !key.includes('route="/metrics"')));
    let exp = (await scrape()).exp;
    for (const until = Date.now() + 3_000; Date.now() < until && Object.values(requests(exp)).reduce((a, b) => a + b, 0) < 8; ) exp = (await scrape()).exp;
    expect(requests(exp)).toEqual({
      'http_requests_total{method="GET",route="/healthz",status_class="2xx"}': 2,
      'http_requests_total{method="GET",route="/category-search",status_class="2xx"}': 1,
      'http_requests_total{method="GET",route="/category-search",status_class="4xx"}': 1,
      'http_requests_total{method="GET",route="unmatched",status_class="4xx"}': 2,
      'http_requests_total{method="DELETE",route="/healthz",status_class="4xx"}': 1,
      'http_requests_total{method="OTHER",route="/healthz",status_class="4xx"}': 1,
    });
    expect(exp.samples.get('http_request_duration_seconds_count{method="GET",route="unmatched",status_class="4xx"}')).toBe(2);
    const buckets = Object.keys(family(exp, "http_request_duration_seconds_bucket")).filter((key) => !key.includes('route="/metrics"'));
    expect(buckets.length).toBe(6 * (HTTP_DURATION_BUCKETS.length + 1));
  });

  test("process metrics, once the service asks for them", async () => {
    services.metrics.collectProcessMetrics();
    services.metrics.collectProcessMetrics(); // idempotent
    // prom-client shows the event-loop lag as NaN ("Nan") when its monitor has no sample since the
    // previous scrape (it samples every 10 ms and starts over at each scrape): scrape until it has one.
    let text = "";
    await until(
      async () => {
        const res = await app.handle(new Request("http://localhost/metrics"));
        text = await res.text();
        return res.status === 200 && !/ Nan$/m.test(text);
      },
      5_000,
      "an event-loop lag sample",
    );
    const exp = parseExposition(text);
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "process_open_fds",
      "nodejs_eventloop_lag_p99_seconds",
    ])
      expect({ name, positive: (exp.samples.get(name) ?? -1) >= 0 }).toEqual({ name, positive: true });
    expect(exp.samples.get("process_resident_memory_bytes")!).toBeGreaterThan(10_000_000);
    // Constant zeros under Bun are left out.
    expect(
      [...exp.types.keys()].filter((n) => n.startsWith("nodejs_heap_space") || n.startsWith("nodejs_active_") || n === "nodejs_gc_duration_seconds"),
    ).toEqual([]);
  });
});
