// The Redis side of the index: generations of one type, their writing, publishing, reading for
// search and cleanup. Nothing outside src/index/ reads or writes index keys but through this class.
import { type ChainableCommander, ReplyError } from "ioredis";
import type { ItemRecord } from "../catalog/entries.ts";
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import { type RedisClient, runScript, runScriptWithin, scanKeys } from "../platform/redis.ts";
import type { Keys, SetKind } from "./keys.ts";
import { entryMembers, MEMBER_MAX, type MemberForm, vocabularyMember } from "./members.ts";
import { type PushOp, type PushPlan, skusOf } from "./push-plan.ts";
import {
  ABANDON,
  APPLY_PUSH,
  EXPANDED_SEARCH,
  KEY_COUNT,
  LANGUAGES_ANY,
  MEMBER_SEPARATOR,
  PREFIX_SEARCH,
  PUBLISH,
  READ_PUSH,
  SERVING_STATE,
} from "./scripts.ts";
import type { SetSorter } from "./set-sorter.ts";
import { zsetDump } from "./zset-dump.ts";

const UNLINK_BATCH = 100;
/** Entries of a piece index read at a time when its generation is removed. */
const INDEX_PAGE = 1_000;
const SCAN_COUNT = 500;
/**
 * Most values (members, fields and values, list elements) one command carries, so no input makes a
 * command, or the call that spreads its arguments, grow without bound. Even and a multiple of 3:
 * pairs and (kind, iso, member) triples are never split.
 */
const VALUES_PER_COMMAND = 900;
/** Commands sent together in one pipeline when a push stages its member changes. */
const STAGE_PIPELINE = 20;
/** A push's staged member changes outlive a process that died before its script ran by this much. */
const STAGE_TTL_MS = 60_000;
/**
 * How long a push's script may take. The largest pushes within the limits (README "Limits") kept
 * Redis busy for up to 2 s on a starved 2-core machine: as long as other requests wait for Redis.
 */
const PUSH_SCRIPT_TIMEOUT_MS = 15_000;
/** Members a run writes into each new piece, leaving room for pushes (a piece holds up to 128). */
const PIECE_FILL = 112;
/** Pieces a run writes per pipeline: about 11,000 members, a few milliseconds of Redis. */
const PIECES_PER_PIPELINE = 100;
/** The key that tries whether the server takes a run's pieces as payloads expires after this, should its process die. */
const PROBE_TTL_MS = 60_000;
/** Parsed item records kept for reuse by search (about 1 KB each, plus the parsed object). */
const PARSED_RECORDS = 10_000;

export interface ItemWrite {
  sku: string;
  record: ItemRecord;
  /** Entry positions new in this write (their members are added). */
  added: number[];
}

/** How a run's pieces are written: RESTORE of zsetDump payloads, or ZADD and what the server said to RESTORE. */
export type PieceWrites = { by: "RESTORE" } | { by: "ZADD"; refusal: string };

type PublishOutcome = { published: true; previous: string | null } | { published: false; reason: "fence" };

/** Sorted-set members a search read, by language. */
export interface LanguageHits {
  /** Lower-cased, as the language names its sorted sets. */
  iso: string;
  members: string[];
}

/** What the prefix classes of a search found. */
interface PrefixHits {
  gen: string;
  vocabVersion: string;
  phraseHits: LanguageHits[];
  /** Members of the driving query word among the entries' own display-name words. */
  wordHits: LanguageHits[];
  /** Members of the driving query word among words found only through the item's name or origin name. */
  nameHits: LanguageHits[];
  /** Which query word's members were read (1-based; 0: none). */
  driver: number;
  /**
   * How many word members each query word's prefix has, -1 for one not counted to the end (it has
   * more than the driver); empty when the word members were not needed, or for a single query word.
   */
  counts: number[];
  /** Runs of word and name members the reads stopped inside, unordered by cut display names (scripts.ts word_range). */
  wordRuns: Run[];
  nameRuns: Run[];
  /** The name hits were read only because members with cut display names might not count: whether they were needed is for search to tell. */
  namesUnsure: boolean;
  /** The query's `languages` were taken: only they were read (with several query words, `driver` is then 0: its members were not read everywhere). */
  languagesTaken: boolean;
}

