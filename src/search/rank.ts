// Ranking of search candidates. Pure.
//
// The rule, in order:
//   1. an entry whose own display name matches every query word ranks above one found only
//      through its item's name or origin name;
//   2. then by how it matches: exact name > the whole name starts with the query > every query
//      word starts a word > some query word is inside a word > some query word has typos;
//   3. then shorter (normalised) display names;
//   4. then alphabetical (normalised display name, then as given, then sku and iso).
// An empty query lists entries alphabetically.
import { words } from "../catalog/normalize.ts";
import type { Entry } from "../catalog/types.ts";
import { infixMatches, typoMatcher } from "./typo.ts";

/** Match classes, best first. */
export const MATCH = { exact: 0, phrasePrefix: 1, wordPrefix: 2, infix: 3, typo: 4 } as const;
export type MatchClass = (typeof MATCH)[keyof typeof MATCH];

/** How one query word matches one word, best first; the class it gives an entry when it is its worst word. */
const WORD_CLASS: MatchClass[] = [MATCH.wordPrefix, MATCH.infix, MATCH.typo];
const NO_MATCH = 3;

export interface Candidate {
  entry: Entry;
  /** The entry's own display name matches every query word. */
  own: boolean;
  match: MatchClass;
  /** Normalised display name: the length and alphabetical tie-breaks. */
  sortKey: string;
  /** Length of the normalised display name (0 for an empty query, which lists alphabetically). */
  length: number;
}

/**
 * How a query matches names: each query word against words by prefix, inside (2+ letters) or
 * with typos (budget by length), remembered per word for the duration of one search.
 */
export class QueryMatcher {
  /** The query's normalised text: whole-name matches compare with it, repeated words and all. */
  readonly phrase: string;
  /** Its words, each once: every one must match a word, so a repeated word adds nothing but cost. */
  readonly words: readonly string[];
  private readonly levels: Map<string, number>[];
  private readonly typos: ((word: string) => boolean)[];

  constructor(queryWords: readonly string[]) {
    this.phrase = queryWords.join(" ");
    const words = [...new Set(queryWords)];
    this.words = words;
    this.levels = words.map(() => new Map());
    this.typos = words.map((w) => typoMatcher(w));
  }

  /** 0 prefix, 1 inside, 2 typos, 3 no match. */
  level(i: number, word: string): number {
    const q = this.words[i]!;
    if (word.startsWith(q)) return 0;
    const known = this.levels[i]!.get(word);
    if (known !== undefined) return known;
    const level = infixMatches(q, word) ? 1 : this.typos[i]!(word) ? 2 : NO_MATCH;
    this.levels[i]!.set(word, level);
    return level;
  }

  /** The class lists of words give the query: every query word must match one; the worst decides. */
  wordsClass(...lists: (readonly string[])[]): MatchClass | null {
    let worst = 0;
    for (let i = 0; i < this.words.length; i++) {
      let best = NO_MATCH;
      for (const targets of lists) {
        for (const w of targets) {
          const l = this.level(i, w);
          if (l < best) best = l;
          if (best === 0) break;
        }
        if (best === 0) break;
      }
      if (best === NO_MATCH) return null;
      if (best > worst) worst = best;
    }
    return WORD_CLASS[worst]!;
  }

  /** How a normalised display name matches, or null. */
  displayClass(display: string): MatchClass | null {
    if (display === this.phrase) return MATCH.exact;
    if (display.startsWith(this.phrase)) return MATCH.phrasePrefix;
    return this.wordsClass(words(display));
  }

  /** How an entry matches through every word it is found by (display name, name, origin name), or null. */
  entryClass(entry: Entry): MatchClass | null {
    // Not made distinct: a repeated word changes no minimum.
    return this.wordsClass(words(entry.display_name), words(entry.name), words(entry.origin_name));
  }
}

interface Ranked {
  own: boolean;
  /** null: not known yet (after every class). */
  match: MatchClass | null;
  length: number;
  sortKey: string;
}

/** A candidate's place by the rule above, the entry aside. */
export function compareRank(a: Ranked, b: Ranked): number {
  return Number(b.own) - Number(a.own) || (a.match ?? NO_CLASS) - (b.match ?? NO_CLASS) || a.length - b.length || cmp(a.sortKey, b.sortKey);
}
const NO_CLASS = 9;

function compareCandidates(a: Candidate, b: Candidate): number {
  return compareRank(a, b) || cmp(a.entry.display_name, b.entry.display_name) || cmp(a.entry.sku, b.entry.sku) || cmp(a.entry.iso, b.entry.iso);
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
