// A multi-word search reads the members of the query word with the fewest (the driver). It counts
// the longest words first and stops counting a word, as -1, once it has as many members as the
// fewest so far: such a word cannot drive. On a catalog where one word is rare and another common in
// every language, the driver and the answers stay those of counting every word to the end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { IndexStore } from "../src/index/store.ts";
import { SearchService } from "../src/search/service.ts";
import { createContext, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let services: Services;

const LANGUAGES = ["en", "de", "nl"];

beforeAll(async () => {
  ctx = await createContext("searchdriver");
  const docs = [];
  for (let n = 0; n < 40; n++)
    docs.push({ _id: new ObjectId(), name: "Print", slug: `z${n}`, display_name: LANGUAGES.map((iso) => ({ iso, display_name: `Zebra print ${n}` })) });
  docs.push({ _id: new ObjectId(), name: "Print", slug: "quokka", display_name: LANGUAGES.map((iso) => ({ iso, display_name: "Quokka zebra" })) });
  await ctx.db.collection("categories").insertMany(docs);
  services = await ctx.services();
  expect((await services.engine.run("categories", "api")).status).toBe("success");
});
afterAll(async () => {
  await ctx.cleanup();
});

const prefixHits = (words: string[]) => services.store.prefixHits("categories", { iso: "", phrase: words.join(" "), words, limit: 10, wordCandidates: 200 });

describe("the driver of a multi-word search", () => {
  test("is the word with the fewest members; a word with more is not counted to the end", async () => {
    const found = await prefixHits(["quokka", "zeb"]);
    expect(found!.driver).toBe(1);
    // "quokka": one own word member per language.
    expect(found!.counts).toEqual([LANGUAGES.length, -1]);
  });

  test("counts the longest word first, and a later driver wins over an earlier word only with fewer members", async () => {
    const found = await prefixHits(["zeb", "quokka"]);
    expect(found!.driver).toBe(2);
    expect(found!.counts).toEqual([-1, LANGUAGES.length]);
  });

  test("a tie goes to the earlier word, both counted to the end", async () => {
    const found = await prefixHits(["quok", "quokka"]);
    expect(found!.driver).toBe(1);
    expect(found!.counts).toEqual([LANGUAGES.length, LANGUAGES.length]);
  });

  test("the answers are those of the rare word's entries, with a typo too", async () => {
    // "quokkx" has no members, so "zeb" is not counted in the prefix read: the expansion counts it.
    expect((await prefixHits(["quokkx", "zeb"]))!.counts).toEqual([0, -1]);
    for (const query of ["quokka zeb", "zeb quokka", "quokkx zeb", "zeb quokkx", "quokka zebar"]) {
      const answers = await services.search.search("categories", { query, limit: 10 });
      expect(answers.map((e) => e.display_name)).toEqual(["Quokka zebra"]);
    }
  });
});

describe("repeated query words", () => {
  /** An index store that notes the words each prefix read is given. */
  class NotingStore extends IndexStore {
    readonly words: (readonly string[])[] = [];
    override prefixHits(...args: Parameters<IndexStore["prefixHits"]>): ReturnType<IndexStore["prefixHits"]> {
      this.words.push(args[1].words);
      return super.prefixHits(...args);
    }
  }

  test("are read once: the same answers as each word once, for a fraction of Redis's work", async () => {
    const store = new NotingStore(services.redis, services.keys);
    const search = new SearchService(store);
    const names = async (query: string) => (await search.search("categories", { query, limit: 10 })).map((e) => e.display_name);
    const once = await names("zeb qu");
    expect(await names(Array(30).fill("zeb qu").join(" "))).toEqual(once);
    expect(once).toEqual(["Quokka zebra"]);
    expect(store.words).toEqual([
      ["zeb", "qu"],
      ["zeb", "qu"],
    ]);
  });
});
