// The build in a worker thread: the service's side (a Builder that starts one worker per run and
// turns its messages back into build events) and the worker's side (serveBuilds, started by
// build-worker.ts). The worker opens its own Redis and MongoDB clients from the config.
import { getPriority, setPriority } from "node:os";
import type { MongoClient } from "mongodb";
import { Keys } from "../index/keys.ts";
import { removeLeftSortFiles } from "../index/set-sorter.ts";
import { IndexStore } from "../index/store.ts";
import type { Config } from "../platform/config.ts";
import { createRedis } from "../platform/redis.ts";
import { CatalogSource, createMongoClient } from "../source/mongo.ts";
import { type BuildEvent, type Builder, type BuildJob, build } from "./build.ts";

/** Every message between the service and a build worker. */
type ToWorker = { kind: "start"; config: Config; job: BuildJob } | { kind: "stop"; reason: string } | { kind: "searching"; on: boolean };
type FromWorker = BuildEvent | { kind: "done" } | { kind: "failed"; message: string; stack?: string };

/** How long a worker told to stop may take to reach its next batch before it is terminated. */
const STOP_GRACE_MS = 10_000;

/** How often the worker is told whether searches are being answered (it paces its writes while they are). */
const SEARCHING_CHECK_MS = 250;

/**
 * Builds in a worker started from `entry` (build-worker.ts, or a bundled copy of it in the binary);
 * `searching` says whether this process is answering searches now.
 */
export function inWorker(entry: URL, config: Config, searching: () => boolean = () => false): Builder {
  return (job, onEvent) => {
    const worker = new Worker(entry);
    const { promise: done, resolve, reject } = Promise.withResolvers<void>();
    let ended = false;
    let told = false;
    const tell = setInterval(() => {
      if (searching() === told) return;
      told = !told;
      send({ kind: "searching", on: told });
    }, SEARCHING_CHECK_MS);
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      clearInterval(tell);
      worker.terminate();
      // A worker stopped mid-build leaves its sorted runs behind (a run's ends otherwise remove them).
      removeLeftSortFiles(true);
      if (err) reject(err);
      else resolve();
    };
    worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
      if (data.kind === "done") end();
      else if (data.kind === "failed") end(Object.assign(new Error(data.message), { stack: data.stack }));
      else onEvent(data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      end(new Error(`the build worker crashed: ${crashMessage(event.message)}`));
    };
    worker.addEventListener("close", () => end(new Error("the build worker exited before the build ended")));
    const send = (message: ToWorker) => worker.postMessage(message);
    send({ kind: "start", config, job });
    return {
      done,
      stop: (reason) => {
        if (ended) return;
        send({ kind: "stop", reason });
        // A worker stuck in a read that never answers is not waited for: the run ends, and its cleanup runs.
        setTimeout(() => end(new Error(`the build worker did not stop within ${STOP_GRACE_MS / 1000} s`)), STOP_GRACE_MS).unref();
      },
    };
  };
}

/**
 * The niceness of a build worker's thread (Linux keeps one per thread): when the cores are busy,
 * the thread answering searches goes first; when they are not, the build still gets them all.
 */
const BUILD_THREAD_NICE = 10;

/** The worker's side: runs the build it is sent, posting its events, then "done" or "failed". */
export function serveBuilds(sourceOf: (client: MongoClient, config: Config) => CatalogSource = defaultSource): void {
  lowerThisThreadsPriority();
  const stop = new AbortController();
  let searching = false;
  const post = (message: FromWorker) => postMessage(message);
  addEventListener("message", async (event) => {
    const data = (event as MessageEvent<ToWorker>).data;
    if (data.kind === "stop") return stop.abort(data.reason);
    if (data.kind === "searching") {
      searching = data.on;
      return;
    }
    const { config, job } = data;
    // Not fail-fast like the request paths' client: a build's pipelines wait their turn behind
    // searches, and may take longer than a search may; a lost connection still fails them.
    const redis = createRedis(config.redis);
    const mongo = createMongoClient(config.mongoUri);
    const source = sourceOf(mongo, config);
    let end: FromWorker = { kind: "done" };
    try {
      const store = new IndexStore(redis, new Keys(config.keyPrefix));
      await build({ config, store, source, searching: () => searching }, job, post, stop.signal);
    } catch (err) {
      end = err instanceof Error ? { kind: "failed", message: err.message, stack: err.stack } : { kind: "failed", message: String(err) };
    }
    redis.disconnect();
    await mongo.close().catch(() => {});
    await source.close().catch(() => {});
    post(end);
  });
}

function lowerThisThreadsPriority(): void {
  try {
    // Process id 0 is the calling thread on Linux: the worker's, not the service's.
    setPriority(0, Math.max(getPriority(0), BUILD_THREAD_NICE));
  } catch {
    // Not permitted here (some containers): the build runs at the service's priority.
  }
}

/** Bun's report of a worker's uncaught error quotes its source first; the error's own line is "<Name>: <message>" ("error: " for an Error). */
function crashMessage(report: string): string {
  const line = /^(\w*Error|error): (.*)$/m.exec(report);
  return line ? `${line[1] === "error" ? "Error" : line[1]}: ${line[2]}` : report.trim().split("\n")[0]!;
}

function defaultSource(client: MongoClient, config: Config): CatalogSource {
  return new CatalogSource(client, config.dbName, () => createMongoClient(config.mongoUri));
}
