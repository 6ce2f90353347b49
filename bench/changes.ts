// Change-stream benchmark: the compiled binary following the change streams (SYNC_CHANGE_STREAMS=on)
// of a private mongo-java-server, with a private Redis (scripts/lib/procs.ts; servers are restarted
// in the faults phase, so none of them is the shared one). Prints figures; asserts nothing on time.
//   bun bench/changes.ts [--phases cost,latency,burst,faults] [--origins 100000] [--rate 500] [--seconds 60]
//     [--cost-changes 3000] [--burst 100000] [--fault-origins 3000] [--fault-rate 10] [--lease-seconds 5] [--smoke]
// - cost: --cost-changes origin renames written at once, no searches: how fast the follower applies
//   them, and Redis CPU and commands per change (its own Redis's INFO cpu and commandstats).
// - latency: a catalog of --origins origins; --rate edits per second for --seconds, each making a new
//   word searchable; every --probe-every-th edit is searched (the real endpoint) from its write's
//   acknowledgement until it shows; every 5 s the edits written and the events applied so far (when
//   a backlog forms); at the end every edit's word is searched once.
// - burst: --burst origin updates in bulk; time until all are in the index (applied one by one, or by
//   a full run the follower starts for a long backlog) vs a full run of the same
//   catalog, the service's peak RSS, and search latency during the burst next to a baseline.
// - faults: with a writer streaming changes, kill -9 of the binary, a Redis restart, a MongoDB restart
//   (in memory: the data and the stream positions are gone; reseeded), a full run meanwhile, and two
//   replicas with the follower killed; after each the index must equal a fresh full run's.
// Needs dist/search-sync (bun run build) and the mongo-java-server jar (scripts/services.sh start).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { type AnyBulkWriteOperation, type Db, type Document, MongoClient, ObjectId } from "mongodb";
import { messyPlan, mulberry32, originId, SUPPLIER_COLLECTION } from "../scripts/catalog.ts";
import type { RunningBinary } from "../scripts/lib/binary.ts";
import { entriesDiff, indexEntriesAt } from "../scripts/lib/entries.ts";
import { CATALOG_DB, cpuSeconds, getJson, keysUnder, killAll, postJson, startRun, startWorld, until, type World } from "../scripts/lib/procs.ts";
import { ITEM_TYPES, type ItemType } from "../src/catalog/types.ts";

const SEARCH_PATH: Record<ItemType, string> = { categories: "/category-search", boxes: "/boxes-search", options: "/options-search" };
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentiles(values: number[]): { p50: number; p90: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN);
  return { p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted.at(-1) ?? Number.NaN) };
}

// ---------- a world: private Redis and mongo-java-server, a seeded catalog, the binary following ----------

export interface ChangeWorld {
  w: World;
  db: Db;
  client: MongoClient;
  originsPerType: number;
  leaseSeconds: number;
  /** The service (the first replica). */
  svc: RunningBinary;
}

export interface WorldOptions {
  origins: number;
  leaseSeconds: number;
  heapMb?: number;
  log?: (line: string) => void;
}

export async function startChangeWorld(opts: WorldOptions): Promise<ChangeWorld> {
  const originsPerType = Math.ceil(opts.origins / 3);
  const w = await startWorld({
    changeStreams: true,
    persistentRedis: true,
    originsPerType,
    mongoHeapMb: opts.heapMb,
    // No shrink guard: after a restart of the in-memory MongoDB the catalog is seeded again, which
    // takes seconds; a resync reading it half-seeded would be refused and tried again only after 5 min.
    // Batches of 250: on a busy machine a batch of 1,000 can wait past the service's 2 s Redis command timeout (see the Peer section).
    env: { SYNC_CHANGE_STREAMS: "on", SYNC_LOCK_TTL_SECONDS: String(opts.leaseSeconds), SYNC_MAX_SHRINK_PERCENT: "100", SYNC_BATCH_SIZE: "250" },
  });
  const client = new MongoClient(w.mongo.url);
  const db = client.db(CATALOG_DB);
  // The README's recommended index (mongo-java-server does not use it for these queries; MongoDB does).
  for (const type of ITEM_TYPES) await db.collection(SUPPLIER_COLLECTION[type]).createIndex({ linked: 1 });
  const svc = await w.serve();
  // The first start has no stream position: a full run (trigger resync), then it follows.
  await waitFollowing(svc.url, 600_000);
  return { w, db, client, originsPerType, leaseSeconds: opts.leaseSeconds, svc };
}

export async function stopChangeWorld(cw: ChangeWorld): Promise<void> {
  await cw.client.close().catch(() => {});
  await cw.w.stop();
}

interface ChangeStreamBlock {
  state: string;
  lag_seconds: number | null;
  events_applied: Record<string, number>;
  error: string | null;
}

