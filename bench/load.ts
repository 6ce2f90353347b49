// Load during publish: search at sustained load against the compiled binary while full syncs
// publish the catalog several times in a row. Every answer must be 200, and every query that
// has results in the old and the new index must get a non-empty answer: no gap at publish.
//   bun bench/load.ts [--origins-per-type 1700] [--connections 32] [--runs 3] [--baseline-seconds 5] [--batch-size 1000]
// Origins per type as in scripts/catalog.ts (2 suppliers per origin): 1700 is a catalog of 5,100
// origins and 15,300 documents; 16667 one of 50,000 origins. Starts its own redis-server and
// FerretDB (or mongod) on free loopback ports (test/e2e/procs.ts) and dist/search-sync (bun run
// build); writes bench/results/load-<origins>-origins.json. test/e2e/load.test.ts runs it in CI.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { MongoClient, ObjectId } from "mongodb";
import { CATALOG_DB, killAll, startWorld } from "../scripts/lib/procs.ts";

export interface LoadOptions {
  /** Origins per type of the seeded catalog. */
  originsPerType: number;
  /** Concurrent search clients (each one request at a time, keep-alive). */
  connections: number;
  /** Full syncs published one after the other while the load runs. */
  runs: number;
  /** Seconds of the same load before the first sync (default 5). */
  baselineSeconds?: number;
  batchSize?: number;
  log?: (line: string) => void;
}

export interface PhaseFigures {
  seconds: number;
  requests: number;
  /** Non-200 answers and failed requests. */
  errors: number;
  /** 200 answers without suggestions for a query that has results in every generation. */
  empty: number;
  rps: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
}

export interface LoadReport extends PhaseFigures {
  origins_per_type: number;
  documents: number;
  entries: number;
  connections: number;
  queries: number;
  runs: { run_id: string; status: string; published: boolean; duration_s: number }[];
  error_examples: string[];
  /** The same load before the syncs, for comparison (the top-level figures are those during the syncs). */
  baseline: PhaseFigures;
  seed_seconds: number;
  first_sync_seconds: number;
  /** CPUs and the 1-minute load average when the load started (other work on the machine skews the figures). */
  host: { cpus: number; loadavg_1m: number };
  at: string;
}

const TYPES = [
  { path: "/category-search", collection: "categories" },
  { path: "/boxes-search", collection: "boxes" },
  { path: "/options-search", collection: "options" },
] as const;

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Queries with results now: the start (3 letters) and the whole first word of listed names, per
 * type, with and without a language filter. The syncs republish the same catalog plus a few
 * marker items, so each of these has results in every generation.
 */
async function knownQueries(url: string): Promise<string[]> {
  const out = new Set<string>();
  for (const { path } of TYPES) {
    for (const [start, iso] of ["", "b", "m", "p", "s", "t"].flatMap((start) => ["", "en", "nl", "de"].map((iso) => [start, iso] as const))) {
      const res = await fetch(`${url}${path}?limit=100&query=${start}${iso ? `&iso=${iso}` : ""}`);
      const { suggestions } = (await res.json()) as { suggestions: { display_name: string }[] };
      const words = [...new Set(suggestions.map((s) => s.display_name.split(/\s+/)[0]!.toLowerCase()).filter((w) => /^\p{L}{3,}$/u.test(w)))];
      for (const w of words.slice(0, 2)) {
        out.add(`${path}?query=${encodeURIComponent(w.slice(0, 3))}${iso ? `&iso=${iso}` : ""}&limit=10`);
        out.add(`${path}?query=${encodeURIComponent(w)}${iso ? `&iso=${iso}` : ""}`);
      }
    }
  }
  const checked: string[] = [];
  for (const q of out) {
    const res = await fetch(`${url}${q}`);
    const body = (await res.json()) as { suggestions?: unknown[] };
    if (res.status === 200 && body.suggestions?.length) checked.push(q);
  }
  return checked;
}

