// A multi-word search reads the members of the query word with the fewest (the driver). It counts
// the longest words first and stops counting a word, as -1, once it has as many members as the
// fewest so far: such a word cannot drive. On a catalog where one word is rare and another common in
// every language, the driver and the answers stay those of counting every word to the end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
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