/** Members of one language that the read of up to some limit stopped inside; `places` of them are within the limit. */
export interface Run extends LanguageHits {
  /** How many of its members are within the limit. */
  places: number;
}

/**
 * Languages of words, as the vocabulary read at `state` ("<gen>:<vocab version>") tells them (null:
 * any): a search script takes them while that is still the serving generation's vocabulary.
 */
export interface WordLanguages {
  state: string;
  /** One list per word. */
  words: (string[] | null)[];
}

/** A word's languages as a search script's argument: any, when one of them would not read back as itself. */
function languagesArg(languages: string[] | null | undefined): string {
  if (!languages || languages.some((iso) => iso === LANGUAGES_ANY || /[,;]/.test(iso))) return LANGUAGES_ANY;
  return languages.join(",");
}

/** One query word for expandedHits: its prefix (and what is known of it) and the whole words it expands to. */
export interface ExpandedWord {
  prefix: string;
  /** The languages of the words starting with it (null: any). */
  languages: string[] | null;
  /** Members its prefix has, or -1 when not counted. */
  count: number;
  /** Its prefix members were read already (by prefixHits). */
  read: boolean;
  /** The whole words it expands to, each with its languages (null: any). */
  words: { word: string; languages: string[] | null }[];
}

interface PrefixQuery {
  /** Lower-cased language, or "" for every language. */
  iso: string;
  /** The normalised query phrase ("" lists entries). */
  phrase: string;
  words: readonly string[];
  limit: number;
  /** How many word members the query may read, shared by the languages it searches. */
  wordCandidates: number;
  /** The languages of each query word (words starting with it), taken while that vocabulary is current. */
  languages?: WordLanguages;
}

/** One attempt of a push update: applied (the plan), nothing serving, or a concurrent change won. */
type PushAttempt = PushPlan | "no-index" | "conflict";

export class IndexStore {
  /** How the server takes pieces: asked once, by the first run's writeSets. */
  private pieceWrites: Promise<PieceWrites> | null = null;

  constructor(
    private readonly client: RedisClient,
    /** Key names, readable for tests checking the layout. */
    readonly keys: Keys,
  ) {}

  async currentGen(type: ItemType): Promise<string | null> {
    return this.client.get(this.keys.current(type));
  }

  /** The run that built the serving generation of `type` (its meta's run_id), or null. */
  async servingRunId(type: ItemType): Promise<string | null> {
    const gen = await this.currentGen(type);
    return gen ? this.client.hget(this.keys.gen(type, gen).meta, "run_id") : null;
  }

  /** Entries in a generation (0 when it does not exist). */
  async entryCount(type: ItemType, gen: string | null): Promise<number> {
    if (!gen) return 0;
    return Number((await this.client.hget(this.keys.gen(type, gen).meta, "entries")) ?? 0);
  }

  /**
   * The service's keys under the prefix, counted from the index's own records (each type's
   * markers and registered generations) plus the lock, status and history keys. No SCAN: /info calls this,
   * and its cost must not grow with the keyspace. Keys other programs put under the prefix and the
   * scheduler's short-lived tick claims are not counted.
   */
  async keyCount(): Promise<number> {
    const k = this.keys;
    const counts = await Promise.all([
      ...ITEM_TYPES.map((type) =>
        runScript(this.client, KEY_COUNT, 5, k.current(type), k.gens(type), k.owner(type), k.building(type), k.journal(type), k.typeBase(type)),
      ),
      this.client.exists(k.lock),
      this.client.exists(k.status),
      this.client.exists(k.history),
    ]);
    return counts.reduce((sum: number, n) => sum + Number(n), 0);
  }

  /** Registers a new generation before anything of it is written, so cleanup always finds it. */
  async begin(type: ItemType, gen: string, runId: string, token: string, ttlMs: number): Promise<void> {
    const g = this.keys.gen(type, gen);
    await this.client
      .multi()
      .sadd(this.keys.gens(type), gen)
      .set(this.keys.owner(type), token)
      .set(this.keys.building(type), gen, "PX", ttlMs)
      .del(this.keys.journal(type))
      .hset(g.meta, { entries: 0, items: 0, run_id: runId, created_at: new Date().toISOString(), vocab_version: 0, ids: "short", cut: 1 })
      .exec();
  }

