// A run: rebuild the index of one type or all three from MongoDB, then publish atomically.
// The HTTP endpoints, the scheduler and the CLI all go through SyncEngine.trigger().
import type { Document } from "mongodb";
import { addDisplayNames, docIdText, type ItemRecord, originRecord, SkipTally, supplierLink, toEntry, validDisplayNames } from "../catalog/entries.ts";
import type { ItemType } from "../catalog/types.ts";
import type { PushOp } from "../index/push-plan.ts";
import type { IndexStore, ItemWrite } from "../index/store.ts";
import { applyPush } from "../index/update.ts";
import type { Config } from "../platform/config.ts";
import { type Logger, TEXT_LINES, timestamp } from "../platform/log.ts";
import { redactUri } from "../platform/redact.ts";
import { type CatalogSource, ORIGIN_PROJECTION, SUPPLIER_PROJECTION } from "../source/mongo.ts";
import { DatasetWriter, datasetPath, removeTempFiles } from "./dataset.ts";
import { diffGenerations } from "./diff.ts";
import type { HistoryRepo } from "./history/repo.ts";
import type { HeldLock, RunLock } from "./lock.ts";
import { type ActiveRun, newRunId, type RunOptions, type RunReason, type RunResult, type Scope, scopeTypes, type Trigger, type TypeResult } from "./model.ts";
import type { StatusStore } from "./status.ts";

export interface EngineDeps {
  config: Pick<Config, "collections" | "dataSetFile" | "syncBatchSize" | "syncMaxShrinkPercent" | "lockTtlMs" | "replicaName">;
  store: IndexStore;
  lock: RunLock;
  source: CatalogSource;
  history: HistoryRepo;
  status: StatusStore;
  logger: Logger;
  /** Called with every finished run (metrics, alerts). Errors are logged, never thrown. */
  onFinished?: (run: RunResult) => void | Promise<void>;
  /** Called with the active run's state each time it is written to the status key (the CLI's progress bar). */
  onProgress?: (active: ActiveRun) => void;
}

export type TriggerOutcome = { started: true; runId: string; done: Promise<RunResult> } | { started: false; result: RunResult };

const PROGRESS_EVERY_MS = 1_000;
const GC_EVERY_ITEMS = 2_000;
const TYPE_LABEL: Record<ItemType, string> = { categories: "Categories", boxes: "Boxes", options: "Options" };

class RunAborted extends Error {}
/** A type stopped because another type of its run failed: not the run's cause of failure. */
class OtherTypeFailed extends RunAborted {}

interface Built {
  gen: string;
  result: TypeResult;
  dataset: DatasetWriter;
}

/** A run under way: what its stages share. */
interface Run {
  lock: HeldLock;
  result: RunResult;
  types: ItemType[];
  active: ActiveRun;
  signal: AbortSignal;
  /** Built and not published: their dataset files are discarded when the run ends. */
  built: Map<ItemType, Built>;
  /** Types whose generation is not published: their markers are renewed with the lock, and abandoned when the run ends. */
  unpublished: Set<ItemType>;
  lockLost: boolean;
  typeFailed: boolean;
  /** What made the run fail, for the log's `err` (type, message, stack). */
  cause?: unknown;
}

export class SyncEngine {
  private current: { runId: string; abort: AbortController; done: Promise<RunResult> } | null = null;

  constructor(private readonly deps: EngineDeps) {}

  /** The run this process is executing, if any. */
  get activeRunId(): string | null {
    return this.current?.runId ?? null;
  }

  /**
   * Starts a run unless one is active anywhere (this process or another replica); a refused
   * trigger is recorded as `skipped` with reason `in_progress`.
   */
  async trigger(scope: Scope, trigger: Trigger, opts: RunOptions = {}): Promise<TriggerOutcome> {
    return this.start(
      this.baseResult(scope, trigger, opts, new Date()),
      (run) => this.sync(run),
      (run) => this.beginGenerations(run),
    );
  }

