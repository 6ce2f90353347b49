import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { MongoClient, ObjectId } from "mongodb";
import { datasetPath } from "../src/runs/dataset.ts";
import { CatalogSource, ORIGIN_PROJECTION } from "../src/source/mongo.ts";
import { createContext, MONGODB_URI, type TestContext } from "./helpers.ts";

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createContext("sync");
});
afterEach(async () => {
  await ctx.cleanup();
});

const letterhead = new ObjectId("64b000000000000000000001");
const cards = new ObjectId("64b000000000000000000002");

async function seedHandMade() {
  await ctx.db.collection("categories").insertMany([
    {
      _id: letterhead,
      name: "Letterhead",
      slug: "letterhead",
      display_name: [
        { iso: "en", display_name: "Letterhead" },
        { iso: "nl", display_name: "Briefpapier" },
        { iso: "nl", display_name: "Briefpapier" },
      ],
    },
    { _id: cards, name: "Business cards", slug: "business-cards", display_name: [{ display_name: "Business cards" }] },
    { _id: new ObjectId("64b0000000000000000000ff"), name: "Broken", display_name: "not an array" },
  ]);
  await ctx.db.collection("supplier_categories").insertMany([
    {
      _id: new ObjectId("64c000000000000000000001"),
      linked: letterhead,
      display_name: [
        { iso: "fr", display_name: "Papier à lettres" },
        { iso: "en", display_name: "Letterhead" },
      ],
    },
    { _id: new ObjectId("64c000000000000000000002"), linked: cards.toHexString(), display_name: [{ iso: "pl", display_name: "Wizytówki" }] },
    { _id: new ObjectId("64c000000000000000000003"), linked: "xyz", display_name: [{ iso: "pl", display_name: "X" }] },
  ]);
}

describe("full run", () => {
  test("builds exactly the entries of SPEC §1 and writes the dataset file", async () => {
    await seedHandMade();
    const s = await ctx.services();
    const result = await s.engine.run("categories", "api");
    expect(result.status).toBe("success");
    const e = (sku: ObjectId, name: string, display_name: string, iso: string, origin_name: string, slug: string) => ({
      sku: sku.toHexString(),
      linked: sku.toHexString(),
      name,
      display_name,
      iso,
      origin_name,
      slug,
    });
    const expected = [
      e(letterhead, "Letterhead", "Letterhead", "en", "Letterhead", "letterhead"),
      e(letterhead, "Letterhead", "Briefpapier", "nl", "Briefpapier", "letterhead"),
      e(cards, "Business cards", "Business cards", "en", "Business cards", "business-cards"),
      e(letterhead, "Letterhead", "Papier à lettres", "fr", "Papier à lettres", "letterhead"),
      e(cards, "Business cards", "Wizytówki", "pl", "Wizytówki", "business-cards"),
    ];
    const file = JSON.parse(readFileSync(datasetPath(ctx.config.dataSetFile, "categories"), "utf8"));
    expect(file).toEqual(expected);
    expect(result.types.categories).toEqual({
      documents: 6,
      entries: 5,
      previous_entries: 0,
      skipped: {
        display_name_not_array: { count: 1, examples: ["64b0000000000000000000ff"] },
        slug_missing: { count: 1, examples: ["64b0000000000000000000ff"] },
        linked_invalid: { count: 1, examples: ["64c000000000000000000003"] },
      },
      published: true,
    });
  });
});

describe("reading the catalog", () => {
  test("reads SYNC_BATCH_SIZE documents per request and hands them to the build at most 100 at a time", async () => {
    await ctx.db.collection("categories").insertMany(Array.from({ length: 2_500 }, (_, i) => ({ name: `Item ${i}`, display_name: [] })));
    const client = new MongoClient(MONGODB_URI, { monitorCommands: true });
    const reads: string[] = [];
    client.on("commandStarted", (e) => {
      if (e.commandName === "find" || e.commandName === "getMore") reads.push(e.commandName);
    });
    try {
      const sizes: number[] = [];
      const names = new Set<string>();
      for await (const batch of new CatalogSource(client, ctx.dbName).batches("categories", ORIGIN_PROJECTION, 1_000)) {
        sizes.push(batch.length);
        for (const doc of batch) names.add(doc.name);
      }
      expect(names.size).toBe(2_500);
      expect(Math.max(...sizes)).toBe(100);
      expect(sizes.length).toBe(25);
      // 1,000 + 1,000 + 500 documents: three requests.
      expect(reads).toEqual(["find", "getMore", "getMore"]);
    } finally {
      await client.close();
    }
  });
});