  /** Keeps the building marker alive as long as the run lock. */
  async touchBuilding(type: ItemType, ttlMs: number): Promise<void> {
    await this.client.pexpire(this.keys.building(type), ttlMs);
  }

  async readItems(type: ItemType, gen: string, skus: string[]): Promise<(ItemRecord | null)[]> {
    const out: (ItemRecord | null)[] = [];
    for (const part of chunks(skus, VALUES_PER_COMMAND)) {
      for (const v of await this.client.hmget(this.keys.gen(type, gen).items, ...part)) out.push(v ? decodeRecord(v) : null);
    }
    return out;
  }

  /** Every item of a generation, a batch at a time (HSCAN: an item may come twice). */
  async *itemBatches(type: ItemType, gen: string): AsyncGenerator<{ sku: string; record: ItemRecord }[]> {
    const key = this.keys.gen(type, gen).items;
    let cursor = "0";
    do {
      const [next, flat] = await this.client.hscan(key, cursor, "COUNT", SCAN_COUNT);
      cursor = next;
      const batch: { sku: string; record: ItemRecord }[] = [];
      for (let i = 0; i < flat.length; i += 2) batch.push({ sku: flat[i]!, record: decodeRecord(flat[i + 1]!) });
      yield batch;
    } while (cursor !== "0");
  }

  /**
   * Writes items' records in one pipeline and gives their new entries' members to `sets`, which
   * writeSets puts into Redis once the run has read everything. Returns entries added.
   */
  async writeItems(type: ItemType, gen: string, writes: ItemWrite[], newItems: number, sets: SetSorter): Promise<number> {
    const pipe = this.client.pipeline();
    const added = this.queueItemWrites(pipe, type, gen, writes, newItems, sets);
    await execPipeline(pipe);
    return added;
  }

  /** Queues what writeItems writes on a pipeline (public for bench/sync.ts, which times the execution alone). */
  queueItemWrites(pipe: ChainableCommander, type: ItemType, gen: string, writes: ItemWrite[], newItems: number, sets: SetSorter): number {
    const g = this.keys.gen(type, gen);
    const isos = new Set<string>();
    const vocab = new Set<string>();
    const records: string[] = [];
    let added = 0;
    for (const { sku, record, added: positions } of writes) {
      records.push(sku, encodeRecord(record));
      for (const position of positions) {
        const m = entryMembers(sku, record, position);
        if (!m) continue;
        added++;
        isos.add(m.iso);
        sets.add(setName("phrase", m.iso), m.phrase);
        const wordSet = setName("word", m.iso);
        for (const w of m.words) sets.add(wordSet, w);
        for (const w of m.vocabulary) vocab.add(vocabularyMember(w, m.iso));
      }
    }
    for (const part of chunks(records, VALUES_PER_COMMAND)) pipe.hset(g.items, ...part);
    for (const part of chunks([...isos], VALUES_PER_COMMAND)) pipe.sadd(g.isos, ...part);
    zaddAll(pipe, g.vocab, [...vocab]);
    if (added) pipe.hincrby(g.meta, "entries", added);
    if (newItems) pipe.hincrby(g.meta, "items", newItems);
    return added;
  }

