// Ranking of search candidates. Pure.

import { entryWords } from "../catalog/entries.ts";
import { phrase } from "../catalog/normalize.ts";
import type { Entry } from "../catalog/types.ts";

/** Match classes, best first. */
export const MATCH = { exact: 0, phrasePrefix: 1, wordPrefix: 2, infix: 3, typo: 4 } as const;
export type MatchClass = (typeof MATCH)[keyof typeof MATCH];

export interface Candidate {
  entry: Entry;
  match: MatchClass;
  /** Normalised display name: the alphabetical tie-break. */
  sortKey: string;
}

/**
 * The best class an entry reaches for a query by the exact, phrase and word rules, or null.
 * Multi-word queries need every query word to start some word of the entry.
 */
export function prefixClass(entry: Entry, queryWords: string[]): MatchClass | null {
  const q = queryWords.join(" ");
  const display = phrase(entry.display_name);
  if (display === q) return MATCH.exact;
  if (display.startsWith(q)) return MATCH.phrasePrefix;
  const have = entryWords(entry.display_name, entry.name, entry.origin_name);
  return queryWords.every((qw) => have.some((w) => w.startsWith(qw))) ? MATCH.wordPrefix : null;
}

/**
 * True when `a` and the first `lb` characters of `b` differ by at most one insertion, deletion,
 * substitution or swap of neighbours. Compares in place: it runs once per vocabulary word.
 */
export function withinOneEdit(a: string, b: string, lb = b.length): boolean {
  const la = a.length;
  if (la - lb > 1 || lb - la > 1) return false;
  let i = 0;
  while (i < la && i < lb && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === la && i === lb) return true;
  // The rest of `a` from ai equals the rest of b's first lb characters from bi.
  const restEqual = (ai: number, bi: number) => {
    if (la - ai !== lb - bi) return false;
    for (; ai < la; ai++, bi++) if (a.charCodeAt(ai) !== b.charCodeAt(bi)) return false;
    return true;
  };
  if (la === lb) {
    if (restEqual(i + 1, i + 1)) return true; // substitution
    return i + 1 < la && a.charCodeAt(i) === b.charCodeAt(i + 1) && a.charCodeAt(i + 1) === b.charCodeAt(i) && restEqual(i + 2, i + 2); // swap
  }
  return la > lb ? restEqual(i + 1, i) : restEqual(i, i + 1);
}

const TYPO_MIN_LENGTH = 4;

/** A vocabulary word that a query word with one typo could be the start of. */
export function typoMatches(query: string, word: string): boolean {
  if (query.length < TYPO_MIN_LENGTH || word.startsWith(query)) return false;
  const n = query.length;
  return (
    (word.length >= n && withinOneEdit(query, word, n)) ||
    (word.length >= n - 1 && withinOneEdit(query, word, n - 1)) ||
    (word.length > n && withinOneEdit(query, word, n + 1))
  );
}

/** Shortest query word matched inside words: one letter would match nearly everything. */
const INFIX_MIN_LENGTH = 2;

/** A vocabulary word containing the query word other than at its start. */
export function infixMatches(query: string, word: string): boolean {
  return query.length >= INFIX_MIN_LENGTH && word.indexOf(query, 1) > 0;
}

function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    a.match - b.match ||
    cmp(a.sortKey, b.sortKey) ||
    cmp(a.entry.display_name, b.entry.display_name) ||
    cmp(a.entry.sku, b.entry.sku) ||
    cmp(a.entry.iso, b.entry.iso)
  );
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Best candidate per (linked, display_name), sorted, at most `limit`. */
export function rankAndDedupe(candidates: Candidate[], limit: number): Entry[] {
  const best = new Map<string, Candidate>();
  for (const c of candidates) {
    const key = `${c.entry.linked}\u0000${c.entry.display_name}`;
    const have = best.get(key);
    if (!have || compareCandidates(c, have) < 0) best.set(key, c);
  }
  return [...best.values()]
    .sort(compareCandidates)
    .slice(0, limit)
    .map((c) => c.entry);
}
