import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { createContext, type TestContext } from "./helpers.ts";

// One small multilingual catalog, synced once; each test reads it through the real HTTP app.
let ctx: TestContext;
let services: Services;
let app: App;

const ids: Record<string, string> = {};
let n = 0;
function origin(key: string, name: string, names: [string, string][]) {
  const _id = new ObjectId((0x64d0000000000000n * 0x100000000n + BigInt(++n)).toString(16).padStart(24, "0"));
  ids[key] = _id.toHexString();
  return { _id, name, slug: key, display_name: names.map(([iso, display_name]) => ({ iso, display_name })) };
}

beforeAll(async () => {
  ctx = await createContext("search");
  await ctx.db.collection("categories").insertMany([
    origin("kaart", "Kaart", [["nl", "Kaart"]]),
    origin("kaarten", "Kaarten set", [["nl", "Kaarten set"]]),
    origin("mooie", "Mooie kaarten", [["nl", "Mooie kaarten"]]),
    origin("wens", "Wenskaart", [["nl", "Wenskaart"]]),
    origin("typo", "Kaatr doos", [["nl", "Kaatr doos"]]),
    origin("brief1", "Brief papier", [["nl", "Brief papier"]]),
    origin("brief2", "Papier brief A4", [["nl", "Papier brief A4"]]),
    origin("brief3", "Briefpapier", [["nl", "Briefpapier"]]),
    origin("cafe", "Coffee cups", [
      ["fr", "Café crème"],
      ["en", "Coffee cups"],
    ]),
    origin("strasse", "Street sign", [
      ["de", "Straße Schild"],
      ["en", "Street sign"],
    ]),
    origin("lodz", "Lodz poster", [
      ["pl", "Plakat Łódź"],
      ["en", "Lodz poster"],
    ]),
    origin("gruss", "Greeting card", [
      ["de", "Grüße aus Köln"],
      ["en", "Greeting card"],
    ]),
    origin("meishi", "Business cards", [
      ["ja", "名刺"],
      ["ja", "名刺カード"],
      ["en", "Business cards"],
    ]),
    origin("wizyt", "Business card holder", [
      ["pl", "Wizytówki"],
      ["en", "Business card holder"],
    ]),
    origin("flyer", "Flyer", [
      ["en", "Flyer"],
      ["nl", "Flyer"],
      ["de", "Flyer"],
    ]),
    origin("special", "Sale", [["en", "50% off [A4] {promo} | 'best' \"deal\" @shop: a-b c\\d *x? "]]),
  ]);
  services = await ctx.services();
  const run = await services.engine.run("categories", "api");
  expect(run.status).toBe("success");
  app = createApp({ ...services, version: "test", startedAt: new Date() });
});
afterAll(async () => {
  await ctx.cleanup();
});

async function search(params: Record<string, string>, path = "/category-search") {
  const res = await app.handle(new Request(`http://localhost${path}?${new URLSearchParams(params)}`));
  return { status: res.status, body: (await res.json()) as { suggestions: { display_name: string; iso: string; linked: string }[] } & Record<string, unknown> };
}
const names = async (params: Record<string, string>) => {
  const { status, body } = await search(params);
  expect(status).toBe(200);
  return body.suggestions.map((s) => s.display_name);
};

describe("matching", () => {
  test("is case- and accent-insensitive (é = e, ß = ss, Ł = l, ó = o)", async () => {
    expect(await names({ query: "CAFE CREME" })).toEqual(["Café crème"]);
    expect(await names({ query: "strasse" })).toEqual(["Straße Schild"]);
    expect(await names({ query: "lodz" })).toEqual(["Lodz poster", "Plakat Łódź"]);
    expect(await names({ query: "grüß" })).toEqual(["Grüße aus Köln"]);
    expect(await names({ query: "koln" })).toEqual(["Grüße aus Köln"]);
  });

  test("matches the start of any word of display_name, name and origin_name", async () => {
    expect(await names({ query: "crem" })).toEqual(["Café crème"]);
    // "Coffee" is the item's name, so its French entry is found by it too (after the phrase match).
    expect(await names({ query: "coffee" })).toEqual(["Coffee cups", "Café crème"]);
  });

  test("non-Latin scripts match by prefix", async () => {
    expect(await names({ query: "名" })).toEqual(["名刺", "名刺カード"]);
    expect(await names({ query: "名刺カ" })).toEqual(["名刺カード"]);
    expect(await names({ query: "wizyt" })).toEqual(["Wizytówki"]);
  });

  test("multi-word queries need every word to match a word of the entry; word starts rank first", async () => {
    // "pap" is inside "briefpapier": an infix match, after the two where every word starts a word.
    expect(await names({ query: "brief pap" })).toEqual(["Brief papier", "Papier brief A4", "Briefpapier"]);
    expect(await names({ query: "brief xyz" })).toEqual([]);
  });

  test("characters special to Redis or regexes are plain text", async () => {
    for (const ch of ["*", "?", "[", "]", "\\", "%", '"', "'", "{", "}", "|", "@", ":", "-"]) {
      const { status, body } = await search({ query: ch });
      expect({ ch, status }).toEqual({ ch, status: 200 });
      expect(Array.isArray(body.suggestions)).toBe(true);
    }
    expect(await names({ query: "50% off [a4" })).toEqual(["50% off [A4] {promo} | 'best' \"deal\" @shop: a-b c\\d *x? "]);
    expect(await names({ query: "{promo}" })).toEqual(["50% off [A4] {promo} | 'best' \"deal\" @shop: a-b c\\d *x? "]);
    expect(await names({ query: "*" })).toEqual([]);
  });
});

