// Publishing (SPEC §2): atomic switch, shrink guard, dry runs, scope, cleanup, only our own keys.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/app/http.ts";
import type { ItemType } from "../src/catalog/types.ts";
import { SetSorter } from "../src/index/set-sorter.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { dumpType, gensIn, heldEngine, ITEM_TYPES, keyShape, oid, type Snapshot, SUPPLIER, seedLarge, servingEntries, snapshot } from "./sync.fixtures.ts";

let ctx: TestContext;
// Keys outside the prefix, in the same Redis database: no run may touch them.
let sentinels: Record<string, string>;

beforeEach(async () => {
  ctx = await createContext("publish");
  const id = crypto.randomUUID();
  sentinels = {
    [`sentinel:${id}`]: "keep me",
    [`${ctx.prefix.slice(0, -1)}`]: "the prefix without its last character",
    [`${ctx.prefix.slice(0, -1)}-other:{category}:cur`]: "a look-alike of our keys",
  };
  for (const [k, v] of Object.entries(sentinels)) await ctx.redis.set(k, v);
});
afterEach(async () => {
  try {
    for (const [k, v] of Object.entries(sentinels)) expect(await ctx.redis.get(k)).toBe(v);
  } finally {
    for (const key of Object.keys(sentinels)) await ctx.redis.del(key);
    await ctx.cleanup();
  }
});

const files: Record<ItemType, string> = { categories: "data_set.json", boxes: "data_set_boxes.json", options: "data_set_options.json" };
const readDataset = (type: ItemType) => readFileSync(join(ctx.dir, files[type]), "utf8");

