// Prometheus metrics (prom-client). Run counters come from the runs this process finished; the
// figures every replica shares (entries serving, a run in progress anywhere, last success) are
// read from Redis and the history DB at scrape time, so they are right after a restart too.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import type { IndexStore } from "../index/store.ts";
import { withTimeout } from "../platform/timeouts.ts";
import type { HistoryRepo } from "../runs/history/repo.ts";
import { type RunResult, TRIGGERS } from "../runs/model.ts";
import type { StatusStore } from "../runs/status.ts";
import type { ResultCache } from "../search/cache.ts";

interface MetricSources {
  store: Pick<IndexStore, "currentGen" | "entryCount">;
  status: Pick<StatusStore, "get">;
  history: Pick<HistoryRepo, "lastSuccess">;
  searchCache?: Pick<ResultCache, "hits" | "misses" | "size">;
  /** The change follower's lag (src/changes/), read at scrape time. */
  changeStream?: () => { lag_seconds: number | null };
  /** The service's version, for search_sync_build_info. */
  version?: string;
  /** Asked at scrape time for redis_up and mongodb_up; each answer is awaited at most PING_TIMEOUT_MS. */
  pings?: { redis: () => Promise<unknown>; mongodb: () => Promise<unknown> };
}

const FINISHED = ["success", "failed", "rejected", "skipped"] as const;
export const RUN_DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
export const SEARCH_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
// A run answers an HTTP request only when it ends (POST /re-sync-all waits), hence the long tail.
export const HTTP_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300];
// A scrape waits this long at most for each of Redis and MongoDB to answer a ping.
const PING_TIMEOUT_MS = 1_000;
// Any other method is counted as OTHER: a client's made-up methods must not make new series.
const HTTP_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

// prom-client's process metrics that under Bun (JavaScriptCore) describe V8 heap spaces, Node
// handle lists and GC events that do not exist: every series would be a constant 0 or empty.
const UNSUPPORTED_UNDER_BUN = [
  "nodejs_gc_duration_seconds",
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
  "nodejs_active_resources",
  "nodejs_active_resources_total",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
];

export class Metrics {
  readonly registry = new Registry();
  private readonly runs: Counter<"status" | "trigger">;
  private readonly runDuration: Histogram;
  private readonly skipped: Counter<"type" | "reason">;
  private readonly searches: Counter<"type" | "status">;
  private readonly searchDuration: Histogram<"type">;
  private readonly changeEvents: Counter<"type" | "op">;
  private readonly httpRequests: Counter<"method" | "route" | "status_class">;
  private readonly httpDuration: Histogram<"method" | "route" | "status_class">;
  private processMetrics = false;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.runs = new Counter({ name: "sync_runs_total", help: "Finished runs by status and trigger.", labelNames: ["status", "trigger"], registers });
    for (const status of FINISHED) for (const trigger of TRIGGERS) this.runs.inc({ status, trigger }, 0);
    this.runDuration = new Histogram({
      name: "sync_run_duration_seconds",
      help: "Duration of runs that ran (success, failed, rejected).",
      buckets: RUN_DURATION_BUCKETS,
      registers,
    });
    this.skipped = new Counter({
      name: "sync_skipped_total",
      help: "Source documents (or their names) skipped by runs, by type and reason.",
      labelNames: ["type", "reason"],
      registers,
    });
    this.searches = new Counter({ name: "search_requests_total", help: "Search requests by type and HTTP status.", labelNames: ["type", "status"], registers });
    this.searchDuration = new Histogram({
      name: "search_request_duration_seconds",
      help: "Search request latency by type.",
      labelNames: ["type"],
      buckets: SEARCH_DURATION_BUCKETS,
      registers,
    });
    this.changeEvents = new Counter({
      name: "sync_change_events_total",
      help: "Change stream events applied to the index by this process, by item type and operation.",
      labelNames: ["type", "op"],
      registers,
    });
    const changeLag: Gauge = new Gauge({
      name: "sync_change_stream_lag_seconds",
      help: "How far this process's change follower is behind the change streams, in seconds (0 when caught up).",
      registers,
      collect: () => {
        const lag = sources.changeStream?.().lag_seconds;
        if (lag !== null && lag !== undefined) changeLag.set(lag);
      },
    });
    this.httpRequests = new Counter({
      name: "http_requests_total",
      help: "HTTP requests by method, route pattern (unmatched: no route has the path) and status class.",
      labelNames: ["method", "route", "status_class"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request latency by method, route pattern and status class.",
      labelNames: ["method", "route", "status_class"],
      buckets: HTTP_DURATION_BUCKETS,
      registers,
    });
    const buildInfo = new Gauge({
      name: "search_sync_build_info",
      help: "Always 1; the labels say which search-sync and which Bun runtime answer.",
      labelNames: ["version", "bun"],
      registers,
    });
    buildInfo.set({ version: sources.version ?? "unknown", bun: Bun.version }, 1);
    this.registerSharedGauges(sources);
    if (sources.pings) this.registerUpGauges(sources.pings);
    if (sources.searchCache) this.registerCacheMetrics(sources.searchCache);
  }

