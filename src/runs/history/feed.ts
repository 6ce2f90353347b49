// The history every replica shares. Each replica keeps its own SQLite history; a finished run is
// also added to a capped Redis stream (XADD MAXLEN ~ HISTORY_STREAM_MAXLEN), and every replica
// imports the entries it has not read yet into its database, keyed by run id (ids are made unique
// across replicas: a UTC time and random digits, see newRunId). Where a replica got to is kept in
// its own database, so that after a restart it reads on from there: what it missed while down is
// imported as long as the stream still holds it. One key, so Redis Cluster needs no hash tag.
import { ITEM_TYPES } from "../../catalog/types.ts";
import type { Logger } from "../../platform/log.ts";
import type { RedisClient } from "../../platform/redis.ts";
import { RUN_ID, type RunResult, TRIGGERS } from "../model.ts";
import type { HistoryRepo } from "./repo.ts";

/** The setting (history database) holding the id of the last stream entry this replica read. */
const POSITION_SETTING = "history_stream_position";
const FIELD = "run";
const READ_BATCH = 200;
// How soon a run finished elsewhere shows here; one XRANGE per second and replica costs Redis nothing.
const POLL_MS = 1_000;
const FINISHED = ["success", "failed", "rejected", "skipped", "cleared"];

export interface FeedHealth {
  /** Id of the last stream entry read ("0": none yet). */
  position: string;
  imported: number;
  /** Entries that are not a finished run (skipped, never imported). */
  invalid: number;
  /** Finished runs of this process not yet in the stream (Redis was unreachable); retried. */
  pending_publish: number;
}

export class HistoryFeed {
  private position = "0";
  private imported = 0;
  private invalid = 0;
  private readonly unpublished: RunResult[] = [];
  /** Runs this process added to the stream and has not read back yet: its database has them already. */
  private readonly own = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pass: Promise<void> | null = null;
  private publishing: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(private readonly deps: { redis: RedisClient; key: string; maxLen: number; history: HistoryRepo; logger: Logger }) {}

  /** Adds a finished run to the stream; while Redis cannot take it, it is kept and retried on each poll. */
  async publish(run: RunResult): Promise<void> {
    this.unpublished.push(run);
    this.own.add(run.run_id);
    try {
      await this.publishPending();
    } catch (err) {
      this.deps.logger.warn(`Could not add run ${run.run_id} to the shared history stream; retrying`, { run_id: run.run_id, err });
    }
  }

  /** Imports what the stream holds beyond where this replica got to, then keeps polling. */
  async start(): Promise<void> {
    try {
      this.position = this.deps.history.getSetting(POSITION_SETTING) ?? "0";
    } catch {
      // Unreadable now: reading the whole stream again imports nothing twice.
    }
    await this.warnIfTrimmed();
    await this.poll();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pass = this.pass;
    this.pass = null;
    await pass;
  }

  health(): FeedHealth {
    return { position: this.position, imported: this.imported, invalid: this.invalid, pending_publish: this.unpublished.length };
  }

  /** Reads every entry after the position into the history database. */
  async importNew(): Promise<void> {
    const { redis, key, history, logger } = this.deps;
    for (;;) {
      const entries = (await redis.xrange(key, `(${this.position}`, "+", "COUNT", READ_BATCH)) as [string, string[]][];
      let read = 0;
      for (const [id, fields] of entries) {
        this.position = id;
        const run = parseEntry(fields);
        if (typeof run === "string") {
          this.invalid++;
          logger.warn(`History stream entry ${id} skipped: ${run}`, { entry: id });
        } else if (!this.own.delete(run.run_id)) {
          history.import(run);
          this.imported++;
        } else continue;
        read++;
      }
      // Not for this process's own runs alone: while the database is locked they would add writes
      // to wait, and reading them again after a restart records nothing twice.
      if (read) history.setSetting(POSITION_SETTING, this.position);
      if (entries.length < READ_BATCH) return;
    }
  }

