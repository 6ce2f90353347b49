// Autocomplete over the serving generation of one type, read through IndexStore (members:
// src/index/members.ts). Candidates come from the sorted sets and are ranked (rank.ts) on what
// their members carry; only the items of the few best are read. A search is one round trip for
// the prefix reads plus one for those items. Only when the entries whose own display name has
// every query word as a word start are fewer than `limit` does it expand the query words through
// the type's vocabulary (words they are inside of, words they match with typos) and read those
// words' members: one more round trip, before the items. The vocabulary, kept once read, also
// tells which languages have words starting with each query word: the prefix reads then read
// only the languages that have them all.
import { type ItemRecord, itemSku, toEntry } from "../catalog/entries.ts";
import { phrase, words } from "../catalog/normalize.ts";
import type { Entry, ItemType } from "../catalog/types.ts";
import { CUT_MARK, parseMember, parseVocabularyMember } from "../index/members.ts";
import type { ExpandedWord, IndexStore, LanguageHits, Run, WordLanguages } from "../index/store.ts";
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
/** Expansions of query words, and languages of their prefixes, kept per vocabulary (each emptied when full). */
const EXPANSIONS_KEPT = 5_000;
/**
 * Most vocabulary words a query word's languages are gathered from: a prefix starting more
 * (one or two letters, mostly) is read in every language.
 */
const LANGUAGE_WORDS = 256;
/**
 * Push updates and the change follower add words as they come (hundreds a second while a stream
 * is busy), and each addition is a new vocabulary version. A new version is read again only once
 * this many times the last read's duration has passed since it: reading the whole vocabulary at
 * every change would take most of Redis. Until then searches expand through the words read last.
 */
const VOCABULARY_READ_SHARE = 20;

export interface SearchQuery {
  query: string;
  iso?: string;
  limit: number;
}

interface LoadedVocabulary {
  gen: string;
  version: string;
  vocabulary: Vocabulary;
  /**
   * Each word's languages; null when some member does not say (written before languages were
   * kept, members.ts): then no word's languages are taken as complete.
   */
  languages: Map<string, string[]> | null;
  expansions: Map<string, Expansion>;
  /** The languages of the words starting with a query word (prefixLanguages). */
  prefixLanguages: Map<string, string[] | null>;
  /** performance.now() when it was read, and how long the read took. */
  readAt: number;
  readMs: number;
}

/**
 * A candidate before its item is read, placed by what its sorted-set member alone shows. Not
 * `own`: only its item's record can tell whether and how it matches. A `cut` hit is placed as
 * well as its whole name could place it (own, the best class its start allows, its length mark,
 * its start as sort key), never after its true place, until its record is read.
 */
interface Hit {
  iso: string;
  /** The entry id's item part (splitEntryId): it orders and compares as the sku does. */
  item: string;
  position: number;
  /** Normalised display name; only its start while `cut`. */
  phrase: string;
  /** The member carried the display name cut (members.ts) and its item record has not been read yet. */
  cut: boolean;
  own: boolean;
  /** null when not own. */
  match: MatchClass | null;
  length: number;
  sortKey: string;
  /** Own hits: the item and normalised display name, counted once; '' for the others and cut ones. */
  key: string;
}

/** The generation changed between two reads of one search. */
class GenerationChanged extends Error {}

const NO_SUGGESTIONS = JSON.stringify({ suggestions: [] });

