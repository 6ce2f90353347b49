// Autocomplete over the serving generation of one type, read through IndexStore (members:
// src/index/members.ts). Candidates come from the sorted sets and are ranked (rank.ts) on what
// their members carry; only the items of the few best are read. A search is one round trip for
// the prefix reads plus one for those items. Only when the entries whose own display name has
// every query word as a word start are fewer than `limit` does it expand the query words through
// the type's vocabulary (words they are inside of, words they match with typos) and read those
// words' members: one more round trip, before the items.
import { type ItemRecord, toEntry } from "../catalog/entries.ts";
import { phrase, words } from "../catalog/normalize.ts";
import type { Entry, ItemType } from "../catalog/types.ts";
import { CUT_MARK, parseMember } from "../index/members.ts";
import type { ExpandedWord, IndexStore, Run } from "../index/store.ts";
import { type Logger, silentLogger } from "../platform/log.ts";
import { ResultCache } from "./cache.ts";
import { type Candidate, cmp, compareRank, MATCH, type MatchClass, QueryMatcher, rankAndDedupe } from "./rank.ts";
import { type Expansion, expand, Vocabulary } from "./typo.ts";

/** How many word-index members one read may return per kind (own, name), shared by the languages it searches. */
const WORD_CANDIDATES = 200;
/** How many vocabulary words a query word may expand to, inside and with typos each. */
const VOCAB_MATCHES = 20;
/** Candidates read beyond `limit`, so de-duplication by display name still fills the page. */
const SLACK = 10;
/** Shortest query word that can match inside words (typos need 4 letters). */
const MIN_EXPANDABLE = 2;
/** Expansions of query words kept per vocabulary (emptied when full). */
const EXPANSIONS_KEPT = 5_000;

export interface SearchQuery {
  query: string;
  iso?: string;
  limit: number;
}

interface LoadedVocabulary {
  gen: string;
  version: string;
  vocabulary: Vocabulary;
  expansions: Map<string, Expansion>;
}

/** A candidate before its item is read: what ranking needs, from its sorted-set member alone. */
interface Hit {
  iso: string;
  sku: string;
  position: number;
  /** Normalised display name; only its start while `cut`. */
  phrase: string;
  /** The member carried the display name cut (members.ts) and its item record has not been read yet. */
  cut: boolean;
  /** Length of the normalised display name (a cut member's length mark: exact up to 960). */
  length: number;
}

/**
 * A hit placed by what its member shows. Not `own`: only its item's record can tell whether and
 * how it matches. A `cut` hit is placed as well as its whole name could place it (own, the best
 * class its start allows, its start as sort key), never after its true place.
 */
interface Placed extends Hit {
  own: boolean;
  /** null when not own. */
  match: MatchClass | null;
  sortKey: string;
}

/** The generation changed between two reads of one search. */
class GenerationChanged extends Error {}

const NO_SUGGESTIONS = JSON.stringify({ suggestions: [] });

export class SearchService {
  private readonly vocabularies = new Map<ItemType, LoadedVocabulary>();
  readonly cache: ResultCache;

  constructor(
    private readonly store: IndexStore,
    cacheBytes = 0,
    private readonly logger: Logger = silentLogger,
  ) {
    this.cache = new ResultCache(cacheBytes);
  }

  /** The JSON response `{ suggestions }`, from the cache while the index is as it was read. */
  async suggestionsJson(type: ItemType, query: SearchQuery): Promise<string> {
    if (!this.cache.enabled) return JSON.stringify({ suggestions: await this.search(type, query) });
    const queryWords = words(query.query);
    if (query.query.trim() !== "" && queryWords.length === 0) return NO_SUGGESTIONS;
    const state = await this.store.servingState(type);
    if (state === null) return NO_SUGGESTIONS;
    const replaced = this.cache.observe(type, state);
    if (replaced !== null)
      this.logger.debug(`Search cache: the ${type} index changed (${replaced} → ${state}); answers cached for it are no longer used`, { type });
    const key = `${type}\u0000${query.iso?.toLowerCase() ?? ""}\u0000${query.limit}\u0000${queryWords.join(" ")}`;
    const cached = this.cache.get(key, state);
    if (cached !== undefined) return cached;
    // Read after the state: the answer is at least as new as the state it is filed under.
    const json = JSON.stringify({ suggestions: await this.search(type, query) });
    this.cache.set(key, state, json);
    return json;
  }

  async search(type: ItemType, query: SearchQuery): Promise<Entry[]> {
    try {
      return await this.searchOnce(type, query);
    } catch (err) {
      // A run published between the reads of this search: read again from the new one.
      if (err instanceof GenerationChanged) return this.searchOnce(type, query);
      throw err;
    }
  }

