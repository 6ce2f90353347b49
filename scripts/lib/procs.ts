// Private Redis and MongoDB-compatible servers for one test, on free loopback ports, that a test
// may stop, SIGKILL and restart for real (the shared dev services are never touched). Every
// process started here is registered; killAll() in afterEach/afterAll ends whatever is left.

import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { scanKeys } from "../../src/platform/redis.ts";
import { seedCatalog } from "../catalog.ts";
import { freePort, installBinary, type RunningBinary, runCommand, startBinary } from "./binary.ts";

const ROOT = resolve(import.meta.dir, "../..");

/** A server process that can be stopped, killed and started again on the same port and data directory. */
export interface ManagedProcess {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  /** Connection string (redis://… or mongodb://…). */
  readonly url: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGTERM (or `signal`), then waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<number | null>;
  restart(): Promise<void>;
  output(): string;
}

interface Scope {
  live: Set<{ kill(): Promise<unknown> }>;
  dirs: Set<string>;
}
// What a test starts, ended by killAll(); and what the whole run shares (started inside
// forWholeRun(), e.g. the preload's Redis Cluster), ended by killWholeRun().
const testScope: Scope = { live: new Set(), dirs: new Set() };
const runScope: Scope = { live: new Set(), dirs: new Set() };
let scope = testScope;
const { live } = testScope;
// Last resort when the test process exits without killAll() (an uncaught error in a script):
// no server or service may outlive it.
const spawned = new Set<Subprocess>();
process.once("exit", () => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  for (const dir of [...testScope.dirs, ...runScope.dirs]) rmSync(dir, { recursive: true, force: true });
});

/** Runs `start` so that what it starts outlives killAll(): it is shared by every test file. */
export async function forWholeRun<T>(start: () => Promise<T>): Promise<T> {
  scope = runScope;
  try {
    return await start();
  } finally {
    scope = testScope;
  }
}

export async function killWholeRun(): Promise<void> {
  await endScope(runScope);
}

