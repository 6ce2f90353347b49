// Autocomplete over the serving generation of one type (layout: src/index/keys.ts).
// Prefix matches come from the sorted sets in one script call; infix and one-typo matches,
// needed only when those give fewer than `limit`, go through the type's vocabulary.
import { parseEntryId, toEntry, type ItemRecord } from "../catalog/entries.ts";
import { phrase, words } from "../catalog/normalize.ts";
import type { Entry, ItemType } from "../catalog/types.ts";
import type { IndexStore } from "../index/store.ts";
import { MATCH, infixMatches, prefixClass, rankAndDedupe, typoMatches, type Candidate, type MatchClass } from "./rank.ts";

// Returns {gen, vocab_version, phrase hits, word hits, skus, records}; hits are flat
// [iso, member, iso, member, …]. Word hits come from the query word with the fewest matches,
// and only when phrase hits (counted once per item and phrase) are fewer than the limit.
const PREFIX_SEARCH = `
local base, iso, q, limit, cap = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local gen = redis.call('GET', KEYS[1])
if not gen then return {} end
local g = base .. 'g:' .. gen .. ':'
local isos = {iso}
if iso == '' then isos = redis.call('SMEMBERS', g .. 'isos') end
local phrase_hits, word_hits, seen, distinct = {}, {}, {}, 0
for _, i in ipairs(isos) do
  local members
  if q == '' then members = redis.call('ZRANGEBYLEX', g .. 'phrase:' .. i, '-', '+', 'LIMIT', 0, limit)
  else members = redis.call('ZRANGEBYLEX', g .. 'phrase:' .. i, '[' .. q, '[' .. q .. '\\255', 'LIMIT', 0, limit) end
  for _, m in ipairs(members) do
    phrase_hits[#phrase_hits + 1] = i
    phrase_hits[#phrase_hits + 1] = m
    local sep = string.find(m, '\\0', 1, true)
    local key = string.sub(m, sep + 1, string.find(m, '.', sep, true)) .. string.sub(m, 1, sep)
    if not seen[key] then seen[key] = true; distinct = distinct + 1 end
  end
end
if #ARGV > 5 and distinct < limit then
  local best, best_count = nil, nil
  for t = 6, #ARGV do
    local count = 0
    for _, i in ipairs(isos) do count = count + redis.call('ZLEXCOUNT', g .. 'word:' .. i, '[' .. ARGV[t], '[' .. ARGV[t] .. '\\255') end
    if best_count == nil or count < best_count then best, best_count = ARGV[t], count end
  end
  if best_count > 0 then
    for _, i in ipairs(isos) do
      local members = redis.call('ZRANGEBYLEX', g .. 'word:' .. i, '[' .. best, '[' .. best .. '\\255', 'LIMIT', 0, cap)
      for _, m in ipairs(members) do word_hits[#word_hits + 1] = i; word_hits[#word_hits + 1] = m end
    end
  end
end
local skus, have = {}, {}
for _, hits in ipairs({phrase_hits, word_hits}) do
  for n = 2, #hits, 2 do
    local m = hits[n]
    local id = string.sub(m, string.find(m, '\\0', 1, true) + 1)
    local sku = string.sub(id, 1, string.find(id, '.', 1, true) - 1)
    if not have[sku] then have[sku] = true; skus[#skus + 1] = sku end
  end
end
local records = {}
for n = 1, #skus, 500 do
  local part = redis.call('HMGET', g .. 'items', unpack(skus, n, math.min(n + 499, #skus)))
  for _, r in ipairs(part) do records[#records + 1] = r end
end
return {gen, redis.call('HGET', g .. 'meta', 'vocab_version') or '0', phrase_hits, word_hits, skus, records}`;

// Entries having exactly the given words, in generation ARGV[2] if it still serves.
const WORD_FETCH = `
local base, gen, iso, cap = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('GET', KEYS[1]) ~= gen then return {} end
local g = base .. 'g:' .. gen .. ':'
local isos = {iso}
if iso == '' then isos = redis.call('SMEMBERS', g .. 'isos') end
local hits, skus, have = {}, {}, {}
for t = 5, #ARGV do
  for _, i in ipairs(isos) do
    local members = redis.call('ZRANGEBYLEX', g .. 'word:' .. i, '[' .. ARGV[t] .. '\\0', '[' .. ARGV[t] .. '\\0\\255', 'LIMIT', 0, cap)
    for _, m in ipairs(members) do
      hits[#hits + 1] = i
      hits[#hits + 1] = m
      local id = string.sub(m, string.find(m, '\\0', 1, true) + 1)
      local sku = string.sub(id, 1, string.find(id, '.', 1, true) - 1)
      if not have[sku] then have[sku] = true; skus[#skus + 1] = sku end
    end
  end
end
local records = {}
for n = 1, #skus, 500 do
  local part = redis.call('HMGET', g .. 'items', unpack(skus, n, math.min(n + 499, #skus)))
  for _, r in ipairs(part) do records[#records + 1] = r end
end
return {hits, skus, records}`;