export async function changeStream(url: string): Promise<ChangeStreamBlock | null> {
  try {
    const { status, body } = await getJson(`${url}/sync-status`);
    return status === 200 ? body.change_stream : null;
  } catch {
    return null;
  }
}

export async function waitFollowing(url: string, ms: number): Promise<void> {
  await until(async () => (await changeStream(url))?.state === "following", ms, `${url} to follow the change streams`);
}

const applied = (cs: ChangeStreamBlock | null) => Object.values(cs?.events_applied ?? {}).reduce((a, b) => a + b, 0);

/** The runs this service recorded with trigger resync. */
export async function resyncRuns(url: string): Promise<{ run_id: string; status: string; started_at: string; error: string | null }[]> {
  const { body } = await getJson(`${url}/sync-status?history=true&limit=100`);
  return (body.history as { run_id: string; trigger: string; status: string; started_at: string; error: string | null }[]).filter(
    (r) => r.trigger === "resync",
  );
}

let freshRuns = 0;
/**
 * Runs a fresh full run of the catalog as it is now (CLI, its own key prefix), then waits up to
 * `ms` for the serving index to hold the same entries. Returns null when it does, else what differs.
 */
export async function inStep(cw: ChangeWorld, ms: number): Promise<string | null> {
  const prefix = `fresh${++freshRuns}:`;
  const ran = await cw.w.cli(["sync", "--json"], { REDIS_KEY_PREFIX: prefix, HISTORY_DB_PATH: join(cw.w.dir, `${prefix.slice(0, -1)}.db`) }, 600_000);
  if (ran.code !== 0) throw new Error(`the fresh full run failed (exit ${ran.code}): ${ran.stderr.slice(-1000)}`);
  const expected = await indexEntriesAt(cw.w.redis.url, prefix);
  let diff: string | null = "not compared";
  const end = Date.now() + ms;
  while (diff !== null && Date.now() < end) {
    diff = entriesDiff(await indexEntriesAt(cw.w.redis.url, cw.w.prefix), expected);
    if (diff !== null) await Bun.sleep(250);
  }
  const fresh = await keysUnder(cw.w.redis.url, prefix);
  const redis = new Redis(cw.w.redis.url);
  for (let i = 0; i < fresh.length; i += 500) await redis.unlink(...fresh.slice(i, i + 500));
  redis.disconnect();
  return diff;
}

// ---------- a writer streaming every kind of change ----------

export interface Writer {
  /** Stops after the write in flight; returns the writes acknowledged and failed. */
  stop(): Promise<{ acked: number; failed: number }>;
}

/**
 * Writes `rate` changes per second, one at a time, over the six collections: origin renames, inserts
 * and deletes; supplier inserts, renames, moves to another origin and deletes. A failed write (the
 * server is down) is counted and the writer goes on.
 */