async function endScope({ live, dirs }: Scope): Promise<void> {
  await Promise.all([...live].map((p) => p.kill().catch(() => {})));
  live.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
function track<T extends Subprocess>(p: T): T {
  spawned.add(p);
  void p.exited.then(() => spawned.delete(p));
  return p;
}

/** Kills every process started through this module (servers and services) and removes their temp dirs. */
export async function killAll(): Promise<void> {
  await endScope(testScope);
}

/** A temp directory removed by killAll(). */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ss-${name}-`));
  scope.dirs.add(dir);
  return dir;
}

export function managed(
  name: string,
  port: number,
  dir: string,
  url: string,
  argv: () => string[],
  ready: (port: number) => Promise<boolean>,
  readyWithinMs: number,
): ManagedProcess {
  let proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  const owner = scope.live;
  let out = "";
  const self: ManagedProcess & { kill(): Promise<number | null> } = {
    name,
    port,
    dir,
    url,
    get running() {
      return proc !== null && proc.exitCode === null && proc.signalCode === null;
    },
    async start() {
      if (self.running) throw new Error(`${name} is already running`);
      const p = track(
        Bun.spawn(argv(), { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" } }),
      );
      proc = p;
      owner.add(self);
      const drain = async (stream: ReadableStream<Uint8Array>) => {
        for await (const chunk of stream) out += new TextDecoder().decode(chunk);
      };
      void drain(p.stdout).catch(() => {});
      void drain(p.stderr).catch(() => {});
      const deadline = Date.now() + readyWithinMs;
      while (!(await ready(port))) {
        if (p.exitCode !== null || Date.now() > deadline) {
          p.kill("SIGKILL");
          await p.exited;
          throw new Error(`${name} did not start on port ${port} within ${readyWithinMs} ms (exit ${p.exitCode}):\n${out.slice(-2000)}`);
        }
        await Bun.sleep(25);
      }
    },
    async stop(signal = "SIGTERM", graceMs = 5_000) {
      const p = proc;
      if (!p) return null;
      if (p.exitCode === null && p.signalCode === null) {
        p.kill(signal);
        const timer = setTimeout(() => p.kill("SIGKILL"), graceMs);
        await p.exited;
        clearTimeout(timer);
      }
      owner.delete(self);
      // The port must refuse connections before the caller goes on ("stopped" means stopped).
      for (let i = 0; i < 100 && (await portOpen(port)); i++) await Bun.sleep(20);
      return p.exitCode;
    },
    kill() {
      return self.stop("SIGKILL");
    },
    async restart() {
      await self.stop();
      await self.start();
    },
    output: () => out,
  };
  return self;
}

/** True when something accepts TCP connections on the loopback port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Sends PING over RESP and waits for +PONG (a Redis still loading its AOF answers -LOADING). */
export function redisPong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.once("error", () => done(false));
  });
}

async function mongoPing(port: number): Promise<boolean> {
  const client = new MongoClient(`mongodb://127.0.0.1:${port}`, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
  try {
    await client.db("admin").command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

export interface RedisOptions {
  /** appendonly yes: the data survives a restart (also after SIGKILL: Redis writes the AOF before it answers). */
  persistent?: boolean;
}

/** A redis-server on `port` (loopback, no RDB snapshots, no append-only file unless `extra` says so), not started yet. */
export function redisServer(
  name: string,
  dir: string,
  port: number,
  extra: string[] = [],
  ready: (port: number) => Promise<boolean> = redisPong,
): ManagedProcess {
  const argv = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  return managed(name, port, dir, `redis://127.0.0.1:${port}`, () => [...argv, "--daemonize", "no", "--loglevel", "warning", ...extra], ready, 10_000);
}

/** A private redis-server on a free loopback port, no RDB snapshots; with `persistent`, an append-only file. */
export async function startRedis(opts: RedisOptions = {}): Promise<ManagedProcess> {
  const redis = redisServer("redis-server", tempDir("redis"), freePort(), opts.persistent ? ["--appendonly", "yes"] : []);
  await redis.start();
  return redis;
}

/** The MongoDB-compatible server to run: the repo's FerretDB (scripts/services.sh builds it) or a `mongod` on the PATH. */
export function mongoServerBinary(): { kind: "ferretdb" | "mongod"; path: string } {
  const ferret = join(ROOT, ".local/bin/ferretdb");
  if (existsSync(ferret)) return { kind: "ferretdb", path: ferret };
  const mongod = Bun.which("mongod");
  if (mongod) return { kind: "mongod", path: mongod };
  if (existsSync("/tmp/ferretdb-bin")) return { kind: "ferretdb", path: "/tmp/ferretdb-bin" };
  throw new Error("no MongoDB-compatible server: run scripts/services.sh start (builds .local/bin/ferretdb) or put mongod on the PATH");
}

/** A private FerretDB (SQLite backend) or mongod on a free loopback port; its data survives stop/kill + start. */
export async function startMongo(): Promise<ManagedProcess> {
  const dir = tempDir("mongo");
  const data = join(dir, "data");
  mkdirSync(data);
  const port = freePort();
  const server = mongoServerBinary();
  const argv =
    server.kind === "ferretdb"
      ? [
          server.path,
          "--handler=sqlite",
          `--sqlite-url=file:${data}/`,
          `--listen-addr=127.0.0.1:${port}`,
          "--telemetry=disable",
          "--debug-addr=-",
          `--state-dir=${dir}`,
          "--log-level=warn",
        ]
      : [server.path, "--port", String(port), "--bind_ip", "127.0.0.1", "--dbpath", data, "--quiet"];
  const mongo = managed(server.kind, port, dir, `mongodb://127.0.0.1:${port}`, () => argv, mongoPing, 20_000);
  await mongo.start();
  return mongo;
}

/**
 * A private mongo-java-server (in memory, with change streams; scripts/services.sh builds the jar) on
 * a free loopback port. Its data, oplog and resume tokens are gone after stop/kill + start.
 */
export async function startMongoCs(opts: { heapMb?: number } = {}): Promise<ManagedProcess> {
  const jar = join(ROOT, ".local/mongo-java-server/mongo-cs-server.jar");
  // Built, or built again when older than its sources.
  const built = await runCommand([join(ROOT, "scripts/services.sh"), "build-cs"], ROOT, {}, 600_000);
  if (built.code !== 0 || !existsSync(jar)) throw new Error(`building ${jar} failed (scripts/services.sh build-cs): ${built.stderr.slice(-1000)}`);
  const dir = tempDir("mongo-cs");
  const port = freePort();
  const argv = ["java", `-Xmx${opts.heapMb ?? 512}m`, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar, String(port)];
  const server = managed("mongo-java-server", port, dir, `mongodb://127.0.0.1:${port}`, () => argv, mongoPing, 30_000);
  await server.start();
  return server;
}

/** The compiled binary serving, registered so killAll() ends it. */
export async function startService(binary: string, cwd: string, env: Record<string, string>, readyWithinMs = 30_000): Promise<RunningBinary> {
  const svc = await startBinary(binary, cwd, env, readyWithinMs);
  track(svc.proc);
  const entry = {
    kill: async () => {
      if (svc.proc.exitCode === null && svc.proc.signalCode === null) svc.proc.kill("SIGKILL");
      await svc.proc.exited;
    },
  };
  live.add(entry);
  void svc.proc.exited.then(() => live.delete(entry));
  return svc;
}

// ---------- a whole private deployment: Redis, MongoDB with a seeded catalog, the binary ----------

/** A private MongoDB with a seeded catalog and an installed binary, on some Redis. */
export interface Deployment {
  mongo: ManagedProcess;
  /** Seeds the catalog (again: after a restart of an in-memory server). */
  seed(): Promise<void>;
  /** Working directory of the service (history DB, dataset files, the installed binary). */
  dir: string;
  binary: string;
  historyDbPath: string;
  prefix: string;
  /** Environment for the service; tests add their own variables per start. */
  env: Record<string, string>;
  /** Starts (or starts again) the service with `env` plus `overrides`. */
  serve(overrides?: Record<string, string>): Promise<RunningBinary>;
  /** Runs a CLI command of the binary (e.g. ["sync"]) with `env` plus `overrides`; SIGKILL after `timeoutMs` (25 s). */
  cli(args: string[], overrides?: Record<string, string>, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Kills the deployment's services and MongoDB (killAll() does it too). */
  stop(): Promise<void>;
}

/** A Deployment with its own private standalone Redis. */
export interface World extends Deployment {
  redis: ManagedProcess;
}

export interface WorldOptions {
  /** Redis with an append-only file, so its data survives a restart. */
  persistentRedis?: boolean;
  /** Origins per type of the seeded catalog (scripts/catalog.ts; about 2 suppliers each). */
  originsPerType?: number;
  /** MongoDB with change streams: a private mongo-java-server (in memory: a restart loses the data) instead of FerretDB. */
  changeStreams?: boolean;
  /** Java heap of that mongo-java-server (default 512 MB; about 4 GB for 100,000 origins). */
  mongoHeapMb?: number;
  env?: Record<string, string>;
}

export const CATALOG_DB = "catalog";

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const redis = await startRedis({ persistent: opts.persistentRedis });
  const deployment = await startDeployment({ REDIS_URL: redis.url }, opts);
  return {
    ...deployment,
    redis,
    async stop() {
      await Promise.all([deployment.stop(), redis.kill()]);
    },
  };
}

/** A seeded private MongoDB and the installed binary, pointed at the Redis that `redisEnv` names. */
export async function startDeployment(redisEnv: Record<string, string>, opts: Omit<WorldOptions, "persistentRedis"> = {}): Promise<Deployment> {
  const mongo = opts.changeStreams ? await startMongoCs({ heapMb: opts.mongoHeapMb }) : await startMongo();
  const seed = async () => {
    const client = new MongoClient(mongo.url);
    try {
      await seedCatalog(client.db(CATALOG_DB), { originsPerType: opts.originsPerType ?? 500, seed: 7 });
    } finally {
      await client.close();
    }
  };
  await seed();
  const dir = tempDir("svc");
  const binary = installBinary(dir);
  const prefix = "ss:";
  const historyDbPath = join(dir, "history.db");
  const env = {
    ...redisEnv,
    MONGODB_URI: mongo.url,
    DB_NAME: CATALOG_DB,
    REDIS_KEY_PREFIX: prefix,
    HISTORY_DB_PATH: historyDbPath,
    DATA_SET_FILE: join(dir, "data_set.json"),
    ENABLE_SCHEDULER: "false",
    LOG_FORMAT: "json",
    ...opts.env,
  };
  const services: RunningBinary[] = [];
  return {
    mongo,
    seed,
    dir,
    binary,
    historyDbPath,
    prefix,
    env,
    async serve(overrides = {}) {
      const svc = await startService(binary, dir, { ...env, ...overrides });
      services.push(svc);
      return svc;
    },
    cli(args, overrides = {}, timeoutMs) {
      return runCommand([binary, ...args], dir, { ...env, ...overrides }, timeoutMs);
    },
    async stop() {
      for (const svc of services) if (svc.proc.exitCode === null && svc.proc.signalCode === null) svc.proc.kill("SIGKILL");
      await Promise.all([...services.map((svc) => svc.proc.exited), mongo.kill()]);
    },
  };
}

// ---------- looking at a world from outside ----------

export interface HistoryRow {
  id: string;
  status: string;
  error: string | null;
  finished_at: number | null;
}

/** The history rows, oldest first, read straight from the SQLite file (works while the service is down). */
export function historyRows(path: string): HistoryRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query("SELECT id, status, error, finished_at FROM sync_runs ORDER BY started_at").all() as HistoryRow[];
  } finally {
    db.close();
  }
}

