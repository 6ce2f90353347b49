// Fails the test run at once, with the command to fix it, when the services are not up.
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { MONGODB_URI, REDIS_URL } from "./env.ts";

async function reachable(): Promise<string[]> {
  const down: string[] = [];
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
