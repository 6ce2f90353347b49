// The Redis layout, in one place. Every key starts with the configured prefix. All keys of
// one item type carry the hash tag {type}, so in Redis Cluster they share a slot and the
// scripts that publish, search and push can touch them together.
//
//   <p>lock                      run lock: "<run_id> <token>", with expiry
//   <p>status                    JSON of the last/active run (GET /sync-status)
//   <p>scheduler:tick:<job>:<s>  claim of one scheduler tick by one replica (expires)
//   <p>history                   stream of finished runs (field run: RunResult JSON), capped, imported by every replica
//   <p>{type}:cur                generation id serving search
//   <p>{type}:gens               set of generation ids that have keys (for cleanup)
//   <p>{type}:owner              token of the run allowed to publish this type (fence)
//   <p>{type}:building           generation id being built (expires with the run lock)
//   <p>{type}:journal            push updates made while a generation is being built
//   <p>{type}:stage:<id>         list of one push update's member changes, for its script (expires)
//   <p>{type}:g:<gen>:items      hash sku → item record JSON
//   <p>{type}:g:<gen>:meta       hash: entries, items, run_id, created_at, vocab_version, updates (push count), pieces (last piece id),
//                                ids ("short": entry ids in the short form, entries.ts), cut ("1": long word members carry
//                                their display name cut, members.ts); both absent in older indexes
//   <p>{type}:g:<gen>:isos       set of the languages present
//   <p>{type}:g:<gen>:phrase:<iso> zset (score 0) "<normalised display_name>\0<entry id>"
//   <p>{type}:g:<gen>:word:<iso>   zset (score 0) "<normalised word>\0<length><normalised display_name>\0<entry id>",
//                                  "\x01<word>\0…" for words only in the item's name or origin name (members.ts)
//                                Each is kept in pieces (scripts.ts LUA_PIECES), the zset itself holding only members
//                                longer than 64 bytes (and, in a generation written before pieces, every member):
//   <p>{type}:g:<gen>:phrase#ix:<iso>, word#ix:<iso>  zset (score 0) "<first member of a piece>\0\0<piece id>"
//   <p>{type}:g:<gen>:phrase#<id>:<iso>, word#<id>:<iso>  zset (score 0), one piece: up to 128 members of up to 64 bytes
//   <p>{type}:g:<gen>:phrase#plain:<iso>, word#plain:<iso>  zset (score 0): every member, as runs of earlier releases
//                                wrote them before putting them into pieces (a run now sorts them itself, SetSorter)
//   <p>{type}:g:<gen>:vocab      zset (score 0) "<normalised word>\0<iso>" per word and language of the word members
//                                (members.ts; older indexes: the distinct words alone)
//   <p>{changes}:lease           change follower's lease: "<follower id> <token>", with expiry
//   <p>{changes}:tokens          hash collection → resume token (EJSON) of its change stream
//   <p>{changes}:supplier-links:<type>  hash supplier _id (derive.ts supplierKey) → origin sku it links to, as the
//                                follower last saw it. `<p>{changes}:links:<type>`, its form before an ObjectId and its
//                                hex text were told apart, is rebuilt into it and removed when a follower starts.
import { type ItemType, SEARCH_NAME } from "../catalog/types.ts";

export class Keys {
  constructor(readonly prefix: string) {}

