// The change-stream follower against a MongoDB server with change streams (mongo-java-server,
// started by scripts/services.sh at MONGODB_CS_URI): after any changes, the serving index equals
// what a fresh full run builds from the same data.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { type Db, MongoClient, ObjectId } from "mongodb";
import { BINARY, ensureBinary, runCommand } from "../scripts/lib/binary.ts";
import { allServingEntries, type IndexEntries } from "../scripts/lib/entries.ts";
import { killAll, startMongoCs } from "../scripts/lib/procs.ts";
import type { Services } from "../src/app/container.ts";
import { ITEM_TYPES } from "../src/catalog/types.ts";
import { ChangeFollower } from "../src/changes/follower.ts";
import { skusOf } from "../src/index/push-plan.ts";
import { IndexStore } from "../src/index/store.ts";
import type { ChangeStreamAlert } from "../src/runs/alerts.ts";
import { createContext, MONGODB_URI, type TestContext } from "./helpers.ts";
import { SUPPLIER, slowEngine, until } from "./sync.fixtures.ts";

const CS_URI = process.env.MONGODB_CS_URI ?? `mongodb://127.0.0.1:${process.env.SS_MONGO_CS_PORT ?? 27037}`;
// Short lease so takeover is quick; runs of a few documents.
const ENV = { MONGODB_URI: CS_URI, SYNC_LOCK_TTL_SECONDS: "2", SYNC_BATCH_SIZE: "50" };

let client: MongoClient;
beforeAll(async () => {
  client = new MongoClient(CS_URI, { serverSelectionTimeoutMS: 3_000 });
  try {
    await client.db("admin").command({ ping: 1 });
  } catch {
    throw new Error(`these tests need a MongoDB server with change streams at ${CS_URI}: start it with scripts/services.sh start`);
  }
});
afterAll(() => client.close());

interface World {
  ctx: TestContext;
  mongo: MongoClient;
  db: Db;
  s: Services;
  followers: ChangeFollower[];
  follower(store?: IndexStore, deps?: Partial<ConstructorParameters<typeof ChangeFollower>[0]>): ChangeFollower;
}

let world: World | null = null;
afterEach(async () => {
  if (world) {
    for (const f of world.followers) await f.stop();
    await world.db.dropDatabase().catch(() => {});
    await world.ctx.cleanup();
    if (world.mongo !== client) await world.mongo.close();
    world = null;
  }
  await killAll();
});

/** Services and followers on a database of their own, at the shared server or the one at `mongoUrl`. */
async function newWorld(name: string, mongoUrl = CS_URI): Promise<World> {
  const ctx = await createContext(name, { ...ENV, MONGODB_URI: mongoUrl });
  const s = await ctx.services();
  const followers: ChangeFollower[] = [];
  const mongo = mongoUrl === CS_URI ? client : new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  world = {
    ctx,
    mongo,
    db: mongo.db(ctx.dbName),
    s,
    followers,
    follower(store = s.store, deps = {}) {
      const f = new ChangeFollower({
        ...s,
        store,
        retryMs: 200,
        resyncRetryMs: 500,
        onApplied: (type, op, count) => s.metrics.recordChanges(type, op, count),
        ...deps,
      });
      followers.push(f);
      f.start();
      return f;
    },
  };
  return world;
}

const id = (n: number) => new ObjectId(n.toString(16).padStart(24, "0"));
const names = (...pairs: [string, string][]) => pairs.map(([iso, display_name]) => ({ iso, display_name }));