async function deleteOrigins(type: ItemType, indexes: number[]) {
  await ctx.db.collection(type).deleteMany({ _id: { $in: indexes.map((i) => oid(type, 0, i)) } });
  await ctx.db.collection(SUPPLIER[type]).deleteMany({ _id: { $in: indexes.map((i) => oid(type, 1, i)) } });
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("atomic publish", () => {
  test("every read during a run sees the whole previous index, then the whole new one", async () => {
    await seedLarge(ctx.db, ["categories"], 1500);
    const s = await ctx.services({ SYNC_BATCH_SIZE: "10" });
    expect((await s.engine.run("categories", "api")).status).toBe("success");
    const before = await snapshot(s, "categories");
    expect(before).toEqual({ gen: expect.any(String), items: 1500, entries: 4500, phrases: 4500 });

    await seedLarge(ctx.db, ["categories"], 500, 1500);
    const outcome = await s.engine.trigger("categories", "api");
    if (!outcome.started) throw new Error("run did not start");
    const after: Snapshot = { gen: outcome.runId, items: 2000, entries: 6000, phrases: 6000 };

    const reads: Snapshot[] = [];
    let sawProgress = false;
    let finished = false;
    void outcome.done.finally(() => (finished = true));
    while (!finished) {
      reads.push(await snapshot(s, "categories"));
      const status = await s.status.get();
      if (status.active?.run_id === outcome.runId && (status.active.progress.categories?.documents_read ?? 0) > 0) sawProgress = true;
    }
    const result = await outcome.done;
    expect(result.status).toBe("success");
    reads.push(await snapshot(s, "categories"));

    // Only the two complete states, in order: old ... old, new ... new.
    const firstNew = reads.findIndex((r) => r.gen === after.gen);
    expect(firstNew).toBeGreaterThan(10);
    expect(reads.slice(0, firstNew).every((r) => Bun.deepEquals(r, before))).toBe(true);
    expect(reads.slice(firstNew).every((r) => Bun.deepEquals(r, after))).toBe(true);
    expect(sawProgress).toBe(true);
    // The previous generation is gone once the new one serves.
    expect(gensIn(await ctx.keys())).toEqual([after.gen]);
  });
});

describe("shrink guard", () => {
  test("more than 50% fewer entries → rejected with the figures; serving index, dataset and keys unchanged", async () => {
    await seedLarge(ctx.db, ["categories"], 100);
    const s = await ctx.services();
    const first = await s.engine.run("categories", "api");
    expect(first.types.categories!.entries).toBe(300);
    const serving = await snapshot(s, "categories");
    const dataset = readDataset("categories");
    const keys = await ctx.keys();

    await deleteOrigins("categories", range(0, 51)); // 147 of 300 entries left: -51%
    const rejected = await s.engine.run("categories", "api");
    expect(rejected).toMatchObject({
      status: "rejected",
      reason: "shrink",
      published: false,
      force: false,
      error: "categories: 300 → 147 entries (-51.0%); more than SYNC_MAX_SHRINK_PERCENT=50%, nothing published (use force=true to publish anyway)",
    });
    expect(rejected.types.categories).toMatchObject({ documents: 98, entries: 147, previous_entries: 300 });
    expect(await snapshot(s, "categories")).toEqual(serving);
    expect(readDataset("categories")).toBe(dataset);
    expect(await ctx.keys()).toEqual(keys);
    expect(readdirSync(ctx.dir).filter((f) => f.includes(".tmp"))).toEqual([]);

    // Exactly 50% is not "more than" 50%.
    await seedLarge(ctx.db, ["categories"], 1, 0); // 150 entries
    const boundary = await s.engine.run("categories", "api");
    expect(boundary).toMatchObject({ status: "success", published: true });
    expect(boundary.types.categories).toMatchObject({ entries: 150, previous_entries: 300 });
  });

  test("over HTTP: rejected → 409 sync_rejected with the figures; dry_run=true → 200 with the diff; force=true → 200", async () => {
    await seedLarge(ctx.db, ["categories"], 10);
    const s = await ctx.services();
    const app = createApp({ ...s, version: "test", startedAt: new Date() });
    const call = async (path: string) => {
      const res = await app.handle(new Request(`http://localhost${path}`, { method: "POST" }));
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    expect((await call("/generate-data-set")).status).toBe(200);
    const serving = await snapshot(s, "categories");
    await deleteOrigins("categories", range(0, 8));

    const rejected = await call("/generate-data-set");
    expect(rejected.status).toBe(409);
    expect(rejected.body).toMatchObject({
      error: "sync_rejected",
      message: "categories: 30 → 6 entries (-80.0%); more than SYNC_MAX_SHRINK_PERCENT=50%, nothing published (use force=true to publish anyway)",
      status: "error",
      run_status: "rejected",
      reason: "shrink",
      types: { categories: { entries: 6, previous_entries: 30 } },
    });
    const dry = await call("/generate-data-set?dry_run=true");
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({
      status: "success",
      dry_run: true,
      published: false,
      types: { categories: { entries: 6, diff: { added: 0, removed: 24 } } },
    });
    expect(await snapshot(s, "categories")).toEqual(serving);

    const forced = await call("/generate-data-set?force=true");
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ status: "success", force: true, published: true, types: { categories: { entries: 6, previous_entries: 30 } } });
    expect((await snapshot(s, "categories")).entries).toBe(6);
  });

  test("force=true publishes the shrunken index", async () => {
    await seedLarge(ctx.db, ["boxes"], 50);
    const s = await ctx.services();
    await s.engine.run("boxes", "api");
    await deleteOrigins("boxes", range(0, 45));
    expect((await s.engine.run("boxes", "api")).status).toBe("rejected");
    const forced = await s.engine.run("boxes", "api", { force: true });
    expect(forced).toMatchObject({ status: "success", published: true, force: true });
    expect(forced.types.boxes).toMatchObject({ entries: 15, previous_entries: 150 });
    expect(await snapshot(s, "boxes")).toEqual({ gen: forced.run_id, items: 5, entries: 15, phrases: 15 });
    expect(JSON.parse(readDataset("boxes"))).toHaveLength(15);
  });

  test("one shrinking type rejects the whole run: no type is published", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 20);
    const s = await ctx.services();
    await s.engine.run("all", "api");
    const before = await Promise.all(ITEM_TYPES.map((t) => snapshot(s, t)));
    await deleteOrigins("options", range(0, 15));
    await seedLarge(ctx.db, ["categories"], 5, 20); // categories grow
    const rejected = await s.engine.run("all", "api");
    expect(rejected.status).toBe("rejected");
    expect(rejected.error).toStartWith("options: 60 → 15 entries (-75.0%); ");
    expect(await Promise.all(ITEM_TYPES.map((t) => snapshot(s, t)))).toEqual(before);
  });

  test("SYNC_MAX_SHRINK_PERCENT is honoured", async () => {
    await seedLarge(ctx.db, ["options"], 100);
    const lenient = await ctx.services({ SYNC_MAX_SHRINK_PERCENT: "90" });
    await lenient.engine.run("options", "api");
    await deleteOrigins("options", range(0, 80)); // -80%
    expect((await lenient.engine.run("options", "api")).status).toBe("success");

    const strict = await ctx.services({ SYNC_MAX_SHRINK_PERCENT: "0" });
    await deleteOrigins("options", [80]); // 60 → 57
    const rejected = await strict.engine.run("options", "api");
    expect(rejected.status).toBe("rejected");
    expect(rejected.error).toBe("options: 60 → 57 entries (-5.0%); more than SYNC_MAX_SHRINK_PERCENT=0%, nothing published (use force=true to publish anyway)");
    await seedLarge(ctx.db, ["options"], 1, 500); // back to 60 entries against the serving 60: no shrink
    expect((await strict.engine.run("options", "api")).status).toBe("success");
  });
});

