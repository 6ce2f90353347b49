// One run at a time (SPEC §2): concurrent triggers, two instances, HTTP 409, the run lock.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createApp } from "../src/app/http.ts";
import { applyPush } from "../src/index/update.ts";
import { RunLock } from "../src/runs/lock.ts";
import type { RunResult } from "../src/runs/model.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { gensIn, heldEngine, keyShape, oid, seedLarge, servingEntries, snapshot, until, WatchedLock } from "./sync.fixtures.ts";

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createContext("concurrency");
});
afterEach(async () => {
  await ctx.cleanup();
});

function skippedFor(activeRunId: string) {
  return { status: "skipped", reason: "in_progress", active_run_id: activeRunId, published: false };
}

describe("concurrent triggers", () => {
  test("two triggers at once on one engine: exactly one runs, the other is skipped naming it", async () => {
    await seedLarge(ctx.db, ["categories"], 20);
    const s = await ctx.services();
    const [a, b] = await Promise.all([s.engine.trigger("all", "api"), s.engine.trigger("categories", "cron")]);
    const started = [a, b].filter((o) => o.started);
    const refused = [a, b].filter((o) => !o.started);
    expect(started).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const runId = (started[0] as { runId: string }).runId;
    const skipped = (refused[0] as { result: RunResult }).result;
    expect(skipped).toMatchObject(skippedFor(runId));
    expect(skipped.run_id).not.toBe(runId);
    expect((await (started[0] as { done: Promise<RunResult> }).done).status).toBe("success");
    // Both are in the history.
    expect(s.history.get(skipped.run_id)).toEqual(skipped);
    expect(s.history.get(runId)!.status).toBe("success");
  });

  test("over HTTP: 202 for the first, 409 {error: sync_in_progress, run_id} for the next ones", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 20);
    const s = await ctx.services({ SYNC_BATCH_SIZE: "10" });
    const run = heldEngine(s); // the run waits after its first batch until released
    const engine = run.engine;
    const app = createApp({ ...s, engine, version: "test", startedAt: new Date() });
    const call = async (method: string, path: string) => {
      const res = await app.handle(new Request(`http://localhost${path}`, { method }));
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const first = await call("POST", "/re-sync-all?wait=false");
    expect(first).toEqual({ status: 202, body: { run_id: expect.any(String), status: "running", run_status: "running", scope: "all", trigger: "api" } });
    const runId = first.body.run_id as string;

    for (const [method, path] of [
      ["POST", "/re-sync-all"],
      ["POST", "/re-sync-all?force=true"],
      ["GET", "/generate-data-set"],
      ["GET", "/generate-box-data"],
      ["POST", "/generate-option-data?wait=false"],
    ]) {
      const second = await call(method!, path!);
      expect({ path, status: second.status }).toEqual({ path, status: 409 });
      expect(second.body).toMatchObject({ error: "sync_in_progress", run_id: runId, message: `a run is already in progress (${runId})` });
    }
    const status = await call("GET", "/sync-status");
    expect(status.body).toMatchObject({ status: "running", active: { run_id: runId, scope: "all", trigger: "api" } });

    run.release();
    await until(() => engine.activeRunId === null, 20_000, "the first run to end");
    expect((await call("GET", "/sync-status")).body).toMatchObject({ status: "success", active: null, last_run: { run_id: runId } });
    expect((await call("GET", "/generate-box-data")).status).toBe(200);
  });

  test("two service instances (own history databases) on one Redis prefix: one run at a time", async () => {
    await seedLarge(ctx.db, ["categories"], 20);
    const one = await ctx.services();
    const two = await ctx.services({ HISTORY_DB_PATH: join(ctx.dir, "replica-2.db") });

    // Each run waits at its first batch until released: the run that wins cannot end, and free the
    // lock, before the other instance's trigger has tried to take it (a client still connecting).
    const [heldOne, heldTwo] = [heldEngine(one), heldEngine(two)];
    const [a, b] = await Promise.all([heldOne.engine.trigger("all", "api"), heldTwo.engine.trigger("all", "cron")]);
    expect([a.started, b.started].filter(Boolean)).toHaveLength(1);
    const winner = a.started ? a : b;
    const loser = a.started ? b : a;
    if (!winner.started || loser.started) throw new Error("unreachable");
    expect(loser.result).toMatchObject(skippedFor(winner.runId));
    heldOne.release();
    heldTwo.release();
    expect((await winner.done).status).toBe("success");

    // A run under way on one instance: the other is refused while it runs.
    const held = heldEngine(one);
    const outcome = await held.engine.trigger("categories", "manual");
    if (!outcome.started) throw new Error("run did not start");
    await held.held;
    const refused = await two.engine.run("categories", "interval");
    expect(refused).toMatchObject(skippedFor(outcome.runId));
    held.release();
    expect((await outcome.done).status).toBe("success");
    expect((await two.engine.run("categories", "api")).status).toBe("success");

    // Each instance recorded its own runs.
    const rows = (repo: typeof one.history) => repo.list(10).map((r) => [r.trigger, r.status]);
    expect(two.history.list(10).map((r) => r.run_id)).toContain(refused.run_id);
    expect(one.history.get(refused.run_id)).toBeNull();
    expect(rows(two.history)).toContainEqual(["interval", "skipped"]);
    expect(rows(one.history)).toContainEqual(["manual", "success"]);
  });
});