/** How many word-index members one query may read per language. */
const WORD_CANDIDATES = 200;
/** How many vocabulary words infix and typo matching may expand to. */
const VOCAB_MATCHES = 50;

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

export class SearchService {
  private readonly vocabularies = new Map<ItemType, Vocabulary>();

  constructor(private readonly store: IndexStore) {}

  async search(type: ItemType, { query, iso, limit }: SearchQuery): Promise<Entry[]> {
    const queryWords = words(query);
    if (query.trim() !== "" && queryWords.length === 0) return [];
    const q = queryWords.join(" ");
    const isoKey = iso?.toLowerCase() ?? "";
    const base = this.store.keys.typeBase(type);
    const reply = (await this.store.redis.eval(
      PREFIX_SEARCH,
      1,
      this.store.keys.current(type),
      base,
      isoKey,
      q,
      limit,
      WORD_CANDIDATES,
      ...queryWords,
    )) as [string, string, string[], string[], string[], (string | null)[]] | [];
    if (reply.length === 0) return [];
    const [gen, vocabVersion, phraseHits, wordHits, skus, records] = reply;
    const items = recordMap(skus, records);
    const candidates: Candidate[] = [];
    const consider = (hits: string[], match: MatchClass | null) => {
      for (let i = 0; i < hits.length; i += 2) {
        const entry = entryFromMember(hits[i + 1]!, items);
        if (!entry) continue;
        const m = queryWords.length === 0 ? MATCH.phrasePrefix : (match ?? prefixClass(entry, queryWords));
        if (m !== null) candidates.push({ entry, match: m, sortKey: phrase(entry.display_name) });
      }
    };
    consider(phraseHits, null);
    consider(wordHits, null);

    let ranked = rankAndDedupe(candidates, limit);
    if (ranked.length < limit && queryWords.length === 1) {
      const more = await this.vocabularyMatches(type, gen, vocabVersion, isoKey, queryWords[0]!);
      if (more.length) ranked = rankAndDedupe([...candidates, ...more], limit);
    }
    return ranked;
  }

  /** Infix and one-typo candidates of a one-word query, found through the vocabulary. */
  private async vocabularyMatches(type: ItemType, gen: string, version: string, iso: string, word: string): Promise<Candidate[]> {
    const vocabulary = await this.vocabulary(type, gen, version);
    const infix: string[] = [];
    const typo: string[] = [];
    for (const w of vocabulary) {
      if (infix.length < VOCAB_MATCHES && infixMatches(word, w)) infix.push(w);
      else if (typo.length < VOCAB_MATCHES && typoMatches(word, w)) typo.push(w);
    }
    if (!infix.length && !typo.length) return [];
    const matchOf = new Map<string, MatchClass>([...typo.map((w) => [w, MATCH.typo] as const), ...infix.map((w) => [w, MATCH.infix] as const)]);
    const reply = (await this.store.redis.eval(
      WORD_FETCH,
      1,
      this.store.keys.current(type),
      this.store.keys.typeBase(type),
      gen,
      iso,
      WORD_CANDIDATES,
      ...matchOf.keys(),
    )) as [string[], string[], (string | null)[]] | [];
    if (reply.length === 0) return [];
    const [hits, skus, records] = reply;
    const items = recordMap(skus, records);
    const out: Candidate[] = [];
    for (let i = 0; i < hits.length; i += 2) {
      const member = hits[i + 1]!;
      const entry = entryFromMember(member, items);
      const match = matchOf.get(memberText(member));
      if (entry && match !== undefined) out.push({ entry, match, sortKey: phrase(entry.display_name) });
    }
    return out;
  }

  private async vocabulary(type: ItemType, gen: string, version: string): Promise<string[]> {
    const cached = this.vocabularies.get(type);
    if (cached && cached.gen === gen && cached.version === version) return cached.words;
    const list = await this.store.redis.zrange(this.store.keys.gen(type, gen).vocab, "0", "-1");
    this.vocabularies.set(type, { gen, version, words: list });
    return list;
  }
}

function recordMap(skus: string[], records: (string | null)[]): Map<string, ItemRecord> {
  const out = new Map<string, ItemRecord>();
  skus.forEach((sku, i) => {
    const raw = records[i];
    if (raw) out.set(sku, JSON.parse(raw) as ItemRecord);
  });
  return out;
}

/** The text part of a member ("<text>\0<entry id>"). */
function memberText(member: string): string {
  return member.slice(0, member.indexOf("\u0000"));
}

function entryFromMember(member: string, items: Map<string, ItemRecord>): Entry | null {
  const id = parseEntryId(member.slice(member.indexOf("\u0000") + 1));
  if (!id) return null;
  const record = items.get(id.sku);
  return record ? toEntry(id.sku, record, id.position) : null;
}
