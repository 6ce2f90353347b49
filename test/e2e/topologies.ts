// Private Redis Cluster and Sentinel deployments on loopback ports, built from real redis-server
// processes (the same ManagedProcess as procs.ts, so killAll() ends them and tests may kill nodes).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { freePort } from "../../scripts/lib/binary.ts";
import { type ManagedProcess, managed, portOpen, redisPong, redisServer, tempDir, until } from "../../scripts/lib/procs.ts";

export interface RedisClusterDeployment {
  nodes: ManagedProcess[];
  /** "host:port,…" for REDIS_CLUSTER_NODES. */
  seeds: string;
  /** The node serving `key`'s slot as master right now. */
  masterFor(key: string): Promise<ManagedProcess>;
  /** Waits until every running node reports cluster_state:ok and `masters` masters serve all slots. */
  waitHealthy(ms?: number): Promise<void>;
}

/** `fn` with a short-lived client of the server on `port`; the client is closed after, whatever happens. */
async function withClient<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

async function info(port: number, section: string): Promise<string> {
  try {
    return await withClient(port, async (client) => (section === "cluster" ? String(await client.call("CLUSTER", "INFO")) : await client.info(section)));
  } catch {
    return "";
  }
}

/** `masters` masters with `replicasPerMaster` replicas each; node timeout 1 s so failover takes seconds. */
export async function startRedisCluster(masters = 3, replicasPerMaster = 1): Promise<RedisClusterDeployment> {
  const nodes: ManagedProcess[] = [];
  // Each port is free when picked, but the next pick may return it again: every node needs its own two.
  const picked = new Set<number>();
  const distinctPort = (): number => {
    for (;;) {
      const port = freePort();
      if (picked.has(port)) continue;
      picked.add(port);
      return port;
    }
  };
  for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
    const port = distinctPort();
    const busPort = distinctPort();
    const dir = tempDir(`cluster-${i}`);
    const node = redisServer(`redis-cluster-${i}`, dir, port, [
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      join(dir, "nodes.conf"),
      "--cluster-port",
      String(busPort),
      "--cluster-node-timeout",
      "1000",
      "--cluster-replica-validity-factor",
      "0",
    ]);
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.start()));
  const create = Bun.spawnSync(
    ["redis-cli", "--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", String(replicasPerMaster), "--cluster-yes"],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (create.exitCode !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);

  const waitHealthy = async (ms = 20_000) => {
    await until(
      async () => {
        const running = nodes.filter((n) => n.running);
        const states = await Promise.all(running.map((n) => info(n.port, "cluster")));
        if (!states.every((s) => s.includes("cluster_state:ok") && s.includes("cluster_slots_ok:16384"))) return false;
        const roles = await Promise.all(running.map((n) => info(n.port, "replication")));
        return roles.filter((r) => r.includes("role:master")).length === masters && roles.every((r) => !r.includes("master_link_status:down"));
      },
      ms,
      "a healthy cluster",
    );
  };
  await waitHealthy();
  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(","),
    waitHealthy,
    async masterFor(key) {
      const client = new Cluster(nodes.filter((n) => n.running).map((n) => ({ host: "127.0.0.1", port: n.port })));
      client.on("error", () => {});
      try {
        const slot = Number(await client.call("CLUSTER", "KEYSLOT", key));
        const slots = (await client.call("CLUSTER", "SLOTS")) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        const port = range?.[2][1];
        const node = nodes.find((n) => n.port === port);
        if (!node) throw new Error(`no master found for slot ${slot}`);
        return node;
      } finally {
        client.disconnect();
      }
    },
  };
}

export interface RedisSentinelDeployment {
  master: ManagedProcess;
  replica: ManagedProcess;
  sentinels: ManagedProcess[];
  /** "host:port,…" for REDIS_SENTINELS. */
  seeds: string;
  name: string;
  /** The port Sentinel names as the master now. */
  currentMasterPort(): Promise<number>;
}

