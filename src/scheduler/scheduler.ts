// The scheduler (docs/spec.md §4): a cron job (SYNC_CRON in SYNC_TIMEZONE) and an interval job, a backup
// every SYNC_INTERVAL_HOURS that skips when a successful full run is younger than one interval.
// The jobs only decide *whether* to run; the run itself is SyncEngine.trigger(), whose Redis
// lock keeps one run at a time across replicas; a claim per tick in Redis (see claimTick) makes
// it one run per tick even when a replica's run ends before another replica's tick fires.
//
// The interval job is not croner's `interval` option: in croner 6 (what @elysiajs/cron 1.4
// ships) that option only works for periods under 30 s. Croner wakes up at least every 30 s and
// then computes the next run from "now", so a longer interval never comes due (checked: with
// `interval: 35` a job fired once at start and never again). Nor can a cron pattern express
// every 7 or 1.5 hours. So the interval job is a croner job that checks once a minute (a
// seconds-level pattern in tests) whether the interval is due, and the due time is ours:
//   - at start: one interval after the last successful full run, or at once when that run is
//     older than one interval or there is none (the one catch-up run; missed ticks are never
//     replayed in a burst);
//   - after a tick: one interval after the later of the tick and the last success, so the job's
//     own run does not make its next tick skip, and a failed run is retried one interval later;
//   - after PUT /scheduler/interval: recomputed at once from the same point.

import type { Keys } from "../index/keys.ts";
import type { Config } from "../platform/config.ts";
import { type Logger, timestamp } from "../platform/log.ts";
import type { RedisClient } from "../platform/redis.ts";
import { errorText, type SyncEngine } from "../runs/engine.ts";
import type { HistoryRepo, LastRun } from "../runs/history/repo.ts";
import type { RunLock } from "../runs/lock.ts";
import type { StatusStore } from "../runs/status.ts";
import { validIntervalHours } from "./hours.ts";
import { type Job, scheduleJob } from "./jobs.ts";

interface SchedulerDeps {
  config: Pick<Config, "enableScheduler" | "syncIntervalHours" | "syncCron" | "syncTimezone">;
  engine: SyncEngine;
  history: HistoryRepo;
  status: StatusStore;
  lock: RunLock;
  /** For the tick claims, which are the scheduler's own keys, not index data. */
  redis: Pick<RedisClient, "set">;
  keys: Pick<Keys, "schedulerTick">;
  logger: Logger;
}

export interface SchedulerOptions {
  /** How long one hour of the interval lasts; tests shrink it (1_000: `hours=2` is 2 s). */
  hourMs?: number;
  /** When the interval job checks whether it is due: a croner pattern, seconds first. */
  intervalCheck?: string;
}

type JobName = "cron" | "interval";

interface JobStatus {
  name: JobName;
  kind: JobName;
  schedule: string;
  timezone: string | null;
  next_run: string | null;
  last_run: LastRun | null;
}

export interface SchedulerStatus {
  running: boolean;
  jobs: JobStatus[];
  interval_hours: number;
}

/** The scheduler could not start its jobs (an invalid SYNC_CRON or SYNC_TIMEZONE). */
export class SchedulerStartError extends Error {
  override name = "SchedulerStartError";
}

// Settings (history DB) that override ENABLE_SCHEDULER and SYNC_INTERVAL_HOURS once set through the API.
const SETTING_RUNNING = "scheduler.running";

/** Whether the scheduler starts with the service, and the one line that says why. */
export interface StartState {
  on: boolean;
  line: string;
}

/**
 * The start rule: a state saved through POST /scheduler/start or /stop wins over ENABLE_SCHEDULER,
 * because an operator chose it at run time, after the environment was written (README, "The
 * scheduler does not start"). The line names the saved state's date when it decides, so a
 * variable that is not used never goes unsaid.
 */
export function startState(config: Pick<Config, "enableScheduler">, saved: { value: string; updatedAt: Date } | null): StartState {
  const env = config.enableScheduler ? "on" : "off";
  const hint = (on: boolean) => (on ? "" : "; POST /scheduler/start turns it on");
  if (saved === null)
    return { on: config.enableScheduler, line: `scheduler: ${env} (ENABLE_SCHEDULER=${config.enableScheduler})${hint(config.enableScheduler)}` };
  const on = saved.value === "true";
  const via = on ? "POST /scheduler/start" : "POST /scheduler/stop";
  const envSays = on === config.enableScheduler ? "env agrees" : `env says ${env}: ENABLE_SCHEDULER=${config.enableScheduler} is not used`;
  return { on, line: `scheduler: ${on ? "on" : "off"} (saved state from ${timestamp(saved.updatedAt)} via ${via}; ${envSays})${hint(on)}` };
}