  /**
   * Empties the index of every type and the dataset files, as a run of its own (status `cleared`):
   * under the run lock, so no run builds meanwhile, and refused like a trigger while one is active.
   */
  async clear(trigger: Trigger): Promise<TriggerOutcome> {
    return this.start(this.baseResult("all", trigger, {}, new Date()), (run) => this.clearIndex(run));
  }

  /** `prepare` runs before the run's id is handed out; `work` is the run itself. */
  private async start(result: RunResult, work: (run: Run) => Promise<void>, prepare: (run: Run) => Promise<void> = async () => {}): Promise<TriggerOutcome> {
    const runId = result.run_id;
    const acquired = await this.deps.lock.acquire(runId);
    if ("heldBy" in acquired) {
      Object.assign(result, finishTimes(new Date(result.started_at)), {
        status: "skipped",
        reason: "in_progress",
        active_run_id: acquired.heldBy,
      } satisfies Partial<RunResult>);
      await this.recordSkipped(result);
      return { started: false, result };
    }
    const abort = new AbortController();
    const run = newRun(acquired.lock, result, abort.signal);
    const begun = prepare(run);
    const done = this.execute(run, begun, work);
    this.current = { runId, abort, done };
    // then(f, f), not finally(f): a rejection of `done` must not come back as an unhandled one.
    const clear = () => {
      if (this.current?.runId === runId) this.current = null;
    };
    done.then(clear, clear);
    // A push acknowledged once the run's id is out must reach the index it publishes, so its id
    // is handed out only when every type of its scope journals pushes (a failure ends the run).
    await begun.catch(() => {});
    return { started: true, runId, done };
  }

  /** A trigger that started no run, as recorded in the history (the scheduler's `recent_success` ticks). */
  skippedResult(scope: Scope, trigger: Trigger, reason: RunReason, extra: Pick<RunResult, "active_run_id"> = {}): RunResult {
    const now = new Date();
    return { ...this.baseResult(scope, trigger, {}, now), ...finishTimes(now), status: "skipped", reason, ...extra };
  }

  /** Records a trigger that started no run (history, then the run listeners). */
  async recordSkipped(result: RunResult): Promise<void> {
    this.deps.history.save(result);
    await this.notify(result);
  }

  /** Runs and waits for the result (a skipped result when another run is active). */
  async run(scope: Scope, trigger: Trigger, opts: RunOptions = {}): Promise<RunResult> {
    const outcome = await this.trigger(scope, trigger, opts);
    return outcome.started ? outcome.done : outcome.result;
  }

  /** Asks the active run to stop; it cleans up and records itself as failed. */
  abortActive(reason: string): Promise<RunResult> | null {
    if (!this.current) return null;
    this.current.abort.abort(reason);
    return this.current.done;
  }

  private async execute(run: Run, begun: Promise<void>, work: (run: Run) => Promise<void>): Promise<RunResult> {
    const { result } = run;
    const renewal = this.renewWhileRunning(run);
    try {
      this.deps.history.save(result);
      await begun;
      await this.writeStatus(run.active);
      await work(run);
    } catch (err) {
      result.status = "failed";
      result.error = errorText(err);
      run.cause = err;
    } finally {
      clearInterval(renewal);
    }
    await this.finishRun(run);
    return result;
  }

  /** A sync: build every type, then the shrink guard, then publish (a dry run compares instead). */
  private async sync(run: Run): Promise<void> {
    const { result } = run;
    await this.buildGeneration(run);
    const shrink = checkShrink(result, run.types, this.deps.config.syncMaxShrinkPercent);
    if (result.dry_run) await this.compareGenerations(run);
    else if (shrink && !result.force) Object.assign(result, { status: "rejected", reason: "shrink", error: shrink } satisfies Partial<RunResult>);
    else await this.publishTypes(run);
  }

  /** Empties every type's index (recording what each served) and replaces each dataset file by an empty one. */
  private async clearIndex({ lock, types, active, result, unpublished }: Run): Promise<void> {
    const { store, config } = this.deps;
    unpublished.clear(); // no generation was begun: nothing to abandon
    active.stage = "clearing";
    await this.writeStatus(active);
    for (const type of types) {
      const previous = await store.entryCount(type, await store.currentGen(type));
      result.types[type] = { documents: 0, entries: 0, previous_entries: previous, skipped: {}, published: false };
    }
    await store.clear(types);
    for (const type of types) {
      const empty = await DatasetWriter.open(datasetPath(config.dataSetFile, type), lock.runId);
      await empty.close();
      await empty.commit();
    }
    result.status = "cleared";
  }

