// Word members carry long display names cut to fit a listpack (members.ts): search must answer
// exactly as it does from whole names. A catalog of long names that agree far past the cut is
// searched as the run wrote it, then again after its word sets were rewritten with whole names in
// one sorted set each (the layout before cuts, still served), and the answers must be the same.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import { mulberry32 } from "../scripts/catalog.ts";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import type { Entry } from "../src/catalog/types.ts";
import { CUT_MARK, entryMembers, MEMBER_MAX } from "../src/index/members.ts";
import { createContext, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let services: Services;
let app: App;

// Long starts shared by many names, each longer than a word member leaves room for.
const STARTS = [
  "Premium heavyweight cotton crew neck poster print",
  "Poster frame in solid oak wood with acrylic glass front",
  "Large format poster paper with matte finish and",
  "Plakat premium schwerer baumwolle rundhals poster druck",
];
const TAILS = ["red", "blue", "navy", "amber", "olive", "zq17", "oak", "teal"];
const SHIRT_RED = "Premium heavyweight cotton crew neck poster print with vermilion lettering";
const SHIRT_BLUE = "Premium heavyweight cotton crew neck poster print with cobaltblue lettering";

function catalog(): { _id: ObjectId; name: string; slug: string; display_name: { iso: string; display_name: string }[] }[] {
  const random = mulberry32(11);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  const out = [];
  for (let n = 0; n < 1500; n++) {
    const start = pick(STARTS);
    const tail = random() < 0.5 ? pick(TAILS) : `${pick(TAILS)} ${pick(TAILS)}`;
    const en = `${start} ${tail}`;
    // Some items have the same name in two languages, some another one, some none.
    const r = random();
    const names = [{ iso: "en", display_name: en }];
    if (r < 0.3) names.push({ iso: "de", display_name: en });
    else if (r < 0.6) names.push({ iso: "de", display_name: `${pick(STARTS)} ${pick(TAILS)}` });
    out.push({ _id: new ObjectId(), name: random() < 0.2 ? `Poster ${pick(TAILS)} vermilion` : "Print", slug: `s${n}`, display_name: names });
  }
  // More members of words starting with "ka" than one read takes, each with "zebra" past the cut, and
  // past them one whose item's name has a "ka" word: whether the name words are read is decided
  // by names past the cut.
  for (let n = 0; n < 220; n++) {
    const display_name = `Kab heavyweight cotton crew neck premium print ${n} zebra`;
    out.push({ _id: new ObjectId(), name: "Print", slug: `k${n}`, display_name: [{ iso: "en", display_name }] });
  }
  for (let n = 0; n < 300; n++) out.push({ _id: new ObjectId(), name: "Zebra", slug: `z${n}`, display_name: [{ iso: "en", display_name: `Zebra ${n}` }] });
  out.push({ _id: new ObjectId(), name: "Kaa", slug: "kaz", display_name: [{ iso: "en", display_name: "Kaz zebra" }] });
  out.push({ _id: new ObjectId(), name: "Shirt", slug: "red", display_name: [{ iso: "en", display_name: SHIRT_RED }] });
  out.push({ _id: new ObjectId(), name: "Shirt", slug: "blue", display_name: [{ iso: "en", display_name: SHIRT_BLUE }] });
  out.push({ _id: new ObjectId(), name: "Poster", slug: "short", display_name: [{ iso: "en", display_name: "Poster red" }] });
  return out;
}

const QUERIES = [
  "ka zebra",
  "poster",
  "poster red",
  "red poster",
  "pos re",
  "oak blue",
  "red zq17",
  "navy oak",
  "amber teal",
  "blue olive",
  "teal te",
  "amber",
  "frame olive",
  "navy",
  "cotton teal",
  "premium amber",
  "vermilion",
  "cobaltblue",
  "poster vermilion",
  "postr bleu",
  "lettering",
  "print with",
  "plakat druck",
  "zq17 zq17",
  "premium heavyweight cotton crew neck poster print with",
];

beforeAll(async () => {
  ctx = await createContext("searchcut", { SEARCH_CACHE_MB: "0" });
  await ctx.db.collection("categories").insertMany(catalog());
  services = await ctx.services();
  expect((await services.engine.run("all", "api")).status).toBe("success");
  app = createApp({ ...services, version: "test", startedAt: new Date() });
});
afterAll(async () => {
  await ctx.cleanup();
});

async function answers(): Promise<Entry[][]> {
  const out: Entry[][] = [];
  for (const query of QUERIES) {
    for (const iso of [undefined, "en"]) {
      for (const limit of [3, 10, 40]) out.push(await services.search.search("categories", { query, iso, limit }));
    }
  }
  return out;
}

async function names(query: string): Promise<string[]> {
  const res = await app.handle(new Request(`http://localhost/category-search?${new URLSearchParams({ query })}`));
  return ((await res.json()) as { suggestions: { display_name: string }[] }).suggestions.map((s) => s.display_name);
}

describe("word members with cut display names", () => {
  test("every word member fits a listpack; long display names are carried cut", async () => {
    const wordKeys = (await ctx.keys()).filter((k) => /:word#\d+:/.test(k));
    const members = (await Promise.all(wordKeys.map((k) => ctx.redis.zrange(k, "0", "-1")))).flat();
    expect(members.filter((m) => m.includes(`${CUT_MARK}\u0000`)).length).toBeGreaterThan(1000);
    expect(members.every((m) => Buffer.byteLength(m) <= MEMBER_MAX)).toBe(true);
    for (const key of (await ctx.keys()).filter((k) => /:word:[a-z]+$/.test(k))) expect(await ctx.redis.zcard(key)).toBe(0);
  });

  test("a word past the cut finds its name and ranks it by the whole name", async () => {
    expect((await names("vermilion")).slice(0, 1)).toEqual([SHIRT_RED]);
    expect(await names("cobaltblue lettering")).toEqual([SHIRT_BLUE]);
    expect(await names("poster lettering")).toEqual([SHIRT_RED, SHIRT_BLUE]);
    expect((await names("poster red")).slice(0, 1)).toEqual(["Poster red"]);
  });

  test("the reads stop inside runs of names alike past the cut, and search orders those runs by whole names", async () => {
    const gen = (await services.store.currentGen("categories"))!;
    let runs = 0;
    for (const query of ["poster", "premium", "cotton", "print"]) {
      const found = await services.store.prefixHits("categories", { iso: "", phrase: "x", words: [query], limit: 10, wordCandidates: 200 });
      runs += found!.wordRuns.length;
    }
    expect(gen).toBeTruthy();
    expect(runs).toBeGreaterThan(0);
  });

  test("answers are the same as from whole names in one sorted set per language", async () => {
    const cut = await answers();
    expect(cut.flat().length).toBeGreaterThan(500);
    // Rewrite the word sets as a generation before cuts has them: every member whole, in the set's own sorted set.
    const gen = (await services.store.currentGen("categories"))!;
    const g = services.keys.gen("categories", gen);
    for (const key of (await ctx.keys()).filter((k) => k.startsWith(g.base) && /:word[#:]/.test(k))) await ctx.redis.del(key);
    const whole = new Map<string, string[]>();
    const skus = await ctx.redis.hkeys(g.items);
    const records = await services.store.readItems("categories", gen, skus);
    for (const [i, sku] of skus.entries()) {
      const record = records[i]!;
      record.e.forEach((_, position) => {
        const m = entryMembers(sku, record, position, { ids: "short", cut: false });
        if (m) whole.set(m.iso, [...(whole.get(m.iso) ?? []), ...m.words]);
      });
    }
    for (const [iso, members] of whole) {
      for (let i = 0; i < members.length; i += 500) await ctx.redis.zadd(g.word(iso), ...members.slice(i, i + 500).flatMap((m) => ["0", m]));
    }
    expect(await ctx.redis.hdel(g.meta, "cut")).toBe(1);
    const before = await answers();
    expect(cut).toEqual(before);

    // A push to that generation removes the whole members it has.
    const red = (await services.search.search("categories", { query: "vermilion", limit: 10 }))[0]!;
    const hasMember = async () => (await ctx.redis.zrange(g.word("en"), "0", "-1")).some((m) => m.startsWith("vermilion\u0000"));
    expect(await hasMember()).toBe(true);
    const removed = await app.handle(
      new Request("http://localhost/categories", {
        method: "DELETE",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ linked: red.linked }),
      }),
    );
    expect(removed.status).toBe(200);
    expect(await hasMember()).toBe(false);
  });
});
