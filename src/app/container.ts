// Builds the long-lived dependencies from the config; the service and the CLI share this.
import type { MongoClient } from "mongodb";
import pkg from "../../package.json";
import { ChangeFollower } from "../changes/follower.ts";
import { Keys } from "../index/keys.ts";
import { IndexStore } from "../index/store.ts";
import { Metrics } from "../ops/metrics.ts";
import type { Config } from "../platform/config.ts";
import type { Logger } from "../platform/log.ts";
import { createRedis, type RedisClient } from "../platform/redis.ts";
import { Alerter } from "../runs/alerts.ts";
import { inWorker } from "../runs/build-thread.ts";
import { type EngineDeps, SyncEngine } from "../runs/engine.ts";
import { HistoryFeed } from "../runs/history/feed.ts";
import { HistoryRepo } from "../runs/history/repo.ts";
import { RunLock } from "../runs/lock.ts";
import { StatusStore } from "../runs/status.ts";
import { SearchService } from "../search/service.ts";
import { CatalogSource, createMongoClient } from "../source/mongo.ts";

// On close, how long records the history database could not take yet may still be written.
const HISTORY_DRAIN_MS = 5_000;

export interface Services {
  config: Config;
  logger: Logger;
  redis: RedisClient;
  /** The Redis key layout; index data is read and written only through `store`. */
  keys: Keys;
  mongo: MongoClient;
  source: CatalogSource;
  store: IndexStore;
  lock: RunLock;
  status: StatusStore;
  history: HistoryRepo;
  /** Shares finished runs with the other replicas' histories; the service starts its import loop (src/main.ts). */
  feed: HistoryFeed;
  engine: SyncEngine;
  search: SearchService;
  metrics: Metrics;
  alerts: Alerter;
  /** The change-stream follower; started by the service (src/main.ts), not by the CLI. */
  changes: ChangeFollower;
  close(): Promise<void>;
}

export interface ServiceOptions {
  onFinished?: EngineDeps["onFinished"];
  onProgress?: EngineDeps["onProgress"];
  /**
   * The build worker's entry (src/runs/build-worker.ts, as the entry point names it): runs build
   * there, off the thread that answers requests. Without it they build in this thread (the CLI).
   */
  buildWorker?: URL;
}

export function createServices(config: Config, logger: Logger, { onFinished, onProgress, buildWorker }: ServiceOptions = {}): Services {
  const history = HistoryRepo.open(config.historyDbPath, logger);
  let redisDownLogged = false;
  const redis = createRedis(config.redis, {
    failFast: true,
    onError: (err) => {
      if (!redisDownLogged) logger.warn("Redis connection problem; retrying", { err });
      redisDownLogged = true;
    },
  });
  redis.on("ready", () => {
    if (redisDownLogged) logger.info("Redis connection restored");
    redisDownLogged = false;
  });
  const mongo = createMongoClient(config.mongoUri);
  const keys = new Keys(config.keyPrefix);
  const source = new CatalogSource(mongo, config.dbName, () => createMongoClient(config.mongoUri));
  const store = new IndexStore(redis, keys);
  const lock = new RunLock(redis, keys.lock, config.lockTtlMs);
  const status = new StatusStore(redis, keys.status);
  const search = new SearchService(store, config.searchCacheBytes, logger);
  const metrics = new Metrics({
    store,
    status,
    history,
    searchCache: search.cache,
    changeStream: () => changes.status(),
    version: pkg.version,
    pings: { redis: () => redis.ping(), mongodb: () => source.ping() },
  });
  const alerts = new Alerter({ url: config.alertWebhookUrl, notifyOnSuccess: config.notifyOnSuccess, baseUrl: config.baseUrl, logger });
  const feed = new HistoryFeed({ redis, key: keys.history, maxLen: config.historyStreamMaxLen, history, logger });
  const finished: EngineDeps["onFinished"] = async (run) => {
    await feed.publish(run);
    metrics.recordRun(run);
    alerts.notify(run);
    await onFinished?.(run);
  };
  // Searches answered within the last second: the build paces its Redis writes meanwhile.
  const builder = buildWorker ? inWorker(buildWorker, config, () => performance.now() - search.lastIndexReadAt < 1_000) : undefined;
  const engine = new SyncEngine({ config, store, lock, source, history, status, logger, onFinished: finished, onProgress, builder });
  const changes: ChangeFollower = new ChangeFollower({
    config,
    source,
    store,
    redis,
    keys,
    engine,
    lock,
    logger,
    onApplied: (type, op, count) => metrics.recordChanges(type, op, count),
    alert: (alert) => alerts.notifyChangeStream(alert),
    lastFullRunMs: () => history.lastSuccess("all")?.duration_ms ?? null,
  });
  return {
    config,
    logger,
    redis,
    keys,
    mongo,
    source,
    store,
    lock,
    status,
    history,
    feed,
    engine,
    search,
    metrics,
    alerts,
    changes,
    async close() {
      await changes.stop();
      await feed.stop();
      redis.disconnect();
      await mongo.close().catch(() => {});
      await source.close(); // the client it uses now, if it had to replace `mongo`
      await history.close(HISTORY_DRAIN_MS);
    },
  };
}

/** Waits up to `ms` for Redis to be ready (it keeps reconnecting in the background either way). */
export async function waitForRedis(redis: RedisClient, ms: number): Promise<boolean> {
  if (redis.status === "ready") return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once("ready", onReady);
  });
}
