// Where the test services are: the environment, or the ports scripts/services.sh uses.
// With SS_TEST_CLUSTER_NODES (set by test/preload.ts when SS_TEST_REDIS=cluster) every context
// and every binary started by a test uses that Redis Cluster instead of the standalone Redis.
import { Cluster, Redis } from "ioredis";
import { scanKeys } from "../src/platform/redis.ts";

export const REDIS_URL = process.env.REDIS_URL ?? `redis://127.0.0.1:${process.env.SS_REDIS_PORT ?? 6390}`;
export const MONGODB_URI = process.env.MONGODB_URI ?? `mongodb://127.0.0.1:${process.env.SS_MONGO_PORT ?? 27027}`;
export const CLUSTER_NODES = process.env.SS_TEST_CLUSTER_NODES ?? "";

/** The service's Redis variables for the Redis the tests run against. */
export const REDIS_ENV: Record<string, string> = CLUSTER_NODES ? { REDIS_CLUSTER_NODES: CLUSTER_NODES } : { REDIS_URL };

/** A client of that Redis for inspecting keys (Cluster or plain). */
export function testRedis(): Redis | Cluster {
  if (!CLUSTER_NODES) return new Redis(REDIS_URL);
  const nodes = CLUSTER_NODES.split(",").map((hp) => ({ host: hp.split(":")[0]!, port: Number(hp.split(":")[1]) }));
  return new Cluster(nodes);
}

/** Every key matching `pattern` on every master, sorted. */
export async function scanAll(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  return (await scanKeys(redis, pattern)).sort();
}

/** How many times Redis has run these commands so far (scripts' own calls included), from INFO commandstats. */
export async function commandCalls(redis: Redis | Cluster, commands: string[]): Promise<number> {
  const stats = await redis.info("commandstats");
  return commands.reduce((sum, cmd) => sum + Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, "m").exec(stats)?.[1] ?? 0), 0);
}
