// Peer benchmark: search-sync against RediSearch 1.2.2 (Debian's redis-redisearch) on the same
// entries and the same query mix, with the floor of a search over search-sync's index beside them.
//   bun bench/peer.ts [--origins 10000] [--duration 5] [--queries 400] [--rounds 2] [--reseed]
// Installs what it needs when missing (Debian: wrk, redis-redisearch). Needs the shared MongoDB
// (scripts/services.sh start; MONGODB_URI) and builds dist/search-sync if it is not there.
//
// - Each side gets its own redis-server on a free loopback port, started and stopped here
//   (scripts/lib/procs.ts): search-sync's plain, the peer's with the module loaded (MINPREFIX 1).
// - search-sync: the compiled binary with SEARCH_CACHE_MB=0 (every search reads the index), one
//   full sync from MongoDB by its CLI, a type at a time (`--origins` per type, 2 suppliers each,
//   as bench/search.ts seeds it), then served by the binary.
// - The peer: the entries that sync wrote to its dataset files, one FT.CREATE per type
//   (display_name TEXT WEIGHT 5, name TEXT, origin_name TEXT, iso TAG; sku and slug stored) and
//   FT.ADD pipelined 1,000 at a time; served by bench/peer-server.ts (Bun, uncached, the same
//   endpoints and answer shape).
// - The floor: bench/floor-server.ts over search-sync's index, one round trip per request (one
//   piece of one language's word set and the records it names, no ranking): how many requests per
//   second a search over that index can answer at most on this machine, next to the peer's.
// - The same mix (bench/wrk.ts: each endpoint's queries from the words of its own type's display
//   names) against all three with wrk, 1 then 32 connections, in rounds of alternating order; medians reported.
// - CPU: what the server and its Redis used during each wrk run (Linux /proc), per request: on a
//   shared machine a steadier comparison than requests per second.
// - Memory: Redis used_memory after loading minus before, per entry. Load: entries per second of
//   search-sync's whole sync (reading MongoDB included), of search-sync's index writes alone
//   (the engine's pipelined writes of the same entries from memory) and of the peer's FT.ADDs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { type CatalogOptions, seedCatalog } from "../scripts/catalog.ts";
import { ensureBinary, freePort, runCommand } from "../scripts/lib/binary.ts";
import { cpuSeconds, killAll, type ManagedProcess, managed, redisPong, startService, tempDir } from "../scripts/lib/procs.ts";
import type { ItemRecord } from "../src/catalog/entries.ts";
import { type Entry, ITEM_TYPES, type ItemType } from "../src/catalog/types.ts";
import { Keys } from "../src/index/keys.ts";
import { SetSorter } from "../src/index/set-sorter.ts";
import { IndexStore, type ItemWrite } from "../src/index/store.ts";
import { datasetPath } from "../src/runs/dataset.ts";
import { PEER_INDEX } from "./peer-server.ts";
import { aptInstall, queryMix, runWrk, type WrkResult, writeMixScript } from "./wrk.ts";

const ROOT = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    origins: { type: "string", default: "10000" },
    duration: { type: "string", default: "5" },
    queries: { type: "string", default: "400" },
    rounds: { type: "string", default: "2" },
    reseed: { type: "boolean" },
  },
});
const originsPerType = Number(values.origins);
const duration = Number(values.duration);
const distinctQueries = Number(values.queries);
const rounds = Number(values.rounds);
const MONGODB_URI = process.env.MONGODB_URI ?? "mongodb://127.0.0.1:27027";
const DB = `bench_search_${originsPerType}`; // the catalog bench/search.ts seeds, shared
const BATCH = 1_000;

const uptime = () => Bun.spawnSync(["uptime"]).stdout.toString().trim();
const loadAtStart = uptime();
console.log(`machine: ${loadAtStart}`);

// ---------- what it needs ----------

