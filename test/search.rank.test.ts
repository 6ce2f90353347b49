// Ranking and typo tolerance through the real HTTP app, on a small catalog synced once: each rule
// of the order with a whole expected answer, typos in every word of a query, the typo budget by
// word length, and the three searches that used to put a name-only match first.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { entryId, parseEntryId } from "../src/catalog/entries.ts";
import { NAME_MARK } from "../src/index/members.ts";
import { createContext, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let services: Services;
let app: App;
let uncached: App;

let n = 0;
const ids: Record<string, ObjectId> = {};
function origin(key: string, name: string, names: [string, string][]) {
  const _id = new ObjectId((0x64f0000000000000n * 0x100000000n + BigInt(++n)).toString(16).padStart(24, "0"));
  ids[key] = _id;
  return { _id, name, slug: key, display_name: names.map(([iso, display_name]) => ({ iso, display_name })) };
}

beforeAll(async () => {
  ctx = await createContext("searchrank");
  await ctx.db.collection("categories").insertMany([
    // One word, every class.
    origin("poster", "Poster", [["en", "Poster"]]),
    origin("posters", "Posters", [["en", "Posters"]]),
    origin("aqua", "Poster aqua", [["en", "Poster aqua"]]),
    origin("blue", "Poster blue", [["en", "Poster blue"]]),
    origin("frames", "Poster frames", [["en", "Poster frames"]]),
    origin("large", "Large poster", [["en", "Large poster"]]),
    origin("wall", "Wallposter", [["en", "Wallposter"]]),
    origin("potser", "Potser print", [["en", "Potser print"]]),
    origin("affiche", "Poster", [["nl", "Affiche"]]), // found only through its item's name
    // As scripts/catalog.ts names them.
    origin("hangers", "Door hangers", [
      ["en", "Door hangers"],
      ["nl", "Deurhangers"],
      ["fr", "Accroche-portes"],
      ["de", "Türanhänger"],
      ["pl", "Zawieszki na drzwi"],
    ]),
    origin("stickers", "Stickers", [
      ["en", "Stickers"],
      ["nl", "Stickers"],
      ["de", "Aufkleber"],
      ["fr", "Autocollants"],
    ]),
    origin("flyers", "Flyers", [
      ["en", "Flyers"],
      ["de", "Flyer"],
      ["pl", "Ulotki"],
      ["ru", "Листовки"],
    ]),
    origin("envelopes", "Envelopes", [["en", "Envelopes"]]),
    origin("brochures", "Brochures", [["en", "Brochures"]]),
  ]);
  await ctx.db
    .collection("supplier_categories")
    .insertMany([{ _id: new ObjectId(), linked: ids.stickers, display_name: [{ iso: "de", display_name: "AUFKLEBER" }] }]);
  await ctx.db.collection("boxes").insertMany([
    origin("mailer", "Mailer box", [
      ["en", "Mailer box"],
      ["nl", "Brievenbusdoos"],
    ]),
    origin("shipping", "Shipping box", [
      ["en", "Shipping box"],
      ["de", "Versandkarton"],
    ]),
    origin("mailbag", "Mail bag", [["en", "Mail bag"]]),
  ]);
  services = await ctx.services();
  expect((await services.engine.run("all", "api")).status).toBe("success");
  app = createApp({ ...services, version: "test", startedAt: new Date() });
  const off = await ctx.services({ SEARCH_CACHE_MB: "0" });
  uncached = createApp({ ...off, version: "test", startedAt: new Date() });
});
afterAll(async () => {
  await ctx.cleanup();
});

async function names(params: Record<string, string>, path = "/category-search", on = app): Promise<string[]> {
  const res = await on.handle(new Request(`http://localhost${path}?${new URLSearchParams(params)}`));
  expect(res.status).toBe(200);
  return ((await res.json()) as { suggestions: { display_name: string }[] }).suggestions.map((s) => s.display_name);
}
const boxes = (query: string) => names({ query }, "/boxes-search");

describe("the ranking rule", () => {
  test("own display name > exact > whole name starts > a word starts > inside a word > typo; then shorter; then alphabetical", async () => {
    expect(await names({ query: "poster" })).toEqual([
      "Poster", // exact
      "Posters", // the whole name starts with the query, shortest first…
      "Poster aqua", // …then alphabetical among names of one length
      "Poster blue",
      "Poster frames",
      "Large poster", // a word starts with it
      "Wallposter", // inside a word
      "Potser print", // one typo (a swap)
      "Affiche", // only its item's name is "Poster": after every match by the entry's own name, even a typo
    ]);
  });

  test("inside-word and typo matches are read only when the better own matches are fewer than limit", async () => {
    expect(await names({ query: "poster", limit: "6" })).toEqual(["Poster", "Posters", "Poster aqua", "Poster blue", "Poster frames", "Large poster"]);
    expect(await names({ query: "poster", limit: "8" })).toEqual([
      "Poster",
      "Posters",
      "Poster aqua",
      "Poster blue",
      "Poster frames",
      "Large poster",
      "Wallposter",
      "Potser print",
    ]);
  });

  test("an empty query still lists alphabetically, not by length", async () => {
    expect(await names({ query: "", limit: "4" })).toEqual(["Accroche-portes", "Affiche", "AUFKLEBER", "Aufkleber"]);
  });
});

describe("the searches that put a name-only match first", () => {
  test('"hangers": Door hangers, not the French Accroche-portes', async () => {
    // Deurhangers has "hangers" inside its own name; the last three only through the item's name.
    expect(await names({ query: "hangers" })).toEqual(["Door hangers", "Deurhangers", "Türanhänger", "Accroche-portes", "Zawieszki na drzwi"]);
  });

  test('"stickrs": Stickers, not the German AUFKLEBER', async () => {
    expect(await names({ query: "stickrs" })).toEqual(["Stickers", "AUFKLEBER", "Aufkleber", "Autocollants"]);
    expect(await names({ query: "stickrs", iso: "de" })).toEqual(["AUFKLEBER", "Aufkleber"]);
  });

  test('"flyr": Flyer and Flyers, not the Polish Ulotki', async () => {
    expect(await names({ query: "flyr" })).toEqual(["Flyer", "Flyers", "Ulotki", "Листовки"]);
  });
});

describe("typos", () => {
  test("in every word of a multi-word query, in any order", async () => {
    expect(await boxes("mailr box")).toEqual(["Mailer box", "Brievenbusdoos"]);
    expect(await boxes("box mailr")).toEqual(["Mailer box", "Brievenbusdoos"]);
    expect(await boxes("shiping boxs")).toEqual(["Shipping box", "Versandkarton"]);
    expect(await boxes("mailer shiping")).toEqual([]); // no entry has both
  });

  test("a swap of neighbouring letters is one edit", async () => {
    expect(await boxes("mialer")).toEqual(["Mailer box", "Brievenbusdoos"]);
    expect(await names({ query: "brochrues" })).toEqual(["Brochures"]);
  });

  test("two edits from 8 letters, one from 4", async () => {
    expect(await names({ query: "anvelops" })).toEqual(["Envelopes"]); // 8 letters, two edits
    expect(await names({ query: "anvelopse" })).toEqual(["Envelopes"]); // 9 letters: a substitution and a swap
    expect(await names({ query: "brcohuers" })).toEqual(["Brochures"]); // two swaps
    expect(await names({ query: "anvelop" })).toEqual(["Envelopes"]); // 7 letters, one edit
    expect(await names({ query: "anvelps" })).toEqual([]); // 7 letters, two edits
    expect(await names({ query: "anvelopsse" })).toEqual([]); // three edits
  });

  test("none under 4 letters, in any word", async () => {
    expect(await boxes("bix")).toEqual([]);
    expect(await boxes("mailer bx")).toEqual([]);
    expect(await boxes("mailer bix")).toEqual([]);
    expect(await names({ query: "flr" })).toEqual([]);
    expect(await boxes("mail bag")).toEqual(["Mail bag"]);
  });
});

describe("unchanged around it", () => {
  test("answers are the same with the result cache and without it", async () => {
    const queries = ["poster", "hangers", "stickrs", "flyr", "anvelops", "mialer", "", "p", "po", "post"];
    for (const query of queries) {
      for (const path of ["/category-search", "/boxes-search"]) {
        const cold = await names({ query }, path);
        expect({ query, path, answer: await names({ query }, path) }).toEqual({ query, path, answer: cold });
        expect({ query, path, answer: await names({ query }, path, uncached) }).toEqual({ query, path, answer: cold });
      }
    }
  });

  test("a pushed item is found with typos at once, and gone once removed", async () => {
    const linked = new ObjectId().toHexString();
    const push = (method: "POST" | "DELETE", body: unknown) =>
      app.handle(new Request("http://localhost/categories", { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
    const added = await push("POST", {
      linked,
      slug: "calendars",
      name: "Calendars",
      origin_name: "Kalenders",
      display_names: [{ iso: "nl", display_name: "Kalenders" }],
    });
    expect(added.status).toBe(200);
    expect(await names({ query: "calendras" })).toEqual(["Kalenders"]); // through its item's name, with a swap
    expect(await names({ query: "kalendres" })).toEqual(["Kalenders"]);
    expect((await push("DELETE", { linked })).status).toBe(200);
    expect(await names({ query: "calendras" })).toEqual([]);
  });

  test("a generation written before name words were marked is searched the same way", async () => {
    const before = {
      poster: await names({ query: "poster" }, "/category-search", uncached),
      hangers: await names({ query: "hangers" }, "/category-search", uncached),
      flyr: await names({ query: "flyr" }, "/category-search", uncached),
      mailr: await names({ query: "mailr box" }, "/boxes-search", uncached),
    };
    // Rewrite every word member as the older layout had it: name words unmarked among the entry's
    // own words, and no length before the display name.
    const old = (m: string) => {
      const word = m.startsWith(NAME_MARK) ? m.slice(1) : m;
      const nul = word.indexOf("\u0000");
      return `${word.slice(0, nul + 1)}${word.slice(nul + 3)}`;
    };
    for (const members of await asPlainSets("word", old)) expect(members.every((m) => old(m) !== m)).toBe(true);
    expect({
      poster: await names({ query: "poster" }, "/category-search", uncached),
      hangers: await names({ query: "hangers" }, "/category-search", uncached),
      flyr: await names({ query: "flyr" }, "/category-search", uncached),
      mailr: await names({ query: "mailr box" }, "/boxes-search", uncached),
    }).toEqual(before);
  });

  /**
   * Rewrites the phrase or word sets of every generation as layouts before pieces kept them: one
   * zset per language holding every member (rewritten by `rewrite`). Returns each set's members as read.
   */
  async function asPlainSets(kind: "word" | "phrase", rewrite: (m: string) => string): Promise<string[][]> {
    const sets = new Map<string, string[]>();
    for (const key of (await ctx.keys()).filter((k) => k.includes(`:${kind}:`) || k.includes(`:${kind}#`))) {
      const plain = key.replace(new RegExp(`:${kind}#[^:]+:`), `:${kind}:`);
      const members = key.includes(`:${kind}#ix:`) ? [] : await ctx.redis.zrange(key, "0", "-1");
      sets.set(plain, [...(sets.get(plain) ?? []), ...members]);
      await ctx.redis.del(key);
    }
    for (const [key, members] of sets) await ctx.redis.zadd(key, ...members.flatMap((m) => ["0", rewrite(m)]));
    expect(sets.size).toBeGreaterThan(0);
    return [...sets.values()];
  }

  test("a generation written before short entry ids is searched the same way, and a push removes the members it wrote", async () => {
    const queries: [string, Record<string, string>][] = [
      ["/category-search", { query: "poster" }],
      ["/category-search", { query: "hangers" }],
      ["/category-search", { query: "deurh", iso: "nl" }],
      ["/category-search", { query: "flyr" }],
      ["/boxes-search", { query: "mailr box" }],
    ];
    const answers = () => Promise.all(queries.map(([path, params]) => names(params, path, uncached)));
    // A fresh index: the test above left one of an even older layout.
    expect((await services.engine.run("all", "api")).status).toBe("success");
    const before = await answers();
    expect(before[1]).toContain("Door hangers");
    // Rewrite the index as the older layout wrote it: 24-hex entry ids, every entry's origin name in
    // its item's record, no `ids` in the meta.
    const hexIds = (m: string) => {
      const nul = m.lastIndexOf("\u0000");
      const id = parseEntryId(m.slice(nul + 1))!;
      return `${m.slice(0, nul + 1)}${entryId(id.sku, id.position, "hex")}`;
    };
    for (const kind of ["word", "phrase"] as const) {
      for (const members of await asPlainSets(kind, hexIds)) expect(members.every((m) => hexIds(m) !== m)).toBe(true);
    }
    const memberKeys = (await ctx.keys()).filter((k) => /:(word|phrase)[:#]/.test(k));
    let withoutOriginName = 0;
    for (const key of await ctx.keys()) {
      if (key.endsWith(":meta")) expect(await ctx.redis.hdel(key, "ids")).toBe(1);
      if (!key.endsWith(":items")) continue;
      for (const [sku, json] of Object.entries(await ctx.redis.hgetall(key))) {
        const record = JSON.parse(json) as { o: Record<string, string>; e: (string[] | null)[] };
        for (const e of record.e) if (e?.length === 2) withoutOriginName += e.push(record.o[e[0]!]!) && 1;
        await ctx.redis.hset(key, sku, JSON.stringify(record));
      }
    }
    expect(withoutOriginName).toBeGreaterThan(0);
    expect(await answers()).toEqual(before);

    const hangers = ids.hangers!.toHexString();
    const membersOf = async () => (await Promise.all(memberKeys.map((k) => ctx.redis.zrange(k, "0", "-1")))).flat().filter((m) => m.includes(`${hangers}.`));
    expect((await membersOf()).length).toBeGreaterThan(0);
    const removed = await app.handle(
      new Request("http://localhost/categories", {
        method: "DELETE",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ linked: hangers }),
      }),
    );
    expect(removed.status).toBe(200);
    expect(await membersOf()).toEqual([]);
    expect(await names({ query: "hangers" }, "/category-search", uncached)).not.toContain("Door hangers");
  });
});