const SETTING_INTERVAL = "scheduler.interval_hours";
const HOUR_MS = 3_600_000;
const EVERY_MINUTE = "0 * * * * *";
// Replicas fire the same cron tick within their clock skew; the first to claim the tick runs it.
// The run lock alone would let a second replica run the tick again when the first replica's run
// ended before the second replica's tick fired (a small catalog, a skewed clock).
const TICK_CLAIM_TTL_MS = 5 * 60_000;

export class Scheduler {
  private cronJob: Job | null = null;
  private checkJob: Job | null = null;
  /** The cron job's next scheduled time (ms). */
  private cronTarget: number | null = null;
  private hours: number;
  /** The interval job's next due time (ms), and the time its period counts from (null: never succeeded). */
  private nextDue: number | null = null;
  private anchor: number | null = null;
  /** Bumped at every start, so a tick that outlives a stop/start does not move the new schedule. */
  private generation = 0;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Ticks in flight, and those of them that have not yet handed their run to the engine. */
  private readonly ticks = new Set<Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  private readonly hourMs: number;
  private readonly intervalCheck: string;
  private readonly instanceId = crypto.randomUUID().slice(0, 8);

  constructor(
    private readonly deps: SchedulerDeps,
    opts: SchedulerOptions = {},
  ) {
    this.hourMs = opts.hourMs ?? HOUR_MS;
    this.intervalCheck = opts.intervalCheck ?? EVERY_MINUTE;
    this.hours = this.persistedHours() ?? deps.config.syncIntervalHours;
  }

  get running(): boolean {
    return this.cronJob !== null;
  }

  private get intervalMs(): number {
    return this.hours * this.hourMs;
  }

  /** At service start: starts the jobs if the scheduler should run. Never throws; a failure is logged. */
  async init(): Promise<void> {
    const { config, logger } = this.deps;
    const state = startState(config, this.settingEntry(SETTING_RUNNING));
    if (this.persistedHours() !== null && this.hours !== config.syncIntervalHours)
      logger.info(`Scheduler interval: ${this.hours} hours (set through PUT /scheduler/interval; SYNC_INTERVAL_HOURS=${config.syncIntervalHours} is not used)`);
    logger.info(state.line, { scheduler: state.on ? "on" : "off" });
    if (!state.on) return;
    await this.serial(() => this.startJobs()).catch(() => {});
  }

  /** Starts both jobs (POST /scheduler/start); the state is persisted. */
  start(): Promise<{ changed: boolean }> {
    return this.serial(async () => {
      if (this.closed) throw new SchedulerStartError("the service is shutting down");
      const changed = !this.running;
      if (changed) await this.startJobs();
      this.persist(SETTING_RUNNING, "true");
      return { changed };
    });
  }

  /** Stops both jobs (POST /scheduler/stop); a run already started finishes. The state is persisted. */
  stop(): Promise<{ changed: boolean }> {
    return this.serial(() => {
      const changed = this.running;
      this.stopJobs();
      this.persist(SETTING_RUNNING, "false");
      if (changed) this.deps.logger.info("Automatic re-sync scheduler stopped");
      return { changed };
    });
  }

  /** Changes the interval at once (PUT /scheduler/interval); persisted. */
  setIntervalHours(hours: number): Promise<{ changed: boolean; previous: number }> {
    if (!validIntervalHours(hours)) return Promise.reject(new RangeError(`interval hours out of range: ${hours}`));
    return this.serial(() => {
      const previous = this.hours;
      this.hours = hours;
      this.persist(SETTING_INTERVAL, String(hours));
      if (this.running && this.anchor !== null) this.nextDue = Math.max(Date.now(), this.anchor + this.intervalMs);
      const next = this.intervalNextRun();
      this.deps.logger.info(`Scheduler interval set to ${hours} hours${next ? `; next interval run at ${timestamp(new Date(next))}` : ""}`);
      return { changed: previous !== hours, previous };
    });
  }

  status(): SchedulerStatus {
    const { config } = this.deps;
    const next = this.cronJob?.nextRun() ?? null;
    const intervalNext = this.intervalNextRun();
    return {
      running: this.running,
      jobs: [
        {
          name: "cron",
          kind: "cron",
          schedule: config.syncCron,
          timezone: config.syncTimezone,
          next_run: next ? next.toISOString() : null,
          last_run: this.lastRunOf("cron"),
        },
        {
          name: "interval",
          kind: "interval",
          schedule: `every ${this.hours} hours`,
          timezone: null,
          next_run: intervalNext === null ? null : new Date(intervalNext).toISOString(),
          last_run: this.lastRunOf("interval"),
        },
      ],
      interval_hours: this.hours,
    };
  }

