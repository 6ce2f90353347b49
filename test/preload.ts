// Fails the test run at once, with the command to fix it, when the services are not up.
// With SS_TEST_REDIS=cluster it first starts a private 3-master, 3-replica Redis Cluster
// (ended when the test process exits) and points every test at it.
import { afterAll } from "bun:test";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";

if (process.env.SS_TEST_REDIS === "cluster" && !process.env.SS_TEST_CLUSTER_NODES) {
  const { startRedisCluster } = await import("./e2e/topologies.ts");
  const { forWholeRun, killWholeRun } = await import("../scripts/lib/procs.ts");
  // A hook in the preload runs once, after every test file.
  afterAll(killWholeRun);
  const started = Date.now();
  const cluster = await forWholeRun(() => startRedisCluster(3, 1));
  process.env.SS_TEST_CLUSTER_NODES = cluster.seeds;
  process.stderr.write(`Redis Cluster of 6 nodes (3 masters, 3 replicas) at ${cluster.seeds}, up in ${Date.now() - started} ms\n`);
}

const { CLUSTER_NODES, MONGODB_URI, REDIS_URL } = await import("./env.ts");

async function reachable(): Promise<string[]> {
  const down: string[] = [];
  if (!CLUSTER_NODES) {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 });
    redis.on("error", () => {});
    try {
      await redis.connect();
      await redis.ping();
    } catch {
      down.push(`Redis at ${REDIS_URL}`);
    } finally {
      redis.disconnect();
    }
  }
  const mongo = new MongoClient(MONGODB_URI, { serverSelectionTimeoutMS: 2_000 });
  try {
    await mongo.db("admin").command({ ping: 1 });
  } catch {
    down.push(`MongoDB at ${MONGODB_URI}`);
  } finally {
    await mongo.close();
  }
  return down;
}

const down = await reachable();
if (down.length) {
  process.stderr.write(
    `\nThe tests need ${down.join(" and ")}, which did not answer.\nStart them with:  scripts/services.sh start\n(or run the whole suite with:  scripts/test.sh)\n\n`,
  );
  process.exit(1);
}
