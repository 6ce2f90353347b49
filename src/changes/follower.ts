// Near-real-time sync (docs/spec.md §7): follows the change streams of the six collections and
// applies every change as the per-item update push updates use (src/index/update.ts), so that the
// index equals what a full run of the same data would build.
//
// - Each change re-derives the items it touches from MongoDB as they are now (origin + suppliers),
//   so applying an item twice, late or out of order with a full run is harmless: the last update
//   of an item reads the data after its last change. Updates made while a run builds are
//   journaled and replayed into the new index like any push update.
// - That holds only if an item's updates reach Redis in the order they were read: the origin and
//   the supplier stream of a type touch the same items, so they read and write one batch at a time
//   (else an update read before a change could land after the one read after it, and stay).
// - A supplier can leave an origin (its `linked` changes, or it is deleted): the event does not
//   carry the old document, so the follower keeps where each supplier links (state.ts) and
//   re-derives the old origin as well as the new one.
// - One stream per collection (not one for the database): the collection of every event is then
//   known, on every server that has change streams.
// - Resume tokens are stored only once the index is known to hold everything before them. With
//   no usable token (first start, a token past the server's history, a dropped collection) the
//   follower opens new streams first, rebuilds the supplier links, then starts a full run
//   (trigger `resync`): changes made meanwhile are in the new streams, and the run reads after them.
// - A stream behind for longer than CHANGE_STREAM_RESYNC_AFTER_SECONDS gets a full run the same
//   way (new streams opened first), while the old streams keep being worked through: whichever
//   reaches the present first wins (startCatchUp).
// - One follower across replicas: a lease in Redis like the run lock; a replica that cannot renew
//   it stops, and another takes over from the stored tokens.
import { hostname } from "node:os";
import { type ChangeStream, type Db, type Document, type MongoClient, MongoServerError, type ResumeToken } from "mongodb";
import { objectIdHex } from "../catalog/entries.ts";
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import type { Keys } from "../index/keys.ts";
import type { IndexStore } from "../index/store.ts";
import { applyPush } from "../index/update.ts";
import type { Config } from "../platform/config.ts";
import type { Logger } from "../platform/log.ts";
import { HeapCollector } from "../platform/memory.ts";
import type { RedisClient } from "../platform/redis.ts";
import { withTimeout } from "../platform/timeouts.ts";
import type { ChangeStreamAlert } from "../runs/alerts.ts";
import type { SyncEngine } from "../runs/engine.ts";
import { errorText } from "../runs/engine.ts";
import { type HeldLock, RunLock } from "../runs/lock.ts";
import type { RunResult } from "../runs/model.ts";
import { CHANGE_BATCH, type ChangeEvent, changeStreamsUnsupported, itemsDocuments, openChangeStream, probeChangeStreams } from "../source/changes.ts";
import { type CatalogSource, createMongoClient } from "../source/mongo.ts";
import { itemUpdate, linkAtEvent, linkNow, originOf, supplierKey, supplierOf } from "./derive.ts";
import { FollowerState } from "./state.ts";

export const CHANGE_OPS = ["insert", "update", "replace", "delete"] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

// stopped: not started in this process (the CLI), or stopped on shutdown.
type FollowerState_ = "off" | "stopped" | "starting" | "standby" | "unsupported" | "resyncing" | "catching_up" | "following";

/** The `change_stream` block of /sync-status and /info: this process's follower. */
export interface ChangeStreamStatus {
  mode: Config["changeStreams"];
  state: FollowerState_;
  /** Why it is off, unsupported or resyncing. */
  reason: string | null;
  /** Seconds between the last applied change and now, while changes are waiting (0 when caught up). */
  lag_seconds: number | null;
  /** Server time of the last applied change. */
  last_event_at: string | null;
  events_applied: Record<ChangeOp, number>;
  /** The resync run started last, if any. */
  resync_run_id: string | null;
  /** The last failure (MongoDB or Redis unreachable, …); the follower retries. */
  error: string | null;
}