describe("dry run", () => {
  test("reports added/removed per type with examples, publishes nothing, leaves no extra keys", async () => {
    await seedLarge(ctx.db, ["categories", "boxes"], 10);
    const s = await ctx.services();
    const first = await s.engine.run("all", "api");
    expect(first.status).toBe("success");

    // categories: origin 0 removed (3 entries), origin 100 added (3), a supplier adds "fr" to origin 1 (1).
    await deleteOrigins("categories", [0]);
    await seedLarge(ctx.db, ["categories"], 1, 100);
    await ctx.db
      .collection("supplier_categories")
      .insertOne({ _id: oid("categories", 1, 999), linked: oid("categories", 0, 1), display_name: [{ iso: "fr", display_name: "Article un" }] });

    const keys = await ctx.keys();
    const dumps = await Promise.all(ITEM_TYPES.map((t) => dumpType(ctx.redis, s.store, t)));
    const datasets = (["categories", "boxes", "options"] as const).map(readDataset);

    const dry = await s.engine.run("all", "api", { dryRun: true });
    const c0 = oid("categories", 0, 0).toHexString();
    const c1 = oid("categories", 0, 1).toHexString();
    const c100 = oid("categories", 0, 100).toHexString();
    expect(dry).toMatchObject({ status: "success", dry_run: true, published: false });
    expect(dry.types.categories!.entries).toBe(31);
    expect(dry.types.categories!.diff!.added).toBe(4);
    expect(dry.types.categories!.diff!.removed).toBe(3);
    expect(dry.types.categories!.diff!.added_examples.sort()).toEqual(
      [`${c100} en categories item 100`, `${c100} nl categories artikel 100`, `${c100} de categories Artikel 100`, `${c1} fr Article un`].sort(),
    );
    expect(dry.types.categories!.diff!.removed_examples.sort()).toEqual(
      [`${c0} en categories item 0`, `${c0} nl categories artikel 0`, `${c0} de categories Artikel 0`].sort(),
    );
    expect(dry.types.boxes!.diff).toEqual({ added: 0, removed: 0, added_examples: [], removed_examples: [] });
    expect(dry.types.options!.diff).toEqual({ added: 0, removed: 0, added_examples: [], removed_examples: [] });

    expect(await ctx.keys()).toEqual(keys);
    expect(await Promise.all(ITEM_TYPES.map((t) => dumpType(ctx.redis, s.store, t)))).toEqual(dumps);
    expect((["categories", "boxes", "options"] as const).map(readDataset)).toEqual(datasets);
    expect(readdirSync(ctx.dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  test("a dry run before any index: everything is added; only the status key and the history stream remain", async () => {
    await seedLarge(ctx.db, ["options"], 3);
    const s = await ctx.services();
    const dry = await s.engine.run("options", "api", { dryRun: true });
    expect(dry.types.options!.diff).toMatchObject({ added: 9, removed: 0, removed_examples: [] });
    expect(dry.types.options!.diff!.added_examples).toHaveLength(9);
    expect(await ctx.keys()).toEqual([`${ctx.prefix}history`, `${ctx.prefix}status`]);
    expect(readdirSync(ctx.dir).filter((f) => f.endsWith(".json"))).toEqual([]);
  });
});

describe("scope", () => {
  test("GET /generate-box-data touches only boxes", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 10);
    const s = await ctx.services();
    const app = createApp({ ...s, version: "test", startedAt: new Date() });
    expect((await s.engine.run("all", "api")).status).toBe("success");
    const others = async () => ({ categories: await dumpType(ctx.redis, s.store, "categories"), options: await dumpType(ctx.redis, s.store, "options") });
    const before = await others();
    const boxesBefore = await snapshot(s, "boxes");
    const datasets = [readDataset("categories"), readDataset("options")];
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 2, 10);

    const res = await app.handle(new Request("http://localhost/generate-box-data"));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; scope: string; run_id: string; types: Record<string, unknown> };
    expect(body).toMatchObject({ status: "success", scope: "boxes", published: true });
    expect(Object.keys(body.types)).toEqual(["boxes"]);
    expect(await others()).toEqual(before);
    expect([readDataset("categories"), readDataset("options")]).toEqual(datasets);
    expect(await snapshot(s, "boxes")).toEqual({ gen: body.run_id, items: 12, entries: 36, phrases: 36 });
    expect(boxesBefore.gen).not.toBe(body.run_id);
    expect(JSON.parse(readDataset("boxes"))).toHaveLength(36);
  });
});

