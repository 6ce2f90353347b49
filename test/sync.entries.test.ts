// A full run over a hand-made catalog for each type (SPEC §1): exact entries, skip counts per
// reason for every messy case, dataset files, and the serving index holding the same entries.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import type { Entry, ItemType } from "../src/catalog/types.ts";
import type { RunResult } from "../src/runs/model.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { ITEM_TYPES, oid, SUPPLIER, servingEntries, sortEntries } from "./sync.fixtures.ts";

const LONG = `Cafe\u0301 ${"é".repeat(982)} ✉️ 👩‍👩‍👧`; // NFD accent, long (1,000 characters, the limit), emoji ZWJ sequence: kept as given

/** The messy catalog of SPEC §1, with ids of `type`. */
function catalog(type: ItemType) {
  const o = (n: number) => oid(type, 0, n);
  const s = (n: number) => oid(type, 1, n);
  const origins = [
    {
      _id: o(1),
      name: "Letterhead",
      slug: "letterhead",
      display_name: [
        { iso: "en", display_name: "Letterhead" },
        { iso: "nl", display_name: "Briefpapier" },
        { iso: "nl", display_name: "Briefpapier" }, // the same (iso, name) twice → one entry
        { iso: "en", display_name: "Letter paper" }, // a second en name: origin_name stays the first
        { display_name: "No iso" }, // iso missing → en
        { iso: "de", display_name: "" }, // empty
        { iso: "de", display_name: 42 }, // not a string
        "string element", // not an object
        null, // not an object
      ],
      created_at: new Date("2024-01-01"),
      updated_at: new Date("2024-01-02"),
    },
    { _id: o(2), display_name: [{ iso: "fr", display_name: "Carte" }] }, // name and slug missing
    { _id: o(3), name: "Ghost", slug: "ghost" }, // display_name missing; a supplier links to it
    { _id: o(4), name: "Str", slug: "str", display_name: "Just a string" }, // not an array
    { _id: o(5), name: "Obj", slug: "obj", display_name: { iso: "en", display_name: "obj" } }, // not an array
    { _id: o(6), name: "Empty", slug: "empty", display_name: [] }, // nothing to index, nothing wrong
    { _id: o(7), name: "Emoji ✉️", slug: "emoji", display_name: [{ iso: "ja", display_name: "レターヘッド ✉️" }] },
    { _id: o(8), name: "Null", slug: "null", display_name: null }, // missing
    { _id: "custom-id", name: "Custom", slug: "custom", display_name: [{ iso: "en", display_name: "Custom" }] }, // _id not an ObjectId
    {
      _id: o(10),
      name: "Long",
      slug: "long",
      display_name: [
        { iso: "ar", display_name: "ورق رسائل" },
        { iso: "fr", display_name: LONG },
      ],
    },
  ];
  const suppliers = [
    {
      _id: s(1),
      linked: o(1),
      display_name: [
        { iso: "fr", display_name: "Papier à lettres" },
        { iso: "en", display_name: "Letterhead" },
        { iso: "nl", display_name: "Postpapier" },
      ],
    },
    {
      _id: s(2),
      linked: o(1).toHexString(),
      display_name: [
        { iso: "fr", display_name: "Papier à lettres" },
        { iso: "pl", display_name: "Papier firmowy" },
      ],
    },
    { _id: s(3), linked: o(2).toHexString().toUpperCase(), display_name: [{ display_name: "Card" }] },
    { _id: s(4), linked: o(3), display_name: [{ iso: "en", display_name: "Ghost entry" }] },
    { _id: s(5), display_name: [{ iso: "en", display_name: "no link" }] }, // linked missing
    { _id: s(6), linked: null, display_name: [{ iso: "en", display_name: "null link" }] }, // linked null
    { _id: s(7), linked: "", display_name: [{ iso: "en", display_name: "empty link" }] }, // linked empty
    { _id: s(8), linked: "not-an-id", display_name: [{ iso: "en", display_name: "bad link" }] }, // invalid
    { _id: s(9), linked: 12345, display_name: [{ iso: "en", display_name: "number link" }] }, // invalid
    { _id: s(10), linked: new ObjectId("ffffffffffffffffffffffff"), display_name: [{ iso: "en", display_name: "nobody" }] }, // no origin
    { _id: s(11), linked: o(1) }, // display_name missing
    { _id: s(12), linked: o(1), display_name: "x" }, // not an array
    { _id: s(13), linked: o(1), display_name: ["x", { iso: "en", display_name: "" }, { iso: "en", display_name: false }] },
    {
      _id: s(14),
      linked: o(7),
      display_name: [
        { iso: "ja", display_name: "レターヘッド ✉️" },
        { iso: "en", display_name: "Letterhead ✉️" },
      ],
    },
    { _id: s(15), linked: o(10), display_name: [{ iso: "fr", display_name: LONG }] }, // identical to an origin entry
  ];

  const e = (n: number, name: string, slug: string, iso: string, display_name: string, origin_name: string): Entry => ({
    sku: o(n).toHexString(),
    linked: o(n).toHexString(),
    name,
    display_name,
    iso,
    origin_name,
    slug,
  });
  const entries = [
    e(1, "Letterhead", "letterhead", "en", "Letterhead", "Letterhead"),
    e(1, "Letterhead", "letterhead", "nl", "Briefpapier", "Briefpapier"),
    e(1, "Letterhead", "letterhead", "en", "Letter paper", "Letterhead"),
    e(1, "Letterhead", "letterhead", "en", "No iso", "Letterhead"),
    e(1, "Letterhead", "letterhead", "fr", "Papier à lettres", "Papier à lettres"),
    e(1, "Letterhead", "letterhead", "nl", "Postpapier", "Briefpapier"),
    e(1, "Letterhead", "letterhead", "pl", "Papier firmowy", "Papier firmowy"),
    e(2, "", "", "fr", "Carte", "Carte"),
    e(2, "", "", "en", "Card", "Card"), // no en name on the origin: its own name
    e(3, "Ghost", "ghost", "en", "Ghost entry", "Ghost entry"),
    e(7, "Emoji ✉️", "emoji", "ja", "レターヘッド ✉️", "レターヘッド ✉️"),
    e(7, "Emoji ✉️", "emoji", "en", "Letterhead ✉️", "Letterhead ✉️"),
    e(10, "Long", "long", "ar", "ورق رسائل", "ورق رسائل"),
    e(10, "Long", "long", "fr", LONG, LONG),
  ];
  const hex = (x: ObjectId) => x.toHexString();
  const skipped = {
    display_name_empty: { count: 2, examples: [hex(o(1)), hex(s(13))] },
    display_name_not_string: { count: 2, examples: [hex(o(1)), hex(s(13))] },
    display_name_element_not_object: { count: 3, examples: [hex(o(1)), hex(s(13))] },
    display_name_missing: { count: 3, examples: [hex(o(3)), hex(o(8)), hex(s(11))] },
    display_name_not_array: { count: 3, examples: [hex(o(4)), hex(o(5)), hex(s(12))] },
    name_missing: { count: 1, examples: [hex(o(2))] },
    slug_missing: { count: 1, examples: [hex(o(2))] },
    id_not_object_id: { count: 1, examples: ['"custom-id"'] },
    linked_missing: { count: 3, examples: [hex(s(5)), hex(s(6)), hex(s(7))] },
    linked_invalid: { count: 2, examples: [hex(s(8)), hex(s(9))] },
    linked_unknown_origin: { count: 1, examples: [hex(s(10))] },
  };
  return { origins, suppliers, entries: sortEntries(entries), skipped, documents: origins.length + suppliers.length };
}