describe("ranking", () => {
  test("exact > whole name starts with > a word starts with > inside a word > one typo", async () => {
    expect(await names({ query: "kaart" })).toEqual(["Kaart", "Kaarten set", "Mooie kaarten", "Wenskaart", "Kaatr doos"]);
  });

  test("typo matches only fill up when the better classes give fewer than limit", async () => {
    expect(await names({ query: "kaart", limit: "4" })).toEqual(["Kaart", "Kaarten set", "Mooie kaarten", "Wenskaart"]);
    expect(await names({ query: "kaar", limit: "2" })).toEqual(["Kaart", "Kaarten set"]);
  });

  test("words shorter than 4 letters get no typo tolerance", async () => {
    expect(await names({ query: "kax" })).toEqual([]);
    // All four by one typo ("kaax" → "kaar…", "kaat…"): shorter names first.
    expect(await names({ query: "kaax" })).toEqual(["Kaart", "Kaatr doos", "Kaarten set", "Mooie kaarten"]);
  });

  test("own display names first, then shorter names", async () => {
    // The last three are found only through their item's name "Business card(s)…".
    expect(await names({ query: "business card" })).toEqual(["Business cards", "Business card holder", "名刺", "名刺カード", "Wizytówki"]);
  });
});

describe("filters and listing", () => {
  test("iso filters by language (case-insensitive); no iso searches all", async () => {
    expect(await names({ query: "lodz", iso: "pl" })).toEqual(["Plakat Łódź"]);
    expect(await names({ query: "lodz", iso: "EN" })).toEqual(["Lodz poster"]);
    expect(await names({ query: "lodz", iso: "xx" })).toEqual([]);
  });

  test("results are de-duplicated by (linked, display_name)", async () => {
    const { body } = await search({ query: "flyer" });
    expect(body.suggestions).toEqual([
      { sku: ids.flyer, name: "Flyer", display_name: "Flyer", origin_name: "Flyer", iso: "de", slug: "flyer", linked: ids.flyer },
    ] as never);
  });

  test("an empty query lists entries alphabetically, up to limit", async () => {
    expect(await names({ query: "", iso: "nl", limit: "4" })).toEqual(["Brief papier", "Briefpapier", "Flyer", "Kaart"]);
    expect(await names({ limit: "3" })).toEqual(["50% off [A4] {promo} | 'best' \"deal\" @shop: a-b c\\d *x? ", "Brief papier", "Briefpapier"]);
  });

  test("the other endpoints search their own type; before any index exists they answer empty", async () => {
    for (const path of ["/boxes-search", "/options-search"]) {
      const { status, body } = await search({ query: "kaart" }, path);
      expect({ path, status, body }).toEqual({ path, status: 200, body: { suggestions: [] } as never });
    }
    expect((await search({ query: "kaart" }, "/categories-search")).body.suggestions.length).toBe(5);
  });
});

describe("bad parameters → 422 naming the field", () => {
  const cases: [Record<string, string>, string][] = [
    [{ query: "x".repeat(201) }, "query"],
    [{ query: "x".repeat(8_000) }, "query"], // longer query strings (over 8 KB) are a 414: test/validation.test.ts
    [{ limit: "0" }, "limit"],
    [{ limit: "101" }, "limit"],
    [{ limit: "1.5" }, "limit"],
    [{ limit: "abc" }, "limit"],
    [{ limit: "" }, "limit"],
    [{ iso: "e" }, "iso"],
    [{ iso: "en us" }, "iso"],
    [{ iso: "en.US" }, "iso"],
    [{ iso: "x".repeat(36) }, "iso"],
  ];
  for (const [params, field] of cases) {
    test(`${JSON.stringify(params).slice(0, 40)} → 422 ${field}`, async () => {
      const { status, body } = await search(params);
      expect(status).toBe(422);
      expect(body.error).toBe("invalid_request");
      expect(body.field).toBe(field);
      expect(String(body.message)).toStartWith(`${field}: `);
    });
  }
});
