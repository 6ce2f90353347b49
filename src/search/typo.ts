// Typo and infix matching of one query word against words. Pure.
//
// A query word matches a word with typos when some prefix of the word is within the query
// word's edit budget, by optimal string alignment distance: an insertion, a deletion, a
// substitution or a swap of two neighbouring letters is one edit. The query is still being
// typed, so it is compared with prefixes of the word ("mailr" is one edit from "maile…").

const ONE_EDIT_FROM = 4;
const TWO_EDITS_FROM = 8;

/** Edits a query word of this length may have: none under 4 letters, 1 from 4, 2 from 8. */
export function typoBudget(length: number): number {
  return length < ONE_EDIT_FROM ? 0 : length < TWO_EDITS_FROM ? 1 : 2;
}

/** Shortest query word matched inside words: one letter would match nearly everything. */
const INFIX_MIN_LENGTH = 2;

/** A word containing the query word other than at its start. */
export function infixMatches(query: string, word: string): boolean {
  return query.length >= INFIX_MIN_LENGTH && word.indexOf(query, 1) > 0;
}

/** The smallest distance between `query` and a prefix of `word`, or `max + 1` when it is more than `max`. */
export function prefixDistance(query: string, word: string, max: number): number {
  return new PrefixWalk(query, max).distance(word, 0);
}

/** Whether words match `query` with typos within its budget (and not by prefix), reusing one set of columns. */
export function typoMatcher(query: string): (word: string) => boolean {
  const budget = typoBudget(query.length);
  if (budget === 0) return () => false;
  const walk = new PrefixWalk(query, budget);
  return (word) => {
    const d = walk.distance(word, 0);
    return d > 0 && d <= budget;
  };
}

/**
 * Distances of one query word to the prefixes of words, column by column over each word. The
 * columns are kept, so the next word of a sorted vocabulary starts from the columns of the
 * prefix it shares with the previous one.
 */
class PrefixWalk {
  private readonly n: number;
  /** cols[j][i]: distance between the first i letters of the query and the first j of the word. */
  private readonly cols: Int32Array[];
  /** The smallest value of each column. It never decreases with j. */
  private readonly mins: Int32Array;
  /** Prefixes longer than this are more than `max` longer than the query. */
  private readonly deepest: number;
  /** After distance(): columns 1..upTo are those of the word just measured. */
  upTo = 0;
  /** After distance(): the shortest prefix length of that word out of reach (all its extensions too), or 0. */
  dead = 0;

  constructor(
    private readonly query: string,
    private readonly max: number,
  ) {
    this.n = query.length;
    this.deepest = this.n + max;
    this.cols = Array.from({ length: this.deepest + 1 }, () => new Int32Array(this.n + 1));
    this.mins = new Int32Array(this.deepest + 1);
    for (let i = 0; i <= this.n; i++) this.cols[0]![i] = i;
  }

  /**
   * The prefix distance of `word` (or max + 1), reusing columns 1..shared, which must be those
   * of a word with the same first `shared` letters (shared ≤ the previous upTo).
   */
  distance(word: string, shared: number): number {
    const { n, max, query, cols, mins } = this;
    const last = Math.min(word.length, this.deepest);
    let j = Math.min(shared, last);
    let best = n <= max ? n : max + 1;
    this.dead = 0;
    for (let s = 1; s <= j; s++) {
      if (mins[s]! > max) {
        this.dead = s;
        this.upTo = s;
        return best;
      }
      if (cols[s]![n]! < best) best = cols[s]![n]!;
    }
    // Every cell of a later column is at least this column's minimum: stop once it cannot do better.
    while (j < last && mins[j]! < best) {
      const prev = cols[j]!;
      j++;
      const col = cols[j]!;
      const c = word.charCodeAt(j - 1);
      const before = j > 1 ? word.charCodeAt(j - 2) : -1;
      // Only cells within `max` of the diagonal can be within `max`; the others read as out of reach.
      const lo = Math.max(j - max, 1);
      const hi = Math.min(j + max, n);
      const far = max + 1;
      col[0] = j;
      if (lo > 1) col[lo - 1] = far;
      if (hi < n) col[hi + 1] = far;
      let min = j;
      for (let i = lo; i <= hi; i++) {
        const q = query.charCodeAt(i - 1);
        let d = prev[i - 1]! + (q === c ? 0 : 1);
        if (prev[i]! + 1 < d) d = prev[i]! + 1;
        if (col[i - 1]! + 1 < d) d = col[i - 1]! + 1;
        if (i > 1 && q === before && query.charCodeAt(i - 2) === c && cols[j - 2]![i - 2]! + 1 < d) d = cols[j - 2]![i - 2]! + 1;
        col[i] = d;
        if (d < min) min = d;
      }
      if (hi < n) col[n] = far;
      mins[j] = min;
      if (col[n]! < best) best = col[n]!;
      if (min > max) {
        this.dead = j;
        break;
      }
    }
    this.upTo = j;
    return best;
  }
}