  /**
   * Writes the phrase and word sets a run gathered (writeItems) into its generation: each set's
   * members in order, as pieces of PIECE_FILL (room left for pushes) with their index entries, and
   * members longer than MEMBER_MAX in the set's own sorted set. A pipeline of PIECES_PER_PIPELINE
   * pieces at a time; `between` runs after each with the time it took (a run paces its writes).
   */
  async writeSets(type: ItemType, gen: string, sets: SetSorter, between: (ms: number) => Promise<void> = async () => {}): Promise<PieceWrites | null> {
    const g = this.keys.gen(type, gen);
    const names = sets.sets();
    if (!names.length) return null;
    this.pieceWrites ??= this.probePieceWrites(g.pieceKey("phrase", "", 0));
    const how = await this.pieceWrites;
    const dumps = how.by === "RESTORE";
    for (const name of names) {
      const [kind, iso] = parseSetName(name);
      const pieces: string[][] = [];
      let long: string[] = [];
      let piece: string[] = [];
      const flush = async () => {
        const started = performance.now();
        const pipe = this.client.pipeline();
        if (pieces.length) {
          const last = await this.client.hincrby(g.meta, "pieces", pieces.length);
          const index: string[] = [];
          pieces.forEach((members, i) => {
            const id = last - pieces.length + 1 + i;
            index.push(`${members[0]}\u0000\u0000${id}`);
            const key = g.pieceKey(kind, iso, id);
            if (dumps) pipe.restore(key, 0, zsetDump(members));
            // Largest first: Redis then inserts each at the listpack's head instead of scanning to its end.
            else pipe.zadd(key, ...scored(members.reverse()));
          });
          zaddAll(pipe, g.pieceIndex(kind, iso), index);
        }
        zaddAll(pipe, g.set(kind, iso), long);
        await execPipeline(pipe);
        pieces.length = 0;
        long = [];
        await between(performance.now() - started);
      };
      for (const block of sets.sorted(name))
        for (const member of block) {
          if (Buffer.byteLength(member) > MEMBER_MAX) long.push(member);
          else if (piece.push(member) === PIECE_FILL) {
            pieces.push(piece);
            piece = [];
          }
          if (pieces.length === PIECES_PER_PIPELINE || long.length === VALUES_PER_COMMAND) await flush();
        }
      if (piece.length) pieces.push(piece);
      await flush();
    }
    return how;
  }

