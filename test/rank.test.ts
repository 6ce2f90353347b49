// One-edit matching against a plain reference implementation, on generated words.
import { describe, expect, test } from "bun:test";
import { typoMatches, withinOneEdit } from "../src/search/rank.ts";

/** Reference: at most one insertion, deletion, substitution or adjacent swap, by building every such variant. */
function oneEditReference(a: string, b: string): boolean {
  if (a === b) return true;
  const letters = new Set([...a, ...b]);
  const variants = new Set<string>();
  for (let i = 0; i <= a.length; i++) {
    for (const c of letters) variants.add(a.slice(0, i) + c + a.slice(i)); // insertion
    if (i < a.length) {
      variants.add(a.slice(0, i) + a.slice(i + 1)); // deletion
      for (const c of letters) variants.add(a.slice(0, i) + c + a.slice(i + 1)); // substitution
    }
    if (i + 1 < a.length) variants.add(a.slice(0, i) + a[i + 1] + a[i] + a.slice(i + 2)); // swap
  }
  return variants.has(b);
}

function randomWord(random: () => number, max: number): string {
  const length = 1 + Math.floor(random() * max);
  let out = "";
  for (let i = 0; i < length; i++) out += "abc"[Math.floor(random() * 3)];
  return out;
}

function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

describe("withinOneEdit", () => {
  test("agrees with the reference on 20,000 pairs of short words over a 3-letter alphabet", () => {
    const random = seeded(7);
    let matches = 0;
    for (let n = 0; n < 20_000; n++) {
      const a = randomWord(random, 6);
      const b = randomWord(random, 6);
      const got = withinOneEdit(a, b);
      if (got !== oneEditReference(a, b)) throw new Error(`withinOneEdit(${a}, ${b}) = ${got}`);
      if (got) matches++;
    }
    expect(matches).toBeGreaterThan(1_000); // both answers were exercised
  });

  test("the length argument compares with a prefix of the second word", () => {
    expect(withinOneEdit("papr", "paperback", 4)).toBe(true);
    expect(withinOneEdit("papr", "paperback", 5)).toBe(true); // insertion of "e"
    expect(withinOneEdit("papr", "paperback", 6)).toBe(false);
  });
});

describe("typoMatches", () => {
  test("one typo anywhere in a query of 4+ letters finds words it could start", () => {
    expect(typoMatches("brief", "briefpapier")).toBe(false); // a plain prefix is not a typo
    expect(typoMatches("breif", "briefpapier")).toBe(true); // swap
    expect(typoMatches("brif", "briefpapier")).toBe(true); // deletion
    expect(typoMatches("brieef", "briefpapier")).toBe(true); // insertion
    expect(typoMatches("xrief", "briefpapier")).toBe(true); // substitution of the first letter
    expect(typoMatches("brxxf", "briefpapier")).toBe(false); // two edits
    expect(typoMatches("bri", "bro")).toBe(false); // under 4 letters
    expect(typoMatches("flyer", "fly")).toBe(false); // the word is two letters short
    expect(typoMatches("flyer", "flye")).toBe(true);
  });
});
