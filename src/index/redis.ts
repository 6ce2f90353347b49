// One Redis client factory: standalone, Sentinel and Cluster behind one function.
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { createHash } from "node:crypto";
import type { Config } from "../config.ts";

export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** Fail commands at once while disconnected instead of queueing them (for request paths). */
  failFast?: boolean;
  onError?: (err: Error) => void;
}

export function createRedis(redis: Config["redis"], opts: RedisClientOptions = {}): RedisClient {
  const common: RedisOptions = {
    maxRetriesPerRequest: opts.failFast ? 0 : 2,
    enableOfflineQueue: !opts.failFast,
    connectTimeout: 2_000,
    commandTimeout: opts.failFast ? 2_000 : 30_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  };
  let client: RedisClient;
  if (redis.mode === "cluster") {
    client = new Cluster(redis.clusterNodes, {
      redisOptions: common,
      enableOfflineQueue: common.enableOfflineQueue,
      clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
    });
  } else if (redis.mode === "sentinel") {
    client = new Redis({ ...common, sentinels: redis.sentinels, name: redis.sentinelName, db: redis.db });
  } else if (redis.url) {
    client = new Redis(redis.url, common);
  } else {
    client = new Redis({ ...common, host: redis.host, port: redis.port, db: redis.db });
  }
  // Without a listener ioredis reports connection errors as unhandled ones.
  client.on("error", opts.onError ?? (() => {}));
  return client;
}

const scriptShas = new Map<string, string>();

/** Runs a Lua script by its SHA (EVALSHA), loading it with EVAL where Redis does not have it yet. */
export async function runScript(redis: RedisClient, script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown> {
  let sha = scriptShas.get(script);
  if (!sha) {
    sha = createHash("sha1").update(script).digest("hex");
    scriptShas.set(script, sha);
  }
  try {
    return await redis.evalsha(sha, numKeys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
    return redis.eval(script, numKeys, ...args);
  }
}
