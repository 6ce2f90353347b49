// Typo matching and the ranking order, pure: against plain reference implementations on
// generated words, and on hand-made candidates.
import { describe, expect, test } from "bun:test";
import { mulberry32 } from "../scripts/catalog.ts";
import type { Entry } from "../src/catalog/types.ts";
import { type Candidate, MATCH, type MatchClass, QueryMatcher, rankAndDedupe } from "../src/search/rank.ts";
import { expand, prefixDistance, typoBudget, typoMatcher, Vocabulary } from "../src/search/typo.ts";

/** Reference: optimal string alignment distance by the textbook full table. */
function osa(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** Reference: the smallest distance to any prefix of `word`, capped at max + 1. */
function prefixReference(query: string, word: string, max: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let j = 0; j <= word.length; j++) best = Math.min(best, osa(query, word.slice(0, j)));
  return Math.min(best, max + 1);
}

function randomWord(random: () => number, min: number, max: number, alphabet = "abc"): string {
  const length = min + Math.floor(random() * (max - min + 1));
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)];
  return out;
}

describe("prefixDistance", () => {
  test("agrees with the reference on 20,000 pairs of short words over a 3-letter alphabet", () => {
    const random = mulberry32(7);
    const seen = new Set<number>();
    for (let n = 0; n < 20_000; n++) {
      const a = randomWord(random, 1, 7);
      const b = randomWord(random, 0, 9);
      const max = Math.floor(random() * 3);
      const got = prefixDistance(a, b, max);
      if (got !== prefixReference(a, b, max)) throw new Error(`prefixDistance(${a}, ${b}, ${max}) = ${got}`);
      seen.add(got);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3]); // every answer was exercised
  });

  test("a swap of neighbours is one edit (Levenshtein would count two)", () => {
    expect(prefixDistance("mialer", "mailer", 2)).toBe(1);
    expect(prefixDistance("breif", "briefpapier", 2)).toBe(1);
    expect(prefixDistance("potser", "poster", 2)).toBe(1);
  });
});

describe("typo budget", () => {
  test("no typo under 4 letters, one edit from 4, two from 8", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map(typoBudget)).toEqual([0, 0, 0, 1, 1, 1, 1, 2, 2, 2]);
  });

  test("typoMatcher: words a query word with typos could be the start of, not words it starts", () => {
    const cases: [string, string, boolean][] = [
      ["brief", "briefpapier", false], // a plain prefix is not a typo
      ["breif", "briefpapier", true], // swap
      ["brif", "briefpapier", true], // deletion
      ["brieef", "briefpapier", true], // insertion
      ["xrief", "briefpapier", true], // substitution of the first letter
      ["brxxf", "briefpapier", false], // two edits in 5 letters
      ["bri", "bro", false], // under 4 letters
      ["box", "bix", false],
      ["flyer", "fly", false], // the word is two letters short
      ["flyer", "flye", true],
      ["mailr", "mailer", true],
      ["stickrs", "stickers", true],
      ["anvelop", "envelopes", true], // 7 letters, one edit
      ["anvelps", "envelopes", false], // 7 letters, two edits
      ["anvelops", "envelopes", true], // 8 letters, two edits
      ["anvelopse", "envelopes", true], // 9 letters, a substitution and a swap
      ["anvelopsse", "envelopes", false], // three edits
    ];
    expect(cases.map(([q, w]) => [q, w, typoMatcher(q)(w)])).toEqual(cases);
  });
});