/** Every key under `prefix`, sorted. */
export async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await scanKeys(redis, `${prefix}*`)).sort();
  } finally {
    redis.disconnect();
  }
}

/** Documents the active run has read so far (0 when none runs); from GET /sync-status. */
export async function documentsRead(url: string): Promise<number> {
  const res = await fetch(`${url}/sync-status`);
  if (!res.ok) return 0;
  const body = (await res.json()) as { active: { progress: Record<string, { documents_read: number }> } | null };
  return Object.values(body.active?.progress ?? {}).reduce((sum, p) => sum + p.documents_read, 0);
}

export async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}

export async function getJson<T = any>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

export async function postJson<T = any>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { method: "POST" });
  return { status: res.status, body: (await res.json()) as T };
}

/** Starts a run without waiting for it (POST /re-sync-all?wait=false); returns its id. */
export async function startRun(url: string): Promise<string> {
  const { status, body } = await postJson<{ run_id: string }>(`${url}/re-sync-all?wait=false`);
  if (status !== 202) throw new Error(`run did not start: ${status} ${JSON.stringify(body)}`);
  return body.run_id;
}

/**
 * A TCP proxy on a free loopback port that holds every chunk the server sends for `delayMs`
 * before passing it on: a slow link to a server, which makes its answers as slow as a test needs.
 */
export async function startDelayProxy(targetPort: number, delayMs: number): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on("data", (chunk) => setTimeout(() => client.writable && client.write(chunk), delayMs));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", () => setTimeout(end, delayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const entry = {
    async kill() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  live.add(entry);
  return {
    port,
    url: `mongodb://127.0.0.1:${port}`,
    async close() {
      live.delete(entry);
      await entry.kill();
    },
  };
}

let clockTicks = 0;
/** CPU seconds a process has used so far: utime + stime of /proc/<pid>/stat (fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
    .replace(/^.*\) /, "")
    .split(" ");
  clockTicks ||= Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}