describe("the run lock", () => {
  test("a lock left by a dead owner blocks only until it expires", async () => {
    await seedLarge(ctx.db, ["options"], 5);
    const s = await ctx.services();
    const app = createApp({ ...s, version: "test", startedAt: new Date() });
    const dead = "20240101T000000Z-deadbeef 0123456789abcdef";
    await ctx.redis.set(`${ctx.prefix}lock`, dead, "PX", 60_000);

    expect(await s.engine.run("options", "api")).toMatchObject(skippedFor("20240101T000000Z-deadbeef"));
    const res = await app.handle(new Request("http://localhost/generate-option-data"));
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: "sync_in_progress", run_id: "20240101T000000Z-deadbeef" });
    // The refused triggers left the lock as it was: nothing renews or replaces a dead owner's lock.
    const left = await ctx.redis.pttl(`${ctx.prefix}lock`);
    expect(await ctx.redis.get(`${ctx.prefix}lock`)).toBe(dead);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(60_000);

    // Its expiry comes: the next trigger runs at once.
    await ctx.redis.pexpire(`${ctx.prefix}lock`, 200);
    await until(async () => (await ctx.redis.exists(`${ctx.prefix}lock`)) === 0, 5_000, "the dead lock to expire");
    const result = await s.engine.run("options", "api");
    expect(result.status).toBe("success");
    expect(await ctx.redis.exists(`${ctx.prefix}lock`)).toBe(0);
  });

  test("a lock that expires between the refused take and the read of its holder is taken, not reported as held by 'unknown'", async () => {
    const s = await ctx.services();
    const key = `${ctx.prefix}lock`;
    await ctx.redis.set(key, "20240101T000000Z-deadbeef 0123456789abcdef", "PX", 60_000);
    // The dead owner's lock expires right after the SET NX was refused.
    class ExpiringMeanwhile extends RunLock {
      private expired = false;
      override async holder(): Promise<string | null> {
        if (!this.expired) {
          this.expired = true;
          await ctx.redis.del(key);
        }
        return super.holder();
      }
    }
    const taken = await new ExpiringMeanwhile(s.redis, key, 5_000).acquire("20240101T000001Z-cafebabe");
    expect(taken).toMatchObject({ lock: { runId: "20240101T000001Z-cafebabe" } });
    expect(await ctx.redis.get(key)).toStartWith("20240101T000001Z-cafebabe ");
  });

  test("renewal keeps a long run's lock (and its build marker) alive beyond SYNC_LOCK_TTL_SECONDS=2", async () => {
    await seedLarge(ctx.db, ["categories"], 60);
    const s = await ctx.services({ SYNC_LOCK_TTL_SECONDS: "2", SYNC_BATCH_SIZE: "10" });
    expect((await s.engine.run("categories", "api")).status).toBe("success");

    const held = heldEngine(s); // waits after its first batch until released: still building whenever we look
    const slow = held.engine;
    const outcome = await slow.trigger("categories", "api");
    if (!outcome.started) throw new Error("run did not start");
    const locked = Date.now(); // the run took its lock before trigger() returned
    await held.held;
    const sku = oid("categories", 0, 3).toHexString();

    const journal = s.store.keys.journal("categories");
    const journaled = async () => (await ctx.redis.lrange(journal, 0, -1)).map((op) => (JSON.parse(op) as { op: string }).op);
    const stillRunningAt = async (at: number) => {
      await Bun.sleep(Math.max(0, locked + at - Date.now()));
      expect(slow.activeRunId).toBe(outcome.runId);
      expect((await ctx.redis.get(`${ctx.prefix}lock`))?.split(" ")[0]).toBe(outcome.runId);
      expect(await ctx.redis.pttl(`${ctx.prefix}lock`)).toBeGreaterThan(0);
      expect(await ctx.redis.get(s.store.keys.building("categories"))).toBe(outcome.runId);
      expect(await s.engine.run("categories", "cron")).toMatchObject(skippedFor(outcome.runId));
    };
    await stillRunningAt(2_600);
    // A push update while the build runs reaches the new index: it is journaled, kept while the
    // marker is renewed, and replayed at the publish.
    const pushed = await applyPush(
      s.store,
      "categories",
      { op: "add", item: { linked: sku, display_names: [{ iso: "fr", display_name: "Ajouté pendant la construction" }] } },
      "serving",
    );
    expect(pushed).toEqual({ added: 1, removed: 0, applied: true });
    expect(await journaled()).toEqual(["add"]);
    await stillRunningAt(3_400);
    expect(await journaled()).toEqual(["add"]);

    held.release();
    const result = await outcome.done;
    expect(result.status).toBe("success");
    expect(await ctx.redis.exists(`${ctx.prefix}lock`)).toBe(0);
    const entries = await servingEntries(s.store, "categories");
    expect(entries).toHaveLength(181);
    expect(entries.filter((e) => e.display_name === "Ajouté pendant la construction")).toEqual([
      {
        sku,
        linked: sku,
        name: "categories item 3",
        display_name: "Ajouté pendant la construction",
        iso: "fr",
        origin_name: "Ajouté pendant la construction",
        slug: "categories-item-3",
      },
    ]);
  });

  test("a run that lost its lock does not publish", async () => {
    await seedLarge(ctx.db, ["boxes"], 30);
    const s = await ctx.services({ SYNC_LOCK_TTL_SECONDS: "2", SYNC_BATCH_SIZE: "10" });
    expect((await s.engine.run("boxes", "api")).status).toBe("success");
    const serving = await snapshot(s, "boxes");

    const lock = new WatchedLock(s);
    const stalled = heldEngine(s, { lock });
    const outcome = await stalled.engine.trigger("boxes", "api");
    if (!outcome.started) throw new Error("run did not start");
    await stalled.held;
    // Another replica takes over (as if this one had stalled past the expiry).
    await ctx.redis.del(`${ctx.prefix}lock`);
    const thief = await s.lock.acquire("20240101T000000Z-thief000");
    expect("lock" in thief).toBe(true);
    // The stalled run goes on once its renewal has been refused.
    await lock.lost;
    stalled.release();

    const result = await outcome.done;
    expect(result).toMatchObject({ status: "failed", published: false, error: "lost the run lock (it expired or another run took it); nothing was published" });
    expect(await snapshot(s, "boxes")).toEqual(serving);
    // The thief's lock is untouched by the loser's release.
    expect((await ctx.redis.get(`${ctx.prefix}lock`))?.split(" ")[0]).toBe("20240101T000000Z-thief000");
    if ("lock" in thief) await s.lock.release(thief.lock);
  });

  test("a run that lost its lock does not disturb the run that took over", async () => {
    await seedLarge(ctx.db, ["boxes"], 30);
    const one = await ctx.services({ SYNC_LOCK_TTL_SECONDS: "2", SYNC_BATCH_SIZE: "10" });
    const two = await ctx.services({ SYNC_LOCK_TTL_SECONDS: "2", SYNC_BATCH_SIZE: "10", HISTORY_DB_PATH: join(ctx.dir, "replica-2.db") });
    expect((await one.engine.run("boxes", "api")).status).toBe("success");
    const clean = await ctx.keys();

    const stalled = heldEngine(one);
    const a = await stalled.engine.trigger("boxes", "api");
    if (!a.started) throw new Error("run did not start");
    await stalled.held;
    // The lock expires under the stalled run; the other replica starts its own run of the same type.
    await ctx.redis.del(`${ctx.prefix}lock`);
    const taker = heldEngine(two);
    const b = await taker.engine.trigger("boxes", "api");
    if (!b.started) throw new Error("takeover did not start");
    // The stalled run wakes up while the takeover is half-way through its build, and ends first.
    await taker.held;
    stalled.release();
    const lost = await a.done;
    taker.release();
    const won = await b.done;
    expect(lost).toMatchObject({ status: "failed", published: false });
    expect(won).toMatchObject({ status: "success", published: true });
    expect(await snapshot(one, "boxes")).toEqual({ gen: b.runId, items: 30, entries: 90, phrases: 90 });
    expect(gensIn(await ctx.keys())).toEqual([b.runId]);
    expect(keyShape(await ctx.keys(), [b.runId])).toEqual(keyShape(clean, gensIn(clean)));
  });
});
