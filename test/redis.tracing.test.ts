// ioredis's command tracing (node:diagnostics_channel) costs every command unless nobody listens.
import { expect, test } from "bun:test";
import { tracingChannel } from "node:diagnostics_channel";
import "../src/platform/redis.ts";
import { testRedis } from "./env.ts";

test("Redis commands are traced while the tracing channel has subscribers, and only then", async () => {
  const channel = tracingChannel("ioredis:command");
  // What ioredis reads before it builds a command's trace context.
  expect(channel.hasSubscribers).toBe(false);
  const redis = testRedis();
  const traced: string[] = [];
  const subscriber = {
    start: (context: unknown) => traced.push((context as { command: string }).command),
    end: () => {},
    asyncStart: () => {},
    asyncEnd: () => {},
    error: () => {},
  };
  try {
    await redis.get("t-tracing:none");
    channel.subscribe(subscriber);
    expect(channel.hasSubscribers).toBe(true);
    await redis.get("t-tracing:one");
    channel.unsubscribe(subscriber);
    expect(channel.hasSubscribers).toBe(false);
    await redis.get("t-tracing:none");
    // Only the GET sent while subscribed (a Cluster client may also have asked for its slots meanwhile).
    expect(traced.filter((command) => command === "get")).toEqual(["get"]);
  } finally {
    channel.unsubscribe(subscriber);
    redis.disconnect();
  }
});