  /** When (performance.now()) a search last read the index from Redis; a run paces its writes while searches come. */
  lastIndexReadAt = Number.NEGATIVE_INFINITY;

  private async searchOnce(type: ItemType, { query, iso, limit }: SearchQuery): Promise<Entry[]> {
    this.lastIndexReadAt = performance.now();
    const queryWords = words(query);
    if (query.trim() !== "" && queryWords.length === 0) return [];
    const matcher = new QueryMatcher(queryWords);
    const isoKey = iso?.toLowerCase() ?? "";
    const found = await this.store.prefixHits(type, { iso: isoKey, phrase: matcher.phrase, words: queryWords, limit, wordCandidates: WORD_CANDIDATES });
    if (!found) return [];
    const { gen } = found;
    const records = new Records((skus) => this.items(type, gen, skus));
    // The records of cut members that decide which members the reads took: in runs, and, when the
    // name words were read only in case, every cut word hit (the count that decides is on whole names).
    const inRuns = (runs: Run[]) => runs.flatMap((r) => r.members);
    await records.load(cutSkus([...inRuns(found.wordRuns), ...inRuns(found.nameRuns), ...(found.namesUnsure ? found.wordHits : [])]));
    const wordHits = [...found.wordHits, ...settleRuns(found.wordRuns, records)];
    const namesNeeded = !found.namesUnsure || ownEntries(found.phraseHits, wordHits, records, queryWords) < limit;
    const hits = new Map<string, Hit>();
    for (const flat of [found.phraseHits, wordHits]) addHits(hits, flat, records);
    if (namesNeeded) addHits(hits, [...found.nameHits, ...settleRuns(found.nameRuns, records)], records);

    let placed = place(hits, matcher);
    if (queryWords.length > 0) {
      let counts = prefixOwnCount(placed);
      if (counts.sure < limit && counts.maybe >= limit) {
        // Members with cut display names decide whether to expand: read their items first.
        await records.load(placed.filter((p) => p.cut).map((p) => p.sku));
        placed = place(settle(hits, records), matcher);
        counts = prefixOwnCount(placed);
      }
      if (counts.sure < limit) {
        const more = await this.expandedHits(type, gen, found.vocabVersion, isoKey, matcher, found.driver, found.counts, limit);
        if (more.hits.length || more.runs.length) {
          await records.load(cutSkus(inRuns(more.runs)));
          addHits(hits, [...more.hits, ...settleRuns(more.runs, records)], records);
          placed = place(hits, matcher);
        }
      }
    }
    return rankAndDedupe(await this.resolve(placed, hits, matcher, limit, records), limit);
  }

  /**
   * Reads the items of the best placed hits and turns them into candidates. Entries matching by
   * their own display name come first; the others are read only when those are fewer than `limit`.
   * A cut hit the choice reaches is read and placed again, until every chosen hit is whole.
   */
  private async resolve(placed: Placed[], hits: Map<string, Hit>, matcher: QueryMatcher, limit: number, records: Records): Promise<Candidate[]> {
    let chosen = choose(placed, limit);
    while (chosen.some((p) => p.cut)) {
      await records.load(chosen.map((p) => p.sku));
      chosen = choose(place(settle(hits, records), matcher), limit);
    }
    if (!chosen.length) return [];
    await records.load(chosen.map((h) => h.sku));
    const out: Candidate[] = [];
    for (const hit of chosen) {
      const record = records.get(hit.sku);
      const entry = record ? toEntry(hit.sku, record, hit.position) : null;
      // A member left behind by an older layout could name a position reused since: skip it.
      if (!entry || phrase(entry.display_name) !== hit.phrase) continue;
      const match = hit.own ? hit.match : matcher.entryClass(entry);
      if (match !== null) out.push({ entry, own: hit.own, match, sortKey: hit.sortKey, length: hit.length });
    }
    return out;
  }

  private async items(type: ItemType, gen: string, skus: string[]): Promise<Map<string, ItemRecord>> {
    const items = await this.store.servingItems(type, gen, skus);
    if (items === null) throw new GenerationChanged();
    return items;
  }