  /**
   * Stops the jobs for good (shutdown; not persisted) and waits until no tick is about to start
   * a run, so that `engine.activeRunId` shows every run a tick started. It does not wait for runs.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stopJobs();
    await Promise.allSettled([...this.pending]);
  }

  /** Waits for every tick in flight, runs included (tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.ticks]);
  }

  private async startJobs(): Promise<void> {
    const { config, logger } = this.deps;
    try {
      const last = await this.lastSuccessAt();
      const onError = (err: unknown) => logger.error("Error during scheduled re-sync", { err });
      // croner takes its first target when the job is made; counted from just before, ours cannot be
      // later than croner's, even when a second turns while the interval job is made.
      const scheduledFrom = new Date();
      const cronJob = scheduleJob({ name: "cron", pattern: config.syncCron, timezone: config.syncTimezone, run: () => this.onCron(), onError });
      try {
        this.checkJob = scheduleJob({ name: "interval", pattern: this.intervalCheck, run: () => this.onIntervalCheck(), onError });
      } catch (err) {
        cronJob.stop();
        throw err;
      }
      this.cronJob = cronJob;
      this.cronTarget = cronJob.nextRun(scheduledFrom)?.getTime() ?? null;
      this.generation++;
      this.anchor = last;
      this.nextDue = last === null ? Date.now() : Math.max(Date.now(), last + this.intervalMs);
    } catch (err) {
      logger.error("⚠️ Failed to start scheduler", { err });
      throw new SchedulerStartError(`the scheduler could not start: ${errorText(err)}`);
    }
    logger.info("✅ Automatic re-sync scheduler started successfully!", {
      cron: config.syncCron,
      timezone: config.syncTimezone,
      interval_hours: this.hours,
    });
    // The guide's "Log Analysis" greps for this; its sample output shows the line above.
    logger.info(`✅ Scheduler started: cron '${config.syncCron}' in ${config.syncTimezone}, and a run at least every ${this.hours} h`);
  }

  private stopJobs(): void {
    this.cronJob?.stop();
    this.checkJob?.stop();
    this.cronJob = null;
    this.checkJob = null;
    this.nextDue = null;
  }

  /** When the interval job will next fire: its first check at or after the due time. */
  private intervalNextRun(): number | null {
    if (!this.checkJob || this.nextDue === null) return null;
    return this.checkJob.nextRun(new Date(Math.max(this.nextDue, Date.now()) - 1))?.getTime() ?? null;
  }

  private onCron(): Promise<void> | undefined {
    const job = this.cronJob;
    if (this.closed || !job) return;
    const tickAt = this.cronTickAt(job);
    return this.track(async (handedOff) => {
      await this.tick("cron", tickAt, handedOff);
    });
  }

  /**
   * The scheduled time of the tick firing now, the same on every replica (it names the tick claim).
   * Not the current second: with a timezone, croner 6 fires up to a second late (it drops the
   * milliseconds of "now" when it computes the delay), and never early.
   */
  private cronTickAt(job: Job): number {
    const now = Date.now();
    let tick = this.cronTarget !== null && this.cronTarget <= now ? this.cronTarget : Math.floor(now / 1000) * 1000;
    for (let next = job.nextRun(new Date(tick)); next && next.getTime() <= now; next = job.nextRun(next)) tick = next.getTime();
    this.cronTarget = job.nextRun(new Date(tick))?.getTime() ?? null;
    return tick;
  }

  private onIntervalCheck(): Promise<void> | undefined {
    const due = this.nextDue;
    if (this.closed || due === null || Date.now() < due) return;
    const generation = this.generation;
    // Until the tick ends, the next period counts from this tick (no second tick meanwhile).
    this.nextDue = due + this.intervalMs;
    this.anchor = due;
    return this.track(async (handedOff) => {
      const anchor = await this.tick("interval", due, handedOff);
      if (generation !== this.generation || !this.checkJob) return;
      this.anchor = anchor;
      this.nextDue = anchor + this.intervalMs;
    });
  }

