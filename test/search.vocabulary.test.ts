// The vocabulary search expands query words through (infix and typo words) is read whole from
// Redis: searches that need it at once share one read, and while push updates keep adding words
// (each a new vocabulary version) searches read each version once, and again only now and then.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import type { ItemType } from "../src/catalog/types.ts";
import { IndexStore } from "../src/index/store.ts";
import { applyPush } from "../src/index/update.ts";
import { SearchService } from "../src/search/service.ts";
import { createContext, type TestContext } from "./helpers.ts";

/** An index store that counts whole-vocabulary reads. */
class CountingStore extends IndexStore {
  vocabularyReads = 0;
  override vocabulary(type: ItemType, gen: string): Promise<string[]> {
    this.vocabularyReads++;
    return super.vocabulary(type, gen);
  }
}

let ctx: TestContext;
let services: Services;
const sku = new ObjectId().toHexString();
beforeAll(async () => {
  ctx = await createContext("search-vocabulary");
  await ctx.db.collection("categories").insertMany([
    { _id: new ObjectId(sku), name: "Kaart", slug: "kaart", display_name: [{ iso: "nl", display_name: "Kaart" }] },
    { name: "Wenskaart", slug: "wens", display_name: [{ iso: "nl", display_name: "Wenskaart" }] },
  ]);
  services = await ctx.services();
  expect((await services.engine.run("categories", "api")).status).toBe("success");
});
afterAll(() => ctx.cleanup());

const names = async (search: SearchService, query: string) => (await search.search("categories", { query, limit: 10 })).map((e) => e.display_name);

test("searches that expand at the same time read the vocabulary once", async () => {
  const store = new CountingStore(services.redis, services.keys);
  const search = new SearchService(store);
  // "kaaxt": no prefix match; one typo from "kaart".
  const answers = await Promise.all(Array.from({ length: 20 }, () => names(search, "kaaxt")));
  expect(answers.every((a) => a.includes("Kaart"))).toBe(true);
  expect(store.vocabularyReads).toBe(1);
});

test("words pushed one after another: each new version is read once by the searches that need it, and a new word is found by a typo", async () => {
  const store = new CountingStore(services.redis, services.keys);
  const search = new SearchService(store);
  await names(search, "kaaxt");
  const pushes = 20;
  for (let i = 0; i < pushes; i++) {
    const word = `zoekwoord${String.fromCharCode(97 + i)}`;
    await applyPush(services.store, "categories", { op: "add", item: { linked: sku, display_names: [{ iso: "de", display_name: word }] } }, "serving");
    await Promise.all(Array.from({ length: 10 }, () => names(search, "kaaxt")));
  }
  // Every push added a word: ten searches after each saw a new version, and at most one of them read it.
  expect(store.vocabularyReads).toBeLessThanOrEqual(pushes + 1);
  // A word pushed last is expanded to once the last read is old enough: "vouwkatron" is one transposition from it.
  await applyPush(services.store, "categories", { op: "add", item: { linked: sku, display_names: [{ iso: "de", display_name: "Vouwkarton" }] } }, "serving");
  let found: string[] = [];
  for (let tries = 0; tries < 50 && !found.includes("Vouwkarton"); tries++) {
    await Bun.sleep(20);
    found = await names(search, "vouwkatron");
  }
  expect(found).toContain("Vouwkarton");
});