/** A small catalog: origins 1-3 per type, suppliers with both forms of `linked`, one linking nowhere. */
async function seed(db: Db): Promise<void> {
  for (const [t, type] of ITEM_TYPES.entries()) {
    const base = (t + 1) * 1000;
    await db.collection(type).insertMany([
      { _id: id(base + 1), name: `${type} one`, slug: `${type}-one`, display_name: names(["en", "One"], ["nl", "Een"]) },
      { _id: id(base + 2), name: `${type} two`, slug: `${type}-two`, display_name: names(["en", "Two"], ["en", "Second"]) },
      { _id: id(base + 3), name: `${type} three`, slug: `${type}-three`, display_name: "not an array" },
    ]);
    await db.collection(SUPPLIER[type]).insertMany([
      { _id: id(base + 101), linked: id(base + 1), display_name: names(["fr", "Un"], ["en", "One"]) },
      { _id: id(base + 102), linked: id(base + 2).toHexString(), display_name: names(["de", "Zwei"]) },
      { _id: id(base + 103), linked: id(base + 3), display_name: names(["fr", "Trois"]) },
      { _id: id(base + 104), linked: id(base + 999), display_name: names(["fr", "Personne"]) },
      { _id: id(base + 105), linked: "not-an-id", display_name: names(["fr", "Rien"]) },
    ]);
  }
}

/** Inserts, updates, replaces and deletes on all six collections. */
async function change(db: Db): Promise<void> {
  for (const [t, type] of ITEM_TYPES.entries()) {
    const base = (t + 1) * 1000;
    const origins = db.collection(type);
    const suppliers = db.collection(SUPPLIER[type]);
    // Suppliers of an origin that does not exist yet, then the origin.
    await suppliers.insertOne({ _id: id(base + 106), linked: id(base + 4), display_name: names(["fr", "Quatre"]) });
    await origins.insertOne({ _id: id(base + 4), name: `${type} four`, slug: `${type}-four`, display_name: names(["en", "Four"]) });
    // A supplier moves from origin 1 to origin 2 (as hex text), another is replaced onto origin 3.
    await suppliers.updateOne({ _id: id(base + 101) }, { $set: { linked: id(base + 2).toHexString() } });
    await suppliers.replaceOne({ _id: id(base + 102) }, { linked: id(base + 3), display_name: names(["de", "Drei"]) });
    // Names change; a supplier loses its link; one is deleted.
    await origins.updateOne({ _id: id(base + 1) }, { $set: { display_name: names(["en", "First"], ["nl", "Eerste"]), name: "renamed" } });
    await origins.replaceOne({ _id: id(base + 3) }, { name: `${type} three`, slug: "three-again", display_name: names(["en", "Three"]) });
    await suppliers.updateOne({ _id: id(base + 103) }, { $unset: { linked: "" } });
    await suppliers.deleteOne({ _id: id(base + 105) });
    // Origin 2 is deleted: its suppliers' entries go with it.
    await origins.deleteOne({ _id: id(base + 2) });
    await suppliers.updateMany({ linked: id(base + 999) }, { $set: { linked: id(base + 4) } });
  }
}

/** The entries a fresh full run builds from the same data (in a prefix of its own). */
async function fullRunEntries(w: World): Promise<IndexEntries> {
  const fresh = await w.ctx.services({ REDIS_KEY_PREFIX: `${w.ctx.prefix}fresh:`, HISTORY_DB_PATH: `${w.ctx.dir}/fresh.db` });
  const result = await fresh.engine.run("all", "manual");
  expect(result.status).toBe("success");
  return allServingEntries(fresh.store);
}

/** Waits until the serving index equals a fresh full run's, and says so (the last difference otherwise). */
async function expectInStep(w: World): Promise<void> {
  const expected = await fullRunEntries(w);
  let actual = await allServingEntries(w.s.store);
  const end = Date.now() + 20_000;
  while (JSON.stringify(actual) !== JSON.stringify(expected) && Date.now() < end) {
    await Bun.sleep(100);
    actual = await allServingEntries(w.s.store);
  }
  expect(actual).toEqual(expected);
}

/** An index store whose writes of the items on hold wait until the hold is swapped for another (an update read from MongoDB, not yet in Redis). */
class HeldStore extends IndexStore {
  private held = new Set<string>();
  private gate = Promise.withResolvers<void>();
  /** Writes waiting on the current hold. */
  waiting = 0;