  private async poll(): Promise<void> {
    const pass = (async () => {
      try {
        await this.publishPending();
        await this.importNew();
        if (this.failing) this.deps.logger.info("History stream readable again");
        this.failing = false;
      } catch (err) {
        if (!this.failing) this.deps.logger.warn("Could not read the shared history stream; retrying", { err });
        this.failing = true;
      }
    })();
    this.pass = pass;
    await pass;
    if (this.pass !== pass) return; // stopped meanwhile
    this.timer = setTimeout(() => void this.poll(), POLL_MS);
  }

  /** Adds the waiting runs in order, after any call still adding (so none is added twice); rejects when Redis fails. */
  private publishPending(): Promise<void> {
    const drained = this.publishing.then(async () => {
      const { redis, key, maxLen } = this.deps;
      while (this.unpublished.length) {
        await redis.xadd(key, "MAXLEN", "~", maxLen, "*", FIELD, JSON.stringify(this.unpublished[0]));
        this.unpublished.shift();
      }
    });
    this.publishing = drained.catch(() => {});
    return drained;
  }

  /**
   * A replica down for longer than the stream keeps runs cannot import the ones trimmed meanwhile:
   * when the entry it last read is gone, some may have been (or only those up to it), so it says so.
   */
  private async warnIfTrimmed(): Promise<void> {
    if (this.position === "0") return;
    const { redis, key, logger } = this.deps;
    const [still] = await redis.xrange(key, this.position, this.position).catch(() => [true]);
    if (!still)
      logger.warn(
        `The shared history stream no longer holds entry ${this.position}, where this replica had read to: runs added after it and trimmed (HISTORY_STREAM_MAXLEN) while this replica was away may be missing from its history`,
        { position: this.position },
      );
  }
}

/** The run an entry holds, or why it holds none. */
export function parseEntry(fields: string[]): RunResult | string {
  const index = fields.findIndex((f, i) => i % 2 === 0 && f === FIELD);
  if (index < 0) return `no ${FIELD} field`;
  let run: Record<string, unknown>;
  try {
    run = JSON.parse(fields[index + 1]!);
  } catch {
    return `${FIELD} is not JSON`;
  }
  if (!run || typeof run !== "object" || Array.isArray(run)) return `${FIELD} is not an object`;
  const bad = badField(run);
  return bad ? `${bad} is missing or invalid` : (run as unknown as RunResult);
}

const isDate = (v: unknown) => typeof v === "string" && !Number.isNaN(Date.parse(v));
const optionalString = (v: unknown) => v === undefined || typeof v === "string";
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
/** What the history, the trends and the dashboard read of a type's result. */
const isTypeResult = (t: unknown) => isObject(t) && isCount(t.documents) && isCount(t.entries) && isObject(t.skipped) && typeof t.published === "boolean";

const CHECKS: Record<string, (v: unknown) => boolean> = {
  run_id: (v) => typeof v === "string" && RUN_ID.test(v),
  status: (v) => FINISHED.includes(v as string),
  trigger: (v) => TRIGGERS.includes(v as (typeof TRIGGERS)[number]),
  scope: (v) => v === "all" || ITEM_TYPES.includes(v as (typeof ITEM_TYPES)[number]),
  dry_run: (v) => typeof v === "boolean",
  force: (v) => typeof v === "boolean",
  published: (v) => typeof v === "boolean",
  started_at: isDate,
  finished_at: isDate,
  duration_ms: isCount,
  types: (v) => isObject(v) && Object.entries(v).every(([type, t]) => ITEM_TYPES.includes(type as (typeof ITEM_TYPES)[number]) && isTypeResult(t)),
  reason: optionalString,
  active_run_id: optionalString,
  error: optionalString,
  replica: optionalString,
};

function badField(run: Record<string, unknown>): string | null {
  return Object.entries(CHECKS).find(([field, ok]) => !ok(run[field]))?.[0] ?? null;
}