  /**
   * Tries RESTORE of a zsetDump payload on `key` (removed after, and expiring soon if this process
   * dies first): ZADD where the server refuses it or reads it otherwise (Redis before 7.0, users
   * whose ACL denies RESTORE). Only a refusal decides that: any other failure (Redis unreachable,
   * out of memory, loading) is thrown, and the next run asks again.
   */
  private async probePieceWrites(key: string): Promise<PieceWrites> {
    const members = ["a\u0000", "b\u0000"];
    try {
      await this.client.restore(key, PROBE_TTL_MS, zsetDump(members), "REPLACE");
      const back = await this.client.zrange(key, "0", "-1");
      return back.join("\n") === members.join("\n") ? { by: "RESTORE" } : { by: "ZADD", refusal: "a restored set reads back otherwise" };
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof ReplyError && /^(ERR|NOPERM) /.test(message)) return { by: "ZADD", refusal: message };
      this.pieceWrites = null;
      throw err;
    } finally {
      await this.client.del(key).catch(() => {});
    }
  }

  /**
   * One compare-and-set attempt of a push update: reads the op's items in the serving generation
   * (journaling the op for a build in progress) or in a given generation being built, plans the
   * change from them and applies it unless a record changed meanwhile.
   */
  async tryPush(
    type: ItemType,
    op: PushOp,
    target: { building: string } | "serving",
    plan: (current: Map<string, ItemRecord | null>, form: MemberForm) => PushPlan,
  ): Promise<PushAttempt> {
    const skus = skusOf(op);
    const read = (await runScript(
      this.client,
      READ_PUSH,
      1,
      this.keys.current(type),
      this.keys.typeBase(type),
      target === "serving" ? "" : target.building,
      ...skus,
    )) as [string, string, string, (string | null)[]] | null;
    if (!read) return "no-index";
    const [gen, ids, cut, raw] = read;
    // A generation written before short ids or cut names keeps its form, so a push's removals find its members.
    const form: MemberForm = { ids: ids === "short" ? "short" : "hex", cut: cut === "1" };
    const planned = plan(new Map(skus.map((sku, i) => [sku, raw[i] ? decodeRecord(raw[i]!) : null])), form);
    const stage = this.keys.stage(type, crypto.randomUUID());
    const staged = planned.changes.flat();
    // Most pushes' member changes go with the script's call; a larger one's wait in a list first,
    // a few pipelines in turn, so no command waits behind so many others that it times out.
    const inline = staged.length + 3 * skus.length <= VALUES_PER_COMMAND;
    if (!inline) {
      for (const commands of chunks(chunks(staged, VALUES_PER_COMMAND), STAGE_PIPELINE)) {
        const pipe = this.client.pipeline();
        for (const part of commands) pipe.rpush(stage, ...part);
        pipe.pexpire(stage, STAGE_TTL_MS);
        await execPipeline(pipe);
      }
    }
    const mode = target === "serving" ? "serving" : "building";
    const args: (string | number)[] = [this.keys.typeBase(type), gen, mode, JSON.stringify(op), planned.entriesDelta, staged.length, skus.length];
    skus.forEach((sku, i) => {
      const next = planned.records.get(sku);
      args.push(sku, raw[i] ?? "", next ? encodeRecord(next) : "");
    });
    if (inline) args.push("args", ...staged);
    else args.push("list");
    const keys = [this.keys.current(type), this.keys.building(type), this.keys.journal(type), stage];
    const outcome = await runScriptWithin(this.client, PUSH_SCRIPT_TIMEOUT_MS, APPLY_PUSH, keys.length, ...keys, ...args);
    return outcome === 1 ? planned : "conflict";
  }

  /** Makes `gen` the serving generation of `type`, replaying pushes journaled during its build. */
  async publish(type: ItemType, gen: string, token: string, replay: (ops: string[]) => Promise<void>): Promise<PublishOutcome> {
    const journal = this.keys.journal(type);
    let applied = 0;
    for (;;) {
      const ops = await this.client.lrange(journal, applied, -1);
      if (ops.length) {
        await replay(ops);
        applied += ops.length;
      }
      const [ok, detail] = (await runScript(
        this.client,
        PUBLISH,
        5,
        this.keys.current(type),
        this.keys.owner(type),
        this.keys.building(type),
        journal,
        this.keys.gens(type),
        gen,
        token,
        applied,
      )) as [number, string];
      if (ok === 1) return { published: true, previous: detail || null };
      if (detail === "fence") return { published: false, reason: "fence" };
    }
  }

  /** Drops a generation that will not be published, and the markers of its build (if still ours). */
  async abandon(type: ItemType, gen: string, token: string): Promise<void> {
    await runScript(this.client, ABANDON, 3, this.keys.owner(type), this.keys.building(type), this.keys.journal(type), token, gen);
    await this.unlinkGeneration(type, gen);
  }

  /**
   * Removes every generation of `type` except the serving one (leftovers of failed or crashed runs,
   * and the one a publish replaced); `between` runs after each batch of keys.
   */
  async removeStale(type: ItemType, between: () => void = () => {}): Promise<number> {
    const [current, gens] = await Promise.all([this.currentGen(type), this.client.smembers(this.keys.gens(type))]);
    let removed = 0;
    for (const gen of gens) {
      if (gen === current) continue;
      await this.unlinkGeneration(type, gen, between);
      removed++;
    }
    return removed;
  }

  /**
   * UNLINKs a generation's keys, its pieces read a page of their index at a time (a generation of
   * 1,000,000 documents has some 50,000 per type) and unlinked once a page of them is gathered
   * across languages, so a small generation goes in few round trips; `between` runs after each page.
   * Safe to repeat: an index goes after its pieces, the list of languages last.
   */
  async unlinkGeneration(type: ItemType, gen: string, between: () => void = () => {}): Promise<void> {
    const g = this.keys.gen(type, gen);
    let gathered: string[] = [];
    for (const iso of await this.client.smembers(g.isos)) {
      for (const kind of ["phrase", "word"] as const) {
        const ix = g.pieceIndex(kind, iso);
        for (let from = 0; ; from += INDEX_PAGE) {
          const page = await this.client.zrange(ix, String(from), String(from + INDEX_PAGE - 1));
          for (const entry of page) gathered.push(g.piece(kind, iso, entry));
          if (gathered.length >= INDEX_PAGE) {
            await this.unlinkKeys(gathered);
            gathered = [];
            between();
          }
          if (page.length < INDEX_PAGE) break;
        }
        gathered.push(g.set(kind, iso), g.plain(kind, iso), ix);
      }
    }
    await this.unlinkKeys([...gathered, g.items, g.vocab, g.isos, g.meta]);
    await this.client.srem(this.keys.gens(type), gen);
  }

  /**
   * Empties the index of these types: the serving pointers first, so search answers empty at once,
   * then every other key of each type (every generation, build markers, journal), found by SCAN.
   * The run lock, status and scheduler keys are not the index's and stay.
   */
  async clear(types: readonly ItemType[]): Promise<void> {
    for (const type of types) await this.client.unlink(this.keys.current(type));
    for (const type of types) {
      await this.unlinkKeys(await scanKeys(this.client, this.keys.typeAll(type)));
    }
  }

  /** UNLINKs keys of one type, UNLINK_BATCH per command: they share the type's hash tag (one slot in Redis Cluster). */
  private async unlinkKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) await this.client.unlink(...keys.slice(i, i + UNLINK_BATCH));
  }

  // Search reads the serving generation by script, so each read checks it still serves.

  /** "<serving generation>:<push updates applied to it>", or null before any publish (search cache state). */
  async servingState(type: ItemType): Promise<string | null> {
    return (await runScript(this.client, SERVING_STATE, 1, this.keys.current(type), this.keys.typeBase(type))) as string | null;
  }

  /** Phrase-prefix and word-prefix hits in the serving generation, in one round trip; null before any publish (PREFIX_SEARCH). */
  async prefixHits(type: ItemType, q: PrefixQuery): Promise<PrefixHits | null> {
    const reply = (await runScript(
      this.client,
      PREFIX_SEARCH,
      1,
      this.keys.current(type),
      this.keys.typeBase(type),
      q.iso,
      q.phrase,
      q.limit,
      q.wordCandidates,
      q.languages?.state ?? "",
      q.languages?.words.map(languagesArg).join(";") ?? "",
      ...q.words,
    )) as [string, string, string[], string[], string[], number, number[], RunsReply, RunsReply, number, number] | [];
    if (reply.length === 0) return null;
    const [gen, vocabVersion, phraseHits, wordHits, nameHits, driver, counts, wordRuns, nameRuns, unsure, languagesTaken] = reply;
    return {
      gen,
      vocabVersion,
      phraseHits: languageHits(phraseHits),
      wordHits: languageHits(wordHits),
      nameHits: languageHits(nameHits),
      driver,
      counts,
      wordRuns: runs(wordRuns),
      nameRuns: runs(nameRuns),
      namesUnsure: unsure === 1,
      languagesTaken: languagesTaken === 1,
    };
  }

  /**
   * Word hits of query words expanded through the vocabulary, read for the one with the fewest
   * members (`driver`, 0-based), and runs as prefixHits gives them, in one round trip; null if
   * `gen` no longer serves.
   */
  async expandedHits(
    type: ItemType,
    gen: string,
    q: { iso: string; limit: number; wordCandidates: number; words: ExpandedWord[]; vocabulary: string },
  ): Promise<{ driver: number; hits: LanguageHits[]; runs: Run[] } | null> {
    const args: (string | number)[] = [];
    for (const w of q.words) {
      args.push(w.prefix, languagesArg(w.languages), w.count, w.read ? 1 : 0, w.words.length);
      for (const e of w.words) args.push(e.word, languagesArg(e.languages));
    }
    const reply = (await runScript(
      this.client,
      EXPANDED_SEARCH,
      1,
      this.keys.current(type),
      this.keys.typeBase(type),
      gen,
      q.iso,
      q.limit,
      q.wordCandidates,
      q.vocabulary,
      q.words.length,
      ...args,
    )) as [number, string[], RunsReply] | null;
    return reply === null ? null : { driver: reply[0] - 1, hits: languageHits(reply[1]), runs: runs(reply[2]) };
  }

  /** The distinct words of a generation, sorted. */
  async vocabulary(type: ItemType, gen: string): Promise<string[]> {
    return this.client.zrange(this.keys.gen(type, gen).vocab, "0", "-1");
  }

  /** Records of the items in generation `gen`; null if one is missing and `gen` no longer serves (removed, or being removed). */
  async servingItems(type: ItemType, gen: string, skus: string[]): Promise<Map<string, ItemRecord> | null> {
    // No script: turning the records into Lua strings and back cost Redis more than reading them.
    // A generation's records go last when it is removed, after it stopped serving, and a search
    // may answer from the generation it began in: only a missing record needs the serving
    // generation read, to tell an item removed from a generation removed.
    const raw = await this.client.hmgetBuffer(this.keys.gen(type, gen).items, ...skus);
    if (raw.includes(null) && (await this.currentGen(type)) !== gen) return null;
    const out = new Map<string, ItemRecord>();
    skus.forEach((sku, i) => {
      if (raw[i]) out.set(sku, this.parseRecord(sku, raw[i]!));
    });
    return out;
  }

  // Popular items come back in many searches: parsing their JSON was the largest single cost of
  // a search, and decoding its bytes to text the next. Reused only while the stored bytes are the
  // same (a changed record is decoded and parsed again).
  private readonly parsedRecords = new Map<string, { bytes: Buffer; record: ItemRecord }>();
  private parseRecord(sku: string, bytes: Buffer): ItemRecord {
    const cached = this.parsedRecords.get(sku);
    if (cached?.bytes.equals(bytes)) return cached.record;
    if (this.parsedRecords.size >= PARSED_RECORDS) this.parsedRecords.clear();
    const record = decodeRecord(bytes.toString());
    // A copy: the reply's bytes may be a view of a larger buffer read from the connection.
    this.parsedRecords.set(sku, { bytes: Buffer.from(bytes), record });
    return record;
  }
}

