// A run's heavy part: read the catalog from MongoDB, turn it into items and write the run's
// generation of each type to Redis, and its dataset file beside the final one (renamed into place
// when the run publishes). The service does this in a worker thread (build-thread.ts), so search
// keeps its event loop; the CLI does it in its own thread. Either way the engine only sees events.
import type { Document } from "mongodb";
import { addDisplayNames, docIdText, type ItemRecord, originRecord, SkipTally, supplierLink, toEntry, validDisplayNames } from "../catalog/entries.ts";
import type { ItemType } from "../catalog/types.ts";
import { removeLeftSortFiles, SetSorter } from "../index/set-sorter.ts";
import type { IndexStore, ItemWrite, PieceWrites } from "../index/store.ts";
import type { Config } from "../platform/config.ts";
import { RssCollector } from "../platform/memory.ts";
import { type CatalogSource, ORIGIN_PROJECTION, SUPPLIER_PROJECTION } from "../source/mongo.ts";
import { DatasetWriter, datasetPath } from "./dataset.ts";
import { diffGenerations } from "./diff.ts";
import type { ActiveRun, TypeResult } from "./model.ts";

export interface BuildDeps {
  config: Pick<Config, "collections" | "dataSetFile" | "syncBatchSize">;
  store: IndexStore;
  source: CatalogSource;
  /** Whether searches are being answered now: only then are the build's Redis writes paced. */
  searching?: () => boolean;
}

/** What to build: every type of `types` into generation `runId` (already begun); `compare`: a dry run's diff against the serving index. */
export interface BuildJob {
  runId: string;
  types: ItemType[];
  compare: boolean;
}

/** What a build tells the engine (the one definition of the messages a build worker posts). */
export type BuildEvent =
  | { kind: "stage"; stage: ActiveRun["stage"] }
  | { kind: "progress"; type: ItemType; documents_read: number; entries_written: number }
  /** A type is built (again with its diff after a dry run's comparison). */
  | { kind: "built"; type: ItemType; result: TypeResult }
  /** LOG_LEVEL=debug: a batch's timings. */
  | { kind: "log"; msg: string; fields: Record<string, unknown> };

/** A build under way: `done` settles when it has stopped, after its own cleanup. */
export interface BuildHandle {
  done: Promise<void>;
  /** Asks the build to stop at its next batch (`done` then rejects). */
  stop(reason: string): void;
}

/** Starts a build; the engine's one way to build, whatever thread does the work. */
export type Builder = (job: BuildJob, onEvent: (event: BuildEvent) => void) => BuildHandle;

/** Builds in this thread (the CLI, which has no requests to keep answering, and tests). */
export function inThisThread(deps: BuildDeps): Builder {
  return (job, onEvent) => {
    const stop = new AbortController();
    return { done: build(deps, job, onEvent, stop.signal), stop: (reason) => stop.abort(reason) };
  };
}

/**
 * Redis serves search from the same single thread that takes a build's writes: a batch is written
 * in pipelines of up to this many items, and while searches are being answered, after a full one
 * the build waits as long as it took (after a smaller one, that share of it: a small pipeline's time
 * is mostly the round trip, not Redis's work), so searches get about half of Redis meanwhile.
 * With no searches coming the build writes at full speed.
 */
const ITEMS_PER_PIPELINE = 100;

class BuildStopped extends Error {}

/** What the types of one build share: the garbage collector's bar, and the turn to write sets. */
interface Shared {
  collector: RssCollector;
  /** Settles when the type writing its sets now is done: one type at a time holds the blocks of every run of a set. */
  setsTurn: Promise<void>;
}