  /** Keeps the run lock alive until cleared; a renewal refused means another run took over. */
  private renewWhileRunning(run: Run): ReturnType<typeof setInterval> {
    const { store, lock, config, logger } = this.deps;
    return setInterval(
      async () => {
        try {
          if (!(await lock.renew(run.lock))) {
            if (!run.lockLost) logger.warn(`Run ${run.lock.runId} lost its lock to another run; it will not publish`, { run_id: run.lock.runId });
            run.lockLost = true;
          } else logger.debug(`Run lock renewed for ${config.lockTtlMs / 1000} s`, { run_id: run.lock.runId });
          // Unpublished types need their markers kept alive too, or pushes made during a long build
          // stop being journaled once the marker expires, and are lost when the new index is published.
          for (const type of run.unpublished) await store.touchBuilding(type, config.lockTtlMs);
        } catch {
          // Redis unreachable: the lock may expire; publish checks the fence.
        }
      },
      Math.max(500, Math.floor(config.lockTtlMs / 3)),
    );
  }

  /**
   * Removes leftovers of earlier runs and begins the run's generation of every type of its scope:
   * from then on push updates are journaled for it. Before the run reads anything, so a push its
   * reads of MongoDB might miss is replayed.
   */
  private async beginGenerations({ types, lock }: Run): Promise<void> {
    const { store, config } = this.deps;
    for (const type of types) await store.removeStale(type);
    // This run holds the lock: temp files of any other run are leftovers (a crash, a lost lock).
    await removeTempFiles(config.dataSetFile, (runId) => runId !== lock.runId);
    await Promise.all(types.map((type) => store.begin(type, lock.runId, lock.runId, lock.token, config.lockTtlMs)));
  }

  /** Builds the run's generation of every type; throws the failure that stopped it. */
  private async buildGeneration(run: Run): Promise<void> {
    const { types, active, result } = run;
    for (const type of types) active.progress[type] = { documents_read: 0, documents_total: 0, entries_written: 0 };
    void this.estimateTotals(types, active);
    // The types are built side by side: each reads its own collections, and MongoDB hands
    // out documents faster to several cursors than to one.
    const failures: unknown[] = [];
    await Promise.all(
      types.map(async (type) => {
        try {
          const built = await this.buildType(run, type);
          run.built.set(type, built);
          result.types[type] = built.result;
        } catch (err) {
          run.typeFailed = true;
          failures.push(err);
        }
      }),
    );
    const cause = failures.find((err) => !(err instanceof OtherTypeFailed)) ?? failures[0];
    if (cause) throw cause;
    checkRunning(run);
  }

  /** A dry run's end: how each built type differs from the serving one; nothing is published. */
  private async compareGenerations({ types, active, result, built }: Run): Promise<void> {
    const { store } = this.deps;
    active.stage = "comparing";
    await this.writeStatus(active);
    for (const type of types) {
      result.types[type]!.diff = await diffGenerations(store, type, built.get(type)!.gen, await store.currentGen(type));
    }
    result.status = "success";
  }

  /** Makes each built type the serving one (fenced by the lock's token), then puts its dataset file in place. */
  private async publishTypes(run: Run): Promise<void> {
    const { store, history, logger } = this.deps;
    run.active.stage = "publishing";
    await this.writeStatus(run.active);
    // With its counts: if the process dies before the end is recorded, recovery completes this row (interrupted.ts).
    history.save(run.result);
    for (const type of run.types) {
      checkRunning(run);
      const b = run.built.get(type)!;
      const outcome = await store.publish(type, b.gen, run.lock.token, (ops) => this.replay(type, b.gen, ops));
      if (!outcome.published) throw new Error(`lost ownership of ${type} to another run; ${type} was not published`);
      run.built.delete(type);
      run.unpublished.delete(type);
      b.result.published = run.result.published = true;
      // The type serves its new index now: a file that cannot follow is a warning, not a failed run.
      await b.dataset.commit().catch(async (err) => {
        b.result.warning = errorText(err);
        logger.warn(`${TYPE_LABEL[type]}: ${b.result.warning}`, { run_id: run.result.run_id, type });
        await b.dataset.discard();
      });
      await store.removeStale(type);
    }
    run.result.status = "success";
  }