  /** redis_up and mongodb_up: a ping at scrape time, 1 when it answers within PING_TIMEOUT_MS. */
  private registerUpGauges(pings: NonNullable<MetricSources["pings"]>): void {
    const registers = [this.registry];
    const answers = (ping: () => Promise<unknown>) =>
      withTimeout(
        ping().then(
          () => 1,
          () => 0,
        ),
        PING_TIMEOUT_MS,
        () => 0,
      );
    for (const [name, ping, what] of [
      ["redis_up", pings.redis, "Redis"],
      ["mongodb_up", pings.mongodb, "MongoDB"],
    ] as const) {
      const gauge: Gauge = new Gauge({
        name,
        help: `1 when ${what} answered a ping within ${PING_TIMEOUT_MS / 1000} s at this scrape, else 0.`,
        registers,
        async collect() {
          gauge.set(await answers(ping));
        },
      });
    }
  }

  /** Figures read at scrape time; a source that cannot be read leaves the previous value. */
  private registerSharedGauges({ store, status, history }: MetricSources): void {
    const registers = [this.registry];
    const entries: Gauge<"type"> = new Gauge({
      name: "sync_entries",
      help: "Entries in the serving index, by type.",
      labelNames: ["type"],
      registers,
      async collect() {
        for (const type of ITEM_TYPES) {
          const count = await store
            .currentGen(type)
            .then((gen) => store.entryCount(type, gen))
            .catch(() => null);
          if (count !== null) entries.set({ type }, count);
        }
      },
    });
    const inProgress: Gauge = new Gauge({
      name: "sync_in_progress",
      help: "1 while a run is active on any replica (the shared status key), else 0.",
      registers,
      async collect() {
        const current = await status.get().catch(() => null);
        if (current) inProgress.set(current.active ? 1 : 0);
      },
    });
    const lastSuccess: Gauge = new Gauge({
      name: "sync_last_success_timestamp_seconds",
      help: "End of the last successful published run (Unix seconds); 0 when there is none.",
      registers,
      collect() {
        try {
          const run = history.lastSuccess();
          lastSuccess.set(run?.finished_at ? Date.parse(run.finished_at) / 1000 : 0);
        } catch {
          // history DB unreadable: keep the previous value
        }
      },
    });
  }

  private registerCacheMetrics(cache: NonNullable<MetricSources["searchCache"]>): void {
    const registers = [this.registry];
    const counterOf = (name: string, help: string, read: () => number) => {
      const counter: Counter = new Counter({
        name,
        help,
        registers,
        collect: () => {
          counter.reset();
          counter.inc(read());
        },
      });
    };
    counterOf("search_cache_hits_total", "Searches answered from the result cache.", () => cache.hits);
    counterOf("search_cache_misses_total", "Searches that read the index (no answer cached for its current state).", () => cache.misses);
    const cached: Gauge = new Gauge({
      name: "search_cache_entries",
      help: "Answers held in the result cache.",
      registers,
      collect: () => cached.set(cache.size),
    });
  }

  /** The engine's onFinished: counts one finished run. */
  recordRun(run: RunResult): void {
    if (run.status === "running") return;
    this.runs.inc({ status: run.status, trigger: run.trigger });
    if (run.status !== "skipped" && run.status !== "cleared" && run.duration_ms !== null) this.runDuration.observe(run.duration_ms / 1000);
    for (const [type, result] of Object.entries(run.types))
      for (const [reason, slot] of Object.entries(result?.skipped ?? {})) if (slot?.count) this.skipped.inc({ type, reason }, slot.count);
  }

  /** The change follower's onApplied: `count` events of one type and operation applied. */
  recordChanges(type: ItemType, op: string, count: number): void {
    this.changeEvents.inc({ type, op }, count);
  }

  /** One answered HTTP request; `route` is the route's pattern, never the raw path. */
  recordHttp(method: string, route: string, status: number, seconds: number): void {
    const labels = { method: HTTP_METHODS.has(method) ? method : "OTHER", route, status_class: `${Math.floor(status / 100)}xx` };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  recordSearch(type: ItemType, status: number, seconds: number): void {
    this.searches.inc({ type, status: String(status) });
    this.searchDuration.observe({ type }, seconds);
  }

  /** Adds prom-client's process metrics (CPU, memory, file descriptors, event loop lag); the service calls it once. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
    for (const metric of UNSUPPORTED_UNDER_BUN) this.registry.removeSingleMetric(metric);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
