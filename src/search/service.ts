// Autocomplete over the serving generation of one type, read through IndexStore (members:
// src/index/members.ts). Candidates come from the sorted sets and are ranked (rank.ts) on what
// their members carry; only the items of the few best are read. A search is one round trip for
// the prefix reads plus one for those items. Only when the entries whose own display name has
// every query word as a word start are fewer than `limit` does it expand the query words through
// the type's vocabulary (words they are inside of, words they match with typos) and read those
// words' members: one more round trip, before the items.
import { type ItemRecord, itemSku, toEntry } from "../catalog/entries.ts";
import { phrase, words } from "../catalog/normalize.ts";
import type { Entry, ItemType } from "../catalog/types.ts";
import { parseMember } from "../index/members.ts";
import type { ExpandedWord, IndexStore, LanguageHits } from "../index/store.ts";
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

/**
 * A candidate before its item is read, placed by what its sorted-set member alone shows. Not
 * `own`: only its item's record can tell whether and how it matches.
 */
interface Hit {
  iso: string;
  /** The entry id's item part (splitEntryId): it orders and compares as the sku does. */
  item: string;
  position: number;
  /** Normalised display name. */
  phrase: string;
  own: boolean;
  /** null when not own. */
  match: MatchClass | null;
  length: number;
  sortKey: string;
  /** Own hits: the item and normalised display name, counted once; '' for the others. */
  key: string;
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
    const hits = new Map<string, Hit>();
    for (const read of [found.phraseHits, found.wordHits, found.nameHits]) addHits(hits, read, matcher);
    if (queryWords.length > 0 && prefixOwnCount(hits) < limit) {
      addHits(hits, await this.expandedHits(type, gen, found.vocabVersion, isoKey, matcher, found.driver, found.counts, limit), matcher);
    }
    return rankAndDedupe(await this.resolve(type, gen, [...hits.values()], matcher, limit), limit);
  }

  /**
   * Reads the items of the best hits and turns them into candidates. Entries matching by their
   * own display name come first; the others are read only when those are fewer than `limit`.
   */
  private async resolve(type: ItemType, gen: string, hits: Hit[], matcher: QueryMatcher, limit: number): Promise<Candidate[]> {
    const byRank = (a: Hit, b: Hit) => compareRank(a, b) || cmp(a.item, b.item) || cmp(a.iso, b.iso);
    const chosen: Hit[] = [];
    // Counted once per item and normalised name (the same name in several languages, or written
    // in other capitals): every hit of a counted one is read, the results keep the best of each.
    const counted = new Set<string>();
    for (const h of hits.filter((h) => h.own).sort(byRank)) {
      if (!counted.has(h.key)) {
        if (counted.size >= limit + SLACK) continue;
        counted.add(h.key);
      }
      chosen.push(h);
    }
    // The others rank after every own match: needed only when those are fewer than `limit`.
    if (counted.size < limit)
      chosen.push(
        ...hits
          .filter((h) => !h.own)
          .sort(byRank)
          .slice(0, WORD_CANDIDATES),
      );
    if (!chosen.length) return [];
    const skus = new Map<string, string>();
    for (const h of chosen) if (!skus.has(h.item)) skus.set(h.item, itemSku(h.item));
    const items = await this.items(type, gen, [...skus.values()]);
    const out: Candidate[] = [];
    for (const hit of chosen) {
      const sku = skus.get(hit.item)!;
      const record = items.get(sku);
      const entry = record ? toEntry(sku, record, hit.position) : null;
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
  ): Promise<LanguageHits[]> {
    if (!matcher.words.some((w) => w.length >= MIN_EXPANDABLE)) return [];
    const vocabulary = await this.vocabulary(type, gen, version);
    const expanded: ExpandedWord[] = matcher.words.map((prefix, i) => {
      const e = this.expansion(vocabulary, prefix);
      return { prefix, count: counts[i] ?? -1, read: driver === i + 1, words: [...e.infix, ...e.typo] };
    });
    // Every query word must match some word: one with no members and no expansion leaves nothing to find.
    if (expanded.some((w) => w.count === 0 && w.words.length === 0)) return [];
    if (expanded.every((w) => w.words.length === 0)) return [];
    const reply = await this.store.expandedHits(type, gen, { iso, limit, wordCandidates: WORD_CANDIDATES, words: expanded });
    if (reply === null) throw new GenerationChanged();
    return reply.hits;
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

/** Adds the members read to `hits`, once per entry, each placed by its display name. */
function addHits(hits: Map<string, Hit>, read: LanguageHits[], matcher: QueryMatcher): void {
  const listing = matcher.words.length === 0;
  for (const { iso, members } of read)
    for (const member of members) {
      const m = parseMember(member);
      if (!m || hits.has(m.id)) continue;
      const match = matcher.displayClass(m.phrase);
      const own = match !== null;
      hits.set(m.id, {
        iso,
        item: m.item,
        position: m.position,
        phrase: m.phrase,
        own,
        match,
        length: listing ? 0 : m.phrase.length,
        sortKey: m.phrase,
        key: own ? `${m.item}\u0000${m.phrase}` : "",
      });
    }
}

/** Entries (once per item and display name) whose own display name has every query word as a word start. */
function prefixOwnCount(hits: Map<string, Hit>): number {
  const seen = new Set<string>();
  for (const h of hits.values()) if (h.own && h.match !== null && h.match <= MATCH.wordPrefix) seen.add(h.key);
  return seen.size;
}
