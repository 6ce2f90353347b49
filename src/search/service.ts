// Autocomplete over the serving generation of one type, read through IndexStore (members:
// src/index/members.ts). Candidates come from the sorted sets and are ranked on what their
// members carry; only the items of the few best are read. Infix and one-typo matches, needed
// only when the prefix classes give fewer than `limit`, go through the type's vocabulary.
import { entryId, type ItemRecord, toEntry } from "../catalog/entries.ts";
import { words } from "../catalog/normalize.ts";
import type { Entry, ItemType } from "../catalog/types.ts";
import { parseMember } from "../index/members.ts";
import type { IndexStore } from "../index/store.ts";
import { type Logger, silentLogger } from "../platform/log.ts";
import { ResultCache } from "./cache.ts";
import { type Candidate, cmp, infixMatches, MATCH, type MatchClass, prefixClass, rankAndDedupe, typoMatches } from "./rank.ts";

/** How many word-index members one query may read (shared by the languages it searches). */
const WORD_CANDIDATES = 200;
/** How many vocabulary words infix and typo matching may each expand to. */
const VOCAB_MATCHES = 20;
/** Candidates read beyond `limit`, so de-duplication by display name still fills the page. */
const SLACK = 10;

export interface SearchQuery {
  query: string;
  iso?: string;
  limit: number;
}

interface Vocabulary {
  gen: string;
  version: string;
  words: string[];
}

/** A candidate before its item is read: what ranking needs, from the member alone. */
interface Hit {
  iso: string;
  sku: string;
  position: number;
  phrase: string;
  match: MatchClass;
  /** Multi-word queries: the display name alone did not show every query word. */
  unverified: boolean;
}

/** The generation changed between two reads of one search. */
class GenerationChanged extends Error {}

const NO_SUGGESTIONS = JSON.stringify({ suggestions: [] });

export class SearchService {
  private readonly vocabularies = new Map<ItemType, Vocabulary>();
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

  private async searchOnce(type: ItemType, { query, iso, limit }: SearchQuery): Promise<Entry[]> {
    const queryWords = words(query);
    if (query.trim() !== "" && queryWords.length === 0) return [];
    const q = queryWords.join(" ");
    const isoKey = iso?.toLowerCase() ?? "";
    const found = await this.store.prefixHits(type, { iso: isoKey, phrase: q, words: queryWords, limit, wordCandidates: WORD_CANDIDATES });
    if (!found) return [];
    const { gen, vocabVersion, phraseHits, wordHits } = found;

    const hits = new Map<string, Hit>();
    const consider = (flat: string[], classify: (phrase: string) => { match: MatchClass; unverified: boolean }) => {
      for (let i = 0; i < flat.length; i += 2) {
        const m = parseMember(flat[i + 1]!);
        if (!m) continue;
        const c = classify(m.phrase);
        const have = hits.get(m.id);
        if (!have || c.match < have.match) hits.set(m.id, { iso: flat[i]!, sku: m.sku, position: m.position, phrase: m.phrase, ...c });
      }
    };
    consider(phraseHits, (p) => ({ match: p === q ? MATCH.exact : MATCH.phrasePrefix, unverified: false }));
    consider(wordHits, (p) => {
      if (p.startsWith(q)) return { match: p === q ? MATCH.exact : MATCH.phrasePrefix, unverified: false };
      const display = words(p);
      return { match: MATCH.wordPrefix, unverified: !queryWords.every((qw) => display.some((w) => w.startsWith(qw))) };
    });

    let candidates = await this.resolve(type, gen, [...hits.values()], queryWords, limit);
    if (candidates.length < limit && queryWords.length === 1) {
      const more = await this.vocabularyHits(type, gen, vocabVersion, isoKey, queryWords[0]!, limit);
      const fresh = more.filter((h) => !hits.has(entryId(h.sku, h.position)));
      if (fresh.length) candidates = [...candidates, ...(await this.resolve(type, gen, fresh, queryWords, limit))];
    }
    return rankAndDedupe(candidates, limit);
  }

  /** Reads the items of the best hits (and of unverified ones) and turns them into ranked candidates. */
  private async resolve(type: ItemType, gen: string, hits: Hit[], queryWords: string[], limit: number): Promise<Candidate[]> {
    hits.sort((a, b) => a.match - b.match || cmp(a.phrase, b.phrase) || cmp(a.sku, b.sku) || cmp(a.iso, b.iso));
    // The same item and name in several languages counts once, as in the results.
    const seen = new Set<string>();
    const verified = hits
      .filter((h) => {
        const key = `${h.sku}\u0000${h.phrase}`;
        if (h.unverified || seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .slice(0, limit + SLACK);
    const unverified = hits.filter((h) => h.unverified).slice(0, WORD_CANDIDATES);
    const chosen = [...verified, ...unverified];
    if (!chosen.length) return [];
    const items = await this.items(type, gen, [...new Set(chosen.map((h) => h.sku))]);
    const out: Candidate[] = [];
    for (const hit of chosen) {
      const record = items.get(hit.sku);
      const entry = record ? toEntry(hit.sku, record, hit.position) : null;
      if (!entry) continue;
      const match = hit.unverified ? prefixClass(entry, queryWords) : hit.match;
      if (match !== null) out.push({ entry, match, sortKey: hit.phrase });
    }
    return out;
  }

  private async items(type: ItemType, gen: string, skus: string[]): Promise<Map<string, ItemRecord>> {
    const items = await this.store.servingItems(type, gen, skus);
    if (items === null) throw new GenerationChanged();
    return items;
  }

  /** Infix and one-typo hits of a one-word query, found through the vocabulary. */
  private async vocabularyHits(type: ItemType, gen: string, version: string, iso: string, word: string, limit: number): Promise<Hit[]> {
    const vocabulary = await this.vocabulary(type, gen, version);
    const matchOf = new Map<string, MatchClass>();
    let infix = 0;
    let typo = 0;
    for (const w of vocabulary) {
      if (infix < VOCAB_MATCHES && infixMatches(word, w)) {
        matchOf.set(w, MATCH.infix);
        infix++;
      } else if (typo < VOCAB_MATCHES && typoMatches(word, w)) {
        matchOf.set(w, MATCH.typo);
        typo++;
      }
    }
    if (!matchOf.size) return [];
    const flat = await this.store.wordHits(type, gen, iso, limit + SLACK, [...matchOf.keys()]);
    if (flat === null) throw new GenerationChanged();
    const out: Hit[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const m = parseMember(flat[i + 1]!);
      const match = m ? matchOf.get(m.key) : undefined;
      if (m && match !== undefined) out.push({ iso: flat[i]!, sku: m.sku, position: m.position, phrase: m.phrase, match, unverified: false });
    }
    return out;
  }

  private async vocabulary(type: ItemType, gen: string, version: string): Promise<string[]> {
    const cached = this.vocabularies.get(type);
    if (cached && cached.gen === gen && cached.version === version) return cached.words;
    const list = await this.store.vocabulary(type, gen);
    this.vocabularies.set(type, { gen, version, words: list });
    return list;
  }
}