function moduleFile(): string | null {
  const listed = Bun.spawnSync(["dpkg", "-L", "redis-redisearch"]);
  if (listed.exitCode !== 0) return null;
  return (
    listed.stdout
      .toString()
      .split("\n")
      .find((line) => line.endsWith("/redisearch.so")) ?? null
  );
}
aptInstall({ wrk: "wrk", "redis-server": "redis-server", "redis-redisearch": "" }, (pkg, probe) =>
  pkg === "redis-redisearch" ? moduleFile() !== null : Bun.which(probe) !== null,
);
const MODULE = moduleFile();
if (!MODULE) throw new Error("redis-redisearch is installed but dpkg -L lists no redisearch.so");
const binary = ensureBinary();

/** A private redis-server on a free loopback port, with extra arguments (e.g. a module). */
async function privateRedis(name: string, extra: string[]): Promise<ManagedProcess> {
  const dir = tempDir(name);
  const port = freePort();
  const argv = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"];
  const server = managed(name, port, dir, `redis://127.0.0.1:${port}`, () => [...argv, "--loglevel", "warning", ...extra], redisPong, 10_000);
  await server.start();
  return server;
}

async function usedMemory(client: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await client.info("memory"))?.[1]);
}

/** Commands Redis ran since its last CONFIG RESETSTAT (those a script calls included), by name. */
async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const [, name, n] of (await client.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(name!, Number(n));
  return calls;
}
async function redisPid(client: Redis): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await client.info("server"))?.[1]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---------- the catalog ----------

const mongo = new MongoClient(MONGODB_URI);
const opts: CatalogOptions = { seed: 42, originsPerType, suppliersPerOrigin: 2 };
const meta = await mongo.db(DB).collection<{ _id: string; opts: CatalogOptions }>("bench_meta").findOne({ _id: "catalog" });
if (values.reseed || !meta || JSON.stringify(meta.opts) !== JSON.stringify(opts)) {
  console.log(`seeding ${DB} with ${originsPerType} origins per type`);
  await seedCatalog(mongo.db(DB), opts);
  await mongo.db(DB).collection<{ _id: string; opts: CatalogOptions }>("bench_meta").replaceOne({ _id: "catalog" }, { opts }, { upsert: true });
}
await mongo.close();

