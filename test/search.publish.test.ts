// A search reads the serving generation's members, then the records of the best of them. A run
// that publishes in between, and removes the generation it replaced, must not leave that search
// with members whose records are gone: it reads again from the new generation.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import type { ItemRecord } from "../src/catalog/entries.ts";
import type { ItemType } from "../src/catalog/types.ts";
import { IndexStore } from "../src/index/store.ts";
import { SearchService } from "../src/search/service.ts";
import { createContext, type TestContext } from "./helpers.ts";

/** An index store that runs `beforeRecords` once, before a search's first read of records, and notes the generations read. */
class PausingStore extends IndexStore {
  beforeRecords: (() => Promise<void>) | null = null;
  readonly recordGens: string[] = [];
  override async servingItems(type: ItemType, gen: string, skus: string[]): Promise<Map<string, ItemRecord> | null> {
    const hook = this.beforeRecords;
    this.beforeRecords = null;
    await hook?.();
    this.recordGens.push(gen);
    return super.servingItems(type, gen, skus);
  }
}

let ctx: TestContext;
let services: Services;
const sku = new ObjectId();
beforeAll(async () => {
  ctx = await createContext("search-publish");
  await ctx.db.collection("categories").insertMany([
    { _id: sku, name: "Kaart", slug: "kaart", display_name: [{ iso: "nl", display_name: "Kaart" }] },
    { name: "Kaartenbak", slug: "bak", display_name: [{ iso: "nl", display_name: "Kaartenbak" }] },
  ]);
  services = await ctx.services();
  expect((await services.engine.run("categories", "api")).status).toBe("success");
});
afterAll(() => ctx.cleanup());

test("a run that publishes and removes the old generation between a search's reads: the search answers from the new one", async () => {
  const store = new PausingStore(services.redis, services.keys);
  const search = new SearchService(store);
  const before = await services.store.currentGen("categories");
  store.beforeRecords = async () => {
    await ctx.db.collection("categories").updateOne({ _id: sku }, { $set: { display_name: [{ iso: "nl", display_name: "Kaartspel" }] } });
    expect((await services.engine.run("categories", "api")).status).toBe("success");
  };
  const answer = (await search.search("categories", { query: "kaart", limit: 10 })).map((e) => e.display_name);
  const after = await services.store.currentGen("categories");
  expect(after).not.toBe(before);
  // The replaced generation is gone (the run removed it), so its records were not there to read.
  expect(await services.redis.exists(services.keys.gen("categories", before!).items)).toBe(0);
  expect(store.recordGens).toEqual([before!, after!]);
  expect(answer).toEqual(["Kaartspel", "Kaartenbak"]);
});