interface FollowerDeps {
  config: Pick<
    Config,
    "changeStreams" | "changeStreamMaxLagMs" | "changeStreamResyncAfterMs" | "collections" | "lockTtlMs" | "syncBatchSize" | "mongoUri" | "dbName"
  >;
  /** For the supplier links' scan (its reads renew their client after a connection problem). */
  source: Pick<CatalogSource, "batches">;
  store: IndexStore;
  redis: RedisClient;
  keys: Keys;
  engine: Pick<SyncEngine, "trigger">;
  /** The run lock: a resync waits for another replica's run to end rather than be recorded as skipped every second. */
  lock: Pick<RunLock, "holder">;
  logger: Logger;
  /** Called after each applied batch with its events of one type and op (metrics). */
  onApplied?: (type: ItemType, op: ChangeOp, count: number) => void;
  /** Starting a full run (a token it cannot use, a backlog), and a lag above CHANGE_STREAM_MAX_LAG_SECONDS (webhook). */
  alert?: (alert: ChangeStreamAlert) => void;
  /** How long the last successful full run took, if there was one (CHANGE_STREAM_RESYNC_AFTER_SECONDS=auto). */
  lastFullRunMs?: () => number | null;
  /** How long to wait before trying again after a failure (default 5 s) and after a resync run that did not succeed (default 5 min). */
  retryMs?: number;
  resyncRetryMs?: number;
}

/** One of the six collections the follower watches. */
interface Watched {
  type: ItemType;
  kind: "origin" | "supplier";
  collection: string;
}

/** One stream being followed, and what it has applied. */
interface Follow extends Watched {
  stream: ChangeStream<Document, ChangeEvent>;
  /** An event read when the stream was opened (its start point taken), not yet applied. */
  first: ChangeEvent | null;
  /** The position up to which every event has been applied; stored once the index holds everything before it. */
  applied: ResumeToken | null;
  saved: ResumeToken | null;
  savedAt: number;
  /** When the last read that reached the end of the stream began (0: none since it was opened). */
  endReadAt: number;
  lagSeconds: number;
  /** Since when every read has brought a full batch (the stream's end not reached), or null. */
  behindSince: number | null;
}

/** One period of holding the lease with open streams; ends on stop, lease loss or the first failure. */
interface Cycle {
  lease: HeldLock;
  /** A client of the cycle's own: a connection the server dropped mid-read can leave a client stuck (see CatalogSource); the next cycle starts afresh. */
  client: MongoClient;
  db: Db;
  follows: Follow[];
  /** Per type, the end of the batch being read and written (the origin and supplier streams take turns). */
  applying: Map<ItemType, Promise<void>>;
  /** False until the index is known to hold everything before the streams' positions. */
  tokensValid: boolean;
  halted: boolean;
  /** A full run for a backlog, while the streams keep being worked through. */
  catchUp: CatchUp | null;
  /** No full run for a backlog before this time (one did not succeed). */
  catchUpAfter: number;
  /** Set when such a run succeeded first: the positions its streams began at, to follow from once this cycle ends. */
  skipTo: Map<string, ResumeToken> | null;
}

/** A full run for a backlog, and the streams opened just before it began. */
interface CatchUp {
  ahead: Follow[];
  /** When every stream of `ahead` had its start point. */
  openedAt: number;
  /** The backlog was worked through first: the run is no longer waited for. */
  cancelled: boolean;
  /** Settles when the catch-up has ended (its failure halts the cycle). */
  done: Promise<void>;
}

class NeedsResync extends Error {}
class Unsupported extends Error {}

// An empty read of an idle stream returns at once on some servers: wait this long between them.
const IDLE_POLL_MS = 250;
/** Item updates of one batch applied at the same time. */
const UPDATES_IN_FLIGHT = 8;
const IDLE_SAVE_MS = 1_000;
/** A read of a stream that has not answered in this long is given up (the cycle ends and starts again). */
const READ_TIMEOUT_MS = 30_000;
/** CHANGE_STREAM_RESYNC_AFTER_SECONDS=auto: the last full run's duration, but at least this. */
const MIN_RESYNC_AFTER_MS = 30_000;