describe("expand", () => {
  test("agrees with filtering the whole vocabulary by the reference, over 200 generated vocabularies", () => {
    const random = mulberry32(11);
    for (let n = 0; n < 200; n++) {
      const words = [...new Set(Array.from({ length: 150 }, () => randomWord(random, 1, 9, "abcd")))];
      const query = randomWord(random, 1, 10, "abcd");
      const budget = typoBudget(query.length);
      const sorted = [...words].sort();
      const infix = sorted.filter((w) => query.length >= 2 && w.indexOf(query, 1) > 0 && !w.startsWith(query));
      const typo = sorted
        .filter((w) => budget > 0 && !infix.includes(w) && !w.startsWith(query) && prefixReference(query, w, budget) <= budget)
        .sort((a, b) => prefixReference(query, a, budget) - prefixReference(query, b, budget) || (a < b ? -1 : 1));
      expect({ query, ...expand(new Vocabulary(words), query, 1_000) }).toEqual({ query, infix, typo });
    }
  });

  test("at most `max` of each, fewest edits first", () => {
    const vocabulary = new Vocabulary(["mailbox", "mailer", "mailers", "maker", "mauler", "remailer", "smaile"]);
    expect(expand(vocabulary, "maile", 10)).toEqual({ infix: ["remailer", "smaile"], typo: ["mailbox", "mauler"] }); // "maker": two edits
    expect(expand(vocabulary, "maile", 1)).toEqual({ infix: ["remailer"], typo: ["mailbox"] });
  });
});

describe("ranking order", () => {
  const entry = (display_name: string, sku = "a", iso = "en"): Entry => ({
    sku,
    linked: sku,
    name: "",
    display_name,
    origin_name: display_name,
    iso,
    slug: "",
  });
  const candidate = (display_name: string, own: boolean, match: MatchClass, sku = "a", iso = "en"): Candidate => {
    const sortKey = display_name.toLowerCase();
    return { entry: entry(display_name, sku, iso), own, match, sortKey, length: sortKey.length };
  };

  test("own display name > class > shorter > alphabetical; one per (linked, display_name)", () => {
    const candidates = [
      candidate("Affiche", false, MATCH.wordPrefix, "1"),
      candidate("Potser print", true, MATCH.typo, "2"),
      candidate("Wallposter", true, MATCH.infix, "3"),
      candidate("Large poster", true, MATCH.wordPrefix, "4"),
      candidate("Poster frames", true, MATCH.phrasePrefix, "5"),
      candidate("Poster blue", true, MATCH.phrasePrefix, "6"),
      candidate("Poster aqua", true, MATCH.phrasePrefix, "7"),
      candidate("Posters", true, MATCH.phrasePrefix, "8"),
      candidate("Poster", true, MATCH.exact, "9"),
      candidate("Poster", true, MATCH.exact, "9", "nl"), // the same item and name in another language
      candidate("Poster", false, MATCH.wordPrefix, "9", "de"),
    ];
    const ranked = rankAndDedupe(candidates, 30);
    expect(ranked.map((e) => [e.display_name, e.iso])).toEqual([
      ["Poster", "en"],
      ["Posters", "en"],
      ["Poster aqua", "en"],
      ["Poster blue", "en"],
      ["Poster frames", "en"],
      ["Large poster", "en"],
      ["Wallposter", "en"],
      ["Potser print", "en"],
      ["Affiche", "en"],
    ]);
    expect(rankAndDedupe(candidates, 3).map((e) => e.display_name)).toEqual(["Poster", "Posters", "Poster aqua"]);
  });

  test("QueryMatcher classes: by the display name, or through every word the entry is found by", () => {
    const m = new QueryMatcher(["mailr", "box"]);
    expect(m.displayClass("mailer box")).toBe(MATCH.typo);
    expect(m.displayClass("mailbox")).toBe(MATCH.typo); // "mailr" is "mail…" with a letter too many; "box" is inside
    expect(m.displayClass("mauler")).toBe(null); // no word for "box"
    expect(new QueryMatcher(["mail", "box"]).displayClass("mailbox")).toBe(MATCH.infix);
    expect(new QueryMatcher(["mailer", "box"]).displayClass("mailer box")).toBe(MATCH.exact);
    expect(new QueryMatcher(["mailer", "bo"]).displayClass("mailer box white")).toBe(MATCH.phrasePrefix);
    expect(new QueryMatcher(["box", "mailer"]).displayClass("mailer box white")).toBe(MATCH.wordPrefix);
    expect(new QueryMatcher(["box"]).displayClass("pudelko")).toBe(null);
    expect(new QueryMatcher(["box"]).entryClass({ ...entry("Pudełko"), name: "Mailer box" })).toBe(MATCH.wordPrefix);
  });
});