/** One master, one replica and three Sentinels (quorum 2, master down after 1 s). */
export async function startRedisSentinel(name = "mymaster"): Promise<RedisSentinelDeployment> {
  const masterPort = freePort();
  const master = redisServer("redis-master", tempDir("sentinel-master"), masterPort, []);
  await master.start();
  const replicaPort = freePort();
  const replica = redisServer("redis-replica", tempDir("sentinel-replica"), replicaPort, ["--replicaof", "127.0.0.1", String(masterPort)]);
  await replica.start();
  await until(async () => (await info(replicaPort, "replication")).includes("master_link_status:up"), 10_000, "the replica to sync");
  const sentinels: ManagedProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const port = freePort();
    const dir = tempDir(`sentinel-${i}`);
    const conf = join(dir, "sentinel.conf");
    // Sentinel rewrites its config file with what it learns, so each gets its own writable copy.
    writeFileSync(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        "",
      ].join("\n"),
    );
    const sentinel = managed(
      `redis-sentinel-${i}`,
      port,
      dir,
      `redis://127.0.0.1:${port}`,
      () => ["redis-server", conf, "--sentinel", "--loglevel", "warning"],
      redisPong,
      10_000,
    );
    await sentinel.start();
    sentinels.push(sentinel);
  }
  const currentMasterPort = async () => {
    for (const s of sentinels.filter((x) => x.running)) {
      try {
        const addr = await withClient(s.port, async (client) => (await client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)) as [string, string] | null);
        if (addr) return Number(addr[1]);
      } catch {
        // try the next sentinel
      }
    }
    throw new Error("no sentinel answered");
  };
  // Every sentinel must know the replica and the other sentinels before a failover can be agreed.
  await until(
    async () => {
      for (const s of sentinels) {
        const masterInfo = await withClient(s.port, async (client) => (await client.call("SENTINEL", "MASTER", name)) as string[]);
        const field = (k: string) => Number(masterInfo[masterInfo.indexOf(k) + 1]);
        if (field("num-slaves") < 1 || field("num-other-sentinels") < 2) return false;
      }
      return true;
    },
    20_000,
    "the sentinels to discover each other",
  );
  return { master, replica, sentinels, seeds: sentinels.map((s) => `127.0.0.1:${s.port}`).join(","), name, currentMasterPort };
}

/** A master that wants `password` and one Sentinel (quorum 1) that wants `sentinelPassword`: the smallest Sentinel setup with both passwords. */
export async function startRedisSentinelWithPasswords(
  name: string,
  password: string,
  sentinelPassword: string,
): Promise<{ master: ManagedProcess; sentinel: ManagedProcess; seeds: string; name: string }> {
  const masterPort = freePort();
  // With requirepass, PING answers NOAUTH: readiness is the port accepting connections.
  const master = redisServer("redis-master-auth", tempDir("sentinel-auth-master"), masterPort, ["--requirepass", password], portOpen);
  await master.start();
  const port = freePort();
  const dir = tempDir("sentinel-auth");
  const conf = join(dir, "sentinel.conf");
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `requirepass ${sentinelPassword}`,
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
      `sentinel auth-pass ${name} ${password}`,
      "",
    ].join("\n"),
  );
  const sentinel = managed(
    "redis-sentinel-auth",
    port,
    dir,
    `redis://127.0.0.1:${port}`,
    () => ["redis-server", conf, "--sentinel", "--loglevel", "warning"],
    portOpen,
    10_000,
  );
  await sentinel.start();
  return { master, sentinel, seeds: `127.0.0.1:${port}`, name };
}

export interface RedisTlsDeployment {
  server: ManagedProcess;
  /** rediss:// URL of the server (no credentials). */
  url: string;
  /** PEM of the CA that signed the server's certificate. */
  caFile: string;
}

/** A redis-server that speaks only TLS, with a certificate for 127.0.0.1 from a fresh CA, and a password. */
export async function startRedisTls(password: string): Promise<RedisTlsDeployment> {
  const dir = tempDir("redis-tls");
  const openssl = (...args: string[]) => {
    const out = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (out.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${out.stderr}`);
  };
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=search-sync test CA");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.cnf",
  );
  const port = freePort();
  const server = managed(
    "redis-tls",
    port,
    dir,
    `rediss://127.0.0.1:${port}`,
    () => [
      "redis-server",
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      join(dir, "server.pem"),
      "--tls-key-file",
      join(dir, "server.key"),
      "--tls-ca-cert-file",
      join(dir, "ca.pem"),
      "--tls-auth-clients",
      "no",
      "--requirepass",
      password,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--loglevel",
      "warning",
    ],
    async (p) => portOpen(p),
    10_000,
  );
  await server.start();
  return { server, url: server.url, caFile: join(dir, "ca.pem") };
}
