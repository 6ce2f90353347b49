import type { ChangeFollower } from "../changes/follower.ts";
import type { IndexStore } from "../index/store.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { Config } from "../platform/config.ts";
import type { ClientIp } from "../platform/http/admin.ts";
import type { Logger } from "../platform/log.ts";
import type { RedisClient } from "../platform/redis.ts";
import type { SyncEngine } from "../runs/engine.ts";
import type { HistoryFeed } from "../runs/history/feed.ts";
import type { HistoryRepo } from "../runs/history/repo.ts";
import type { StatusStore } from "../runs/status.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { SearchService } from "../search/service.ts";
import type { CatalogSource } from "../source/mongo.ts";

export interface AppDeps {
  config: Config;
  version: string;
  startedAt: Date;
  engine: SyncEngine;
  store: IndexStore;
  /** For health checks of the connection (ping, topology); index data goes through `store`. */
  redis: RedisClient;
  status: StatusStore;
  history: HistoryRepo;
  feed: HistoryFeed;
  source: CatalogSource;
  logger: Logger;
  search: SearchService;
  metrics: Metrics;
  /** Absent in some tests: the change_stream blocks of /info and /sync-status are then null. */
  changes?: Pick<ChangeFollower, "status">;
  /** Absent where no scheduler runs (CLI, some tests): the scheduler endpoints then answer 503. */
  scheduler?: Scheduler;
  /** The client's IP for the loopback rule of admin endpoints; default: the server's view of the socket. */
  clientIp?: ClientIp;
}