export class SearchService {
  private readonly vocabularies = new Map<ItemType, LoadedVocabulary>();
  /** Reads under way, by type and generation: searches that need the same vocabulary wait for one read. */
  private readonly vocabularyReads = new Map<string, Promise<LoadedVocabulary>>();
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
    if (replaced !== null) this.logger.debug(`Search cache: the ${type} index changed (${replaced} → ${state}); its cached answers dropped`, { type });
    const key = `${type}\u0000${query.iso?.toLowerCase() ?? ""}\u0000${query.limit}\u0000${queryWords.join(" ")}`;
    const cached = this.cache.get(key, state);
    if (cached !== undefined) return cached;
    // Read after the state: the answer is at least as new as the state it is filed under.
    const json = JSON.stringify({ suggestions: await this.search(type, query) });
    this.cache.set(type, key, state, json);
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
    const kept = this.vocabularies.get(type);
    const found = await this.store.prefixHits(type, {
      iso: isoKey,
      phrase: matcher.phrase,
      words: matcher.words,
      limit,
      wordCandidates: WORD_CANDIDATES,
      ...(kept && { languages: wordLanguages(kept, matcher.words) }),
    });
    if (!found) return [];
    const { gen } = found;
    if (queryWords.length > 0 && !found.languagesTaken) this.keepVocabulary(type, gen, found.vocabVersion);
    const records = new Records((skus) => this.items(type, gen, skus));
    // The records of cut members that decide which members the reads took: in runs, and, when the
    // name words were read only in case, every cut word hit (the count that decides is on whole names).
    await records.load(cutItems([...found.wordRuns, ...found.nameRuns, ...(found.namesUnsure ? found.wordHits : [])]));
    const wordHits = [...found.wordHits, ...settleRuns(found.wordRuns, records)];
    const namesNeeded = !found.namesUnsure || ownEntries(found.phraseHits, wordHits, records, queryWords) < limit;
    const hits = new Map<string, Hit>();
    for (const read of [found.phraseHits, wordHits]) addHits(hits, read, matcher, records);
    if (namesNeeded) addHits(hits, [...found.nameHits, ...settleRuns(found.nameRuns, records)], matcher, records);
    if (queryWords.length > 0) {
      let counts = prefixOwnCount(hits);
      if (counts.sure < limit && counts.maybe >= limit) {
        // Members with cut display names decide whether to expand: read their items first.
        await records.load([...hits.values()].filter((h) => h.cut).map((h) => h.item));
        settle(hits, matcher, records);
        counts = prefixOwnCount(hits);
      }
      if (counts.sure < limit) {
        const more = await this.expandedHits(type, gen, found.vocabVersion, isoKey, matcher, found.driver, found.counts, limit);
        await records.load(cutItems(more.runs));
        addHits(hits, [...more.hits, ...settleRuns(more.runs, records)], matcher, records);
      }
    }
    return rankAndDedupe(await this.resolve(hits, matcher, limit, records), limit);
  }

  /**
   * Reads the items of the best hits and turns them into candidates. Entries matching by their
   * own display name come first; the others are read only when those are fewer than `limit`.
   * A cut hit the choice reaches is read and placed again, until every chosen hit is whole.
   */
  private async resolve(hits: Map<string, Hit>, matcher: QueryMatcher, limit: number, records: Records): Promise<Candidate[]> {
    let chosen = choose([...hits.values()], limit);
    while (chosen.some((h) => h.cut)) {
      await records.load(chosen.map((h) => h.item));
      settle(hits, matcher, records);
      chosen = choose([...hits.values()], limit);
    }
    if (!chosen.length) return [];
    await records.load(chosen.map((h) => h.item));
    const out: Candidate[] = [];
    for (const hit of chosen) {
      const record = records.get(hit.item);
      const entry = record ? toEntry(itemSku(hit.item), record, hit.position) : null;
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
  ): Promise<{ hits: LanguageHits[]; runs: Run[] }> {
    if (!matcher.words.some((w) => w.length >= MIN_EXPANDABLE)) return NONE;
    const vocabulary = await this.vocabulary(type, gen, version);
    const expanded: ExpandedWord[] = matcher.words.map((prefix, i) => {
      const e = this.expansion(vocabulary, prefix);
      return {
        prefix,
        languages: prefixLanguages(vocabulary, prefix),
        count: counts[i] ?? -1,
        read: driver === i + 1,
        words: [...e.infix, ...e.typo].map((word) => ({ word, languages: wordLanguagesOf(vocabulary, word) })),
      };
    });
    // Every query word must match some word: one with no members and no expansion leaves nothing to find.
    if (expanded.some((w) => w.count === 0 && w.words.length === 0)) return NONE;
    if (expanded.every((w) => w.words.length === 0)) return NONE;
    const reply = await this.store.expandedHits(type, gen, {
      iso,
      limit,
      wordCandidates: WORD_CANDIDATES,
      words: expanded,
      vocabulary: vocabularyState(vocabulary),
    });
    if (reply === null) throw new GenerationChanged();
    return reply;
  }

  /** Reads the vocabulary in the background unless the one kept is the serving one: searches after it read fewer languages. */
  private keepVocabulary(type: ItemType, gen: string, version: string): void {
    const kept = this.vocabularies.get(type);
    if (kept?.gen === gen && kept.version === version) return;
    this.vocabulary(type, gen, version).catch((err) => this.logger.debug("Could not read the search vocabulary", { type, err }));
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

  private vocabulary(type: ItemType, gen: string, version: string): Promise<LoadedVocabulary> {
    const cached = this.vocabularies.get(type);
    if (cached && cached.gen === gen && (cached.version === version || performance.now() - cached.readAt < cached.readMs * VOCABULARY_READ_SHARE))
      return Promise.resolve(cached);
    const key = `${type}\u0000${gen}`;
    let read = this.vocabularyReads.get(key);
    if (!read) {
      read = (async () => {
        const started = performance.now();
        const languages = new Map<string, string[]>();
        let complete = true;
        for (const member of await this.store.vocabulary(type, gen)) {
          const { word, iso } = parseVocabularyMember(member);
          const known = languages.get(word) ?? [];
          if (known.length === 0) languages.set(word, known);
          if (iso === null) complete = false;
          else known.push(iso);
        }
        const loaded = {
          gen,
          version,
          vocabulary: new Vocabulary([...languages.keys()]),
          languages: complete ? languages : null,
          expansions: new Map(),
          prefixLanguages: new Map(),
          readAt: performance.now(),
          readMs: performance.now() - started,
        };
        this.vocabularies.set(type, loaded);
        return loaded;
      })().finally(() => this.vocabularyReads.delete(key));
      this.vocabularyReads.set(key, read);
    }
    return read;
  }
}

const NONE: { hits: LanguageHits[]; runs: Run[] } = { hits: [], runs: [] };

/** Which vocabulary `kept` is, as the search scripts compare it with the serving one's. */
function vocabularyState(kept: LoadedVocabulary): string {
  return `${kept.gen}:${kept.version}`;
}

/** The languages of the words starting with each of `prefixes`, as a vocabulary kept tells them. */
function wordLanguages(kept: LoadedVocabulary, prefixes: readonly string[]): WordLanguages {
  return { state: vocabularyState(kept), words: prefixes.map((prefix) => prefixLanguages(kept, prefix)) };
}

/** A vocabulary word's languages (null: any). */
function wordLanguagesOf(kept: LoadedVocabulary, word: string): string[] | null {
  return kept.languages?.get(word) ?? null;
}

/** The languages of the vocabulary words starting with `prefix`; null for any (too many words, or languages not kept). */
function prefixLanguages(kept: LoadedVocabulary, prefix: string): string[] | null {
  const found = kept.prefixLanguages.get(prefix);
  if (found !== undefined) return found;
  if (kept.languages === null) return remember(null);
  const [from, to] = kept.vocabulary.startingWith(prefix);
  if (to - from > LANGUAGE_WORDS) return remember(null);
  const languages = new Set<string>();
  for (let i = from; i < to; i++) for (const iso of kept.languages.get(kept.vocabulary.words[i]!)!) languages.add(iso);
  return remember([...languages]);

  function remember(value: string[] | null): string[] | null {
    if (kept.prefixLanguages.size >= EXPANSIONS_KEPT) kept.prefixLanguages.clear();
    kept.prefixLanguages.set(prefix, value);
    return value;
  }
}

/** Item records one search has read, by the entry ids' item part (null: the item has none). */
class Records {
  private readonly read = new Map<string, ItemRecord | null>();
  constructor(private readonly fetch: (skus: string[]) => Promise<Map<string, ItemRecord>>) {}

  /** Reads the records not read yet, in one round trip. */
  async load(items: string[]): Promise<void> {
    const missing = [...new Set(items)].filter((item) => !this.read.has(item));
    if (!missing.length) return;
    const skus = missing.map(itemSku);
    const found = await this.fetch(skus);
    for (const [i, item] of missing.entries()) this.read.set(item, found.get(skus[i]!) ?? null);
  }

  get(item: string): ItemRecord | null {
    return this.read.get(item) ?? null;
  }

  /**
   * The normalised display name of the entry a member names: as the member carries it, or, cut,
   * from the record once read. undefined: not read yet; null: the record no longer has it.
   */
  phraseOf(m: { item: string; position: number; phrase: string; cut: boolean }): string | null | undefined {
    if (!m.cut) return m.phrase;
    if (!this.read.has(m.item)) return undefined;
    const record = this.read.get(m.item);
    const entry = record ? toEntry(itemSku(m.item), record, m.position) : null;
    const whole = entry ? phrase(entry.display_name) : null;
    return whole?.startsWith(m.phrase) ? whole : null;
  }
}

/** Items of the members with cut display names among those read. */
function cutItems(read: LanguageHits[]): string[] {
  const out: string[] = [];
  for (const { members } of read)
    for (const member of members) {
      const m = parseMember(member);
      if (m?.cut) out.push(m.item);
    }
  return out;
}

/**
 * The members each run's places take: the run ordered as its members would be with whole
 * display names (their records read), as one sorted set would have given them.
 */
function settleRuns(runs: Run[], records: Records): LanguageHits[] {
  return runs.map(({ iso, places, members }) => {
    const whole: { member: string; bytes: Buffer }[] = [];
    for (const member of members) {
      const m = parseMember(member);
      const display = m && records.phraseOf(m);
      if (!m || typeof display !== "string") continue;
      const tail = `${m.phrase}${m.cut ? CUT_MARK : ""}\u0000${m.id}`;
      whole.push({ member, bytes: Buffer.from(`${member.slice(0, member.length - tail.length)}${display}\u0000${m.id}`) });
    }
    whole.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    return { iso, members: whole.slice(0, places).map((w) => w.member) };
  });
}

/**
 * Entries (once per item and display name) among the phrase hits and the word hits whose display
 * name has every query word as a word start: what PREFIX_SEARCH counts to decide whether it needs
 * the name words, counted on whole display names.
 */
function ownEntries(phraseHits: LanguageHits[], wordHits: LanguageHits[], records: Records, queryWords: string[]): number {
  const seen = new Set<string>();
  const each = (read: LanguageHits[], test: (display: string) => boolean) => {
    for (const { members } of read)
      for (const member of members) {
        const m = parseMember(member);
        const display = m && records.phraseOf(m);
        if (typeof display === "string" && test(display)) seen.add(`${m!.item}\u0000${display}`);
      }
  };
  each(phraseHits, () => true);
  each(wordHits, (display) => queryWords.every((w) => ` ${display}`.includes(` ${w}`)));
  return seen.size;
}

/** Adds the members read to `hits`, once per entry, each placed by its display name (a cut one as well as it could be). */
function addHits(hits: Map<string, Hit>, read: LanguageHits[], matcher: QueryMatcher, records: Records): void {
  for (const { iso, members } of read)
    for (const member of members) {
      const m = parseMember(member);
      if (!m || hits.has(m.id)) continue;
      const display = records.phraseOf(m);
      if (display === null) continue;
      if (display !== undefined) hits.set(m.id, placed(iso, m.item, m.position, display, matcher));
      else {
        const match = bestClass(m.phrase, matcher.phrase);
        hits.set(m.id, {
          iso,
          item: m.item,
          position: m.position,
          phrase: m.phrase,
          cut: true,
          own: true,
          match,
          length: m.length!,
          sortKey: m.phrase,
          key: "",
        });
      }
    }
}

function placed(iso: string, item: string, position: number, display: string, matcher: QueryMatcher): Hit {
  const match = matcher.displayClass(display);
  const own = match !== null;
  const length = matcher.words.length === 0 ? 0 : display.length;
  return { iso, item, position, phrase: display, cut: false, own, match, length, sortKey: display, key: own ? `${item}\u0000${display}` : "" };
}

/** Places again the cut hits whose records were read; drops those whose record no longer has them. */
function settle(hits: Map<string, Hit>, matcher: QueryMatcher, records: Records): void {
  for (const [id, h] of hits) {
    if (!h.cut) continue;
    const display = records.phraseOf(h);
    if (display === null) hits.delete(id);
    else if (display !== undefined) hits.set(id, placed(h.iso, h.item, h.position, display, matcher));
  }
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
function prefixOwnCount(hits: Map<string, Hit>): { sure: number; maybe: number } {
  const seen = new Set<string>();
  let cut = 0;
  for (const h of hits.values()) {
    if (h.cut) cut++;
    else if (h.own && h.match !== null && h.match <= MATCH.wordPrefix) seen.add(h.key);
  }
  return { sure: seen.size, maybe: seen.size + cut };
}

/**
 * The hits whose items are read: in rank order, own matches up to `limit` + SLACK entries (once
 * per item and normalised name: every hit of a counted one is read, the results keep the best of
 * each), then, only when those are fewer than `limit`, the others. A cut hit is chosen wherever its
 * whole name could be chosen: before the count is full, or when its item has a counted name.
 */
function choose(hits: Hit[], limit: number): Hit[] {
  const byRank = (a: Hit, b: Hit) => compareRank(a, b) || cmp(a.item, b.item) || cmp(a.iso, b.iso);
  const chosen: Hit[] = [];
  const counted = new Set<string>();
  const countedItems = new Set<string>();
  const skipped: Hit[] = [];
  for (const h of hits.filter((h) => h.own).sort(byRank)) {
    if (h.cut) {
      if (counted.size < limit + SLACK) chosen.push(h);
      else skipped.push(h);
      continue;
    }
    if (!counted.has(h.key)) {
      if (counted.size >= limit + SLACK) continue;
      counted.add(h.key);
      countedItems.add(h.item);
    }
    chosen.push(h);
  }
  for (const h of skipped) if (countedItems.has(h.item)) chosen.push(h);
  // The others rank after every own match: needed only when those are fewer than `limit`.
  if (counted.size < limit)
    chosen.push(
      ...hits
        .filter((h) => !h.own)
        .sort(byRank)
        .slice(0, WORD_CANDIDATES),
    );
  return chosen;
}
