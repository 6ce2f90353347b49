// One Redis client factory: standalone, Sentinel and Cluster behind one function.

import { createHash } from "node:crypto";
import { tracingChannel } from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Cluster, Command, Redis, type RedisOptions } from "ioredis";
import type { Config } from "./config.ts";

export type RedisClient = Redis | Cluster;

// ioredis traces a command only when its tracing channel has subscribers, but Bun's tracing
// channels lack Node's `hasSubscribers`, which ioredis reads as "maybe": it then builds a trace
// context (every argument copied) and wraps every command's promise. Node's definition:
const TracingChannel = Object.getPrototypeOf(tracingChannel("search-sync"));
if (!("hasSubscribers" in TracingChannel)) {
  Object.defineProperty(TracingChannel, "hasSubscribers", {
    get() {
      const { start, end, asyncStart, asyncEnd, error } = this;
      return Boolean(start?.hasSubscribers || end?.hasSubscribers || asyncStart?.hasSubscribers || asyncEnd?.hasSubscribers || error?.hasSubscribers);
    },
  });
}

interface RedisClientOptions {
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
  if (redis.username) common.username = redis.username;
  if (redis.password) common.password = redis.password;
  const tls = tlsOptions(redis.tls);
  if (tls) common.tls = tls;
  let client: RedisClient;
  if (redis.mode === "cluster") {
    client = new Cluster(redis.clusterNodes, {
      redisOptions: common,
      enableOfflineQueue: common.enableOfflineQueue,
      clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
    });
  } else if (redis.mode === "sentinel") {
    client = new Redis({
      ...common,
      sentinels: redis.sentinels,
      name: redis.sentinelName,
      db: redis.db,
      ...(redis.sentinelPassword ? { sentinelPassword: redis.sentinelPassword } : {}),
      ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    });
  } else if (redis.url) {
    // The URL's own user and password win over REDIS_USERNAME/REDIS_PASSWORD.
    client = new Redis(redis.url, common);
  } else {
    client = new Redis({ ...common, host: redis.host, port: redis.port, db: redis.db });
  }
  // Without a listener ioredis reports connection errors as unhandled ones.
  client.on("error", (err: Error) => {
    lastConnectionError.set(client, err.message);
    opts.onError?.(err);
  });
  client.on("ready", () => lastConnectionError.delete(client));
  return client;
}

const lastConnectionError = new WeakMap<RedisClient, string>();

/**
 * Why a command failed, for people: while disconnected ioredis only says "Stream isn't writeable"
 * or "Cluster isn't ready", so the connection's own last error (a refused TLS certificate, a wrong
 * password, a refused connection) is added to that.
 */
export function redisErrorText(client: RedisClient, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = lastConnectionError.get(client);
  return cause && cause !== message ? `${message} (last connection error: ${cause})` : message;
}

function tlsOptions(tls: Config["redis"]["tls"]): ConnectionOptions | undefined {
  if (!tls) return undefined;
  const read = (path: string | null) => (path ? readFileSync(path) : undefined);
  return { ca: read(tls.caFile), cert: read(tls.certFile), key: read(tls.keyFile) };
}

const scriptShas = new Map<string, string>();

/** Runs a Lua script by its SHA (EVALSHA), loading it with EVAL where Redis does not have it yet. */
export function runScript(redis: RedisClient, script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown> {
  return runScriptWithin(redis, null, script, numKeys, ...args);
}

/**
 * runScript for a script that may take longer than the client's command timeout (a large push
 * update); null keeps the client's timeout.
 */
export async function runScriptWithin(
  redis: RedisClient,
  timeoutMs: number | null,
  script: string,
  numKeys: number,
  ...args: (string | number)[]
): Promise<unknown> {
  let sha = scriptShas.get(script);
  if (!sha) {
    sha = createHash("sha1").update(script).digest("hex");
    scriptShas.set(script, sha);
  }
  const send = (name: "evalsha" | "eval", first: string) => {
    if (timeoutMs === null) return redis[name](first, numKeys, ...args);
    const command = new Command(name, [first, numKeys, ...args], { replyEncoding: "utf8" });
    // Set before sending: a command keeps the first timeout it is given, so the client's does not apply.
    command.setTimeout(timeoutMs);
    redis.sendCommand(command);
    return command.promise;
  };
  try {
    return await send("evalsha", sha);
  } catch (err) {
    if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
    return send("eval", script);
  }
}

interface RedisNode {
  address: string;
  role: "master" | "replica";
  /** False for a node the cluster marks as failed. */
  up: boolean;
}

interface RedisTopology {
  mode: Config["redis"]["mode"];
  masters: number;
  replicas: number;
  nodes: RedisNode[];
  /** Bytes used by every reachable master together. */
  used_memory_bytes: number;
}

const usedMemory = (info: string) => Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);

/** What the client is connected to: the masters and replicas it sees and their memory. */
export async function redisTopology(redis: RedisClient, mode: RedisTopology["mode"]): Promise<RedisTopology> {
  if (redis instanceof Cluster) {
    const lines = String(await redis.call("CLUSTER", "NODES"))
      .trim()
      .split("\n");
    const nodes: RedisNode[] = lines.map((line) => {
      const [, addr = "", flags = ""] = line.split(" ");
      return { address: addr.split("@")[0]!, role: flags.includes("master") ? "master" : "replica", up: !/fail|noaddr/.test(flags) };
    });
    const memory = await Promise.all(redis.nodes("master").map((node) => node.info("memory").then(usedMemory)));
    return {
      mode,
      masters: nodes.filter((n) => n.role === "master" && n.up).length,
      replicas: nodes.filter((n) => n.role === "replica" && n.up).length,
      nodes: nodes.sort((a, b) => a.address.localeCompare(b.address)),
      used_memory_bytes: memory.reduce((a, b) => a + b, 0),
    };
  }
  const [replication, memory] = await Promise.all([redis.info("replication"), redis.info("memory")]);
  const replicas = Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0);
  const address = redis.stream?.remoteAddress ? `${redis.stream.remoteAddress}:${redis.stream.remotePort}` : "unknown";
  return { mode, masters: 1, replicas, nodes: [{ address, role: "master", up: true }], used_memory_bytes: usedMemory(memory) };
}

/** Every key matching `pattern`, from every master (a Cluster's keys are spread over its masters). */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const out = new Set<string>();
  // A Cluster client knows its nodes only once connected; the PING waits for that (or fails fast).
  if (redis instanceof Cluster && redis.nodes("master").length === 0) await redis.ping();
  for (const node of redis instanceof Cluster ? redis.nodes("master") : [redis]) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      for (const key of batch) out.add(key);
    } while (cursor !== "0");
  }
  return [...out];
}

/**
 * What Redis says it will do to keys when full, if it evicts them (maxmemory-policy other than
 * noeviction): a message for operators, or null. The index is data, not a cache: an evicted piece,
 * record or pointer makes search answer wrongly until the next run.
 */
export async function evictionWarning(redis: RedisClient): Promise<string | null> {
  const policy = /^maxmemory_policy:(\S+)/m.exec(await redis.info("memory"))?.[1];
  if (!policy || policy === "noeviction") return null;
  return `Redis evicts keys when it is full (maxmemory-policy ${policy}): the index can lose keys and search answer wrongly until the next run; set maxmemory-policy noeviction`;
}