  get lock(): string {
    return `${this.prefix}lock`;
  }
  get status(): string {
    return `${this.prefix}status`;
  }
  get history(): string {
    return `${this.prefix}history`;
  }
  schedulerTick(job: string, epochSeconds: number): string {
    return `${this.prefix}scheduler:tick:${job}:${epochSeconds}`;
  }
  /** Common start of every key of one type; the search and publish scripts derive keys from it. */
  typeBase(type: ItemType): string {
    return `${this.prefix}{${SEARCH_NAME[type]}}:`;
  }
  current(type: ItemType): string {
    return `${this.typeBase(type)}cur`;
  }
  gens(type: ItemType): string {
    return `${this.typeBase(type)}gens`;
  }
  owner(type: ItemType): string {
    return `${this.typeBase(type)}owner`;
  }
  building(type: ItemType): string {
    return `${this.typeBase(type)}building`;
  }
  journal(type: ItemType): string {
    return `${this.typeBase(type)}journal`;
  }
  stage(type: ItemType, id: string): string {
    return `${this.typeBase(type)}stage:${id}`;
  }
  gen(type: ItemType, gen: string): GenKeys {
    return new GenKeys(genBase(this.typeBase(type), gen));
  }
  /** A pattern matching every key of one type: its pointers and every generation. */
  typeAll(type: ItemType): string {
    return `${escapeGlob(this.typeBase(type))}*`;
  }
  // The change follower's keys share the hash tag {changes}: one script writes them together.
  get changesLease(): string {
    return `${this.prefix}{changes}:lease`;
  }
  get changesTokens(): string {
    return `${this.prefix}{changes}:tokens`;
  }
  supplierLinks(type: ItemType): string {
    return `${this.prefix}{changes}:supplier-links:${type}`;
  }
  legacySupplierLinks(type: ItemType): string {
    return `${this.prefix}{changes}:links:${type}`;
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

// The parts of a generation's key names. GenKeys and the Lua helper below are both built from
// these, so the TypeScript and the scripts cannot disagree on the layout.
const GEN_OPEN = "g:";
const GEN_CLOSE = ":";
const GEN_PART = { items: "items", meta: "meta", isos: "isos", vocab: "vocab" } as const;
const ISO_PART = { phrase: "phrase:", word: "word:" } as const;
export type SetKind = keyof typeof ISO_PART;
// A set's pieces: "<kind>#ix:<iso>" and "<kind>#<id>:<iso>", which no "<kind>:<iso>" can spell,
// and "<kind>#plain:<iso>", the whole set as runs of earlier releases wrote it before putting it
// into pieces (removed with a generation such a run left behind).
const PIECE_MARK = "#";
const PIECE_INDEX = "ix";
const PLAIN = "plain";

function genBase(typeBase: string, gen: string): string {
  return `${typeBase}${GEN_OPEN}${gen}${GEN_CLOSE}`;
}

class GenKeys {
  readonly items: string;
  readonly meta: string;
  readonly isos: string;
  readonly vocab: string;
  constructor(readonly base: string) {
    this.items = base + GEN_PART.items;
    this.meta = base + GEN_PART.meta;
    this.isos = base + GEN_PART.isos;
    this.vocab = base + GEN_PART.vocab;
  }
  phrase(iso: string): string {
    return this.base + ISO_PART.phrase + iso;
  }
  word(iso: string): string {
    return this.base + ISO_PART.word + iso;
  }
  /** A phrase or word set's own sorted set: its members longer than MEMBER_MAX (every member, written before pieces). */
  set(kind: SetKind, iso: string): string {
    return kind === "phrase" ? this.phrase(iso) : this.word(iso);
  }
  /** The index of a phrase or word set's pieces (members: first member, "\0\0", piece id). */
  pieceIndex(kind: SetKind, iso: string): string {
    return `${this.base}${kind}${PIECE_MARK}${PIECE_INDEX}:${iso}`;
  }
  /** A phrase or word set as runs of earlier releases wrote it before putting it into pieces. */
  plain(kind: SetKind, iso: string): string {
    return `${this.base}${kind}${PIECE_MARK}${PLAIN}:${iso}`;
  }
  /** The piece a piece index member names. */
  piece(kind: SetKind, iso: string, indexMember: string): string {
    return this.pieceKey(kind, iso, indexMember.slice(indexMember.indexOf("\u0000\u0000") + 2));
  }
  pieceKey(kind: SetKind, iso: string, id: number | string): string {
    return `${this.base}${kind}${PIECE_MARK}${id}:${iso}`;
  }
}

/**
 * Lua defining `gen_keys(type_base, gen)`: a generation's keys as GenKeys names them, in a table
 * with items, meta, isos, vocab, the functions phrase(iso), word(iso), and set(kind, iso): a phrase
 * or word set as LUA_PIECES (scripts.ts) reads it, {all, ix, piece(id)}, and plain (GenKeys.plain). Scripts are given
 * Keys.typeBase and read the generation id in Redis, so they derive these keys themselves.
 */
export const LUA_GEN_KEYS = `
local function gen_keys(type_base, gen)
  local g = type_base .. '${GEN_OPEN}' .. gen .. '${GEN_CLOSE}'
  local k = {}
${Object.entries(GEN_PART)
  .map(([name, part]) => `  k.${name} = g .. '${part}'`)
  .join("\n")}
${Object.entries(ISO_PART)
  .map(([name, part]) => `  k.${name} = function(iso) return g .. '${part}' .. iso end`)
  .join("\n")}
  k.iso_part = {${Object.entries(ISO_PART)
    .map(([name, part]) => `${name} = '${part}'`)
    .join(", ")}}
  -- One table per set and script call, so what a script learns about a set (LUA_PIECES) is kept.
  local sets = {}
  k.set = function(kind, iso)
    local name = kind .. ':' .. iso
    if not sets[name] then
      sets[name] = {
        all = g .. k.iso_part[kind] .. iso,
        meta = k.meta,
        ix = g .. kind .. '${PIECE_MARK}${PIECE_INDEX}:' .. iso,
        plain = g .. kind .. '${PIECE_MARK}${PLAIN}:' .. iso,
        piece = function(id) return g .. kind .. '${PIECE_MARK}' .. id .. ':' .. iso end,
      }
    end
    return sets[name]
  end
  return k
end
`;