export async function startWriter(cw: ChangeWorld, rate: number, seed = 1): Promise<Writer> {
  const rng = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
  const suppliers = {} as Record<ItemType, ObjectId[]>;
  for (const type of ITEM_TYPES)
    suppliers[type] = (
      await cw.db
        .collection(SUPPLIER_COLLECTION[type])
        .find({}, { projection: { _id: 1 } })
        .limit(2_000)
        .toArray()
    ).map((d) => d._id as ObjectId);
  const origin = (type: ItemType) => originId(type, Math.floor(rng() * cw.originsPerType));
  const names = (iso: string, text: string) => [{ iso, display_name: text }];
  let n = 0;
  const change = async () => {
    const type = pick(ITEM_TYPES);
    const origins = cw.db.collection(type);
    const sups = cw.db.collection(SUPPLIER_COLLECTION[type]);
    const r = rng();
    const word = `Change ${++n}`;
    if (r < 0.3) await origins.updateOne({ _id: origin(type) }, { $set: { display_name: names("en", word) } });
    else if (r < 0.35) await origins.deleteOne({ _id: origin(type) });
    else if (r < 0.4) await origins.insertOne({ _id: new ObjectId(), name: word, slug: `change-${n}`, display_name: names("nl", word) });
    else if (r < 0.55) {
      const linked = origin(type);
      const { insertedId } = await sups.insertOne({ linked: rng() < 0.5 ? linked : linked.toHexString(), display_name: names("fr", word) });
      suppliers[type].push(insertedId);
    } else if (r < 0.75) {
      // A move replaces the document: a replace event carries the document as written. (An update's
      // event says where it moved in updateDescription on MongoDB; mongo-java-server sends none, and
      // the document looked up with the event may be a later one: see README, Near-real-time sync.)
      const _id = pick(suppliers[type]);
      const doc = await sups.findOne({ _id });
      if (doc) await sups.replaceOne({ _id }, { ...doc, linked: origin(type) });
    } else if (r < 0.95) await sups.updateOne({ _id: pick(suppliers[type]) }, { $set: { display_name: names("de", word) } });
    else await sups.deleteOne({ _id: pick(suppliers[type]) });
  };
  let stopping = false;
  const counts = { acked: 0, failed: 0 };
  const loop = (async () => {
    const started = performance.now();
    for (let i = 0; !stopping; i++) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      try {
        await change();
        counts.acked++;
      } catch {
        counts.failed++;
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      return counts;
    },
  };
}

// ---------- phase a: change → searchable ----------

export interface LatencyReport {
  origins: number;
  rate: number;
  seconds: number;
  writes: number;
  write_failures: number;
  achieved_rate: number;
  probes: number;
  probes_seen: number;
  latency_ms: ReturnType<typeof percentiles>;
  /** Of the last edit of each origin, searched once at the end. */
  never_appeared: number;
  last_edits: number;
  never_appeared_probes: number;
  final_check_at_s: number;
  applied_during: number;
  /** Full runs the follower started for a backlog during the phase: seconds after the first write each started, and how it ended. */
  resyncs: { started_at_s: number; status: string }[];
  /** Every 5 s from the first write: edits acknowledged so far, and events the follower had applied. */
  backlog: { at_s: number; written: number; applied: number }[];
}

/**
 * A word of letters only: each of the edit number's four base-26 digits as one letter written four
 * times, so two words differ in at least four letters in a row, past the typo budget of search.
 * (Search would otherwise find a probe's neighbours before its own word, and spend far more on it.)
 */
function wordOf(i: number): string {
  let s = "";
  for (let k = 0; k < 4; k++, i = Math.floor(i / 26)) s = String.fromCharCode(97 + (i % 26)).repeat(4) + s;
  return `zq${s}`;
}

async function searchShows(url: string, type: ItemType, word: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}${SEARCH_PATH[type]}?query=${word}&limit=5`, { signal: AbortSignal.timeout(5_000) });
    if (res.status !== 200) return false;
    const { suggestions } = (await res.json()) as { suggestions: { display_name: string }[] };
    return suggestions.some((s) => s.display_name.toLowerCase() === word);
  } catch {
    return false;
  }
}

export async function latencyPhase(
  cw: ChangeWorld,
  opts: { rate: number; seconds: number; probeEvery: number; settleSeconds: number; log: (l: string) => void },
): Promise<LatencyReport> {
  const url = cw.svc.url;
  // Origins that every full run indexes (the catalog's messy ones may not be), each edited once.
  const messy = messyPlan("origin", cw.originsPerType);
  const clean = Array.from({ length: cw.originsPerType }, (_, i) => i).filter((i) => !messy.has(i));
  const rng = mulberry32(11);
  for (let i = clean.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [clean[i], clean[j]] = [clean[j]!, clean[i]!];
  }
  const total = Math.round(opts.rate * opts.seconds);
  // Each origin once, then again from the first (an edit replaces the previous edit's word).
  const edits = Array.from({ length: total }, (_, i) => ({ type: ITEM_TYPES[i % 3]!, index: clean[Math.floor(i / 3) % clean.length]!, word: wordOf(i) }));
  const appliedBefore = applied(await changeStream(url));
  const resyncsBefore = new Set((await resyncRuns(url)).map((r) => r.run_id));
  const latencies: number[] = [];
  const probes: Promise<void>[] = [];
  let failures = 0;
  let inFlight = 0;
  const probe = async (type: ItemType, word: string, ackedAt: number) => {
    const deadline = ackedAt + opts.settleSeconds * 1000;
    while (performance.now() < deadline) {
      if (await searchShows(url, type, word)) {
        latencies.push(performance.now() - ackedAt);
        return;
      }
      // 10 ms apart at first, then further apart, so that a backlog does not flood the service with probes.
      await Bun.sleep(Math.min(1_000, Math.max(10, (performance.now() - ackedAt) / 10)));
    }
  };
  const writes: Promise<void>[] = [];
  const started = performance.now();
  const startedAt = Date.now();
  let acknowledged = 0;
  const backlog: LatencyReport["backlog"] = [];
  const sampleBacklog = async () => {
    const at = round((performance.now() - started) / 1000);
    const written = acknowledged;
    backlog.push({ at_s: at, written, applied: applied(await changeStream(url)) - appliedBefore });
  };
  const backlogSampler = setInterval(() => void sampleBacklog(), 5_000);
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / opts.rate - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const { type, index, word } = edits[i]!;
    inFlight++;
    writes.push(
      cw.db
        .collection(type)
        .updateOne({ _id: originId(type, index) }, { $set: { display_name: [{ iso: "en", display_name: word }] } })
        .then(() => {
          acknowledged++;
          if (i % opts.probeEvery === 0) probes.push(probe(type, word, performance.now()));
        })
        .catch(() => {
          failures++;
        })
        .finally(() => {
          inFlight--;
        }),
    );
    // The writer keeps the pace with writes in flight; more than this many means MongoDB cannot keep up.
    while (inFlight >= 256) await Bun.sleep(1);
  }
  await Promise.all(writes);
  const writeSeconds = (performance.now() - started) / 1000;
  opts.log(`  ${total} edits written in ${round(writeSeconds)} s (${round(total / writeSeconds)}/s, ${failures} failed); waiting for the probes`);
  await Promise.all(probes);
  // Every edit's word, searched once, when every edit is applied or settle seconds after the last write.
  const settled = performance.now() + opts.settleSeconds * 1000;
  let appliedDuring = 0;
  while (performance.now() < settled) {
    appliedDuring = applied(await changeStream(url)) - appliedBefore;
    if (appliedDuring >= total - failures) break;
    await Bun.sleep(200);
  }
  clearInterval(backlogSampler);
  let missing = 0;
  const queue = [...new Map(edits.map((e) => [`${e.type}:${e.index}`, e])).values()];
  const lastEdits = queue.length;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let e = queue.pop(); e; e = queue.pop()) if (!(await searchShows(url, e.type, e.word))) missing++;
    }),
  );
  const probeCount = probes.length;
  return {
    origins: cw.originsPerType * 3,
    rate: opts.rate,
    seconds: opts.seconds,
    writes: total,
    write_failures: failures,
    achieved_rate: round(total / writeSeconds),
    probes: probeCount,
    probes_seen: latencies.length,
    latency_ms: percentiles(latencies),
    never_appeared_probes: probeCount - latencies.length,
    never_appeared: missing,
    last_edits: lastEdits,
    final_check_at_s: round((performance.now() - started) / 1000),
    applied_during: appliedDuring,
    resyncs: (await resyncRuns(url))
      .filter((r) => !resyncsBefore.has(r.run_id))
      .map((r) => ({ started_at_s: round((Date.parse(r.started_at) - startedAt) / 1000), status: r.status })),
    backlog: backlog.sort((a, b) => a.at_s - b.at_s),
  };
}

// ---------- phase b: a burst ----------

export interface BurstReport {
  changes: number;
  write_seconds: number;
  caught_up: boolean;
  /** From the start of the burst's writes until every update is in the index (or until given up). */
  catch_up_seconds: number;
  applied: number;
  /** Full runs the follower started for the backlog (CHANGE_STREAM_RESYNC_AFTER_SECONDS), beside working through it. */
  resync_runs: number;
  applied_per_second: number;
  full_run_seconds: number;
  peak_rss_mb_during_burst: number;
  peak_rss_mb_process: number;
  search_baseline: { requests: number; latency_ms: ReturnType<typeof percentiles> };
  search_during: { requests: number; latency_ms: ReturnType<typeof percentiles> };
}

function rssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rss: round(kb("VmRSS") / 1024), hwm: round(kb("VmHWM") / 1024) };
}

/** Clients searching in a loop (one request at a time each) until stopped; their latencies. */
function searchLoad(url: string, clients: number) {
  const queries = ["/category-search?query=door&limit=10", "/boxes-search?query=archive&iso=en&limit=10", "/options-search?query=rounded&limit=10"];
  let stop = false;
  const latencies: number[] = [];
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = c; !stop; i++) {
      const started = performance.now();
      try {
        await (await fetch(`${url}${queries[i % queries.length]}`)).arrayBuffer();
        latencies.push(performance.now() - started);
      } catch {
        await Bun.sleep(10);
      }
    }
  });
  return {
    async stop() {
      stop = true;
      await Promise.all(loops);
      return { requests: latencies.length, latency_ms: percentiles(latencies) };
    },
  };
}

export async function burstPhase(
  cw: ChangeWorld,
  opts: { changes: number; catchUpSeconds: number; searchClients: number; log: (l: string) => void },
): Promise<BurstReport> {
  const url = cw.svc.url;
  const pid = cw.svc.proc.pid;
  // Not waited for in the request: at 100,000 origins on a busy machine a run outlasts fetch's timeout.
  const runId = await startRun(url);
  let full: { status: string; duration_ms: number | null; error: string | null } | undefined;
  await until(
    async () => {
      const { body } = await getJson(`${url}/sync-status?history=true&limit=20`);
      full = (body.history as { run_id: string; status: string; duration_ms: number | null; error: string | null }[]).find((r) => r.run_id === runId);
      return full !== undefined && full.status !== "running";
    },
    3_600_000,
    `full run ${runId}`,
  );
  if (full!.status !== "success") throw new Error(`the full run failed: ${JSON.stringify(full).slice(0, 300)}`);
  const fullRunSeconds = round(full!.duration_ms! / 1000, 2);
  opts.log(`  full run of the catalog: ${fullRunSeconds} s`);
  await waitFollowing(url, 60_000);

  const baselineLoad = searchLoad(url, opts.searchClients);
  await Bun.sleep(5_000);
  const baseline = await baselineLoad.stop();

  const before = applied(await changeStream(url));
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid).rss);
  }, 200);
  const load = searchLoad(url, opts.searchClients);
  const started = performance.now();
  // Origin updates in bulk, spread over the three types, 1,000 per request.
  for (let from = 0; from < opts.changes; from += 1_000) {
    const byType = new Map<ItemType, AnyBulkWriteOperation<Document>[]>();
    for (let i = from; i < Math.min(opts.changes, from + 1_000); i++) {
      const type = ITEM_TYPES[i % 3]!;
      const index = Math.floor(i / 3) % cw.originsPerType;
      const ops = byType.get(type) ?? [];
      ops.push({ updateOne: { filter: { _id: originId(type, index) }, update: { $set: { slug: `burst-${i}` } } } });
      byType.set(type, ops);
    }
    for (const [type, ops] of byType) await cw.db.collection(type).bulkWrite(ops, { ordered: false });
  }
  const writeSeconds = (performance.now() - started) / 1000;
  opts.log(`  ${opts.changes} updates written in ${round(writeSeconds)} s; waiting for the follower`);
  const deadline = started + opts.catchUpSeconds * 1000;
  const writtenAt = new Date().toISOString();
  const resyncsBefore = new Set((await resyncRuns(url)).map((r) => r.run_id));
  let caughtUp = false;
  let now = before;
  let resyncs: Awaited<ReturnType<typeof resyncRuns>> = [];
  while (performance.now() < deadline) {
    const cs = await changeStream(url);
    now = applied(cs);
    resyncs = (await resyncRuns(url)).filter((r) => !resyncsBefore.has(r.run_id));
    // Every update applied, or a full run (the follower's fallback for a long backlog) read after the last of them.
    const cleared = now - before >= opts.changes || resyncs.some((r) => r.status === "success" && r.started_at >= writtenAt);
    if (cleared && cs?.state === "following" && cs.lag_seconds === 0) {
      caughtUp = true;
      break;
    }
    await Bun.sleep(100);
  }
  const catchUp = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const during = await load.stop();
  return {
    changes: opts.changes,
    write_seconds: round(writeSeconds, 2),
    caught_up: caughtUp,
    catch_up_seconds: round(catchUp, 2),
    applied: now - before,
    resync_runs: resyncs.length,
    applied_per_second: round((now - before) / catchUp),
    full_run_seconds: fullRunSeconds,
    peak_rss_mb_during_burst: peak,
    peak_rss_mb_process: rssMb(pid).hwm,
    search_baseline: baseline,
    search_during: during,
  };
}

// ---------- phase: the Redis cost of a change ----------

export interface CostReport {
  changes: number;
  catch_up_seconds: number;
  applied_per_second: number;
  redis_cpu_ms_per_change: number;
  /** The service process's CPU (the follower, its MongoDB reads and its side of Redis). */
  service_cpu_ms_per_change: number;
  redis_commands_per_change: number;
  /** The commands Redis ran most (scripts' own included), per change. */
  top_commands: Record<string, number>;
}

/**
 * `changes` origin renames (each replaces every display name of an origin with one English name,
 * as the latency phase's edits do), written at once with no searches running: how fast the
 * follower applies them and what each costs Redis (INFO cpu and commandstats of its own Redis).
 */
export async function costPhase(cw: ChangeWorld, changes: number): Promise<CostReport> {
  const redis = new Redis(cw.w.redis.url);
  try {
    const before = applied(await changeStream(cw.svc.url));
    const cpu = async () => {
      const info = await redis.info("cpu");
      return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
    };
    await redis.config("RESETSTAT");
    const cpuBefore = await cpu();
    const serviceBefore = cpuSeconds(cw.svc.proc.pid);
    const started = performance.now();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < changes; i++) {
      const type = ITEM_TYPES[i % 3]!;
      const update = { $set: { display_name: [{ iso: "en", display_name: `cost ${wordOf(i)}` }] } };
      writes.push(cw.db.collection(type).updateOne({ _id: originId(type, Math.floor(i / 3) % cw.originsPerType) }, update));
      if (writes.length >= 200) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await until(async () => applied(await changeStream(cw.svc.url)) - before >= changes, 600_000, "the changes applied");
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = (await cpu()) - cpuBefore;
    const serviceMs = (cpuSeconds(cw.svc.proc.pid) - serviceBefore) * 1000;
    const calls = [...(await redis.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)]
      .map(([, name, n]) => [name!, Number(n)] as const)
      .filter(([name]) => name !== "config|resetstat" && name !== "info");
    const total = calls.reduce((sum, [, n]) => sum + n, 0);
    return {
      changes,
      catch_up_seconds: round(seconds, 2),
      applied_per_second: round(changes / seconds),
      redis_cpu_ms_per_change: round((cpuMs * 1000) / changes, 2),
      service_cpu_ms_per_change: round(serviceMs / changes, 2),
      redis_commands_per_change: round(total / changes),
      top_commands: Object.fromEntries(
        calls
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6)
          .map(([name, n]) => [name, round(n / changes)]),
      ),
    };
  } finally {
    redis.disconnect();
  }
}

// ---------- phase c: faults ----------

export interface FaultReport {
  fault: string;
  writes: number;
  write_failures: number;
  /** null: the index equals a fresh full run's after the fault. */
  lost: string | null;
  resyncs: number;
  /** From the fault until the service follows again. */
  recovery_ms: number;
  /** From the kill until the other replica holds the lease and applies changes. */
  takeover_ms?: number;
}

/** Runs `fault` while a writer streams changes, then checks the index against a fresh full run. */
async function underChanges(
  cw: ChangeWorld,
  name: string,
  rate: number,
  fault: () => Promise<{ url: string; recovery_ms: number; takeover_ms?: number }>,
): Promise<FaultReport> {
  const before = new Set((await resyncRuns(cw.svc.url)).map((r) => r.run_id));
  const writer = await startWriter(cw, rate, freshRuns + 1);
  const done = await (async () => {
    try {
      await Bun.sleep(1_000);
      const result = await fault();
      await Bun.sleep(1_000);
      return result;
    } catch (err) {
      await writer.stop();
      throw err;
    }
  })();
  const counts = await writer.stop();
  const lost = await inStep(cw, 60_000);
  const resyncs = (await resyncRuns(done.url)).filter((r) => !before.has(r.run_id)).length;
  return { fault: name, writes: counts.acked, write_failures: counts.failed, lost, resyncs, recovery_ms: done.recovery_ms, takeover_ms: done.takeover_ms };
}

async function timeToFollow(url: string, from: number, ms: number): Promise<number> {
  await waitFollowing(url, ms);
  return Math.round(performance.now() - from);
}

/** kill -9 of the binary mid-stream, started again: resumes from the stored positions. */
export function killFollower(cw: ChangeWorld, rate: number): Promise<FaultReport> {
  return underChanges(cw, "kill -9 of the binary, restarted", rate, async () => {
    cw.svc.proc.kill("SIGKILL");
    await cw.svc.proc.exited;
    const from = performance.now();
    // Its lease is left to expire, as any dead process's.
    cw.svc = await cw.w.serve();
    return { url: cw.svc.url, recovery_ms: await timeToFollow(cw.svc.url, from, 120_000) };
  });
}

/** Redis restarted (its append-only file keeps the index, the tokens and the links). */
export function restartRedis(cw: ChangeWorld, rate: number): Promise<FaultReport> {
  return underChanges(cw, "Redis restarted", rate, async () => {
    const from = performance.now();
    await cw.w.redis.restart();
    // The follower may not notice a short outage; it must follow after it either way.
    await Bun.sleep(500);
    return { url: cw.svc.url, recovery_ms: await timeToFollow(cw.svc.url, from, 120_000) };
  });
}

/** MongoDB restarted: in memory, so the catalog and the stream positions are gone; reseeded at once. */
export function restartMongo(cw: ChangeWorld, rate: number): Promise<FaultReport> {
  return underChanges(cw, "MongoDB restarted (data and oplog gone, reseeded)", rate, async () => {
    const before = new Set((await resyncRuns(cw.svc.url)).map((r) => r.run_id));
    const from = performance.now();
    await cw.w.mongo.restart();
    await cw.w.seed();
    const since = async () => (await resyncRuns(cw.svc.url)).filter((r) => !before.has(r.run_id));
    await until(async () => (await since()).some((r) => r.status === "success"), 180_000, "a resync run").catch(async (err) => {
      throw new Error(`${(err as Error).message}; resync runs since the restart: ${JSON.stringify(await since())}`);
    });
    return { url: cw.svc.url, recovery_ms: await timeToFollow(cw.svc.url, from, 120_000) };
  });
}

/** A full run started while changes stream. */
export function concurrentRun(cw: ChangeWorld, rate: number): Promise<FaultReport> {
  return underChanges(cw, "full run while changes stream", rate, async () => {
    const from = performance.now();
    const run = await postJson(`${cw.svc.url}/re-sync-all`);
    if (run.body.status !== "success") throw new Error(`the full run failed: ${JSON.stringify(run.body).slice(0, 300)}`);
    return { url: cw.svc.url, recovery_ms: Math.round(performance.now() - from) };
  });
}

/** Two replicas on one Redis: kill -9 of the one that follows; the other takes over from the stored positions. */
export function takeover(cw: ChangeWorld, rate: number): Promise<FaultReport> {
  return underChanges(cw, "two replicas, the follower killed", rate, async () => {
    const other = await cw.w.serve({ HISTORY_DB_PATH: join(cw.w.dir, `replica-${Date.now()}.db`) });
    await until(async () => (await changeStream(other.url))?.state === "standby", 30_000, "the second replica to stand by");
    cw.svc.proc.kill("SIGKILL");
    await cw.svc.proc.exited;
    const from = performance.now();
    // Taken over: it holds the lease and applies from the stored positions.
    await until(async () => ["catching_up", "following"].includes((await changeStream(other.url))?.state ?? ""), 120_000, "the takeover");
    const takeoverMs = Math.round(performance.now() - from);
    cw.svc = other;
    return { url: other.url, recovery_ms: await timeToFollow(other.url, from, 120_000), takeover_ms: takeoverMs };
  });
}

export const FAULTS = { kill: killFollower, redis: restartRedis, mongo: restartMongo, run: concurrentRun, takeover } as const;

// ---------- the script ----------

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      phases: { type: "string", default: "latency,burst,faults" },
      origins: { type: "string", default: "100000" },
      rate: { type: "string", default: "500" },
      seconds: { type: "string", default: "60" },
      "probe-every": { type: "string", default: "25" },
      "settle-seconds": { type: "string", default: "30" },
      burst: { type: "string", default: "100000" },
      "cost-changes": { type: "string", default: "3000" },
      "catch-up-seconds": { type: "string", default: "600" },
      "search-clients": { type: "string", default: "4" },
      "fault-origins": { type: "string", default: "3000" },
      "fault-rate": { type: "string", default: "10" },
      "lease-seconds": { type: "string", default: "5" },
      "heap-mb": { type: "string" },
      smoke: { type: "boolean" },
    },
  });
  const smoke = values.smoke ?? false;
  const num = (name: keyof typeof values, min: number, smokeValue?: number) => {
    if (smoke && smokeValue !== undefined) return smokeValue;
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${values[name]}`);
    return n;
  };
  const phases = values.phases!.split(",").map((p) => p.trim());
  for (const p of phases) if (!["cost", "latency", "burst", "faults"].includes(p)) throw new Error(`--phases: unknown phase ${p}`);
  const o = {
    origins: num("origins", 30, 300),
    rate: num("rate", 1, 20),
    seconds: num("seconds", 1, 3),
    probeEvery: num("probe-every", 1, 2),
    settleSeconds: num("settle-seconds", 1, 15),
    burst: num("burst", 1, 300),
    costChanges: num("cost-changes", 1, 300),
    catchUpSeconds: num("catch-up-seconds", 1, 60),
    searchClients: num("search-clients", 1, 2),
    faultOrigins: num("fault-origins", 30, 300),
    faultRate: num("fault-rate", 1, 20),
    leaseSeconds: num("lease-seconds", 2, 2),
  };
  // About 20 KB of Java heap per catalog document, at least 512 MB.
  const heapMb = values["heap-mb"] ? Number(values["heap-mb"]) : Math.max(512, Math.ceil((o.origins * 3 * 20) / 1024));
  const log = (line: string) => console.log(line);
  process.on("SIGINT", () => void killAll().finally(() => process.exit(130)));
  const host = { cpus: cpus().length, loadavg: loadavg().map((x) => round(x, 2)) };
  log(`host: ${host.cpus} CPUs, load average ${host.loadavg.join(" ")}; options ${JSON.stringify({ ...o, heapMb, phases })}`);
  const report: Record<string, unknown> = { options: o, host, at: new Date().toISOString() };
  let failed = false;
  try {
    if (phases.includes("cost") || phases.includes("latency") || phases.includes("burst")) {
      const started = performance.now();
      const cw = await startChangeWorld({ origins: o.origins, leaseSeconds: o.leaseSeconds, heapMb, log });
      log(`catalog of ${cw.originsPerType * 3} origins seeded and followed (first resync done) in ${round((performance.now() - started) / 1000)} s`);
      try {
        if (phases.includes("cost")) {
          log(`cost: ${o.costChanges} origin renames at once, no searches (load average ${loadavg()[0]!.toFixed(2)})`);
          const r = await costPhase(cw, o.costChanges);
          report.cost = r;
          log(
            `  applied in ${r.catch_up_seconds} s (${r.applied_per_second}/s); per change: Redis CPU ${r.redis_cpu_ms_per_change} ms, service CPU ${r.service_cpu_ms_per_change} ms, ${r.redis_commands_per_change} Redis commands (${Object.entries(
              r.top_commands,
            )
              .map(([name, n]) => `${name} ${n}`)
              .join(", ")})`,
          );
        }
        if (phases.includes("latency")) {
          log(`latency: ${o.rate} edits/s for ${o.seconds} s (load average ${loadavg()[0]!.toFixed(2)})`);
          const r = await latencyPhase(cw, { ...o, log });
          report.latency = r;
          log(
            `  change → searchable (${r.probes_seen} of ${r.probes} probes): p50 ${r.latency_ms.p50} ms, p90 ${r.latency_ms.p90} ms, p99 ${r.latency_ms.p99} ms, max ${r.latency_ms.max} ms`,
          );
          log(`  edits written / events applied, every 5 s: ${r.backlog.map((b) => `${b.at_s} s ${b.written}/${b.applied}`).join(", ")}`);
          log(
            `  never appeared: ${r.never_appeared_probes} of ${r.probes} probes within ${o.settleSeconds} s; ${r.never_appeared} of the last edits of ${r.last_edits} origins at the final check (${r.final_check_at_s} s after the first write); events applied meanwhile ${r.applied_during}; full runs for the backlog: ${r.resyncs.map((x) => `${x.status} started ${x.started_at_s} s in`).join(", ") || "none"}`,
          );
          if (phases.includes("burst")) {
            log("  waiting for the follower to catch up before the burst");
            const cs = async () => changeStream(cw.svc.url);
            await until(async () => (await cs())?.lag_seconds === 0 && (await cs())?.state === "following", o.catchUpSeconds * 1000, "the backlog").catch(
              (err) => log(`  ${(err as Error).message}`),
            );
          }
        }
        if (phases.includes("burst")) {
          log(`burst: ${o.burst} origin updates in bulk (load average ${loadavg()[0]!.toFixed(2)})`);
          const r = await burstPhase(cw, { changes: o.burst, catchUpSeconds: o.catchUpSeconds, searchClients: o.searchClients, log });
          report.burst = r;
          log(
            `  ${r.caught_up ? "caught up" : "NOT caught up"} after ${r.catch_up_seconds} s (${r.applied} of ${r.changes} applied one by one, ${r.applied_per_second}/s; ${r.resync_runs} full runs for the backlog); a full run takes ${r.full_run_seconds} s`,
          );
          log(`  service RSS: peak ${r.peak_rss_mb_during_burst} MB during the burst, ${r.peak_rss_mb_process} MB peak of the process (full runs included)`);
          log(
            `  search p99: ${r.search_during.latency_ms.p99} ms during the burst (${r.search_during.requests} requests) vs ${r.search_baseline.latency_ms.p99} ms baseline (${r.search_baseline.requests})`,
          );
        }
      } finally {
        await stopChangeWorld(cw);
      }
    }
    if (phases.includes("faults")) {
      log(`faults: catalog of ${o.faultOrigins} origins, writer at ${o.faultRate}/s, lease ${o.leaseSeconds} s (load average ${loadavg()[0]!.toFixed(2)})`);
      const cw = await startChangeWorld({ origins: o.faultOrigins, leaseSeconds: o.leaseSeconds, log });
      const faults: FaultReport[] = [];
      try {
        for (const fault of Object.values(FAULTS)) {
          const r = await fault(cw, o.faultRate).catch((err): FaultReport => {
            failed = true;
            return { fault: fault.name, writes: 0, write_failures: 0, lost: `not checked: ${(err as Error).message}`, resyncs: 0, recovery_ms: Number.NaN };
          });
          faults.push(r);
          if (r.lost) failed = true;
          log(
            `  ${r.fault}: ${r.writes} writes (${r.write_failures} failed), ${r.lost ? `LOST: ${r.lost}` : "index equals a fresh full run's"}, resync runs ${r.resyncs}, follows again after ${r.recovery_ms} ms${r.takeover_ms !== undefined ? `, taken over after ${r.takeover_ms} ms (lease ${o.leaseSeconds} s)` : ""}`,
          );
        }
      } finally {
        report.faults = faults;
        await stopChangeWorld(cw);
      }
    }
  } finally {
    await killAll();
  }
  report.loadavg_end = loadavg().map((x) => round(x, 2));
  log(`load average at the end: ${(report.loadavg_end as number[]).join(" ")}`);
  const dir = join(resolve(import.meta.dir), "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `changes-${phases.join("-")}${smoke ? "-smoke" : ""}.json`), `${JSON.stringify(report, null, 2)}\n`);
  process.exit(failed ? 1 : 0);
}