  /** Drops what was not published, records the end (history, lock, status key, log) and tells the listeners. */
  private async finishRun({ lock, result, built, unpublished, cause }: Run): Promise<void> {
    const { store, history, logger } = this.deps;
    for (const b of built.values()) await b.dataset.discard();
    for (const type of unpublished) await store.abandon(type, lock.runId, lock.token).catch(() => {});
    Object.assign(result, finishTimes(new Date(result.started_at)));
    try {
      history.save(result);
    } catch (err) {
      logger.error("Failed to record the run in the history database", { run_id: result.run_id, err });
    }
    await this.deps.lock.release(lock).catch(() => {});
    await this.writeFinalStatus(result);
    this.logResult(result, cause);
    await this.notify(result);
  }

  /** Fills in the documents to expect per type, for progress; a run does not wait for it. */
  private async estimateTotals(types: ItemType[], active: ActiveRun): Promise<void> {
    for (const type of types) {
      const names = this.deps.config.collections[type];
      try {
        const total = (await this.deps.source.estimate(names.origin)) + (await this.deps.source.estimate(names.supplier));
        active.progress[type]!.documents_total = total;
      } catch {
        // No estimate: progress shows documents read without a total.
      }
    }
  }

  /** Builds one type into the run's generation (begun), and its dataset file; on failure the file is dropped. */
  private async buildType(run: Run, type: ItemType): Promise<Built> {
    const { store, source, config } = this.deps;
    const { lock, active } = run;
    const gen = lock.runId;
    const names = config.collections[type];
    const tally = new SkipTally();
    const result: TypeResult = {
      documents: 0,
      entries: 0,
      previous_entries: await store.entryCount(type, await store.currentGen(type)),
      skipped: tally.byReason,
      published: false,
    };
    const progress = active.progress[type]!;
    const dataset = await DatasetWriter.open(datasetPath(config.dataSetFile, type), lock.runId);
    const built: Built = { gen, result, dataset };
    let lastProgress = 0;
    const report = async (force = false) => {
      progress.documents_read = result.documents;
      progress.entries_written = result.entries;
      if (force || Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = Date.now();
        await this.writeStatus(active);
      }
    };

    try {
      active.stage = `${type}: origins`;
      await report(true);
      let batchStart = performance.now();
      for await (const docs of prefetched(source.batches(names.origin, ORIGIN_PROJECTION, config.syncBatchSize))) {
        checkRunning(run);
        const read = performance.now();
        const writes = originWrites(docs, tally);
        result.documents += docs.length;
        await this.write(type, gen, writes, writes.length, result, dataset);
        await report();
        batchStart = this.logBatch(run, type, "origins", docs.length, batchStart, read, result);
      }

      active.stage = `${type}: suppliers`;
      await report(true);
      batchStart = performance.now();
      for await (const docs of prefetched(source.batches(names.supplier, SUPPLIER_PROJECTION, config.syncBatchSize))) {
        checkRunning(run);
        const read = performance.now();
        const writes = await this.supplierWrites(type, gen, docs, tally);
        result.documents += docs.length;
        await this.write(type, gen, writes, 0, result, dataset);
        await report();
        batchStart = this.logBatch(run, type, "suppliers", docs.length, batchStart, read, result);
      }
      await dataset.close();
      await report(true);
      return built;
    } catch (err) {
      await dataset.discard();
      throw err;
    }
  }