/** Examples in a stable order (the scan order of the collection is the server's business). */
function sortedSkips(skipped: Record<string, { count: number; examples: string[] } | undefined>) {
  return Object.fromEntries(Object.entries(skipped).map(([reason, s]) => [reason, { count: s!.count, examples: [...s!.examples].sort() }]));
}

let ctx: TestContext;
let services: Services;
let result: RunResult;

beforeAll(async () => {
  ctx = await createContext("entries");
  for (const type of ITEM_TYPES) {
    const c = catalog(type);
    await ctx.db.collection(type).insertMany(c.origins as never[]);
    await ctx.db.collection(SUPPLIER[type]).insertMany(c.suppliers as never[]);
  }
  // Noise in other collections of the same database is never read.
  await ctx.db.collection("products").insertOne({ name: "unrelated", display_name: [{ iso: "en", display_name: "Unrelated" }] });
  services = await ctx.services();
  result = await services.engine.run("all", "api");
});
afterAll(async () => {
  await ctx.cleanup();
});

describe("a full run over the messy catalog", () => {
  test("succeeds and publishes", () => {
    expect(result).toMatchObject({ status: "success", published: true, scope: "all", trigger: "api", dry_run: false, force: false });
    expect(result.error).toBeUndefined();
  });

  for (const type of ITEM_TYPES) {
    describe(type, () => {
      test("counts: documents, entries, skipped per reason", () => {
        const c = catalog(type);
        const t = result.types[type]!;
        expect({ documents: t.documents, entries: t.entries, previous_entries: t.previous_entries }).toEqual({
          documents: c.documents,
          entries: c.entries.length,
          previous_entries: 0,
        });
        expect(sortedSkips(t.skipped)).toEqual(sortedSkips(c.skipped));
      });

      test("the serving index holds exactly the expected entries", async () => {
        expect(await servingEntries(services.store, type)).toEqual(catalog(type).entries);
      });

      test("the dataset file holds exactly the expected entries", () => {
        const file = join(ctx.dir, { categories: "data_set.json", boxes: "data_set_boxes.json", options: "data_set_options.json" }[type]);
        const text = readFileSync(file, "utf8");
        const parsed = JSON.parse(text) as Entry[];
        expect(sortEntries(parsed)).toEqual(catalog(type).entries);
        expect(parsed.length).toBe(catalog(type).entries.length);
        // Text as given: not normalised to NFC, not escaped away.
        expect(text).toContain(LONG);
      });
    });
  }

  test("exactly three dataset files, no temp files", () => {
    expect(
      readdirSync(ctx.dir)
        .filter((f) => f.endsWith(".json") || f.includes(".tmp"))
        .sort(),
    ).toEqual(["data_set.json", "data_set_boxes.json", "data_set_options.json"]);
  });
});

describe("DATA_SET_FILE naming", () => {
  test("a relative path in a missing directory, no extension: categories keep the exact name, the others get _boxes/_options.json", async () => {
    const other = await createContext("entries-ds");
    const cwd = process.cwd();
    try {
      const c = catalog("boxes");
      await other.db.collection("boxes").insertMany(c.origins as never[]);
      await other.db.collection("categories").insertMany(catalog("categories").origins as never[]);
      process.chdir(other.dir);
      // The directory does not exist yet: the run creates it.
      const s = await other.services({ DATA_SET_FILE: "exports/catalog" });
      const r = await s.engine.run("all", "api");
      expect(r.status).toBe("success");
      expect(readdirSync(join(other.dir, "exports")).sort()).toEqual(["catalog", "catalog_boxes.json", "catalog_options.json"]);
      expect(JSON.parse(readFileSync(join(other.dir, "exports/catalog_options.json"), "utf8"))).toEqual([]);
      expect(existsSync(join(other.dir, "exports/catalog"))).toBe(true);
    } finally {
      process.chdir(cwd);
      await other.cleanup();
    }
  });
});
