// A run: rebuild the index of one type or all three from MongoDB, then publish atomically.
// The HTTP endpoints, the scheduler and the CLI all go through SyncEngine.trigger().
import type { ItemType } from "../catalog/types.ts";
import type { PushOp } from "../index/push-plan.ts";
import type { IndexStore } from "../index/store.ts";
import { applyPush } from "../index/update.ts";
import type { Config } from "../platform/config.ts";
import { type Logger, TEXT_LINES, timestamp } from "../platform/log.ts";
import { HeapCollector } from "../platform/memory.ts";
import { redactUri } from "../platform/redact.ts";
import type { CatalogSource } from "../source/mongo.ts";
import { type BuildEvent, type Builder, type BuildHandle, inThisThread } from "./build.ts";
import { commitDataset, DatasetWriter, datasetPath, removeTempFiles } from "./dataset.ts";
import type { HistoryRepo } from "./history/repo.ts";
import type { HeldLock, RunLock } from "./lock.ts";
import { type ActiveRun, newRunId, type RunOptions, type RunReason, type RunResult, type Scope, scopeTypes, type Trigger } from "./model.ts";
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
  /** Where a run's generations are built (build.ts); default: in this thread. */
  builder?: Builder;
}

export type TriggerOutcome = { started: true; runId: string; done: Promise<RunResult> } | { started: false; result: RunResult };

const PROGRESS_EVERY_MS = 1_000;
const TYPE_LABEL: Record<ItemType, string> = { categories: "Categories", boxes: "Boxes", options: "Options" };

/** A run under way: what its stages share. */
interface Run {
  lock: HeldLock;
  result: RunResult;
  types: ItemType[];
  active: ActiveRun;
  signal: AbortSignal;
  /** The build under way, told to stop when the run must. */
  build?: BuildHandle;
  /** Types whose generation is not published: their markers are renewed with the lock, and abandoned when the run ends. */
  unpublished: Set<ItemType>;
  lockLost: boolean;
  /** What made the run fail, for the log's `err` (type, message, stack). */
  cause?: unknown;
}

export class SyncEngine {
  private current: { runId: string; abort: AbortController; done: Promise<RunResult> } | null = null;
  private readonly builder: Builder;
  /** Collects the garbage of removing a replaced generation (strings the heap's size does not show). */
  private readonly collector = new HeapCollector();

  constructor(private readonly deps: EngineDeps) {
    this.builder = deps.builder ?? inThisThread(deps);
  }

  /** The run this process is executing, if any. */
  get activeRunId(): string | null {
    return this.current?.runId ?? null;
  }

  /** Triggers still taking the run lock: each has started its run or been refused once it settles. */
  private readonly starting = new Set<Promise<unknown>>();

