// Probes and GET /info. Each dependency check is bounded so /info answers within 2 s.
import { Elysia, t } from "elysia";
import { ITEM_TYPES } from "../catalog/types.ts";
import type { ChangeFollower } from "../changes/follower.ts";
import type { IndexStore } from "../index/store.ts";
import type { Config } from "../platform/config.ts";
import { errorResponse } from "../platform/http/errors.ts";
import { Integer, Nullable, responses } from "../platform/http/openapi.ts";
import { redactUri } from "../platform/redact.ts";
import { type RedisClient, redisErrorText, redisTopology } from "../platform/redis.ts";
import { withTimeout } from "../platform/timeouts.ts";
import type { SyncEngine } from "../runs/engine.ts";
import type { HistoryFeed } from "../runs/history/feed.ts";
import type { HistoryRepo } from "../runs/history/repo.ts";
import { ChangeStreamBody } from "../runs/routes.ts";
import { SchedulerStatusBody } from "../scheduler/routes.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { CatalogSource } from "../source/mongo.ts";

const CHECK_TIMEOUT_MS = 1_500;

async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    const value = await withTimeout(promise, CHECK_TIMEOUT_MS, () => {
      throw new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`);
    });
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: redactUri((err as Error)?.message ?? String(err)) };
  }
}

/** Serving generation and entry count per type. */
interface HealthDeps {
  config: Pick<Config, "redis" | "keyPrefix" | "dbName">;
  version: string;
  startedAt: Date;
  store: Pick<IndexStore, "currentGen" | "entryCount" | "keyCount">;
  /** For the connection's health (ping, topology); index data goes through `store`. */
  redis: RedisClient;
  source: Pick<CatalogSource, "ping">;
  history: Pick<HistoryRepo, "list" | "health">;
  feed: Pick<HistoryFeed, "health">;
  engine: Pick<SyncEngine, "activeRunId">;
  scheduler?: Pick<Scheduler, "status">;
  changes?: Pick<ChangeFollower, "status">;
}

async function indexState(deps: Pick<HealthDeps, "store">) {
  const out: Record<string, { serving: boolean; entries: number }> = {};
  for (const type of ITEM_TYPES) {
    const gen = await deps.store.currentGen(type);
    out[type] = { serving: gen !== null, entries: await deps.store.entryCount(type, gen) };
  }
  return out;
}

// The answers' shapes, for the OpenAPI document.
const IndexBody = t.Record(t.String(), t.Object({ serving: t.Boolean(), entries: Integer() }), { description: "per type: categories, boxes, options" });
const InfoBody = t.Object({
  name: t.Literal("search-sync"),
  version: t.String(),
  uptime_seconds: Integer(),
  status: t.Union([t.Literal("ok"), t.Literal("degraded")]),
  redis: t.Object({
    reachable: t.Boolean(),
    mode: t.String({ description: "standalone, sentinel or cluster" }),
    key_prefix: t.String(),
    used_memory_bytes: Nullable(t.Number()),
    keys_under_prefix: Nullable(Integer()),
    topology: Nullable(t.Object({ masters: Integer(), replicas: Integer(), nodes: t.Array(t.Unknown()) })),
    error: t.Optional(t.String()),
  }),
  index: Nullable(IndexBody),
  mongodb: t.Object({ reachable: t.Boolean(), database: t.String(), error: t.Optional(t.String()) }),
  history: t.Object({
    file: t.String(),
    pending_writes: Integer(),
    last_error: Nullable(t.String()),
    corrupt_file_moved_to: Nullable(t.String()),
    last_run_id: Nullable(t.String()),
  }),
  active_run_id: Nullable(t.String()),
  scheduler: Nullable(SchedulerStatusBody),
  change_stream: ChangeStreamBody,
});

// The probes answer the replaced service's status and message (Kubernetes probes and scripts
// read them); what is missing is in `detail` (and `missing`).
function notReady(detail: string, extra: Record<string, unknown> = {}): Response {
  return errorResponse("not_ready", "Search service is still initializing", { status: "initializing", detail, ...extra });
}

export function healthRoutes(deps: HealthDeps) {
  return new Elysia({ name: "health-routes", normalize: false })
    .get("/healthz", () => ({ status: "healthy", message: "Search service is running" }), {
      detail: {
        summary: "Liveness",
        tags: ["health"],
        responses: responses({ 200: { description: "alive", schema: t.Object({ status: t.Literal("healthy"), message: t.String() }) } }),
      },
    })
    .get(
      "/healthz-startup",
      async () => {
        const state = await settle(indexState(deps));
        if (!state.ok) return notReady(`Redis is unreachable: ${state.error}`);
        const missing = ITEM_TYPES.filter((type) => !state.value[type]!.serving);
        if (missing.length) return notReady(`no index is serving yet for: ${missing.join(", ")}; run a sync`, { missing });
        return { status: "ready", message: "Search service initialization complete", index: state.value };
      },
      {
        detail: {
          summary: "Startup probe: 503 until every type has a serving index",
          tags: ["health"],
          responses: responses(
            { 200: { description: "every type is serving", schema: t.Object({ status: t.Literal("ready"), message: t.String(), index: IndexBody }) } },
            ["not_ready"],
          ),
        },
      },
    )
    .get(
      "/info",
      async ({ set }) => {
        const redis = deps.redis;
        const [ping, topology, keys, index, mongo] = await Promise.all([
          settle(redis.ping()),
          settle(redisTopology(redis, deps.config.redis.mode)),
          settle(deps.store.keyCount()),
          settle(indexState(deps)),
          settle(deps.source.ping()),
        ]);
        let lastRunId: string | null = null;
        try {
          lastRunId = deps.history.list(1)[0]?.run_id ?? null;
        } catch {
          // The database cannot be read now; history.last_error or the log says why.
        }
        const body = {
          name: "search-sync",
          version: deps.version,
          uptime_seconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
          status: ping.ok && mongo.ok ? "ok" : "degraded",
          redis: {
            reachable: ping.ok,
            mode: deps.config.redis.mode,
            key_prefix: deps.config.keyPrefix,
            used_memory_bytes: topology.ok ? topology.value.used_memory_bytes : null,
            keys_under_prefix: ping.ok && keys.ok ? keys.value : null,
            topology: topology.ok ? { masters: topology.value.masters, replicas: topology.value.replicas, nodes: topology.value.nodes } : null,
            ...(ping.ok ? {} : { error: redactUri(redisErrorText(redis, ping.error)) }),
          },
          index: index.ok ? index.value : null,
          mongodb: { reachable: mongo.ok, database: deps.config.dbName, ...(mongo.ok ? {} : { error: mongo.error }) },
          // File names only: /info is public, and the machine's directories are nobody's business.
          history: { ...deps.history.health(), last_run_id: lastRunId, stream: deps.feed.health() },
          active_run_id: deps.engine.activeRunId,
          scheduler: deps.scheduler?.status() ?? null,
          change_stream: deps.changes?.status() ?? null,
        };
        if (!ping.ok || !mongo.ok) set.status = 503;
        return body;
      },
      {
        detail: {
          summary: "Health: version, uptime, Redis, MongoDB, history database",
          tags: ["health"],
          responses: responses({
            200: { description: "Redis and MongoDB reachable", schema: InfoBody },
            503: { description: "Redis or MongoDB unreachable (status: degraded)", schema: InfoBody },
          }),
        },
      },
    );
}