  /** LOG_LEVEL=debug: one line per batch, with the time spent waiting for MongoDB and writing to Redis; returns the next batch's start. */
  private logBatch(run: Run, type: ItemType, stage: string, documents: number, start: number, read: number, result: TypeResult): number {
    const now = performance.now();
    const [readMs, writeMs] = [Math.round(read - start), Math.round(now - read)];
    this.deps.logger.debug(`${type}: ${stage} batch of ${documents} documents: read ${readMs} ms, written ${writeMs} ms (${result.documents} read so far)`, {
      run_id: run.lock.runId,
      type,
      stage,
      documents,
      read_ms: readMs,
      write_ms: writeMs,
    });
    return now;
  }

  /** The names a batch of supplier documents adds to their origins, as read from the generation being built. */
  private async supplierWrites(type: ItemType, gen: string, docs: Document[], tally: SkipTally): Promise<ItemWrite[]> {
    const links = docs.map((doc) => supplierLink(doc, tally));
    const skus = [...new Set(links.filter((l): l is string => l !== null))];
    const records = new Map<string, ItemRecord | null>();
    for (const [i, r] of (await this.deps.store.readItems(type, gen, skus)).entries()) records.set(skus[i]!, r);
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

  private async write(type: ItemType, gen: string, writes: ItemWrite[], newItems: number, result: TypeResult, dataset: DatasetWriter) {
    if (!writes.length) return;
    result.entries += await this.deps.store.writeItems(type, gen, writes, newItems);
    await dataset.write(writes.flatMap((w) => w.added.map((p) => toEntry(w.sku, w.record, p)!)));
    this.collectGarbageEvery(writes.length);
  }

  // JSC collects lazily: left alone the heap swings by 100 MB and more between batches (peak RSS
  // 342 MB at 100k documents); a full collection every few thousand items keeps it flat (228 MB).
  private itemsSinceGc = 0;
  private collectGarbageEvery(items: number): void {
    this.itemsSinceGc += items;
    if (this.itemsSinceGc < GC_EVERY_ITEMS) return;
    this.itemsSinceGc = 0;
    Bun.gc(true);
  }

  /** Applies pushes journaled during the build to the new generation before it is published. */
  private async replay(type: ItemType, gen: string, ops: string[]): Promise<void> {
    for (const raw of ops) await applyPush(this.deps.store, type, JSON.parse(raw) as PushOp, { building: gen });
  }

  private async writeStatus(active: ActiveRun): Promise<void> {
    active.updated_at = new Date().toISOString();
    try {
      this.deps.onProgress?.(active);
    } catch {
      // a progress display must not fail the run
    }
    const last = (await this.deps.status.get()).last_run;
    await this.deps.status.set({ active, last_run: last });
  }

  /** The end of a run must reach the status key even if Redis is down right now: retry until it does. */
  private async writeFinalStatus(result: RunResult, attempt = 0): Promise<void> {
    try {
      await this.deps.status.set({ active: null, last_run: result });
    } catch (err) {
      if (attempt === 0) this.deps.logger.warn("Could not write the sync status to Redis; retrying in the background", { run_id: result.run_id, err });
      if (attempt < 120) setTimeout(() => void this.writeFinalStatus(result, attempt + 1).catch(() => {}), 5_000).unref?.();
    }
  }

  /**
   * The run's end as one log event. Text logs keep the guide's block (the headline, `Duration: N
   * seconds`, a `Categories: N` line per type); JSON logs carry it as one object with the duration,
   * the counts per type and the skipped documents per type and reason.
   */
  private logResult(result: RunResult, cause: unknown): void {
    const { logger } = this.deps;
    const types = scopeTypes(result.scope).filter((type) => result.types[type]);
    const seconds = (result.duration_ms ?? 0) / 1000;
    const fields = {
      run_id: result.run_id,
      status: result.status,
      scope: result.scope,
      trigger: result.trigger,
      dry_run: result.dry_run,
      duration_seconds: Math.round(seconds * 1000) / 1000,
      counts: Object.fromEntries(
        types.map((type) => {
          const { documents, entries, previous_entries } = result.types[type]!;
          return [type, { documents, entries, previous_entries }];
        }),
      ),
      skipped: Object.fromEntries(
        types.map((type) => [type, Object.fromEntries(Object.entries(result.types[type]!.skipped).map(([reason, slot]) => [reason, slot?.count ?? 0]))]),
      ),
    };
    if (result.status === "success") {
      const headline = result.dry_run ? "Dry run completed successfully! (nothing published)" : `[${timestamp()}] Re-sync completed successfully!`;
      const block = [`Duration: ${seconds.toFixed(1)} seconds`, ...types.map((type) => `${TYPE_LABEL[type]}: ${result.types[type]!.entries}`)];
      logger.info(headline, { ...fields, [TEXT_LINES]: block });
    } else if (result.status === "cleared") {
      logger.warn("Search index and dataset files cleared: search answers nothing until the next run", fields);
    } else if (result.status === "rejected") {
      logger.warn(`Re-sync rejected: ${result.error}`, fields);
    } else if (result.status === "failed") {
      logger.error(`Re-sync failed: ${result.error}`, { ...fields, err: cause ?? result.error });
    }
  }

  private async notify(result: RunResult): Promise<void> {
    try {
      await this.deps.onFinished?.(result);
    } catch (err) {
      this.deps.logger.warn("run listener failed", { run_id: result.run_id, err });
    }
  }

  private baseResult(scope: Scope, trigger: Trigger, opts: RunOptions, startedAt: Date): RunResult {
    return {
      status: "running",
      run_id: newRunId(startedAt),
      trigger,
      scope,
      dry_run: opts.dryRun ?? false,
      force: opts.force ?? false,
      published: false,
      started_at: startedAt.toISOString(),
      finished_at: null,
      duration_ms: null,
      types: {},
      replica: this.deps.config.replicaName,
    };
  }
}

function newRun(lock: HeldLock, result: RunResult, signal: AbortSignal): Run {
  const active: ActiveRun = {
    run_id: result.run_id,
    scope: result.scope,
    trigger: result.trigger,
    started_at: result.started_at,
    stage: "starting",
    progress: {},
    updated_at: result.started_at,
  };
  const types = scopeTypes(result.scope);
  return { lock, result, types, active, signal, built: new Map(), unpublished: new Set(types), lockLost: false, typeFailed: false };
}

/** Throws when the run must stop: its lock was lost, it was aborted, or another of its types failed. */
function checkRunning({ lockLost, signal, typeFailed, result }: Run): void {
  if (lockLost) throw new Error(`lost the run lock (another run took over)${result.published ? "" : "; nothing was published"}`);
  if (signal.aborted) throw new RunAborted(`aborted: ${String(signal.reason ?? "shutdown")}`);
  if (typeFailed) throw new OtherTypeFailed("aborted: another type of this run failed");
}

/** The shrink guard: what would shrink by more than `maxPercent` against the serving index, or null. */
function checkShrink(result: RunResult, types: ItemType[], maxPercent: number): string | null {
  const shrinking = types.flatMap((type) => {
    const { entries, previous_entries: before } = result.types[type]!;
    if (before <= 0) return [];
    const percent = ((before - entries) / before) * 100;
    return percent > maxPercent ? [`${type}: ${before} → ${entries} entries (-${percent.toFixed(1)}%)`] : [];
  });
  if (!shrinking.length) return null;
  return `${shrinking.join("; ")}; more than SYNC_MAX_SHRINK_PERCENT=${maxPercent}%, nothing published (use force=true to publish anyway)`;
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

function finishTimes(startedAt: Date): Pick<RunResult, "finished_at" | "duration_ms"> {
  const now = new Date();
  return { finished_at: now.toISOString(), duration_ms: now.getTime() - startedAt.getTime() };
}

// ioredis's messages for "Redis went away" name its client options, not Redis.
const REDIS_GONE = /^(Reached the max retries per request limit|Stream isn't writeable and enableOfflineQueue|Connection is closed)/;

/** An error's message with any URI password removed (and Redis named when its connection was lost). */
export function errorText(err: unknown): string {
  const text = redactUri(err instanceof Error ? err.message : String(err));
  return REDIS_GONE.test(text) ? `Redis connection lost: ${text}` : text;
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
