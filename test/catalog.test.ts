// Pure catalog functions (SPEC §1): documents → entries, skip reasons, text normalisation.
import { describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import {
  addDisplayNames,
  docIdText,
  entriesOf,
  entryId,
  type ItemRecord,
  objectIdHex,
  originRecord,
  parseEntryId,
  SkipTally,
  supplierLink,
  toEntry,
  validDisplayNames,
} from "../src/catalog/entries.ts";
import { phrase, words } from "../src/catalog/normalize.ts";
import { SEARCH_NAME, SKIP_REASONS } from "../src/catalog/types.ts";

const id = (n: number) => new ObjectId(n.toString(16).padStart(24, "0"));
const hex = (n: number) => n.toString(16).padStart(24, "0");

describe("objectIdHex / docIdText", () => {
  test("ObjectId and 24-hex strings give lower-case hex; anything else null", () => {
    expect(objectIdHex(new ObjectId("64B00000000000000000000A"))).toBe("64b00000000000000000000a");
    expect(objectIdHex("64B00000000000000000000A")).toBe("64b00000000000000000000a");
    for (const bad of [
      "",
      "xyz",
      "64b00000000000000000000",
      "64b00000000000000000000a1",
      "g4b00000000000000000000a",
      42,
      null,
      undefined,
      {},
      [],
      { _bsontype: "Binary" },
      // Stored documents shaped like an ObjectId, which the driver hands over as plain objects.
      { _bsontype: "ObjectId" },
      { _bsontype: "ObjectId", id: "x" },
      { _bsontype: "ObjectId", toHexString: () => "not hex" },
    ])
      expect(objectIdHex(bad)).toBeNull();
  });

  test("docIdText names any _id readably", () => {
    expect(docIdText({ _id: id(1) })).toBe(hex(1));
    expect(docIdText({ _id: "custom-id" })).toBe('"custom-id"');
    expect(docIdText({ _id: 7 })).toBe("7");
    expect(docIdText({})).toBe("undefined");
  });
});

describe("validDisplayNames", () => {
  test("keeps valid elements in order, iso missing/blank/non-string → en, text as given", () => {
    const tally = new SkipTally();
    const long = "Ä".repeat(1000);
    const names = validDisplayNames(
      [
        { iso: "en", display_name: "Letterhead" },
        { display_name: "No iso" },
        { iso: "", display_name: "Blank iso" },
        { iso: 5, display_name: "Numeric iso" },
        { iso: "nl", display_name: "  Briefpapier  " },
        { iso: "ja", display_name: "レターヘッド 🙂" },
        { iso: "de", display_name: long },
        { iso: "fr", display_name: "Papier à lettres", extra: true },
      ],
      "doc",
      tally,
    );
    expect(names).toEqual([
      { iso: "en", display_name: "Letterhead" },
      { iso: "en", display_name: "No iso" },
      { iso: "en", display_name: "Blank iso" },
      { iso: "en", display_name: "Numeric iso" },
      { iso: "nl", display_name: "  Briefpapier  " },
      { iso: "ja", display_name: "レターヘッド 🙂" },
      { iso: "de", display_name: long },
      { iso: "fr", display_name: "Papier à lettres" },
    ]);
    expect(tally.byReason).toEqual({});
  });

  test("an iso is trimmed; one that search's iso filter would refuse skips its name (iso_invalid)", () => {
    const tally = new SkipTally();
    const names = validDisplayNames(
      [
        { iso: " en ", display_name: "Padded" },
        { iso: "pt_BR", display_name: "Papel" },
        { iso: "zh-Hant-TW", display_name: "信紙" },
        { iso: "en.US", display_name: "Dotted" },
        { iso: "e n", display_name: "Spaced" },
        { iso: "x", display_name: "Short" },
      ],
      "doc",
      tally,
    );
    expect(names).toEqual([
      { iso: "en", display_name: "Padded" },
      { iso: "pt_BR", display_name: "Papel" },
      { iso: "zh-Hant-TW", display_name: "信紙" },
    ]);
    expect(tally.byReason).toEqual({ iso_invalid: { count: 3, examples: ["doc"] } });
  });

  test("each messy case is counted under its reason", () => {
    const tally = new SkipTally();
    expect(validDisplayNames(undefined, "a", tally)).toEqual([]);
    expect(validDisplayNames(null, "b", tally)).toEqual([]);
    expect(validDisplayNames("Letterhead", "c", tally)).toEqual([]);
    expect(validDisplayNames({ iso: "en", display_name: "x" }, "d", tally)).toEqual([]);
    expect(
      validDisplayNames(
        [
          "Letterhead",
          5,
          null,
          ["en", "x"],
          { iso: "en", display_name: "" },
          { iso: "en", display_name: "   " },
          { iso: "en" },
          { iso: "en", display_name: null },
          { iso: "en", display_name: 12 },
          { iso: "en", display_name: ["x"] },
          { iso: "en", display_name: "ok" },
        ],
        "e",
        tally,
      ),
    ).toEqual([{ iso: "en", display_name: "ok" }]);
    expect(tally.byReason).toEqual({
      display_name_missing: { count: 2, examples: ["a", "b"] },
      display_name_not_array: { count: 2, examples: ["c", "d"] },
      display_name_element_not_object: { count: 4, examples: ["e"] },
      display_name_empty: { count: 4, examples: ["e"] },
      display_name_not_string: { count: 2, examples: ["e"] },
    });
    expect(tally.total()).toBe(14);
  });
});

describe("SkipTally", () => {
  test("counts every occurrence, keeps at most 20 distinct examples", () => {
    const tally = new SkipTally();
    for (let i = 0; i < 30; i++) tally.add("linked_invalid", `doc${i}`);
    tally.add("linked_invalid", "doc0");
    tally.add("name_missing", "x");
    expect(tally.byReason.linked_invalid!.count).toBe(31);
    expect(tally.byReason.linked_invalid!.examples).toEqual(Array.from({ length: 20 }, (_, i) => `doc${i}`));
    expect(tally.byReason.name_missing).toEqual({ count: 1, examples: ["x"] });
    expect(tally.total()).toBe(32);
  });

  test("every reason the engine can report is a documented one", () => {
    expect([...SKIP_REASONS].sort() as string[]).toEqual(
      [
        "id_not_object_id",
        "display_name_missing",
        "display_name_not_array",
        "display_name_element_not_object",
        "display_name_empty",
        "display_name_not_string",
        "iso_invalid",
        "linked_missing",
        "linked_invalid",
        "linked_unknown_origin",
        "name_missing",
        "slug_missing",
        "name_too_long",
        "display_name_too_long",
        "too_many_words",
        "too_many_entries",
      ].sort(),
    );
    expect(SEARCH_NAME).toEqual({ categories: "category", boxes: "box", options: "option" });
  });
});

describe("originRecord", () => {
  test("one entry per display name; origin_name is the first name in the same iso; duplicates once", () => {
    const tally = new SkipTally();
    const origin = originRecord(
      {
        _id: id(1),
        name: "Letterhead",
        slug: "letterhead",
        display_name: [
          { iso: "en", display_name: "Letterhead" },
          { iso: "nl", display_name: "Briefpapier" },
          { iso: "en", display_name: "Letter paper" },
          { iso: "nl", display_name: "Briefpapier" },
          { display_name: "Headed paper" },
        ],
        created_at: new Date(),
      },
      tally,
    )!;
    expect(origin.sku).toBe(hex(1));
    expect(entriesOf(origin.sku, origin.record)).toEqual([
      { sku: hex(1), linked: hex(1), name: "Letterhead", display_name: "Letterhead", iso: "en", origin_name: "Letterhead", slug: "letterhead" },
      { sku: hex(1), linked: hex(1), name: "Letterhead", display_name: "Briefpapier", iso: "nl", origin_name: "Briefpapier", slug: "letterhead" },
      { sku: hex(1), linked: hex(1), name: "Letterhead", display_name: "Letter paper", iso: "en", origin_name: "Letterhead", slug: "letterhead" },
      { sku: hex(1), linked: hex(1), name: "Letterhead", display_name: "Headed paper", iso: "en", origin_name: "Letterhead", slug: "letterhead" },
    ]);
    expect(tally.byReason).toEqual({});
  });

  test("name/slug missing → empty string, counted; an origin without names is kept (suppliers may link to it)", () => {
    const tally = new SkipTally();
    const origin = originRecord({ _id: id(2), display_name: "oops" }, tally)!;
    expect(origin).toEqual({ sku: hex(2), record: { n: "", s: "", o: {}, e: [] } });
    expect(entriesOf(origin.sku, origin.record)).toEqual([]);
    expect(tally.byReason).toEqual({
      display_name_not_array: { count: 1, examples: [hex(2)] },
      name_missing: { count: 1, examples: [hex(2)] },
      slug_missing: { count: 1, examples: [hex(2)] },
    });
  });

  test("a string _id of 24 hex digits is an ObjectId; any other _id is skipped", () => {
    const tally = new SkipTally();
    expect(originRecord({ _id: hex(3).toUpperCase(), name: "n", slug: "s", display_name: [] }, tally)?.sku).toBe(hex(3));
    expect(originRecord({ _id: "letterhead", name: "n", slug: "s", display_name: [{ iso: "en", display_name: "x" }] }, tally)).toBeNull();
    expect(tally.byReason).toEqual({ id_not_object_id: { count: 1, examples: ['"letterhead"'] } });
  });
});

describe("supplierLink", () => {
  test("ObjectId or hex string → the origin sku", () => {
    const tally = new SkipTally();
    expect(supplierLink({ _id: id(10), linked: id(1) }, tally)).toBe(hex(1));
    expect(supplierLink({ _id: id(11), linked: hex(1).toUpperCase() }, tally)).toBe(hex(1));
    expect(tally.total()).toBe(0);
  });

  test("missing, null, empty → linked_missing; not an ObjectId → linked_invalid", () => {
    const tally = new SkipTally();
    expect(supplierLink({ _id: id(20) }, tally)).toBeNull();
    expect(supplierLink({ _id: id(21), linked: null }, tally)).toBeNull();
    expect(supplierLink({ _id: id(22), linked: "" }, tally)).toBeNull();
    expect(supplierLink({ _id: id(23), linked: "xyz" }, tally)).toBeNull();
    expect(supplierLink({ _id: id(24), linked: 12345 }, tally)).toBeNull();
    expect(supplierLink({ _id: id(25), linked: { $oid: hex(1) } }, tally)).toBeNull();
    expect(tally.byReason).toEqual({
      linked_missing: { count: 3, examples: [hex(20), hex(21), hex(22)] },
      linked_invalid: { count: 3, examples: [hex(23), hex(24), hex(25)] },
    });
  });
});

describe("addDisplayNames (supplier names on an origin)", () => {
  const base = (): ItemRecord => ({
    n: "Letterhead",
    s: "letterhead",
    o: { en: "Letterhead", nl: "Briefpapier" },
    e: [
      ["en", "Letterhead", "Letterhead"],
      ["nl", "Briefpapier", "Briefpapier"],
    ],
  });

  test("new names get the origin's name in their iso, or their own when the origin has none there", () => {
    const record = base();
    const added = addDisplayNames(record, [
      { iso: "nl", display_name: "Postpapier" },
      { iso: "fr", display_name: "Papier à lettres" },
      { iso: "en", display_name: "Letterhead" }, // identical to an origin entry
      { iso: "fr", display_name: "Papier à lettres" }, // twice from the supplier
      { iso: "EN", display_name: "Letterhead" }, // another iso spelling is another entry
    ]);
    expect(added).toEqual([2, 3, 4]);
    expect(entriesOf("s1", record).map((e) => [e.iso, e.display_name, e.origin_name])).toEqual([
      ["en", "Letterhead", "Letterhead"],
      ["nl", "Briefpapier", "Briefpapier"],
      ["nl", "Postpapier", "Briefpapier"],
      ["fr", "Papier à lettres", "Papier à lettres"],
      ["EN", "Letterhead", "Letterhead"],
    ]);
  });

  test("an explicit origin_name (push updates) wins", () => {
    const record = base();
    addDisplayNames(record, [{ iso: "nl", display_name: "Postpapier" }], "Given");
    expect(toEntry("s1", record, 2)!.origin_name).toBe("Given");
  });

  test("the word limit counts distinct words over display name, name and origin name, however often repeated", () => {
    const record = base();
    const numbered = (from: number, count: number) => Array.from({ length: count }, (_, i) => `w${from + i}`).join(" ");
    const refused: string[] = [];
    const added = addDisplayNames(
      record,
      [
        // 40 words with repeats, 30 distinct with the name's and origin name's (31 with "Letterhead").
        { iso: "en", display_name: `${numbered(0, 30)} ${numbered(0, 10)}` },
        // 31 distinct of its own, "Letterhead" the 32nd: at the limit.
        { iso: "en", display_name: `Card ${numbered(100, 30)} letterhead letterhead` },
        // 33 distinct.
        { iso: "en", display_name: numbered(200, 32) },
        // 31 distinct of its own and 2 of another origin name (nl: Briefpapier, and the name): 33.
        { iso: "nl", display_name: numbered(300, 31) },
      ],
      undefined,
      (reason, name) => refused.push(`${reason}: ${name.display_name.slice(0, 9)}`),
    );
    expect(added).toEqual([2, 3]);
    expect(refused).toEqual(["too_many_words: w200 w201", "too_many_words: w300 w301"]);
  });
});

describe("entry ids", () => {
  test("round-trip, the sku in 16 characters, positions in base 36; the 24-hex form of older indexes still reads", () => {
    const sku = "0123456789abcdeffedcba98";
    expect(entryId(sku, 0)).toBe("-HC4OsafnTzyrAeN.0");
    expect(entryId(sku, 35)).toMatch(/^.{16}\.z$/);
    expect(entryId(sku, 36)).toMatch(/^.{16}\.10$/);
    expect(entryId(sku, 36, "hex")).toBe(`${sku}.10`);
    for (const s of [hex(7), sku, "000000000000000000000000", "ffffffffffffffffffffffff"])
      for (const p of [0, 1, 35, 36, 1295, 99_999])
        for (const form of ["short", "hex"] as const) expect(parseEntryId(entryId(s, p, form))).toEqual({ sku: s, position: p });
    expect(parseEntryId("nodot")).toBeNull();
    expect(parseEntryId(`${hex(1)}.!`)).toBeNull();
  });

  test("skus read back from ids stay right past the number of them kept", () => {
    // Search keeps the skus it has read back from short ids, and drops them all when there are too many.
    const skus = Array.from({ length: 50_000 }, (_, i) => hex(i * 7919 + 1));
    for (let round = 0; round < 2; round++) for (const sku of skus) expect(parseEntryId(entryId(sku, round))).toEqual({ sku, position: round });
  });

  test("short ids sort as their skus do, so members of one name keep their order", () => {
    const skus = [
      "000000000000000000000fff",
      "0000000000000000000010ff",
      "00000000000000000000ffff",
      "0a0000000000000000000000",
      "a00000000000000000000000",
      "ffffffffffffffffffffffff",
    ];
    const ids = skus.map((s) => entryId(s, 3));
    expect([...ids].sort()).toEqual(ids);
  });

  test("removed positions (null) are skipped by entriesOf and toEntry", () => {
    const record: ItemRecord = { n: "n", s: "s", o: {}, e: [["en", "a", "a"], null, ["en", "c", "c"]] };
    expect(toEntry("k", record, 1)).toBeNull();
    expect(toEntry("k", record, 9)).toBeNull();
    expect(entriesOf("k", record).map((e) => e.display_name)).toEqual(["a", "c"]);
  });
});

describe("normalisation", () => {
  test("case- and accent-insensitive words", () => {
    expect(words("Papier à Lettres")).toEqual(["papier", "a", "lettres"]);
    expect(words("CRÈME brûlée")).toEqual(["creme", "brulee"]);
    expect(words("Straße Ærø Łódź Œuvre")).toEqual(["strasse", "aero", "lodz", "oeuvre"]);
    expect(words("ﬁnance Ｗｉｄｅ")).toEqual(["finance", "wide"]);
    expect(words("İstanbul")).toEqual(["istanbul"]);
  });

  test("punctuation and spaces separate words; digits are words; CJK stays whole", () => {
    expect(words("A4-paper, 120g/m² (matte)")).toEqual(["a4", "paper", "120g", "m2", "matte"]);
    expect(words("  l'été  ")).toEqual(["l", "ete"]);
    expect(words("名刺 印刷")).toEqual(["名刺", "印刷"]);
    expect(words("")).toEqual([]);
    expect(words(" -- ")).toEqual([]);
  });

  test("phrase joins the words with single spaces", () => {
    expect(phrase("  Business   Cards — Premium! ")).toBe("business cards premium");
    expect(phrase("Wizytówki")).toBe("wizytowki");
  });
});