  /**
   * Hits of the query words expanded through the vocabulary: the words each is inside of and the
   * words it matches with typos. Empty when no expansion can add an entry matching every word.
   */
  private async expandedHits(
    type: ItemType,
    gen: string,
    version: string,
    iso: string,
    matcher: QueryMatcher,
    driver: number,
    counts: number[],
    limit: number,
  ): Promise<{ hits: string[]; runs: Run[] }> {
    if (!matcher.words.some((w) => w.length >= MIN_EXPANDABLE)) return NONE;
    const vocabulary = await this.vocabulary(type, gen, version);
    const expanded: ExpandedWord[] = matcher.words.map((prefix, i) => {
      const e = this.expansion(vocabulary, prefix);
      return { prefix, count: counts[i] ?? -1, read: driver === i + 1, words: [...e.infix, ...e.typo] };
    });
    // Every query word must match some word: one with no members and no expansion leaves nothing to find.
    if (expanded.some((w) => w.count === 0 && w.words.length === 0)) return NONE;
    if (expanded.every((w) => w.words.length === 0)) return NONE;
    const reply = await this.store.expandedHits(type, gen, { iso, limit, wordCandidates: WORD_CANDIDATES, words: expanded });
    if (reply === null) throw new GenerationChanged();
    return reply;
  }

  private expansion(vocabulary: LoadedVocabulary, word: string): Expansion {
    let e = vocabulary.expansions.get(word);
    if (e === undefined) {
      if (vocabulary.expansions.size >= EXPANSIONS_KEPT) vocabulary.expansions.clear();
      e = expand(vocabulary.vocabulary, word, VOCAB_MATCHES);
      vocabulary.expansions.set(word, e);
    }
    return e;
  }

  private async vocabulary(type: ItemType, gen: string, version: string): Promise<LoadedVocabulary> {
    const cached = this.vocabularies.get(type);
    if (cached && cached.gen === gen && cached.version === version) return cached;
    const loaded = { gen, version, vocabulary: new Vocabulary(await this.store.vocabulary(type, gen)), expansions: new Map() };
    this.vocabularies.set(type, loaded);
    return loaded;
  }
}

const NONE: { hits: string[]; runs: Run[] } = { hits: [], runs: [] };

/** Item records one search has read (null: the item has none). */
class Records {
  private readonly read = new Map<string, ItemRecord | null>();
  constructor(private readonly fetch: (skus: string[]) => Promise<Map<string, ItemRecord>>) {}

  /** Reads the records not read yet, in one round trip. */
  async load(skus: string[]): Promise<void> {
    const missing = [...new Set(skus)].filter((sku) => !this.read.has(sku));
    if (!missing.length) return;
    const found = await this.fetch(missing);
    for (const sku of missing) this.read.set(sku, found.get(sku) ?? null);
  }

  get(sku: string): ItemRecord | null {
    return this.read.get(sku) ?? null;
  }

  /**
   * The normalised display name of the entry a member names: as the member carries it, or, cut,
   * from the record once read. undefined: not read yet; null: the record no longer has it.
   */
  phraseOf(m: { sku: string; position: number; phrase: string; cut: boolean }): string | null | undefined {
    if (!m.cut) return m.phrase;
    if (!this.read.has(m.sku)) return undefined;
    const record = this.read.get(m.sku);
    const entry = record ? toEntry(m.sku, record, m.position) : null;
    const whole = entry ? phrase(entry.display_name) : null;
    return whole?.startsWith(m.phrase) ? whole : null;
  }
}

/** Items of the members with cut display names among `members` (other values, such as the isos of [iso, member, …], are no members). */
function cutSkus(members: string[]): string[] {
  const out: string[] = [];
  for (const value of members) {
    const m = parseMember(value);
    if (m?.cut) out.push(m.sku);
  }
  return out;
}

/**
 * The members each run's places take ([iso, member, …]): the run ordered as its members would be
 * with whole display names (their records read), as one sorted set would have given them.
 */
function settleRuns(runs: Run[], records: Records): string[] {
  const out: string[] = [];
  for (const { iso, places, members } of runs) {
    const whole: { member: string; bytes: Buffer }[] = [];
    for (const member of members) {
      const m = parseMember(member);
      const display = m && records.phraseOf(m);
      if (!m || typeof display !== "string") continue;
      const tail = `${m.phrase}${m.cut ? CUT_MARK : ""}\u0000${m.id}`;
      whole.push({ member, bytes: Buffer.from(`${member.slice(0, member.length - tail.length)}${display}\u0000${m.id}`) });
    }
    whole.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    for (const w of whole.slice(0, places)) out.push(iso, w.member);
  }
  return out;
}

/**
 * Entries (once per item and display name) among the phrase hits and the word hits whose display
 * name has every query word as a word start: what PREFIX_SEARCH counts to decide whether it needs
 * the name words, counted on whole display names.
 */