const dir = mkdtempSync(join(tmpdir(), "bench-peer-"));
const benchServers: ReturnType<typeof Bun.spawn>[] = [];
/** Starts one of bench/'s Bun servers on a free port and waits until it answers /healthz. */
async function benchServer(script: string, env: Record<string, string>): Promise<{ url: string; pid: number }> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn(["bun", join(ROOT, script)], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port), ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
  benchServers.push(proc);
  for (
    let i = 0;
    i < 200 &&
    !(await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  )
    await Bun.sleep(25);
  return { url, pid: proc.pid };
}
let ss: Redis | null = null;
let rs: Redis | null = null;
try {
  const ssRedis = await privateRedis("search-sync-redis", []);
  const rsRedis = await privateRedis("redisearch", ["--loadmodule", MODULE, "MINPREFIX", "1"]);
  ss = new Redis(ssRedis.url);
  rs = new Redis(rsRedis.url);

  // ---------- search-sync: one full sync, a type at a time, by the CLI ----------
  const dataSetFile = join(dir, "data_set.json");
  const env = {
    REDIS_URL: ssRedis.url,
    MONGODB_URI,
    DB_NAME: DB,
    REDIS_KEY_PREFIX: "ss:",
    SEARCH_CACHE_MB: "0",
    ENABLE_SCHEDULER: "false",
    DATA_SET_FILE: dataSetFile,
    HISTORY_DB_PATH: join(dir, "history.db"),
    // A quarter of the default batch: a batch's writes go in one pipeline, and on a loaded
    // machine the last of its commands can wait past the service's 2 s Redis command timeout.
    SYNC_BATCH_SIZE: "250",
  };
  const ssBefore = await usedMemory(ss);
  // One type at a time (all three at once queue more behind each other), tried up to 3 times.
  let syncMs = 0;
  for (const type of ITEM_TYPES) {
    for (let attempt = 1; ; attempt++) {
      console.log(`search-sync: syncing ${type}…`);
      const ran = await runCommand([binary, "sync", "--type", type, "--force", "--json"], dir, env, 1_800_000);
      const run = JSON.parse(ran.stdout || "{}") as { status?: string; duration_ms?: number; error?: string };
      if (ran.code === 0 && run.status === "success") {
        syncMs += run.duration_ms ?? 0;
        break;
      }
      console.log(`search-sync: sync of ${type} ${run.status}: ${run.error ?? ran.stderr.slice(-500)}`);
      if (attempt === 3) throw new Error(`sync of ${type} failed 3 times`);
    }
  }
  const ssAfter = await usedMemory(ss);
  const service = await startService(binary, dir, env);
  const run = { duration_ms: syncMs };

  const entries = {} as Record<ItemType, Entry[]>;
  for (const type of ITEM_TYPES) entries[type] = JSON.parse(readFileSync(datasetPath(dataSetFile, type), "utf8")) as Entry[];
  const total = ITEM_TYPES.reduce((sum, t) => sum + entries[t].length, 0);
  console.log(`search-sync: ${total} entries in ${(run.duration_ms / 1000).toFixed(2)} s, ${Math.round((ssAfter - ssBefore) / total)} bytes/entry`);

  // search-sync's index writes alone: the same entries as item records, written by the engine's own function.
  const scratch = new IndexStore(ss, new Keys("scratch:"));
  let writeMs = 0;
  for (const type of ITEM_TYPES) {
    const records = new Map<string, ItemRecord>();
    for (const e of entries[type]) {
      let r = records.get(e.sku);
      if (!r) {
        r = { n: e.name, s: e.slug, o: {}, e: [] };
        records.set(e.sku, r);
      }
      r.o[e.iso] ??= e.origin_name;
      r.e.push([e.iso, e.display_name, e.origin_name]);
    }
    const all = [...records].map(([sku, record]): ItemWrite => ({ sku, record, added: record.e.map((_, i) => i) }));
    const sets = new SetSorter();
    for (let i = 0; i < all.length; i += BATCH) {
      const pipe = ss.pipeline();
      scratch.queueItemWrites(pipe, type, "g", all.slice(i, i + BATCH), Math.min(BATCH, all.length - i), sets);
      const started = performance.now();
      await pipe.exec();
      writeMs += performance.now() - started;
    }
    const started = performance.now();
    await scratch.writeSets(type, "g", sets);
    writeMs += performance.now() - started;
    sets.close();
  }
  for (const type of ITEM_TYPES) await scratch.unlinkGeneration(type, "g");

  // ---------- the peer: the same entries into RediSearch ----------
  const rsBefore = await usedMemory(rs);
  const indexOf = (type: ItemType) => PEER_INDEX[{ categories: "/category-search", boxes: "/boxes-search", options: "/options-search" }[type]]!;
  for (const type of ITEM_TYPES) {
    await rs.call("FT.CREATE", indexOf(type), "SCHEMA", "display_name", "TEXT", "WEIGHT", "5.0", "name", "TEXT", "origin_name", "TEXT", "iso", "TAG");
  }
  let addMs = 0;
  let docs = 0;
  for (const type of ITEM_TYPES) {
    const list = entries[type];
    for (let i = 0; i < list.length; i += BATCH) {
      const pipe = rs.pipeline();
      for (const e of list.slice(i, i + BATCH)) {
        pipe.call(
          "FT.ADD",
          indexOf(type),
          (docs++).toString(36),
          "1.0",
          "FIELDS",
          "display_name",
          e.display_name,
          "name",
          e.name,
          "origin_name",
          e.origin_name,
          "iso",
          e.iso,
          "sku",
          e.sku,
          "slug",
          e.slug,
        );
      }
      const started = performance.now();
      const replies = await pipe.exec();
      addMs += performance.now() - started;
      const failed = replies?.find(([err]) => err);
      if (failed) throw failed[0];
    }
  }
  const rsAfter = await usedMemory(rs);
  console.log(`RediSearch: ${docs} documents in ${(addMs / 1000).toFixed(2)} s, ${Math.round((rsAfter - rsBefore) / docs)} bytes/entry`);

  const peer = await benchServer("bench/peer-server.ts", { REDIS_URL: rsRedis.url });
  // The floor: the least a search over search-sync's index can cost here (bench/floor-server.ts).
  const floor = await benchServer("bench/floor-server.ts", { REDIS_URL: ssRedis.url, REDIS_KEY_PREFIX: env.REDIS_KEY_PREFIX });

  // ---------- the same queries against all three ----------
  const words = {} as Record<ItemType, string[]>;
  for (const type of ITEM_TYPES) {
    const seen = new Set<string>();
    for (const e of entries[type]) for (const w of e.display_name.toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (/^\p{L}{6,}$/u.test(w)) seen.add(w);
    words[type] = [...seen].sort();
  }
  const requests = queryMix(words, distinctQueries);
  const script = writeMixScript(dir, requests);
  const targets = [
    { name: "search-sync", url: service.url, pids: [service.proc.pid, await redisPid(ss)], redis: ss },
    { name: "RediSearch 1.2.2", url: peer.url, pids: [peer.pid, await redisPid(rs)], redis: rs },
    { name: "floor", url: floor.url, pids: [floor.pid, await redisPid(ss)], redis: ss },
  ];
  // How many of the distinct searches each side answers with something (a check that both search the same data).
  const answered: Record<string, number> = {};
  for (const t of targets) {
    let n = 0;
    for (const path of new Set(requests)) {
      const res = await fetch(`${t.url}${path}`);
      if (res.ok && ((await res.json()) as { suggestions: unknown[] }).suggestions.length > 0) n++;
    }
    answered[t.name] = n;
  }
  /** CPU ms per request of the server and of its Redis, per run. */
  type Run = WrkResult & { cpu_ms: { server: number; redis: number }; redis_commands: number };
  const results: Record<string, Record<number, Run[]>> = {};
  for (const t of targets) results[t.name] = { 1: [], 32: [] };
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      for (const connections of [1, 32]) {
        await t.redis.config("RESETSTAT");
        const before = t.pids.map(cpuSeconds);
        const wrk = runWrk(t.url, script, connections, duration);
        const [server, redis] = t.pids.map((pid, i) => ((cpuSeconds(pid) - before[i]!) * 1000) / wrk.requests) as [number, number];
        const calls = await commandCalls(t.redis);
        calls.delete("config|resetstat");
        const top = [...calls].sort((x, y) => y[1] - x[1]).slice(0, 4);
        const redisCommands = [...calls.values()].reduce((sum, n) => sum + n, 0) / wrk.requests;
        const res = { ...wrk, cpu_ms: { server, redis }, redis_commands: redisCommands };
        results[t.name]![connections]!.push(res);
        console.log(
          `round ${r + 1} ${t.name} ${connections} conn: ${res.rps.toFixed(0)} req/s, p50 ${res.p50_ms} ms, p99 ${res.p99_ms} ms, non-2xx ${res.non_2xx}, CPU ms/request ${server.toFixed(2)} server + ${redis.toFixed(2)} Redis, Redis commands/request ${redisCommands.toFixed(1)} (${top.map(([n, c]) => `${n} ${(c / wrk.requests).toFixed(1)}`).join(", ")})`,
        );
      }
    }
  }
  const loadAtEnd = uptime();

  const row = (name: string, c: number) => {
    const rs = results[name]![c]!;
    return {
      rps: median(rs.map((x) => x.rps)),
      p50: median(rs.map((x) => x.p50_ms)),
      p99: median(rs.map((x) => x.p99_ms)),
      non2xx: rs.reduce((s, x) => s + x.non_2xx, 0),
      server: median(rs.map((x) => x.cpu_ms.server)),
      redis: median(rs.map((x) => x.cpu_ms.redis)),
      commands: median(rs.map((x) => x.redis_commands)),
    };
  };
  const [a, b, f] = targets.map((t) => t.name) as [string, string, string];
  const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  const lines = [
    `| | ${a} | ${b} | ${a} / ${b} | ${f} | ${f} / ${b} |`,
    "|---|---|---|---|---|---|",
    ...[1, 32].flatMap((c) => {
      const [x, y, z] = [row(a, c), row(b, c), row(f, c)];
      const cpu = (r: typeof x) => `${fmt(r.server, 2)} + ${fmt(r.redis, 2)}`;
      const cpuRatio = (r: typeof x) => fmt((r.server + r.redis) / (y.server + y.redis), 2);
      return [
        `| req/s, ${c} conn | ${fmt(x.rps)} | ${fmt(y.rps)} | ${fmt(x.rps / y.rps, 2)} | ${fmt(z.rps)} | ${fmt(z.rps / y.rps, 2)} |`,
        `| p50 ms, ${c} conn | ${fmt(x.p50, 2)} | ${fmt(y.p50, 2)} | ${fmt(x.p50 / y.p50, 2)} | ${fmt(z.p50, 2)} | ${fmt(z.p50 / y.p50, 2)} |`,
        `| p99 ms, ${c} conn | ${fmt(x.p99, 2)} | ${fmt(y.p99, 2)} | ${fmt(x.p99 / y.p99, 2)} | ${fmt(z.p99, 2)} | ${fmt(z.p99 / y.p99, 2)} |`,
        `| CPU ms/request, ${c} conn: server + Redis | ${cpu(x)} | ${cpu(y)} | ${cpuRatio(x)} | ${cpu(z)} | ${cpuRatio(z)} |`,
        `| Redis commands/request (in scripts too), ${c} conn | ${fmt(x.commands, 1)} | ${fmt(y.commands, 1)} | | ${fmt(z.commands, 1)} | |`,
      ];
    }),
    `| non-2xx (all runs) | ${row(a, 1).non2xx + row(a, 32).non2xx} | ${row(b, 1).non2xx + row(b, 32).non2xx} | | ${row(f, 1).non2xx + row(f, 32).non2xx} | |`,
    `| searches answered non-empty (of ${new Set(requests).size}) | ${answered[a]} | ${answered[b]} | | ${answered[f]} | |`,
    `| Redis bytes/entry | ${fmt((ssAfter - ssBefore) / total)} | ${fmt((rsAfter - rsBefore) / docs)} | ${fmt((ssAfter - ssBefore) / total / ((rsAfter - rsBefore) / docs), 2)} | | |`,
    `| load entries/s, from memory (index writes / FT.ADD, pipelined) | ${fmt(total / (writeMs / 1000))} | ${fmt(docs / (addMs / 1000))} | ${fmt(total / (writeMs / 1000) / (docs / (addMs / 1000)), 2)} | | |`,
    `| load entries/s, whole sync from MongoDB | ${fmt(total / (run.duration_ms / 1000))} | — | | | |`,
  ];
  console.log(`\n${total} entries (${originsPerType} origins per type); ${rounds} rounds of ${duration} s per side and connection count; medians`);
  console.log(
    `machine at start: ${loadAtStart}\nmachine at end:   ${loadAtEnd} (loadavg ${loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")})\n`,
  );
  console.log(lines.join("\n"));
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(
    join(ROOT, `bench/results/peer-${originsPerType}.json`),
    `${JSON.stringify(
      {
        origins_per_type: originsPerType,
        entries: total,
        duration_s: duration,
        rounds,
        distinct_requests: new Set(requests).size,
        answered_non_empty: answered,
        machine: { at_start: loadAtStart, at_end: loadAtEnd },
        search_sync: { sync_s: run.duration_ms / 1000, index_write_s: writeMs / 1000, bytes_per_entry: (ssAfter - ssBefore) / total },
        redisearch: { ft_add_s: addMs / 1000, bytes_per_entry: (rsAfter - rsBefore) / docs },
        runs: Object.fromEntries(
          Object.entries(results).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([c, rs]) => [c, rs.map(({ raw: _raw, ...r }) => r)]))]),
        ),
        table: lines,
        at: new Date().toISOString(),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  ss?.disconnect();
  rs?.disconnect();
  for (const proc of benchServers) {
    proc.kill("SIGTERM");
    await proc.exited;
  }
  await killAll();
  rmSync(dir, { recursive: true, force: true });
}