/** Builds every type of the job side by side (MongoDB hands out documents faster to several cursors); throws what stopped it. */
export async function build(deps: BuildDeps, job: BuildJob, emit: (event: BuildEvent) => void, signal: AbortSignal): Promise<void> {
  let typeFailed = false;
  const check = () => {
    if (signal.aborted) throw new BuildStopped(`stopped: ${String(signal.reason)}`);
    if (typeFailed) throw new BuildStopped("stopped: another type of this run failed");
  };
  const built = new Map<ItemType, TypeResult>();
  const failures: unknown[] = [];
  // What the builds of processes killed mid-run left in TMPDIR (up to about 1 GB at 1,000,000 documents).
  removeLeftSortFiles(false);
  const shared: Shared = { collector: new RssCollector(), setsTurn: Promise.resolve() };
  await Promise.all(
    job.types.map(async (type) => {
      try {
        const result = await buildType(deps, job.runId, type, emit, check, shared);
        built.set(type, result);
        emit({ kind: "built", type, result });
      } catch (err) {
        typeFailed = true;
        failures.push(err);
      }
    }),
  );
  const cause = failures.find((err) => !(err instanceof BuildStopped)) ?? failures[0];
  if (cause) throw cause;
  check();
  if (!job.compare) return;
  emit({ kind: "stage", stage: "comparing" });
  for (const [type, result] of built) {
    result.diff = await diffGenerations(deps.store, type, job.runId, await deps.store.currentGen(type));
    emit({ kind: "built", type, result });
  }
}

/** Builds one type into generation `gen`, and its dataset file; on failure the file is dropped. */
async function buildType(
  { store, source, config, searching }: BuildDeps,
  gen: string,
  type: ItemType,
  emit: (event: BuildEvent) => void,
  check: () => void,
  shared: Shared,
): Promise<TypeResult> {
  const names = config.collections[type];
  const tally = new SkipTally();
  const result: TypeResult = {
    documents: 0,
    entries: 0,
    previous_entries: await store.entryCount(type, await store.currentGen(type)),
    skipped: tally.byReason,
    published: false,
  };
  const dataset = await DatasetWriter.open(datasetPath(config.dataSetFile, type), gen);
  const sets = new SetSorter();
  const progress = () => emit({ kind: "progress", type, documents_read: result.documents, entries_written: result.entries });
  let pausedMs = 0;
  /** `added`: the writes are new items (origins), not names added to items already written. */
  const write = async (writes: ItemWrite[], added: boolean) => {
    for (let i = 0; i < writes.length; i += ITEMS_PER_PIPELINE) {
      const part = writes.slice(i, i + ITEMS_PER_PIPELINE);
      const start = performance.now();
      result.entries += await store.writeItems(type, gen, part, added ? part.length : 0, sets);
      shared.collector.collectAfterBatch();
      if (searching?.()) {
        const pause = ((performance.now() - start) * part.length) / ITEMS_PER_PIPELINE;
        pausedMs += pause;
        await Bun.sleep(pause);
      }
    }
    await dataset.write(writes.flatMap((w) => w.added.map((p) => toEntry(w.sku, w.record, p)!)));
  };
  const stages = [
    { stage: "origins", collection: names.origin, projection: ORIGIN_PROJECTION },
    { stage: "suppliers", collection: names.supplier, projection: SUPPLIER_PROJECTION },
  ] as const;
  try {
    for (const { stage, collection, projection } of stages) {
      emit({ kind: "stage", stage: `${type}: ${stage}` });
      progress();
      let batchStart = performance.now();
      for await (const docs of prefetched(source.batches(collection, projection, config.syncBatchSize))) {
        check();
        const read = performance.now();
        result.documents += docs.length;
        if (stage === "origins") {
          await write(originWrites(docs, tally), true);
        } else await write(await supplierWrites(store, type, gen, docs, tally), false);
        progress();
        const now = performance.now();
        const [readMs, writeMs, pauseMs] = [Math.round(read - batchStart), Math.round(now - read), Math.round(pausedMs)];
        pausedMs = 0;
        emit({
          kind: "log",
          msg: `${type}: ${stage} batch of ${docs.length} documents: read ${readMs} ms, written ${writeMs} ms (of which paused for searches ${pauseMs} ms; ${result.documents} read so far)`,
          fields: { run_id: gen, type, stage, documents: docs.length, read_ms: readMs, write_ms: writeMs, paused_ms: pauseMs },
        });
        batchStart = now;
      }
    }
    const turn = shared.setsTurn;
    const { promise: written, resolve: endTurn } = Promise.withResolvers<void>();
    shared.setsTurn = written;
    await turn;
    let setsStart = 0;
    let how: PieceWrites | null = null;
    try {
      check();
      setsStart = performance.now();
      how = await store.writeSets(type, gen, sets, async (ms) => {
        shared.collector.collectAfterBatch();
        if (!searching?.()) return;
        pausedMs += ms;
        await Bun.sleep(ms);
      });
    } finally {
      endTurn();
    }
    const [setsMs, setsPauseMs] = [Math.round(performance.now() - setsStart), Math.round(pausedMs)];
    pausedMs = 0;
    const by = !how ? "" : how.by === "RESTORE" ? " with RESTORE" : ` with ZADD (the server refused RESTORE: ${how.refusal})`;
    emit({
      kind: "log",
      msg: `${type}: phrase and word sets written in order in ${setsMs} ms${by} (of which paused for searches ${setsPauseMs} ms)`,
      fields: { run_id: gen, type, sets_ms: setsMs, paused_ms: setsPauseMs, ...(how && { pieces_by: how.by }) },
    });
    await dataset.close();
    progress();
    return result;
  } catch (err) {
    await dataset.discard();
    throw err;
  } finally {
    sets.close();
  }
}