  /** Lets the writes on hold go, and holds the next writes of `skus` instead (none: holds nothing). */
  hold(skus: string[] = []): void {
    const released = this.gate;
    [this.held, this.gate, this.waiting] = [new Set(skus), Promise.withResolvers<void>(), 0];
    released.resolve();
  }

  override async tryPush(...args: Parameters<IndexStore["tryPush"]>): ReturnType<IndexStore["tryPush"]> {
    if (skusOf(args[1]).some((sku) => this.held.has(sku))) {
      this.waiting++;
      await this.gate.promise;
    }
    return super.tryPush(...args);
  }
}

/** An index store whose every push update waits `ms` first: a follower that cannot keep up. */
class SlowStore extends IndexStore {
  delayMs = 0;
  /** Updates wait for it, then delayMs each. */
  held: Promise<void> = Promise.resolve();
  override async tryPush(...args: Parameters<IndexStore["tryPush"]>): ReturnType<IndexStore["tryPush"]> {
    await this.held;
    await Bun.sleep(this.delayMs);
    return super.tryPush(...args);
  }
}

const resyncRuns = (w: World) => w.s.history.list(100).filter((r) => r.trigger === "resync");

async function following(f: ChangeFollower): Promise<void> {
  await until(() => f.status().state === "following", 20_000, "the follower to follow");
}