describe("dataset files", () => {
  test("a dataset file that cannot be put in place once its type serves: the run is published with a warning naming the file, and its record agrees with what serves", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 5);
    const s = await ctx.services();
    const app = createApp({ ...s, version: "test", startedAt: new Date() });
    // boxes is published second: before it, categories already serves the new generation.
    mkdirSync(join(ctx.dir, files.boxes));

    const result = await s.engine.run("all", "api");
    expect(result).toMatchObject({
      status: "success",
      published: true,
      types: {
        categories: { published: true },
        boxes: { published: true, warning: "dataset file data_set_boxes.json: EISDIR: illegal operation on a directory" },
        options: { published: true },
      },
    });
    expect(result.error).toBeUndefined();
    expect(result.types.categories!.warning).toBeUndefined();
    for (const type of ITEM_TYPES) expect(await s.store.currentGen(type)).toBe(result.run_id);
    expect(s.history.get(result.run_id)).toEqual(result);
    const status = await app.handle(new Request("http://localhost/sync-status"));
    const text = await status.text();
    expect(JSON.parse(text).last_run).toEqual(result);
    expect(text).not.toContain(ctx.dir);
    expect(JSON.parse(readDataset("categories"))).toHaveLength(15);
    expect(JSON.parse(readDataset("options"))).toHaveLength(15);
    expect(readdirSync(ctx.dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });
});