/**
 * The distinct words of a generation, in code-unit order, prepared for expanding query words:
 * also joined into one text, so that finding the words a query word is inside of is one native
 * substring search instead of one per word.
 */
export class Vocabulary {
  readonly words: readonly string[];
  private readonly text: string;
  /** Offset of each word in `text` (words are separated by one newline). */
  private readonly starts: Int32Array;

  constructor(words: readonly string[]) {
    // Redis orders by bytes; code-unit order differs only around surrogate pairs, but the skips below need it exactly.
    const sorted = [...words];
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i - 1]! > sorted[i]!) {
        sorted.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        break;
      }
    }
    this.words = sorted;
    this.text = `${sorted.join("\n")}\n`;
    this.starts = new Int32Array(sorted.length);
    let at = 0;
    sorted.forEach((w, i) => {
      this.starts[i] = at;
      at += w.length + 1;
    });
  }

  get size(): number {
    return this.words.length;
  }

  /** Words containing `query` other than at their start, in order, at most `max`. */
  infix(query: string, max: number): string[] {
    const out: string[] = [];
    if (query.length < INFIX_MIN_LENGTH) return out;
    let last = -1;
    for (let at = this.text.indexOf(query); at >= 0 && out.length < max; at = this.text.indexOf(query, at + 1)) {
      const i = this.wordAt(at);
      if (i === last || this.starts[i] === at) continue;
      // The word may also start with the query (e.g. "abab" for "ab"): then prefix search finds it.
      const w = this.words[i]!;
      if (w.startsWith(query)) continue;
      out.push(w);
      last = i;
    }
    return out;
  }

  /** The index of the word holding text offset `at`. */
  private wordAt(at: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The words starting with `prefix`: the index of the first, and of the first after them. */
  startingWith(prefix: string): [number, number] {
    const words = this.words;
    let lo = 0;
    let hi = words.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (words[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    return lo < words.length && words[lo]!.startsWith(prefix) ? [lo, this.skip(lo, prefix)] : [lo, lo];
  }

  /** The first index after `from` whose word does not start with `prefix` (such words are contiguous). */
  skip(from: number, prefix: string): number {
    const words = this.words;
    let step = 1;
    let lo = from;
    // Gallop, then bisect: lo starts with prefix, hi does not (or is the end).
    let hi = from + 1;
    while (hi < words.length && words[hi]!.startsWith(prefix)) {
      lo = hi;
      step *= 2;
      hi = from + step;
    }
    if (hi > words.length) hi = words.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (words[mid]!.startsWith(prefix)) lo = mid;
      else hi = mid;
    }
    return hi;
  }
}

/** What a query word expands to in a vocabulary. */
export interface Expansion {
  /** Words the query word is inside of (not at their start). */
  infix: string[];
  /** Words the query word matches with typos (and not by prefix or inside), fewest edits first, then in vocabulary order. */
  typo: string[];
}

/**
 * The words of a vocabulary that `query` is inside of, and those it matches with typos within
 * its budget; words it starts are left out (prefix search finds them). At most `max` of each.
 * A prefix out of reach skips every following word that starts with it.
 */
export function expand(vocabulary: Vocabulary, query: string, max: number): Expansion {
  const infix = vocabulary.infix(query, max);
  const budget = typoBudget(query.length);
  const typo: string[] = [];
  if (budget === 0) return { infix, typo };
  const words = vocabulary.words;
  const walk = new PrefixWalk(query, budget);
  const byEdits: string[][] = Array.from({ length: budget + 1 }, () => []);
  let previous = "";
  for (let v = 0; v < words.length; ) {
    const w = words[v]!;
    const limit = Math.min(walk.upTo, w.length, previous.length);
    let shared = 0;
    while (shared < limit && w.charCodeAt(shared) === previous.charCodeAt(shared)) shared++;
    const d = walk.distance(w, shared);
    previous = w;
    if (d > 0 && d <= budget && !(w.indexOf(query, 1) > 0 && query.length >= INFIX_MIN_LENGTH)) byEdits[d]!.push(w);
    v = walk.dead > 0 ? vocabulary.skip(v, w.slice(0, walk.dead)) : v + 1;
  }
  for (const words of byEdits) {
    for (const w of words) {
      if (typo.length >= max) break;
      typo.push(w);
    }
  }
  return { infix, typo };
}