// Stored as JSON, an entry without its origin name when that is the item's origin name for its
// language (most are): [iso, display_name]. Records written before hold every origin name.
function encodeRecord(record: ItemRecord): string {
  return JSON.stringify({ ...record, e: record.e.map((e) => (e && e[2] === record.o[e[0]] ? [e[0], e[1]] : e)) });
}

/** An item record as stored (encodeRecord) → the whole record. */
export function decodeRecord(json: string): ItemRecord {
  const record = JSON.parse(json) as ItemRecord;
  for (const e of record.e as (string[] | null)[]) if (e?.length === 2) e.push(record.o[e[0]!]!);
  return record;
}

/** A search script's [iso, members joined, …] (MEMBER_SEPARATOR). */
function languageHits(flat: string[]): LanguageHits[] {
  const out: LanguageHits[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ iso: flat[i]!, members: flat[i + 1]!.split(MEMBER_SEPARATOR) });
  return out;
}

/** Runs as the scripts return them: iso, places, members joined, …. */
type RunsReply = (string | number)[];

function runs(flat: RunsReply): Run[] {
  const out: Run[] = [];
  for (let i = 0; i < flat.length; i += 3) {
    out.push({ iso: String(flat[i]), places: Number(flat[i + 1]), members: String(flat[i + 2]).split(MEMBER_SEPARATOR) });
  }
  return out;
}

/** A phrase or word set's name in a SetSorter. */
function setName(kind: SetKind, iso: string): string {
  return `${kind}\u0000${iso}`;
}
function parseSetName(name: string): [SetKind, string] {
  const at = name.indexOf("\u0000");
  return [name.slice(0, at) as SetKind, name.slice(at + 1)];
}

/** Runs a pipeline; throws the first command's error. */
async function execPipeline(pipe: ChainableCommander): Promise<void> {
  const failed = (await pipe.exec())?.find(([err]) => err);
  if (failed) throw failed[0];
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** ZADDs members with score 0, a bounded number per command. */
function zaddAll(pipe: ChainableCommander, key: string, members: string[]): void {
  for (const part of chunks(members, VALUES_PER_COMMAND / 2)) pipe.zadd(key, ...scored(part));
}

function scored(members: string[]): string[] {
  const out: string[] = new Array(members.length * 2);
  for (let i = 0; i < members.length; i++) {
    out[2 * i] = "0";
    out[2 * i + 1] = members[i]!;
  }
  return out;
}