function ownEntries(phraseHits: string[], wordHits: string[], records: Records, queryWords: string[]): number {
  const seen = new Set<string>();
  const each = (flat: string[], test: (display: string) => boolean) => {
    for (let i = 1; i < flat.length; i += 2) {
      const m = parseMember(flat[i]!);
      const display = m && records.phraseOf(m);
      if (typeof display === "string" && test(display)) seen.add(`${m!.sku}\u0000${display}`);
    }
  };
  each(phraseHits, () => true);
  each(wordHits, (display) => queryWords.every((w) => ` ${display}`.includes(` ${w}`)));
  return seen.size;
}

/** Adds hits [iso, member, …] to `hits`, once per entry. */
function addHits(hits: Map<string, Hit>, flat: string[], records: Records): void {
  for (let i = 0; i < flat.length; i += 2) {
    const m = parseMember(flat[i + 1]!);
    if (!m || hits.has(m.id)) continue;
    const display = records.phraseOf(m);
    if (display === null) continue;
    const cut = display === undefined;
    hits.set(m.id, { iso: flat[i]!, sku: m.sku, position: m.position, phrase: cut ? m.phrase : display, cut, length: cut ? m.length! : display.length });
  }
}

/** Completes the cut hits whose records were read; drops those whose record no longer has them. */
function settle(hits: Map<string, Hit>, records: Records): Map<string, Hit> {
  for (const [id, hit] of hits) {
    const display = hit.cut ? records.phraseOf(hit) : hit.phrase;
    if (display === null) hits.delete(id);
    else if (display !== undefined && hit.cut) hits.set(id, { ...hit, phrase: display, cut: false, length: display.length });
  }
  return hits;
}

/** Places each hit by its display name; those that do not match by it are left for their record to decide. */
function place(hits: Map<string, Hit>, matcher: QueryMatcher): Placed[] {
  const listing = matcher.words.length === 0;
  const out: Placed[] = [];
  for (const hit of hits.values()) {
    const match = hit.cut ? bestClass(hit.phrase, matcher.phrase) : matcher.displayClass(hit.phrase);
    out.push({ ...hit, own: match !== null, match, sortKey: hit.phrase, length: listing ? 0 : hit.length });
  }
  return out;
}

/** The best class a display name starting with `start` (and longer) can have for the query phrase. */
function bestClass(start: string, query: string): MatchClass {
  if (query.startsWith(start)) return MATCH.exact;
  return start.startsWith(query) ? MATCH.phrasePrefix : MATCH.wordPrefix;
}

/**
 * Entries (once per item and display name) whose own display name has every query word as a word
 * start: `sure` counts whole names, `maybe` adds one for each cut hit (any could be one).
 */
function prefixOwnCount(placed: Placed[]): { sure: number; maybe: number } {
  const seen = new Set<string>();
  let cut = 0;
  for (const p of placed) {
    if (p.cut) cut++;
    else if (p.own && p.match !== null && p.match <= MATCH.wordPrefix) seen.add(`${p.sku}\u0000${p.phrase}`);
  }
  return { sure: seen.size, maybe: seen.size + cut };
}

/**
 * The hits whose items are read: in rank order, own matches up to `limit` + SLACK entries (once
 * per item and normalised name: every hit of a counted one is read, the results keep the best of
 * each), then, only when those are fewer than `limit`, the others. A cut hit is chosen wherever its
 * whole name could be chosen: before the count is full, or when its item has a counted name.
 */
function choose(placed: Placed[], limit: number): Placed[] {
  placed.sort((a, b) => compareRank(a, b) || cmp(a.sku, b.sku) || cmp(a.iso, b.iso));
  const chosen: Placed[] = [];
  const counted = new Set<string>();
  const countedSkus = new Set<string>();
  const skipped: Placed[] = [];
  let own = 0;
  let other = 0;
  for (const p of placed) {
    if (p.cut) {
      if (own < limit + SLACK) chosen.push(p);
      else skipped.push(p);
      continue;
    }
    if (!p.own) {
      // Sorted after every own match: needed only when those are fewer than `limit`.
      if (own >= limit || other >= WORD_CANDIDATES) continue;
      other++;
    } else {
      const key = `${p.sku}\u0000${p.phrase}`;
      if (!counted.has(key)) {
        if (own >= limit + SLACK) continue;
        own++;
        counted.add(key);
        countedSkus.add(p.sku);
      }
    }
    chosen.push(p);
  }
  for (const p of skipped) if (countedSkus.has(p.sku)) chosen.push(p);
  return chosen;
}