describe("change streams", () => {
  test("a first start runs a full run (resync), then every change lands as a full run would build it", async () => {
    const w = await newWorld("cs-equal");
    await seed(w.db);
    const f = w.follower();
    await following(f);
    expect(resyncRuns(w).map((r) => r.status)).toEqual(["success"]);
    await expectInStep(w);

    await change(w.db);
    await expectInStep(w);
    const status = f.status();
    expect(status.state).toBe("following");
    expect(status.events_applied.insert).toBeGreaterThan(0);
    expect(status.events_applied.update).toBeGreaterThan(0);
    expect(status.events_applied.delete).toBeGreaterThan(0);
    expect(status.last_event_at).not.toBeNull();
    const metrics = await w.s.metrics.exposition();
    expect(metrics).toMatch(/^sync_change_events_total\{type="categories",op="insert"\} [1-9]/m);
    expect(metrics).toMatch(/^sync_change_stream_lag_seconds \d+/m);
    // Search sees it: the supplier inserted before its origin is searchable under that origin.
    const hits = await w.s.search.search("categories", { query: "quatre", iso: "fr", limit: 10 });
    expect(hits.map((e) => e.sku)).toEqual([id(1004).toHexString()]);
  });

  test("changes made while a full run builds are not lost", async () => {
    const w = await newWorld("cs-during");
    await seed(w.db);
    const f = w.follower();
    await following(f);
    // A run slow enough that the changes land while it builds.
    const run = await slowEngine(w.s, 150).trigger("all", "manual");
    await change(w.db);
    if (run.started) expect((await run.done).status).toBe("success");
    await expectInStep(w);
  });

  test("a restarted follower resumes where it stopped: nothing lost, no full run", async () => {
    const w = await newWorld("cs-resume");
    await seed(w.db);
    const first = w.follower();
    await following(first);
    await first.stop();
    await change(w.db);
    const second = w.follower();
    await expectInStep(w);
    await following(second);
    expect(resyncRuns(w)).toHaveLength(1);
  });

  test("a stored position the server cannot resume from starts a full run with trigger resync", async () => {
    const w = await newWorld("cs-token");
    await seed(w.db);
    const first = w.follower();
    await following(first);
    await first.stop();
    await w.ctx.redis.hset(w.s.keys.changesTokens, "categories", JSON.stringify({ _data: "not a token" }));
    await change(w.db);
    const second = w.follower();
    await until(() => resyncRuns(w).length === 2 && second.status().state === "following", 20_000, "a second resync");
    expect(resyncRuns(w).map((r) => r.status)).toEqual(["success", "success"]);
    await expectInStep(w);
  });

  test("a dropped collection starts a full run (resync)", async () => {
    const w = await newWorld("cs-drop");
    await seed(w.db);
    const f = w.follower();
    await following(f);
    await w.db.collection(SUPPLIER.boxes).drop();
    await until(() => resyncRuns(w).length === 2 && f.status().state === "following", 20_000, "a second resync");
    await change(w.db);
    await expectInStep(w);
  });

  test("hex text in mixed case, as _id or linked: skipped by the follower as by a full run, before and after changes", async () => {
    const w = await newWorld("cs-mixed-case");
    await seed(w.db);
    const f = w.follower();
    await following(f);
    const lettered = new ObjectId("abcdefabcdefabcdefabcdef");
    await w.db.collection("categories").insertOne({ _id: lettered, name: "letters", slug: "letters", display_name: names(["en", "Lettered"]) });
    await w.db.collection(SUPPLIER.categories).insertOne({ _id: id(1201), linked: "AbCdEfAbCdEfAbCdEfAbCdEf", display_name: names(["fr", "Casse"]) });
    await w.db
      .collection("categories")
      .insertOne({ _id: "BbCdEfAbCdEfAbCdEfAbCdEf", name: "mixed", slug: "mixed", display_name: names(["en", "Mixed"]) } as never);
    await expectInStep(w);
    await w.db.collection("categories").updateOne({ _id: lettered }, { $set: { slug: "letters-2" } });
    await w.db.collection("categories").updateOne({ _id: "BbCdEfAbCdEfAbCdEfAbCdEf" } as never, { $set: { slug: "mixed-2" } });
    await expectInStep(w);
    expect((await w.s.search.search("categories", { query: "lettered", limit: 10 })).map((e) => e.slug)).toEqual(["letters-2"]);
  });

  test("a supplier whose _id is another supplier's ObjectId as hex text is another supplier: moving one re-derives where it was", async () => {
    const w = await newWorld("cs-id-forms");
    await seed(w.db);
    const f = w.follower();
    await following(f);
    const suppliers = w.db.collection(SUPPLIER.boxes);
    await suppliers.insertOne({ _id: id(2201), linked: id(2001), display_name: names(["fr", "Zebulon"]) });
    await expectInStep(w);
    await suppliers.insertOne({ _id: id(2201).toHexString(), linked: id(2002), display_name: names(["fr", "Jumeau"]) } as never);
    await expectInStep(w);
    await suppliers.updateOne({ _id: id(2201) }, { $set: { linked: id(2003) } });
    await expectInStep(w);
    expect((await w.s.search.search("boxes", { query: "zebulon", limit: 10 })).map((e) => e.sku)).toEqual([id(2003).toHexString()]);
  });

  test("supplier links stored in their earlier form are rebuilt at start, the stream positions kept: no full run", async () => {
    const w = await newWorld("cs-legacy-links");
    await seed(w.db);
    const first = w.follower();
    await following(first);
    await first.stop();
    // As an earlier release left them: under the old key, keyed by hex text; the new key gone.
    const links = await w.ctx.redis.hgetall(w.s.keys.supplierLinks("categories"));
    expect(Object.keys(links).length).toBeGreaterThan(0);
    await w.ctx.redis.hset(w.s.keys.legacySupplierLinks("categories"), links);
    for (const type of ITEM_TYPES) await w.ctx.redis.del(w.s.keys.supplierLinks(type));
    const second = w.follower();
    await following(second);
    expect(await w.ctx.redis.exists(w.s.keys.legacySupplierLinks("categories"))).toBe(0);
    expect(await w.ctx.redis.hgetall(w.s.keys.supplierLinks("categories"))).toEqual(links);
    expect(resyncRuns(w)).toHaveLength(1);
    // A move is followed from the rebuilt links.
    await change(w.db);
    await expectInStep(w);
  });

  test("a burst of changes is applied in batches, and nothing is missed", async () => {
    const w = await newWorld("cs-burst");
    await seed(w.db);
    const f = w.follower();
    await following(f);
    const docs = Array.from({ length: 450 }, (_, i) => ({ linked: id(1001 + (i % 3)), display_name: names(["it", `Nome ${i}`]) }));
    await w.db.collection(SUPPLIER.categories).insertMany(docs);
    await w.db.collection("categories").updateMany({}, { $set: { slug: "bulk" } });
    // Every event is read and applied (an early one's update already holds the later names: it reads MongoDB as it is).
    await until(() => f.status().events_applied.insert >= 450 && f.status().state === "following", 20_000, "every event applied");
    await expectInStep(w);
  });

  test("a follower behind for longer than CHANGE_STREAM_RESYNC_AFTER_SECONDS gets a full run (resync) that is done first: the rest of the backlog is skipped, an alert, nothing lost", async () => {
    const w = await newWorld("cs-behind");
    await seed(w.db);
    const store = new SlowStore(w.s.redis, w.s.keys);
    const alerts: ChangeStreamAlert[] = [];
    const f = w.follower(store, { config: { ...w.s.config, changeStreamResyncAfterMs: 500 }, alert: (a) => alerts.push(a) });
    await following(f);
    // A full batch of events per read for longer than 0.5 s, and a backlog that outlasts a full run.
    store.delayMs = 1_000;
    const docs = Array.from({ length: 1_500 }, (_, i) => ({ linked: id(1001 + (i % 3)), display_name: names(["it", `Nome ${i}`]) }));
    await w.db.collection(SUPPLIER.categories).insertMany(docs);
    // The follower may be following again while the run still removes the generation it replaced.
    const ended = () => resyncRuns(w).filter((r) => r.status !== "running").length === 2;
    await until(() => ended() && f.status().state === "following", 30_000, "a resync");
    store.delayMs = 0;
    expect(resyncRuns(w).map((r) => r.status)).toEqual(["success", "success"]);
    expect(alerts.map((a) => a.event)).toEqual(["change_stream_resync"]);
    expect(alerts[0]).toMatchObject({ reason: expect.stringContaining("CHANGE_STREAM_RESYNC_AFTER_SECONDS") });
    // Fewer events applied than written: the full run caught up instead.
    expect(f.status().events_applied.insert).toBeLessThan(1_500);
    await change(w.db);
    await expectInStep(w);
  });

  test("a backlog worked through before the full run for it ends: every event applied, the run not waited for", async () => {
    const w = await newWorld("cs-behind-worked");
    await seed(w.db);
    const store = new SlowStore(w.s.redis, w.s.keys);
    const alerts: ChangeStreamAlert[] = [];
    // Full runs that read slowly: the one for the backlog outlasts the backlog.
    const engine = slowEngine(w.s, 500);
    const f = w.follower(store, { engine, config: { ...w.s.config, changeStreamResyncAfterMs: 500 }, alert: (a) => alerts.push(a) });
    await following(f);
    store.delayMs = 300;
    const docs = Array.from({ length: 1_500 }, (_, i) => ({ linked: id(1001 + (i % 3)), display_name: names(["it", `Nome ${i}`]) }));
    await w.db.collection(SUPPLIER.categories).insertMany(docs);
    await until(() => resyncRuns(w).some((r) => r.status === "running"), 20_000, "a full run for the backlog");
    await until(() => f.status().state === "following" && f.status().events_applied.insert >= 1_500, 20_000, "the backlog worked through");
    expect(resyncRuns(w).filter((r) => r.status === "running")).toHaveLength(1);
    expect(alerts.map((a) => a.event)).toEqual(["change_stream_resync"]);
    await until(() => resyncRuns(w).every((r) => r.status !== "running"), 60_000, "the full run to end");
    store.delayMs = 0;
    expect(resyncRuns(w).map((r) => r.status)).toEqual(["success", "success"]);
    await change(w.db);
    await expectInStep(w);
  });

  test("a lag above CHANGE_STREAM_MAX_LAG_SECONDS alerts, not at every batch behind, and again after catching up", async () => {
    const w = await newWorld("cs-lag");
    await seed(w.db);
    const store = new SlowStore(w.s.redis, w.s.keys);
    const alerts: ChangeStreamAlert[] = [];
    const config = { ...w.s.config, changeStreamMaxLagMs: 1_000, changeStreamResyncAfterMs: 0 };
    const f = w.follower(store, { config, alert: (a) => alerts.push(a) });
    await following(f);
    const burst = async (n: number) => {
      // Held until every event of the burst is written: the follower cannot catch up with the
      // writes halfway (a lag of 0, then another alert), so each burst is one episode of lag.
      const { promise, resolve } = Promise.withResolvers<void>();
      store.held = promise;
      store.delayMs = 400;
      const docs = Array.from({ length: 800 }, (_, i) => ({ linked: id(1001 + (i % 3)), display_name: names(["it", `Nome ${n}.${i}`]) }));
      await w.db.collection(SUPPLIER.categories).insertMany(docs);
      resolve();
      await until(() => f.status().events_applied.insert >= 800 * n && f.status().lag_seconds === 0, 30_000, "the burst applied");
    };
    // Each burst is 8 full batches behind by more than a second: an alert at each would be 8. The
    // follower can still catch up for a moment while a burst is read (then alerts again), so a
    // burst may alert more than once, never at every batch.
    await burst(1);
    const first = alerts.length;
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThanOrEqual(3);
    expect(alerts[0]).toMatchObject({ event: "change_stream_lag", max_lag_seconds: 1 });
    expect((alerts[0] as { lag_seconds: number }).lag_seconds).toBeGreaterThan(1);
    await burst(2);
    expect(alerts.length - first).toBeGreaterThanOrEqual(1);
    expect(alerts.length - first).toBeLessThanOrEqual(3);
    expect(new Set(alerts.map((a) => a.event))).toEqual(new Set(["change_stream_lag"]));
    expect(resyncRuns(w).length).toBe(1);
    store.delayMs = 0;
    await expectInStep(w);
  });

  test("changes that keep coming are applied as they come, not once they stop", async () => {
    const w = await newWorld("cs-trickle");
    await seed(w.db);
    const f = w.follower();
    await following(f);
    // A change every 100 ms, less than the stream's wait for the next event: a follower that read on
    // to fill its batch would apply none of them while they keep coming.
    let seenAfter = 0;
    for (let i = 0; i < 60 && !seenAfter; i++) {
      await w.db.collection(SUPPLIER.categories).insertOne({ linked: id(1001), display_name: names(["fr", `Goutte${i}`]) });
      await Bun.sleep(100);
      if ((await w.s.search.search("categories", { query: "goutte0", iso: "fr", limit: 10 })).length) seenAfter = i + 1;
    }
    expect(seenAfter).toBeGreaterThan(0);
    expect(seenAfter).toBeLessThan(60);
  });

  test("one follower across replicas; another takes over when it stops renewing its lease", async () => {
    const w = await newWorld("cs-lease");
    await seed(w.db);
    const a = w.follower();
    await following(a);
    const b = w.follower();
    await until(() => b.status().state === "standby", 10_000, "the second follower to stand by");
    expect(a.status().state).toBe("following");
    // As a process that died: the lease is left to expire.
    await a.stop({ keepLease: true });
    await following(b);
    await change(w.db);
    await expectInStep(w);
    expect(resyncRuns(w)).toHaveLength(1);
  });

  test("an item read by one stream before a change and written after another stream applied the change is derived again", async () => {
    const w = await newWorld("cs-order");
    await seed(w.db);
    // Eight more origins, whose updates keep the origin stream's eight writers busy.
    const others = Array.from({ length: 9 }, (_, i) => id(1201 + i));
    await w.db
      .collection("categories")
      .insertMany(others.map((_id, i) => ({ _id, name: `other ${i}`, slug: `other-${i}`, display_name: names(["en", `Other ${i}`]) })));
    const store = new HeldStore(w.s.redis, w.s.keys);
    const f = w.follower(store);
    await following(f);
    const origins = w.db.collection("categories");
    // The origin stream is held in a batch of its own while the next batch's events are written.
    store.hold([others[0]!.toHexString()]);
    await origins.updateOne({ _id: others[0] }, { $set: { slug: "held" } });
    await until(() => store.waiting === 1, 10_000, "the first batch on hold");
    for (const _id of [...others.slice(1), id(1001)]) await origins.updateOne({ _id }, { $set: { slug: "moved-on" } });
    // The next batch is read at once: origin 1 with its supplier, and waits behind eight held writes.
    store.hold(others.slice(1).map((o) => o.toHexString()));
    await until(() => store.waiting === 8, 10_000, "the second batch read and its first eight writes on hold");
    // The supplier leaves origin 1; the supplier stream derives origin 1 again (or waits for the origin stream's batch).
    await w.db.collection(SUPPLIER.categories).deleteOne({ _id: id(1101) });
    await until(() => f.status().events_applied.delete >= 1, 3_000, "the delete applied").catch(() => {});
    store.hold();
    await expectInStep(w);
  });

  test("MongoDB restarted empty and seeded again: a full run (resync); another replica then takes over from the stored positions without one", async () => {
    const mongo = await startMongoCs();
    const w = await newWorld("cs-restart", mongo.url);
    await seed(w.db);
    const a = w.follower();
    await following(a);
    await mongo.restart();
    // A write lands before the catalog is seeded again, which drops the collections first (scripts/catalog.ts).
    await w.db.collection("boxes").insertOne({ name: "early", slug: "early", display_name: names(["en", "Early"]) });
    await w.db.dropCollection("boxes");
    await seed(w.db);
    await until(() => resyncRuns(w).length >= 2 && a.status().state === "following", 30_000, "a resync after the restart");
    await change(w.db);
    await expectInStep(w);
    // (A resync that read the catalog before it was seeded again is refused by the shrink guard, and tried again.)
    const runs = resyncRuns(w);
    expect(runs[0]?.status).toBe("success");
    // As a process that died: the lease is left to expire.
    await a.stop({ keepLease: true });
    const b = w.follower();
    await following(b);
    for (const [t, type] of ITEM_TYPES.entries()) {
      await w.db.collection(type).updateOne({ _id: id((t + 1) * 1000 + 4) }, { $set: { display_name: names(["en", "Later"]) } });
      await w.db.collection(SUPPLIER[type]).deleteOne({ _id: id((t + 1) * 1000 + 106) });
    }
    await expectInStep(w);
    expect(resyncRuns(w)).toEqual(runs);
  }, 90_000);
});

describe("change streams on a server without them", () => {
  test("FerretDB: the follower is unsupported and says why; runs still work", async () => {
    const ctx = await createContext("cs-ferret", { MONGODB_URI });
    try {
      const s = await ctx.services();
      const f = new ChangeFollower({ ...s, retryMs: 200 });
      f.start();
      await until(() => f.status().state === "unsupported", 10_000, "unsupported");
      expect(f.status().reason).toContain("$changeStream");
      expect((await s.engine.run("all", "manual")).status).toBe("success");
      await f.stop();
    } finally {
      await ctx.cleanup();
    }
  });

  test("SYNC_CHANGE_STREAMS=on refuses to start without them: one line, exit 2", async () => {
    ensureBinary();
    const ctx = await createContext("cs-on", { MONGODB_URI, SYNC_CHANGE_STREAMS: "on", PORT: "0" });
    try {
      const ran = await runCommand([BINARY], ctx.dir, ctx.env);
      expect(ran.code).toBe(2);
      expect(ran.stderr.trim().split("\n").at(-1)).toMatch(/^search-sync: SYNC_CHANGE_STREAMS=on, but MongoDB does not support change streams/);
    } finally {
      await ctx.cleanup();
    }
  });
});