export class ChangeFollower {
  private readonly lease: RunLock;
  private readonly state: FollowerState;
  private readonly watched: Watched[];
  private readonly id = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  private running: Promise<void> | null = null;
  private stopping = false;
  private keepLeaseOnStop = false;
  private readonly sleepers = new Set<() => void>();
  private forceResync = false;
  private cycle: Cycle | null = null;
  private current: ChangeStreamStatus;
  /** A lag alert was sent and the follower has not caught up since. */
  private lagAlerted = false;
  /** A burst's garbage would otherwise take the serving process far past what it keeps alive. */
  private readonly collector = new HeapCollector();
  /** The wait before another full run after one for the follower did not succeed. */
  private get resyncRetryMs(): number {
    return this.deps.resyncRetryMs ?? 300_000;
  }

  constructor(private readonly deps: FollowerDeps) {
    this.lease = new RunLock(deps.redis, deps.keys.changesLease, deps.config.lockTtlMs);
    this.state = new FollowerState(deps.redis, deps.keys);
    this.watched = ITEM_TYPES.flatMap((type) => [
      { type, kind: "origin" as const, collection: deps.config.collections[type].origin },
      { type, kind: "supplier" as const, collection: deps.config.collections[type].supplier },
    ]);
    const mode = deps.config.changeStreams;
    this.current = {
      mode,
      state: mode === "off" ? "off" : "stopped",
      reason: mode === "off" ? "SYNC_CHANGE_STREAMS=off" : null,
      lag_seconds: null,
      last_event_at: null,
      events_applied: { insert: 0, update: 0, replace: 0, delete: 0 },
      resync_run_id: null,
      error: null,
    };
  }

  status(): ChangeStreamStatus {
    const follows = this.cycle?.follows ?? [];
    const lag = follows.length ? Math.max(...follows.map((f) => f.lagSeconds)) : this.current.lag_seconds;
    return { ...this.current, lag_seconds: lag, events_applied: { ...this.current.events_applied } };
  }

  /** Whether the server has change streams: null if it has, else the reason. Throws when MongoDB cannot be asked. */
  probe(): Promise<string | null> {
    const client = createMongoClient(this.deps.config.mongoUri);
    return probeChangeStreams(client.db(this.deps.config.dbName), this.watched[0]!.collection).finally(() => closeClient(client));
  }

  /** Starts following in the background (nothing with SYNC_CHANGE_STREAMS=off). */
  start(): void {
    if (this.deps.config.changeStreams === "off" || this.running) return;
    this.stopping = false;
    this.set("starting");
    this.running = this.supervise().finally(() => {
      this.running = null;
      if (this.current.state !== "unsupported") this.set("stopped");
    });
  }