export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  const log = opts.log ?? (() => {});
  const seedStarted = performance.now();
  const world = await startWorld({
    originsPerType: opts.originsPerType,
    env: { SYNC_BATCH_SIZE: String(opts.batchSize ?? 1000), SYNC_MAX_SHRINK_PERCENT: "50" },
  });
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const mongo = new MongoClient(world.mongo.url);
  try {
    const svc = await world.serve();
    log(`seeded ${opts.originsPerType} origins per type in ${round(seedSeconds)} s; service on ${svc.url}`);
    const firstStarted = performance.now();
    // No client timeout (Bun's fetch gives up after 300 s): on a loaded machine a run takes longer.
    const first = await fetch(`${svc.url}/re-sync-all`, { method: "POST", timeout: false });
    const firstBody = (await first.json()) as { status: string; types: Record<string, { documents: number; entries: number }> };
    if (firstBody.status !== "success") throw new Error(`the first sync did not succeed: ${JSON.stringify(firstBody).slice(0, 500)}`);
    const firstSeconds = (performance.now() - firstStarted) / 1000;
    const documents = Object.values(firstBody.types).reduce((a, t) => a + t.documents, 0);
    const entries = Object.values(firstBody.types).reduce((a, t) => a + t.entries, 0);
    log(`first sync: ${documents} documents, ${entries} entries in ${round(firstSeconds)} s`);

    const queries = await knownQueries(svc.url);
    if (queries.length < 10) throw new Error(`only ${queries.length} queries with results`);
    log(`${queries.length} queries with results; ${opts.connections} clients searching while ${opts.runs} syncs publish`);

    // One phase of the load: counts and latencies while it lasts.
    const phase = () => ({ requests: 0, errors: 0, empty: 0, latencies: [] as number[], started: performance.now(), ended: 0 });
    const baseline = phase();
    const publish = phase();
    let current = baseline;
    let stop = false;
    const examples: string[] = [];
    const note = (what: string) => {
      if (examples.length < 10) examples.push(what);
    };
    const client = async (n: number) => {
      let i = n;
      while (!stop) {
        const q = queries[i++ % queries.length]!;
        const p = current;
        const started = performance.now();
        try {
          const res = await fetch(`${svc.url}${q}`);
          const body = (await res.json()) as { suggestions?: unknown[] };
          p.latencies.push(performance.now() - started);
          p.requests++;
          if (res.status !== 200) {
            p.errors++;
            note(`${q} → ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
          } else if (!body.suggestions?.length) {
            p.empty++;
            note(`${q} → 200 with no suggestions`);
          }
        } catch (err) {
          p.requests++;
          p.errors++;
          note(`${q} → ${(err as Error).message}`);
        }
      }
    };

    const host = { cpus: cpus().length, loadavg_1m: round(loadavg()[0]!, 2) };
    const clients = Array.from({ length: opts.connections }, (_, n) => client(n));
    const runs: LoadReport["runs"] = [];
    try {
      // The same load without a sync first, for comparison.
      await Bun.sleep((opts.baselineSeconds ?? 5) * 1000);
      baseline.ended = performance.now();
      publish.started = baseline.ended;
      current = publish;
      log(`baseline: ${baseline.requests} searches in ${round((baseline.ended - baseline.started) / 1000)} s without a sync`);
      for (let k = 0; k < opts.runs; k++) {
        // A few new items per run, so each publish changes the index, not only its generation id.
        await mongo
          .db(CATALOG_DB)
          .collection("categories")
          .insertMany(
            Array.from({ length: 5 }, (_, i) => ({
              _id: new ObjectId(),
              name: `Load marker ${k} ${i}`,
              slug: `load-marker-${k}-${i}`,
              display_name: [{ iso: "en", display_name: `Load marker ${k} ${i}` }],
            })),
          );
        let res: Response;
        try {
          res = await fetch(`${svc.url}/re-sync-all`, { method: "POST", timeout: false });
        } catch (err) {
          await Bun.sleep(500);
          throw new Error(
            `POST /re-sync-all failed: ${(err as Error).message}; service exit code ${svc.proc.exitCode}, signal ${svc.proc.signalCode}; its last output:\n${svc.output().slice(-3000)}`,
          );
        }
        const body = (await res.json()) as { run_id: string; status: string; published: boolean; duration_ms: number; message?: string };
        runs.push({ run_id: body.run_id, status: body.status, published: body.published, duration_s: round(body.duration_ms / 1000, 2) });
        const why = body.message ? ` (${body.message})` : "";
        log(`sync ${k + 1}/${opts.runs}: ${body.status}${why} in ${round(body.duration_ms / 1000, 2)} s (${publish.requests} searches so far)`);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
      publish.ended = performance.now();
    }
    const markers = (await (await fetch(`${svc.url}/category-search?query=load%20marker&limit=100`)).json()) as { suggestions: unknown[] };
    if (markers.suggestions.length !== 5 * opts.runs)
      throw new Error(`expected ${5 * opts.runs} marker items after the syncs, found ${markers.suggestions.length}`);
    await svc.stop();

    const figures = (p: ReturnType<typeof phase>): PhaseFigures => {
      p.latencies.sort((a, b) => a - b);
      const seconds = (p.ended - p.started) / 1000;
      return {
        seconds: round(seconds, 2),
        requests: p.requests,
        errors: p.errors,
        empty: p.empty,
        rps: Math.round(p.requests / seconds),
        latency_ms: {
          p50: round(percentile(p.latencies, 50), 2),
          p90: round(percentile(p.latencies, 90), 2),
          p99: round(percentile(p.latencies, 99), 2),
          max: round(p.latencies[p.latencies.length - 1] ?? 0, 2),
        },
      };
    };
    const during = figures(publish);
    return {
      origins_per_type: opts.originsPerType,
      documents,
      entries,
      connections: opts.connections,
      queries: queries.length,
      runs,
      ...during,
      error_examples: examples,
      baseline: figures(baseline),
      seed_seconds: round(seedSeconds, 2),
      first_sync_seconds: round(firstSeconds, 2),
      host,
      at: new Date().toISOString(),
    };
  } finally {
    await mongo.close();
    await world.stop();
  }
}

export function summary(r: LoadReport): string {
  const line = (p: PhaseFigures) =>
    `${p.requests} requests in ${p.seconds} s, ${p.rps} req/s, p50 ${p.latency_ms.p50} ms, p90 ${p.latency_ms.p90} ms, p99 ${p.latency_ms.p99} ms, max ${p.latency_ms.max} ms, ${p.errors} errors, ${p.empty} empty`;
  return [
    `catalog: ${r.origins_per_type * 3} origins (${r.origins_per_type} per type), ${r.documents} documents, ${r.entries} entries`,
    `load: ${r.connections} connections, ${r.queries} distinct queries (${r.host.cpus} CPUs, load average ${r.host.loadavg_1m} at the start)`,
    `runs: ${r.runs.map((x) => `${x.status} ${x.duration_s} s`).join(", ")}`,
    `during the syncs: ${line(r)}`,
    `baseline (no sync): ${line(r.baseline)}`,
    ...(r.error_examples.length ? [`examples:\n  ${r.error_examples.join("\n  ")}`] : []),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      "origins-per-type": { type: "string", default: "1700" },
      connections: { type: "string", default: "32" },
      runs: { type: "string", default: "3" },
      "baseline-seconds": { type: "string", default: "5" },
      "batch-size": { type: "string", default: "1000" },
    },
  });
  const whole = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got ${v}`);
    return n;
  };
  // Ctrl-C must not leave the private servers running.
  process.on("SIGINT", () => void killAll().finally(() => process.exit(130)));
  const report = await runLoad({
    originsPerType: whole("origins-per-type", values["origins-per-type"], 10),
    connections: whole("connections", values.connections, 1),
    runs: whole("runs", values.runs, 1),
    baselineSeconds: whole("baseline-seconds", values["baseline-seconds"], 0),
    batchSize: whole("batch-size", values["batch-size"], 10),
    log: (line) => console.log(line),
  });
  await killAll();
  console.log(summary(report));
  const dir = join(resolve(import.meta.dir), "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `load-${report.origins_per_type * 3}-origins.json`), `${JSON.stringify(report, null, 2)}\n`);
  const clean = [report, report.baseline].every((p) => p.errors === 0 && p.empty === 0);
  process.exit(clean && report.runs.every((r) => r.status === "success") ? 0 : 1);
}