  /**
   * One tick of a job: skip (recorded in the history) or start a run through the engine and log
   * its outcome. Never throws. Returns the time the interval job's next period counts from.
   */
  private async tick(job: JobName, tickAt: number, handedOff: () => void): Promise<number> {
    const { engine, logger } = this.deps;
    try {
      if (job === "interval") {
        const last = await this.lastSuccessAt();
        if (last !== null && Date.now() - last < this.intervalMs) {
          await engine.recordSkipped(engine.skippedResult("all", "interval", "recent_success"));
          logger.info(
            `[${timestamp()}] Scheduled re-sync skipped: the last successful run finished at ${timestamp(new Date(last))}, less than ${this.hours} hours ago`,
            { job },
          );
          return last;
        }
      }
      if (this.closed) return tickAt;
      if (!(await this.claimTick(job, tickAt))) {
        const holder = await this.deps.lock.holder().catch(() => null);
        await engine.recordSkipped(engine.skippedResult("all", job, "in_progress", holder ? { active_run_id: holder } : {}));
        logger.info(`[${timestamp()}] Scheduled re-sync skipped: another replica took this tick${holder ? ` (run ${holder})` : ""}`, { job });
        return tickAt;
      }
      if (this.closed) return tickAt;
      logger.info(`[${timestamp()}] Starting scheduled re-sync...`, { job });
      const outcome = await engine.trigger("all", job);
      handedOff();
      if (!outcome.started) {
        logger.info(`Scheduled re-sync skipped: run ${outcome.result.active_run_id} is in progress`, { job, run_id: outcome.result.run_id });
        return tickAt;
      }
      const result = await outcome.done;
      if (result.status === "success") return Math.max(tickAt, Date.parse(result.finished_at ?? "") || tickAt);
      if (result.status === "failed" || result.status === "rejected")
        logger.error("Error during scheduled re-sync", { job, run_id: result.run_id, status: result.status, error: result.error ?? result.status });
      return tickAt;
    } catch (err) {
      logger.error("Error during scheduled re-sync", { job, err });
      return tickAt;
    } finally {
      handedOff();
    }
  }

  private async claimTick(job: JobName, tickAt: number): Promise<boolean> {
    const key = this.deps.keys.schedulerTick(job, Math.floor(tickAt / 1000));
    return (await this.deps.redis.set(key, this.instanceId, "PX", TICK_CLAIM_TTL_MS, "NX")) === "OK";
  }

  /**
   * When the last successful full run finished: this replica's history, or the shared status key
   * (a run by another replica is only there), whichever is newer.
   */
  private async lastSuccessAt(): Promise<number | null> {
    let newest = Date.parse(this.deps.history.lastSuccess("all")?.finished_at ?? "");
    try {
      const last = (await this.deps.status.get()).last_run;
      if (last?.status === "success" && last.scope === "all" && !last.dry_run && last.finished_at)
        newest = Math.max(Number.isNaN(newest) ? 0 : newest, Date.parse(last.finished_at));
    } catch {
      // Redis unreachable: the local history has to do.
    }
    return Number.isNaN(newest) ? null : newest;
  }

  private track(work: (handedOff: () => void) => Promise<void>): Promise<void> {
    let handedOff!: () => void;
    const pending = new Promise<void>((resolve) => (handedOff = resolve));
    this.pending.add(pending);
    void pending.then(() => this.pending.delete(pending));
    const tick: Promise<void> = work(handedOff)
      .catch((err) => this.deps.logger.error("Error during scheduled re-sync", { err }))
      .finally(() => {
        handedOff();
        this.ticks.delete(tick);
      });
    this.ticks.add(tick);
    return tick;
  }

  /** Start, stop and interval changes one at a time (start awaits Redis before scheduling). */
  private serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** A job's last run, or null while the history database cannot be read (the status still answers). */
  private lastRunOf(job: "cron" | "interval"): LastRun | null {
    try {
      return this.deps.history.lastRunOf(job);
    } catch {
      return null;
    }
  }

  private setting(key: string): string | null {
    return this.settingEntry(key)?.value ?? null;
  }

  private settingEntry(key: string): { value: string; updatedAt: Date } | null {
    try {
      return this.deps.history.getSettingEntry(key);
    } catch (err) {
      this.deps.logger.warn(`Could not read the setting ${key} from the history database`, { err });
      return null;
    }
  }

  private persistedHours(): number | null {
    const raw = this.setting(SETTING_INTERVAL);
    if (raw === null) return null;
    const hours = Number(raw);
    if (validIntervalHours(hours)) return hours;
    this.deps.logger.warn(`Ignoring the stored scheduler interval ${JSON.stringify(raw)}: not a number of hours from 1 to 168`);
    return null;
  }

  private persist(key: string, value: string): void {
    try {
      this.deps.history.setSetting(key, value);
    } catch (err) {
      this.deps.logger.warn(`Could not save the setting ${key}; the change holds until the service restarts`, { err });
    }
  }
}