  /**
   * Stops following and releases the lease, so that another replica takes over at once.
   * `keepLease` leaves it to expire, as a process that died would.
   */
  async stop(opts: { keepLease?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.keepLeaseOnStop = opts.keepLease ?? false;
    if (this.cycle) this.cycle.halted = true;
    this.wakeAll();
    await this.running;
  }

  private set(state: FollowerState_, reason: string | null = null): void {
    this.current.state = state;
    this.current.reason = reason;
  }

  private async supervise(): Promise<void> {
    const { logger, config } = this.deps;
    const retryMs = this.deps.retryMs ?? 5_000;
    let probed = false;
    while (!this.stopping) {
      try {
        if (!probed) {
          const reason = await this.probe();
          probed = true;
          if (reason) throw new Unsupported(reason);
        }
        const acquired = await this.lease.acquire(this.id);
        if ("heldBy" in acquired) {
          this.set("standby", `another replica follows the change streams (${acquired.heldBy})`);
          await this.sleep(Math.max(200, Math.floor(config.lockTtlMs / 3)));
          continue;
        }
        await this.follow(acquired.lock);
      } catch (err) {
        if (err instanceof Unsupported) {
          this.set("unsupported", err.message);
          const line = `Change streams are not followed: MongoDB does not support them (${err.message}); scheduled runs and push updates keep the index in step`;
          if (config.changeStreams === "on") logger.error(line);
          else logger.info(line);
          return;
        }
        // Once per kind of failure, not at every retry while MongoDB or Redis stays away.
        const error = errorText(err);
        if (error !== this.current.error) logger.warn(`Change stream follower stopped by an error; retrying every ${retryMs / 1000} s`, { error });
        this.current.error = error;
        await this.sleep(retryMs);
      }
    }
  }

  /** Holds the lease and follows until stopped, the lease is lost, or a failure (thrown). */
  private async follow(lease: HeldLock): Promise<void> {
    const client = createMongoClient(this.deps.config.mongoUri);
    const cycle: Cycle = {
      lease,
      client,
      db: client.db(this.deps.config.dbName),
      follows: [],
      applying: new Map(),
      tokensValid: false,
      halted: false,
      catchUp: null,
      catchUpAfter: 0,
      skipTo: null,
    };
    this.cycle = cycle;
    const renewal = setInterval(
      async () => {
        try {
          if (!(await this.lease.renew(lease))) this.leaseLost(cycle);
        } catch {
          // Redis unreachable: the lease may expire; every write checks it.
        }
      },
      Math.max(200, Math.floor(this.deps.config.lockTtlMs / 3)),
    );
    try {
      this.set("starting");
      await this.openStreams(cycle);
      if (this.current.error) this.deps.logger.info("Change stream follower recovered");
      this.current.error = null;
      // Before any event is applied: events move suppliers from where the links say they were.
      if (!cycle.tokensValid) await this.rebuildLinks(cycle);
      // Links stored in their earlier form: rebuilt, the streams' positions kept (as after a stop between links and tokens).
      else if (await this.state.hasLegacyLinks(ITEM_TYPES)) await this.rebuildLinks(cycle, { keepTokens: true });
      await this.runAll(cycle);
    } finally {
      clearInterval(renewal);
      cycle.halted = true;
      await closeClient(client);
      if (this.cycle === cycle) this.cycle = null;
      if (!this.stopping || !this.keepLeaseOnStop) await this.lease.release(lease).catch(() => {});
    }
  }

  private leaseLost(cycle: Cycle): void {
    if (cycle.halted) return;
    cycle.halted = true;
    this.deps.logger.warn("Change stream follower lost its lease (another replica took over); stopping here");
    this.wakeAll();
  }

  /** Opens every stream from its stored token, or, when they cannot all be resumed, from now (tokens not valid: a resync follows). */
  private async openStreams(cycle: Cycle): Promise<void> {
    const { logger } = this.deps;
    const tokens = this.forceResync ? new Map<string, ResumeToken>() : await this.state.tokens();
    this.forceResync = false;
    if (this.watched.every((w) => tokens.has(w.collection))) {
      try {
        cycle.follows = await this.openAll(cycle, (w) => tokens.get(w.collection)!);
        cycle.tokensValid = true;
        logger.info("Following the change streams from their stored positions");
        return;
      } catch (err) {
        if (changeStreamsUnsupported(err)) throw new Unsupported(changeStreamsUnsupported(err)!);
        if (!(err instanceof MongoServerError)) throw err;
        logger.warn("The stored change stream positions cannot be resumed; starting a full run (trigger resync)", { error: errorText(err) });
        this.deps.alert?.({ event: "change_stream_resync", reason: `the stored stream positions cannot be resumed: ${errorText(err)}` });
      }
    } else {
      logger.info("No change stream position stored for every collection; starting a full run (trigger resync)");
    }
    cycle.follows = await this.openAll(cycle, () => undefined);
  }

  /** Opens the six streams and reads each once, which fixes its start point; closes them all on failure. */
  private async openAll(cycle: Cycle, tokenOf: (w: Watched) => ResumeToken | undefined): Promise<Follow[]> {
    const follows: Follow[] = [];
    try {
      for (const w of this.watched) {
        const stream = openChangeStream(cycle.db, w.collection, w.kind === "supplier", tokenOf(w));
        const follow: Follow = {
          ...w,
          stream,
          first: null,
          applied: tokenOf(w) ?? null,
          saved: tokenOf(w) ?? null,
          savedAt: 0,
          endReadAt: 0,
          lagSeconds: 0,
          behindSince: null,
        };
        follows.push(follow);
        follow.first = await read(stream);
        if (!follow.first) follow.applied = stream.resumeToken ?? follow.applied;
      }
      return follows;
    } catch (err) {
      await Promise.all(follows.map((f) => f.stream.close().catch(() => {})));
      throw err;
    }
  }

  /** Rebuilds the supplier links from the supplier collections as they are now; the tokens go too unless `keepTokens`. */
  private async rebuildLinks(cycle: Cycle, { keepTokens = false, stopped = () => cycle.halted } = {}): Promise<void> {
    const { source, config } = this.deps;
    this.set("resyncing", "rebuilding the supplier links");
    if (!(await this.state.forget(cycle.lease, ITEM_TYPES, keepTokens))) return this.leaseLost(cycle);
    for (const type of ITEM_TYPES) {
      for await (const docs of source.batches(config.collections[type].supplier, { linked: 1 }, config.syncBatchSize)) {
        if (stopped()) return;
        const links = new Map<string, string | null>();
        for (const doc of docs) {
          const sku = objectIdHex(doc.linked);
          if (sku) links.set(supplierKey(doc._id), sku);
        }
        if (!(await this.state.commit(cycle.lease, type, links))) return this.leaseLost(cycle);
      }
    }
  }

  /** Runs full runs (trigger resync) until one succeeds; the streams' positions are stored from then on. */
  private async resync(cycle: Cycle): Promise<void> {
    const { logger } = this.deps;
    while (!cycle.halted) {
      const result = await this.fullRun(cycle, (detail) => this.set("resyncing", detail));
      if (!result) return;
      if (result.status === "success") {
        cycle.tokensValid = true;
        // Every stream's position now, so that a restart resumes from here even on a stream without events.
        const tokens = new Map(cycle.follows.flatMap((f) => (f.applied ? [[f.collection, f.applied] as const] : [])));
        if (!(await this.state.commit(cycle.lease, ITEM_TYPES[0], new Map(), tokens))) return this.leaseLost(cycle);
        this.set(cycle.follows.every((f) => f.endReadAt > 0) ? "following" : "catching_up");
        logger.info(`Change streams followed from here on (full run ${result.run_id} done)`);
        return;
      }
      this.set("resyncing", `full run ${result.run_id} ${result.status}: ${result.error ?? ""}; trying again`);
      await this.sleep(this.resyncRetryMs);
    }
  }

  /**
   * Starts a full run (trigger resync) once no other run is active (one that began earlier may
   * have read before what it must cover) and waits for its end; null when the cycle halted or
   * `cancelled()` first. `waiting` tells what it waits for.
   */
  private async fullRun(cycle: Cycle, waiting: (detail: string) => void, cancelled = () => false): Promise<RunResult | null> {
    const { engine, lock } = this.deps;
    const stopped = () => cycle.halted || cancelled();
    const tell = (detail: string) => {
      if (!stopped()) waiting(detail);
    };
    while (!stopped()) {
      const active = await lock.holder();
      if (active) {
        tell(`waiting for run ${active} to end`);
        await this.sleep(1_000);
        continue;
      }
      const outcome = await engine.trigger("all", "resync");
      if (!outcome.started) continue;
      this.current.resync_run_id = outcome.runId;
      tell(`full run ${outcome.runId}`);
      // Not awaited outright: a stop must not wait for the run (the shutdown decides about the run).
      let finished: RunResult | null = null;
      void outcome.done.then((r) => {
        finished = r;
        this.wakeAll();
      });
      while (!finished && !stopped()) await this.sleep(60_000);
      return finished;
    }
    return null;
  }

  /**
   * A backlog that has lasted longer than CHANGE_STREAM_RESYNC_AFTER_SECONDS: a full run starts
   * (trigger resync) while the streams keep being worked through. Should the run succeed first,
   * everything before the streams opened just before it began is in the index, so the cycle ends
   * and the follower goes on from there; should the backlog be worked through first, the run is
   * no longer waited for (it still publishes).
   */
  private startCatchUp(cycle: Cycle, reason: string, settle: (task: Promise<void>) => Promise<void>): void {
    const { logger } = this.deps;
    logger.warn(`${reason}; starting a full run (trigger resync), the backlog is worked through meanwhile`);
    this.deps.alert?.({ event: "change_stream_resync", reason });
    const catchUp: CatchUp = { ahead: [], openedAt: Number.POSITIVE_INFINITY, cancelled: false, done: Promise.resolve() };
    cycle.catchUp = catchUp;
    catchUp.done = settle(
      (async () => {
        try {
          catchUp.ahead = await this.openAll(cycle, () => undefined);
          catchUp.openedAt = Date.now();
          const result = await this.fullRun(
            cycle,
            (detail) => this.set("resyncing", `${detail}, for a backlog`),
            () => catchUp.cancelled,
          );
          if (!result || catchUp.cancelled) return;
          const tokens = catchUp.ahead.map((f) => [f.collection, f.stream.resumeToken] as const);
          if (result.status === "success" && tokens.every(([, token]) => token)) {
            cycle.skipTo = new Map(tokens as [string, ResumeToken][]);
            logger.info(`Full run ${result.run_id} done before the backlog was worked through; following the change streams from where it began`);
            cycle.halted = true;
            this.wakeAll();
            return;
          }
          cycle.catchUpAfter = Date.now() + this.resyncRetryMs;
          this.set("catching_up", `full run ${result.run_id} ${result.status}: ${result.error ?? ""}`);
        } finally {
          if (cycle.catchUp === catchUp) cycle.catchUp = null;
          await Promise.all(catchUp.ahead.map((f) => f.stream.close().catch(() => {})));
        }
      })(),
    );
  }

  /** Follows every stream (and resyncs, if needed) until the cycle halts; the first failure halts the rest and is thrown. */
  private async runAll(cycle: Cycle): Promise<void> {
    if (cycle.tokensValid) this.set("catching_up");
    let failure: unknown = null;
    const settle = (task: Promise<void>) =>
      task.catch((err) => {
        failure ??= err;
        cycle.halted = true;
        this.wakeAll();
      });
    const tasks = cycle.follows.map((f) => this.pump(cycle, f, settle));
    if (!cycle.tokensValid) tasks.push(this.resync(cycle));
    await Promise.all(tasks.map(settle));
    await cycle.catchUp?.done;
    if (cycle.skipTo && !failure && !this.stopping) {
      // Links first: a stop between the two resumes from before the run, over links newer than its events (harmless).
      await this.rebuildLinks(cycle, { stopped: () => this.stopping });
      if (!(await this.state.commit(cycle.lease, ITEM_TYPES[0], new Map(), cycle.skipTo))) this.leaseLost(cycle);
      return;
    }
    if (failure instanceof NeedsResync) {
      this.deps.logger.warn(`${failure.message}; starting a full run (trigger resync)`);
      this.deps.alert?.({ event: "change_stream_resync", reason: failure.message });
      this.forceResync = true;
    } else if (failure) throw failure;
  }

  private async pump(cycle: Cycle, f: Follow, settle: (task: Promise<void>) => Promise<void>): Promise<void> {
    while (!cycle.halted) {
      const startedAt = Date.now();
      const events: ChangeEvent[] = f.first ? [f.first] : [];
      f.first = null;
      if (!events.length) {
        const event = await read(f.stream);
        if (event) events.push(event);
      }
      // The rest of what the server's answer brought, not more: a read past it waits on the server
      // (up to the stream's maxAwaitTimeMS on MongoDB) for the next event while these wait to be applied.
      while (events.length && events.length < CHANGE_BATCH && f.stream.bufferedCount() > 0) {
        const event = await read(f.stream);
        if (!event) break;
        events.push(event);
      }
      if (cycle.halted) return;
      const links = events.length ? await this.apply(cycle, f, events) : new Map<string, string | null>();
      // Halted before the batch was applied: neither its links nor its position are stored.
      if (!links) return;
      const token = f.stream.resumeToken ?? f.applied;
      f.applied = token;
      const moved = JSON.stringify(token) !== JSON.stringify(f.saved);
      const save = cycle.tokensValid && token !== null && moved && (events.length > 0 || Date.now() - f.savedAt >= IDLE_SAVE_MS);
      if (links.size || save) {
        const tokens = save ? new Map([[f.collection, token]]) : new Map();
        if (!(await this.state.commit(cycle.lease, f.type, links, tokens))) return this.leaseLost(cycle);
        if (save) [f.saved, f.savedAt] = [token, Date.now()];
      }
      this.checkLag();
      if (events.length === CHANGE_BATCH) {
        f.behindSince ??= startedAt;
        const behindMs = Date.now() - f.behindSince;
        const limit = resyncAfterMs(this.deps.config.changeStreamResyncAfterMs, this.deps.lastFullRunMs?.() ?? null);
        if (cycle.tokensValid && limit > 0 && behindMs > limit && !cycle.catchUp && !cycle.halted && Date.now() >= cycle.catchUpAfter)
          this.startCatchUp(
            cycle,
            `The change stream of ${f.collection} has been behind for ${Math.round(behindMs / 1000)} s, longer than CHANGE_STREAM_RESYNC_AFTER_SECONDS (${Math.round(limit / 1000)} s)`,
            settle,
          );
      } else {
        f.behindSince = null;
        f.endReadAt = startedAt;
        f.lagSeconds = 0;
        const catchUp = cycle.catchUp;
        if (catchUp && !catchUp.cancelled && cycle.follows.every((x) => x.endReadAt >= catchUp.openedAt)) {
          catchUp.cancelled = true;
          this.wakeAll();
          this.set("catching_up");
          this.deps.logger.info("The backlog was worked through before the full run for it ended; following the change streams");
        }
        if (cycle.tokensValid && this.current.state === "catching_up" && cycle.follows.every((x) => x.endReadAt > 0)) this.set("following");
        // Only after a read without events: after one with events the next read follows at once.
        if (!events.length) await this.sleep(IDLE_POLL_MS - (Date.now() - startedAt));
      }
    }
  }

  /**
   * Applies a batch of one stream's events; returns the supplier links they change (stored with the
   * stream's position), or null when the cycle halted before the batch was applied.
   */
  private async apply(cycle: Cycle, f: Follow, events: ChangeEvent[]): Promise<Map<string, string | null> | null> {
    const { store, config } = this.deps;
    const skus = new Set<string>();
    const links = new Map<string, string | null>();
    for (const event of events) {
      if (!(CHANGE_OPS as readonly string[]).includes(event.operationType)) throw new NeedsResync(`${event.operationType} event on ${f.collection}`);
    }
    if (f.kind === "origin") {
      for (const event of events) {
        const sku = originOf(event);
        if (sku) skus.add(sku);
      }
    } else {
      const suppliers = [...new Set(events.map(supplierOf).filter((s): s is string => s !== null))];
      const known = await this.state.links(f.type, suppliers);
      suppliers.forEach((s, i) => {
        links.set(s, known[i] ?? null);
      });
      // In order: each event moves its supplier from where the previous one left it. Every origin it
      // was, is or will be linked to is re-derived (one more than needed is harmless).
      for (const event of events) {
        const supplier = supplierOf(event);
        if (supplier === null) continue;
        const before = links.get(supplier) ?? null;
        const at = linkAtEvent(event);
        if (at !== undefined) links.set(supplier, at);
        for (const sku of [before, at, linkNow(event)]) if (sku) skus.add(sku);
      }
    }
    const update = async () => {
      if (cycle.halted) return false;
      // Read after every event of the batch, so each item is derived from its data after its last change.
      const items = await itemsDocuments(cycle.db, config.collections[f.type], [...skus]);
      // The items are independent: a few updates at a time go to Redis side by side, few enough that
      // searches do not queue behind a burst's updates.
      const queue = [...items];
      const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [sku, { origin, suppliers }] = next;
          await applyPush(store, f.type, itemUpdate(sku, origin, suppliers), "serving");
        }
      };
      await Promise.all(Array.from({ length: UPDATES_IN_FLIGHT }, worker));
      this.countApplied(f, events);
      this.collector.collectAfterBatch();
      return true;
    };
    const done = (cycle.applying.get(f.type) ?? Promise.resolve()).then(update);
    cycle.applying.set(
      f.type,
      done.then(
        () => {},
        () => {},
      ),
    );
    return (await done) ? links : null;
  }

  /** Alerts once when the lag passes CHANGE_STREAM_MAX_LAG_SECONDS, again only after catching up. */
  private checkLag(): void {
    const lag = this.status().lag_seconds ?? 0;
    if (lag === 0) this.lagAlerted = false;
    else if (!this.lagAlerted && lag * 1000 > this.deps.config.changeStreamMaxLagMs) {
      this.lagAlerted = true;
      const max = this.deps.config.changeStreamMaxLagMs / 1000;
      this.deps.logger.warn(`The change streams are ${lag} s behind MongoDB (CHANGE_STREAM_MAX_LAG_SECONDS=${max})`);
      this.deps.alert?.({ event: "change_stream_lag", lag_seconds: lag, max_lag_seconds: max });
    }
  }

  private countApplied(f: Follow, events: ChangeEvent[]): void {
    const last = events[events.length - 1]!;
    const seconds = "clusterTime" in last && last.clusterTime ? last.clusterTime.t : null;
    if (seconds !== null) {
      this.current.last_event_at = new Date(seconds * 1000).toISOString();
      f.lagSeconds = Math.max(0, Math.round(Date.now() / 1000 - seconds));
    }
    const byOp = new Map<ChangeOp, number>();
    for (const e of events) byOp.set(e.operationType as ChangeOp, (byOp.get(e.operationType as ChangeOp) ?? 0) + 1);
    for (const [op, count] of byOp) {
      this.current.events_applied[op] += count;
      this.deps.onApplied?.(f.type, op, count);
    }
  }

  /** Waits `ms`, or less when stopped or halted. */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}

