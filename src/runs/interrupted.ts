// Runs left `running` in the history database by a process that stopped without finishing them
// (SIGKILL, crash, power loss) are recorded as what they did: a run whose generation serves a type
// had published it (it died after the publish, before its end was recorded), otherwise it failed.
// A `running` row whose run holds the run lock may belong to a live process sharing this database
// (`search-sync sync` next to the service), so it is recorded only once the lock no longer names
// it: a live run keeps renewing its lock, a dead one's lock expires within SYNC_LOCK_TTL_SECONDS.
// The service looks at start and then every few seconds for as long as it runs, so a run killed at
// any time (a `search-sync sync` next to it, another process sharing the database) is recorded
// within SYNC_LOCK_TTL_SECONDS and one poll. A run recorded here also has its temp dataset files removed.
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import type { IndexStore } from "../index/store.ts";
import type { Config } from "../platform/config.ts";
import type { Logger } from "../platform/log.ts";
import { removeTempFiles } from "./dataset.ts";
import type { SyncEngine } from "./engine.ts";
import type { HistoryFeed } from "./history/feed.ts";
import type { HistoryRepo } from "./history/repo.ts";
import type { RunLock } from "./lock.ts";
import { type RunResult, scopeTypes, type TypeResult } from "./model.ts";
import type { StatusStore } from "./status.ts";

interface Deps {
  config: Pick<Config, "dataSetFile" | "lockTtlMs">;
  history: HistoryRepo;
  feed: Pick<HistoryFeed, "publish">;
  lock: RunLock;
  status: StatusStore;
  store: Pick<IndexStore, "servingRunId">;
  engine: Pick<SyncEngine, "activeRunId">;
  logger: Logger;
}

interface InterruptedRunsWatch {
  /** Settles after the first look (whether or not Redis answered). */
  first: Promise<void>;
  stop(): void;
}

export function watchInterruptedRuns(deps: Deps, pollMs: number): InterruptedRunsWatch {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let firstDone!: () => void;
  const first = new Promise<void>((resolve) => (firstDone = resolve));

  const look = async (): Promise<void> => {
    // Read first: between the lock's read and the recording below nothing may be awaited, or a run
    // this process starts meanwhile would be taken for a dead one.
    const serving = await servingRuns(deps.store);
    const own = deps.engine.activeRunId;
    const holder = await deps.lock.holder();
    // This process's own run is starting or ending: its row is `running` but not (or no longer) the holder.
    if (own !== null && own !== holder) return;
    const recorded = new Map<string, RunResult>();
    for (const run of deps.history.running()) {
      if (run.run_id === holder) continue;
      const ended = interruptedEnd(run, serving);
      if (!deps.history.finishRunning(ended)) continue;
      recorded.set(run.run_id, ended);
      deps.logger.warn(`Run ${run.run_id} was interrupted; recorded as ${ended.status}`, { run_id: run.run_id });
    }
    for (const ended of recorded.values()) await deps.feed.publish(ended);
    if (recorded.size) await removeTempFiles(deps.config.dataSetFile, (runId) => recorded.has(runId));
    await clearStaleActive(deps, holder, serving);
  };
  const loop = async () => {
    try {
      await look();
    } catch {
      // Redis unreachable: look again later.
    }
    firstDone();
    if (!stopped) timer = setTimeout(() => void loop(), pollMs);
  };
  void loop();
  return {
    first,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** The run whose generation serves, per type. */
async function servingRuns(store: Deps["store"]): Promise<Record<ItemType, string | null>> {
  const ids = await Promise.all(ITEM_TYPES.map((type) => store.servingRunId(type)));
  return Object.fromEntries(ITEM_TYPES.map((type, i) => [type, ids[i]])) as Record<ItemType, string | null>;
}

/**
 * How an interrupted run ended: it published the types its generation serves (their counts were
 * recorded before the publish), and succeeded if that is every type of its scope.
 */
function interruptedEnd(run: RunResult, serving: Record<ItemType, string | null>, now = new Date()): RunResult {
  const types = { ...run.types };
  for (const [type, t] of Object.entries(types) as [ItemType, TypeResult][]) types[type] = { ...t, published: serving[type] === run.run_id };
  const published = scopeTypes(run.scope).filter((type) => types[type]?.published);
  const succeeded = published.length === scopeTypes(run.scope).length;
  return {
    ...run,
    types,
    status: succeeded ? "success" : "failed",
    published: published.length > 0,
    finished_at: now.toISOString(),
    duration_ms: now.getTime() - new Date(run.started_at).getTime(),
    ...(succeeded ? {} : { error: "interrupted: the process running it stopped before it finished" }),
  };
}

/**
 * The status key still shows a run as active that has ended: show it as the last run. A run this
 * database does not know is another replica's (its own history database records it when that
 * replica starts again): once it holds no lock and its progress is older than the lock's expiry,
 * its process is gone, and the status key shows it failed (interrupted).
 */
async function clearStaleActive(deps: Deps, holder: string | null, serving: Record<ItemType, string | null>): Promise<void> {
  const { active } = await deps.status.get();
  const id = active?.run_id;
  if (!active || !id || id === holder || id === deps.engine.activeRunId) return;
  const run = deps.history.get(id);
  if (run) {
    if (run.status !== "running") await deps.status.set({ active: null, last_run: run });
    return;
  }
  if (Date.now() - Date.parse(active.updated_at) <= deps.config.lockTtlMs) return;
  const started = { status: "running", dry_run: false, force: false, published: false, finished_at: null, duration_ms: null, types: {} } as const;
  const ended = interruptedEnd({ ...started, run_id: id, trigger: active.trigger, scope: active.scope, started_at: active.started_at }, serving);
  await deps.status.set({ active: null, last_run: ended });
  deps.logger.warn(`Run ${id} of another replica was interrupted; the sync status shows it as ${ended.status}`, { run_id: id });
}