  /** Resolves once every trigger under way has started its run (activeRunId) or been refused: shutdown waits for it. */
  async startsSettled(): Promise<void> {
    await Promise.allSettled([...this.starting]);
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
  private async start(result: RunResult, work: (run: Run) => Promise<void>, prepare?: (run: Run) => Promise<void>): Promise<TriggerOutcome> {
    const starting = this.startRun(result, work, prepare);
    this.starting.add(starting);
    try {
      return await starting;
    } finally {
      this.starting.delete(starting);
    }
  }

  private async startRun(result: RunResult, work: (run: Run) => Promise<void>, prepare: (run: Run) => Promise<void> = async () => {}): Promise<TriggerOutcome> {
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

  /** A sync: build every type, then the shrink guard, then publish (a dry run's build compares instead). */
  private async sync(run: Run): Promise<void> {
    const { result } = run;
    await this.buildGeneration(run);
    const shrink = checkShrink(result, run.types, this.deps.config.syncMaxShrinkPercent);
    if (result.dry_run) result.status = "success";
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
      const path = datasetPath(config.dataSetFile, type);
      await (await DatasetWriter.open(path, lock.runId)).close();
      await commitDataset(path, lock.runId);
    }
    result.status = "cleared";
  }

  /** Keeps the run lock alive until cleared; a renewal refused means it expired (Redis too slow to renew it) or another run took it. */
  private renewWhileRunning(run: Run): ReturnType<typeof setInterval> {
    const { store, lock, config, logger } = this.deps;
    return setInterval(
      async () => {
        try {
          if (!(await lock.renew(run.lock))) {
            if (!run.lockLost)
              logger.warn(`Run ${run.lock.runId} lost its lock (it expired or another run took it); it will not publish`, { run_id: run.lock.runId });
            run.lockLost = true;
            run.build?.stop("lost the run lock");
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

  /** Builds the run's generation of every type (build.ts); throws the failure that stopped it. */
  private async buildGeneration(run: Run): Promise<void> {
    const { types, active, result, lock, signal } = run;
    for (const type of types) active.progress[type] = { documents_read: 0, documents_total: 0, entries_written: 0 };
    void this.estimateTotals(types, active);
    checkRunning(run);
    const status = this.progressWriter(active);
    const onEvent = (event: BuildEvent) => {
      if (event.kind === "stage") {
        active.stage = event.stage;
        status.write(true);
      } else if (event.kind === "progress") {
        Object.assign(active.progress[event.type]!, { documents_read: event.documents_read, entries_written: event.entries_written });
        status.write(false);
      } else if (event.kind === "built") result.types[event.type] = event.result;
      else this.deps.logger.debug(event.msg, event.fields);
    };
    const build = this.builder({ runId: lock.runId, types, compare: result.dry_run }, onEvent);
    const stop = () => build.stop(String(signal.reason ?? "shutdown"));
    signal.addEventListener("abort", stop);
    run.build = build;
    try {
      await build.done;
    } catch (err) {
      checkRunning(run); // the run's own reason to stop, rather than the build's report of it
      throw err;
    } finally {
      signal.removeEventListener("abort", stop);
      run.build = undefined;
      status.write(true);
      await status.flushed();
    }
    checkRunning(run);
  }

  /** Writes the active run's progress to the status key one write at a time, at most once a second unless forced. */
  private progressWriter(active: ActiveRun): { write(force: boolean): void; flushed(): Promise<void> } {
    let last = 0;
    let chain = Promise.resolve();
    return {
      write: (force) => {
        if (!force && Date.now() - last < PROGRESS_EVERY_MS) return;
        last = Date.now();
        // As it is now: every stage is shown, however quickly the next one follows.
        const now = structuredClone(active);
        // Redis down: the build's own writes fail and end the run; a progress line is not worth more.
        chain = chain.then(() => this.writeStatus(now)).catch(() => {});
      },
      flushed: () => chain,
    };
  }

  /** Makes each built type the serving one (fenced by the lock's token), then puts its dataset file in place. */
  private async publishTypes(run: Run): Promise<void> {
    const { store, history, logger, config } = this.deps;
    run.active.stage = "publishing";
    await this.writeStatus(run.active);
    // With its counts: if the process dies before the end is recorded, recovery completes this row (interrupted.ts).
    history.save(run.result);
    const gen = run.lock.runId;
    for (const type of run.types) {
      checkRunning(run);
      const built = run.result.types[type]!;
      const outcome = await store.publish(type, gen, run.lock.token, (ops) => this.replay(type, gen, ops));
      if (!outcome.published) throw new Error(`lost ownership of ${type} (its marker expired, was removed or another run took it); ${type} was not published`);
      run.unpublished.delete(type);
      built.published = run.result.published = true;
      // The type serves its new index now: a file that cannot follow is a warning, not a failed run
      // (its temp file is removed with the run's others at its end).
      await commitDataset(datasetPath(config.dataSetFile, type), gen).catch((err) => {
        built.warning = errorText(err);
        logger.warn(`${TYPE_LABEL[type]}: ${built.warning}`, { run_id: run.result.run_id, type });
      });
      // The generation it replaced: its removal's garbage is collected as it goes (publish runs on the serving thread).
      await store.removeStale(type, () => this.collector.collectAfterBatch());
    }
    run.result.status = "success";
  }

  /** Drops what was not published, records the end (history, lock, status key, log) and tells the listeners. */
  private async finishRun({ lock, result, unpublished, cause }: Run): Promise<void> {
    const { store, history, logger, config } = this.deps;
    await removeTempFiles(config.dataSetFile, (runId) => runId === lock.runId);
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
  return { lock, result, types, active, signal, unpublished: new Set(types), lockLost: false };
}

/** Throws when the run must stop: its lock was lost, or it was aborted. */
function checkRunning({ lockLost, signal, result }: Run): void {
  if (lockLost) throw new Error(`lost the run lock (it expired or another run took it)${result.published ? "" : "; nothing was published"}`);
  if (signal.aborted) throw new Error(`aborted: ${String(signal.reason ?? "shutdown")}`);
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

function finishTimes(startedAt: Date): Pick<RunResult, "finished_at" | "duration_ms"> {
  const now = new Date();
  return { finished_at: now.toISOString(), duration_ms: now.getTime() - startedAt.getTime() };
}

// ioredis's messages for "Redis went away" name its client options, not Redis.
const REDIS_GONE =
  /^(Reached the max retries per request limit|Stream isn't writeable and enableOfflineQueue|Connection is closed|Command aborted due to connection close)/;

/** An error's message with any URI password removed (and Redis named when its connection was lost). */
export function errorText(err: unknown): string {
  const text = redactUri(err instanceof Error ? err.message : String(err));
  return REDIS_GONE.test(text) ? `Redis connection lost: ${text}` : text;
}
