// The search result cache: a pure LRU by bytes that drops a type's answers once its index state
// changes, and on the real Redis, answers reused only while the serving generation and its push
// count are unchanged, across replicas.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { ResultCache } from "../src/search/cache.ts";
import { createContext, type TestContext } from "./helpers.ts";

describe("ResultCache", () => {
  test("an answer is used only for the state it was filed under; hits and misses are counted", () => {
    const cache = new ResultCache(1 << 20);
    expect(cache.get("q", "g1:0")).toBeUndefined();
    cache.set("t", "q", "g1:0", '{"suggestions":[1]}');
    expect(cache.get("q", "g1:0")).toBe('{"suggestions":[1]}');
    expect(cache.get("q", "g1:1")).toBeUndefined();
    expect(cache.get("q", "g2:0")).toBeUndefined();
    expect(cache.observe("t", "g1:1")).toBe("g1:0");
    cache.set("t", "q", "g1:1", '{"suggestions":[2]}');
    expect(cache.get("q", "g1:1")).toBe('{"suggestions":[2]}');
    expect(cache.size).toBe(1);
    expect([cache.hits, cache.misses]).toEqual([2, 3]);
  });

  test("a type's answers are dropped once a search sees its new state; other types' are kept", () => {
    const cache = new ResultCache(1 << 20);
    for (const q of ["a", "b", "c"]) cache.set("boxes", `boxes ${q}`, "g1:0", "[]");
    cache.set("options", "options a", "g7:3", "[]");
    expect(cache.size).toBe(4);
    expect(cache.observe("boxes", "g1:0")).toBeNull();
    expect(cache.size).toBe(4);
    expect(cache.observe("boxes", "g1:1")).toBe("g1:0");
    expect(cache.size).toBe(1);
    expect(cache.get("options a", "g7:3")).toBe("[]");
    // An answer read at the old state, finished after a search saw the new one, is not kept.
    cache.set("boxes", "boxes a", "g1:0", "[]");
    expect(cache.size).toBe(1);
    // Answers of the new state are kept.
    for (let i = 0; i < 100; i++) cache.set("boxes", `boxes ${i}`, "g1:1", "[]");
    expect(cache.size).toBe(101);
  });

  test("over its budget it drops the least recently used answers first", () => {
    const json = "x".repeat(1000);
    const key = (i: number) => `k${String(i).padStart(2, "0")}`;
    const cache = new ResultCache(16 * (2 * (3 + json.length) + 64)); // room for 16 answers
    for (let i = 0; i < 16; i++) cache.set("t", key(i), "s", json);
    expect(cache.size).toBe(16);
    expect(cache.get(key(0), "s")).toBe(json); // k00 is now the most recent
    cache.set("t", key(16), "s", json);
    expect(cache.size).toBe(16);
    expect(cache.get(key(1), "s")).toBeUndefined();
    for (const i of [0, 2, 15, 16]) expect(cache.get(key(i), "s")).toBe(json);
  });

  test("an answer larger than a sixteenth of the budget, or a budget of 0, is not kept", () => {
    const small = new ResultCache(16 * 100);
    small.set("t", "big", "s", "x".repeat(200));
    expect(small.size).toBe(0);
    const off = new ResultCache(0);
    expect(off.enabled).toBe(false);
    off.set("t", "k", "s", "{}");
    expect(off.get("k", "s")).toBeUndefined();
  });
});

describe("cached search on the real index", () => {
  let ctx: TestContext;
  let a: Services;
  let b: Services;
  let appA: App;
  let appB: App;
  const flyer = new ObjectId("64e000000000000000000001");
  const pushed = new ObjectId("64e0000000000000000000aa").toHexString();

  beforeEach(async () => {
    ctx = await createContext("searchcache");
    await ctx.db.collection("categories").insertMany([
      {
        _id: flyer,
        name: "Flyer",
        slug: "flyer",
        display_name: [
          { iso: "en", display_name: "Flyer" },
          { iso: "nl", display_name: "Folder" },
        ],
      },
      { _id: new ObjectId(), name: "Poster", slug: "poster", display_name: [{ iso: "en", display_name: "Poster" }] },
    ]);
    // Two replicas: one Redis, each with its own cache.
    a = await ctx.services();
    b = await ctx.services();
    appA = createApp({ ...a, version: "test", startedAt: new Date() });
    appB = createApp({ ...b, version: "test", startedAt: new Date() });
  });
  afterEach(() => ctx.cleanup());

  const names = async (app: App, query: string) => {
    const res = await app.handle(new Request(`http://localhost/category-search?query=${encodeURIComponent(query)}`));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    return ((await res.json()) as { suggestions: { display_name: string }[] }).suggestions.map((s) => s.display_name);
  };
  const push = (app: App, method: "POST" | "DELETE", body: unknown) =>
    app.handle(new Request("http://localhost/categories", { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));

  test("a repeated search is answered from the cache; a push through another replica is seen at once", async () => {
    expect(await names(appA, "f")).toEqual([]);
    expect((await a.engine.run("all", "api")).status).toBe("success");
    expect(await names(appA, "f")).toEqual(["Flyer", "Folder"]);
    const misses = a.search.cache.misses;
    expect(await names(appA, "f")).toEqual(["Flyer", "Folder"]);
    expect(await names(appA, "F ")).toEqual(["Flyer", "Folder"]); // same words, same answer
    expect(a.search.cache.misses).toBe(misses);
    expect(a.search.cache.hits).toBeGreaterThanOrEqual(2);

    const added = await push(appB, "POST", {
      linked: pushed,
      slug: "foam",
      origin_name: "Foam board",
      display_names: [{ iso: "en", display_name: "Foam board" }],
    });
    expect(added.status).toBe(200);
    expect(await names(appA, "f")).toEqual(["Flyer", "Folder", "Foam board"]); // shorter names first
    expect((await push(appB, "DELETE", { linked: pushed })).status).toBe(200);
    expect(await names(appA, "f")).toEqual(["Flyer", "Folder"]);
  });

  test("a publish by another replica is seen at once", async () => {
    expect((await a.engine.run("all", "api")).status).toBe("success");
    expect(await names(appA, "fl")).toEqual(["Flyer", "Folder"]); // Folder: its item's name is Flyer
    await ctx.db.collection("categories").updateOne({ _id: flyer }, { $set: { display_name: [{ iso: "en", display_name: "Flyer A5" }] } });
    expect((await b.engine.run("all", "api")).status).toBe("success");
    expect(await names(appA, "fl")).toEqual(["Flyer A5"]);
  });

  test("answers from the cache equal answers without it", async () => {
    expect((await a.engine.run("all", "api")).status).toBe("success");
    const off = await ctx.services({ SEARCH_CACHE_MB: "0" });
    const appOff = createApp({ ...off, version: "test", startedAt: new Date() });
    for (const q of ["", "f", "fo", "flyer", "postr", "oste", "zz", "!!!", "f p"]) {
      const cold = await names(appA, q);
      expect(await names(appA, q)).toEqual(cold);
      expect(await names(appOff, q)).toEqual(cold);
    }
    expect(off.search.cache.hits + off.search.cache.misses).toBe(0);
  });
});