/**
 * How long a stream may stay behind before a full run starts beside it (0: never), given the
 * setting and how long the last successful full run took.
 */
export function resyncAfterMs(setting: Config["changeStreamResyncAfterMs"], lastFullRunMs: number | null): number {
  if (setting !== "auto") return setting;
  // One run (as in ski rental): the backlog's size is not known in advance, and waiting one run
  // before the run starts never takes more than twice what the better of the two ways would have
  // (a backlog just longer than a run: one run worked through, then the run); half a run, three
  // times. Working on beside the run can only make it shorter.
  return Math.max(MIN_RESYNC_AFTER_MS, lastFullRunMs ?? 0);
}

/** The next event of a stream, null at its end for now; throws when the server has not answered for READ_TIMEOUT_MS. */
function read(stream: ChangeStream<Document, ChangeEvent>): Promise<ChangeEvent | null> {
  return withTimeout(stream.tryNext(), READ_TIMEOUT_MS, () => {
    throw new Error(`MongoDB did not answer a change stream read within ${READ_TIMEOUT_MS / 1000} s`);
  });
}

/** Closes a client (and its streams), bounded: closing over a stuck connection may never finish. */
async function closeClient(client: MongoClient): Promise<void> {
  await withTimeout(client.close(true), 2_000, () => {}).catch(() => {});
}