/** The items of a batch of origin documents, each with all its entries. */
function originWrites(docs: Document[], tally: SkipTally): ItemWrite[] {
  const writes: ItemWrite[] = [];
  for (const doc of docs) {
    const origin = originRecord(doc, tally);
    if (origin) writes.push({ ...origin, added: origin.record.e.map((_, i) => i) });
  }
  return writes;
}

/** The names a batch of supplier documents adds to their origins, as read from the generation being built. */
async function supplierWrites(store: IndexStore, type: ItemType, gen: string, docs: Document[], tally: SkipTally): Promise<ItemWrite[]> {
  const links = docs.map((doc) => supplierLink(doc, tally));
  const skus = [...new Set(links.filter((l): l is string => l !== null))];
  const records = new Map<string, ItemRecord | null>();
  for (const [i, r] of (await store.readItems(type, gen, skus)).entries()) records.set(skus[i]!, r);
  const touched = new Map<string, ItemWrite>();
  docs.forEach((doc, i) => {
    const sku = links[i];
    if (!sku) return;
    const docId = docIdText(doc);
    const record = records.get(sku);
    if (!record) {
      tally.add("linked_unknown_origin", docId);
      return;
    }
    const added = addDisplayNames(record, validDisplayNames(doc.display_name, docId, tally), undefined, (reason) => tally.add(reason, docId));
    if (!added.length) return;
    const write = touched.get(sku) ?? { sku, record, added: [] };
    for (const position of added) write.added.push(position);
    touched.set(sku, write);
  });
  return [...touched.values()];
}

/** Yields the items of `source`, already asking for the next one while the caller works on the current. */
async function* prefetched<T>(source: AsyncGenerator<T>): AsyncGenerator<T> {
  // A read that fails while the caller works must not be an unhandled rejection (it ends the
  // process): it is marked handled here, and still thrown where it is awaited.
  const ask = () => {
    const next = source.next();
    next.catch(() => {});
    return next;
  };
  let next = ask();
  try {
    for (;;) {
      const item = await next;
      if (item.done) return;
      next = ask();
      yield item.value;
    }
  } finally {
    await next.catch(() => {});
    await source.return(undefined as never).catch(() => {});
  }
}