describe("no leftovers", () => {
  test("two successful runs leave the same key shape as one", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 5);
    const s = await ctx.services();
    const first = await s.engine.run("all", "api");
    const keys1 = await ctx.keys();
    expect(gensIn(keys1)).toEqual([first.run_id]);
    const second = await s.engine.run("all", "api");
    const keys2 = await ctx.keys();
    expect(gensIn(keys2)).toEqual([second.run_id]);
    expect(keyShape(keys2, [second.run_id])).toEqual(keyShape(keys1, [first.run_id]));
    // What a clean state holds: status, the history stream, and per type cur, gens and the serving generation's keys.
    const p = ctx.prefix;
    const perType = (n: string) => [
      `${p}{${n}}:cur`,
      `${p}{${n}}:gens`,
      `${p}{${n}}:g:<gen>:isos`,
      `${p}{${n}}:g:<gen>:items`,
      `${p}{${n}}:g:<gen>:meta`,
      `${p}{${n}}:g:<gen>:vocab`,
      // Phrase and word sets in pieces with their index; these names are short enough that no member needs the set's own zset.
      ...["phrase", "word"].flatMap((kind) =>
        ["de", "en", "nl"].flatMap((iso) => [`${p}{${n}}:g:<gen>:${kind}#<piece>:${iso}`, `${p}{${n}}:g:<gen>:${kind}#ix:${iso}`]),
      ),
    ];
    expect(keyShape(keys2, [second.run_id])).toEqual([`${p}history`, `${p}status`, ...perType("box"), ...perType("category"), ...perType("option")].sort());
    for (const type of ITEM_TYPES) expect(await ctx.redis.smembers(s.store.keys.gens(type))).toEqual([second.run_id]);
  });

  test("a run aborted half-way leaves the previous index serving and nothing extra after the next run", async () => {
    await seedLarge(ctx.db, ["categories", "boxes"], 200);
    const s = await ctx.services({ SYNC_BATCH_SIZE: "10" });
    const first = await s.engine.run("all", "api");
    const clean = keyShape(await ctx.keys(), [first.run_id]);
    const serving = await Promise.all(ITEM_TYPES.map((t) => snapshot(s, t)));
    const datasets = (["categories", "boxes", "options"] as const).map(readDataset);

    // Abort half-way: categories and boxes are built side by side, and the run waits before its
    // 12th batch (of 20 + 20 origins and 20 + 20 suppliers) until the abort is under way.
    const held = heldEngine(s, { at: 12 });
    const slow = held.engine;
    const outcome = await slow.trigger("all", "api");
    if (!outcome.started) throw new Error("run did not start");
    await held.held;
    const aborting = slow.abortActive("test");
    held.release();
    const aborted = await aborting;
    expect(aborted).toMatchObject({ status: "failed", error: "aborted: test", published: false, run_id: outcome.runId });
    expect(slow.activeRunId).toBeNull();

    expect(await Promise.all(ITEM_TYPES.map((t) => snapshot(s, t)))).toEqual(serving);
    expect((["categories", "boxes", "options"] as const).map(readDataset)).toEqual(datasets);
    const afterAbort = await ctx.keys();
    expect(gensIn(afterAbort)).toEqual([first.run_id]);
    expect(keyShape(afterAbort, [first.run_id])).toEqual(clean);
    expect(await ctx.redis.exists(`${ctx.prefix}lock`)).toBe(0);
    expect((await s.status.get()).active).toBeNull();

    const next = await s.engine.run("all", "api");
    expect(next.status).toBe("success");
    expect(keyShape(await ctx.keys(), [next.run_id])).toEqual(clean);
    expect(readdirSync(ctx.dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  test("a generation left behind by a crashed process is removed by the next run", async () => {
    await seedLarge(ctx.db, ["categories"], 5);
    const s = await ctx.services();
    const first = await s.engine.run("categories", "api");
    const clean = keyShape(await ctx.keys(), [first.run_id]);
    // What a process killed mid-build leaves: a registered generation with data and markers.
    await s.store.begin("categories", "crashed", "crashed", "token", 60_000);
    const sets = new SetSorter();
    await s.store.writeItems(
      "categories",
      "crashed",
      [{ sku: oid("categories", 0, 0).toHexString(), record: { n: "x", s: "x", o: {}, e: [["en", "x", "x"]] }, added: [0] }],
      1,
      sets,
    );
    await s.store.writeSets("categories", "crashed", sets);
    sets.close();
    expect(gensIn(await ctx.keys()).sort()).toEqual(["crashed", first.run_id].sort());

    const next = await s.engine.run("categories", "api");
    expect(next.status).toBe("success");
    const keys = await ctx.keys();
    expect(gensIn(keys)).toEqual([next.run_id]);
    expect(keyShape(keys, [next.run_id])).toEqual(clean);
    expect(await servingEntries(s.store, "categories")).toHaveLength(15);
  });
});
