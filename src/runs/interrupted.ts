// Runs left `running` in the history database by a process that stopped without finishing them
// (SIGKILL, crash, power loss) are marked failed. A `running` row whose run holds the run lock may
// belong to a live process sharing this database (`search-sync sync` next to the service), so it
// is marked only once the lock no longer names it: a live run keeps renewing its lock, a dead
// one's lock expires within SYNC_LOCK_TTL_SECONDS. Until then the service watches the lock.
import type { Logger } from "../platform/log.ts";
import type { SyncEngine } from "./engine.ts";
import type { HistoryRepo } from "./history/repo.ts";
import type { RunLock } from "./lock.ts";
import type { StatusStore } from "./status.ts";

interface Deps {
  history: HistoryRepo;
  lock: RunLock;
  status: StatusStore;
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

  /** One look; true when no run of this database can still be waiting to be marked. */
  const look = async (): Promise<boolean> => {
    const own = deps.engine.activeRunId;
    const holder = await deps.lock.holder();
    // This process's own run is starting or ending: its row is `running` but not (or no longer) the holder.
    if (own !== null && own !== holder) return false;
    const marked = deps.history.markInterrupted(holder);
    if (marked) deps.logger.warn(`Marked ${marked} interrupted run(s) as failed`);
    await clearStaleActive(deps, holder);
    return holder === null || holder === own || deps.history.get(holder)?.status !== "running";
  };
  const loop = async () => {
    let done = false;
    try {
      done = await look();
    } catch {
      // Redis unreachable: look again later.
    }
    firstDone();
    if (!done && !stopped) timer = setTimeout(() => void loop(), pollMs);
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

/** The status key still shows a run as active that this database knows has ended: show it as the last run. */
async function clearStaleActive(deps: Deps, holder: string | null): Promise<void> {
  const status = await deps.status.get();
  const id = status.active?.run_id;
  if (!id || id === holder || id === deps.engine.activeRunId) return;
  const run = deps.history.get(id);
  if (!run || run.status === "running") return;
  await deps.status.set({ active: null, last_run: run });
}
