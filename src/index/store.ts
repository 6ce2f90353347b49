// The Redis side of the index: generations of one type, their writing, publishing and cleanup.
import type { ChainableCommander } from "ioredis";
import type { ItemRecord } from "../catalog/entries.ts";
import type { ItemType } from "../catalog/types.ts";
import { type RedisClient, runScript } from "../platform/redis.ts";
import type { Keys } from "./keys.ts";
import { entryMembers, memberKey } from "./members.ts";
import { ABANDON, PUBLISH } from "./scripts.ts";

const UNLINK_BATCH = 100;

export interface ItemWrite {
  sku: string;
  record: ItemRecord;
  /** Entry positions new in this write (their members are added). */
  added: number[];
}

export type PublishOutcome = { published: true; previous: string | null } | { published: false; reason: "fence" };

export class IndexStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
  ) {}

  async currentGen(type: ItemType): Promise<string | null> {
    return this.redis.get(this.keys.current(type));
  }

  /** Entries in a generation (0 when it does not exist). */
  async entryCount(type: ItemType, gen: string | null): Promise<number> {
    if (!gen) return 0;
    return Number((await this.redis.hget(this.keys.gen(type, gen).meta, "entries")) ?? 0);
  }

  /** Registers a new generation before anything of it is written, so cleanup always finds it. */
  async begin(type: ItemType, gen: string, runId: string, token: string, ttlMs: number): Promise<void> {
    const g = this.keys.gen(type, gen);
    await this.redis
      .multi()
      .sadd(this.keys.gens(type), gen)
      .set(this.keys.owner(type), token)
      .set(this.keys.building(type), gen, "PX", ttlMs)
      .del(this.keys.journal(type))
      .hset(g.meta, { entries: 0, items: 0, run_id: runId, created_at: new Date().toISOString(), vocab_version: 0 })
      .exec();
  }

  /** Keeps the building marker alive as long as the run lock. */
  async touchBuilding(type: ItemType, ttlMs: number): Promise<void> {
    await this.redis.pexpire(this.keys.building(type), ttlMs);
  }

  async readItems(type: ItemType, gen: string, skus: string[]): Promise<(ItemRecord | null)[]> {
    if (skus.length === 0) return [];
    const values = await this.redis.hmget(this.keys.gen(type, gen).items, ...skus);
    return values.map((v) => (v ? (JSON.parse(v) as ItemRecord) : null));
  }

  /** Queues the writes of items (records and new entries' members) on a pipeline. Returns entries added. */
  queueItemWrites(pipe: ChainableCommander, type: ItemType, gen: string, writes: ItemWrite[], newItems: number): number {
    const g = this.keys.gen(type, gen);
    const phrases = new Map<string, string[]>();
    const wordsByIso = new Map<string, string[]>();
    const vocab = new Set<string>();
    const records: string[] = [];
    let added = 0;
    for (const { sku, record, added: positions } of writes) {
      records.push(sku, JSON.stringify(record));
      for (const position of positions) {
        const m = entryMembers(sku, record, position);
        if (!m) continue;
        added++;
        push(phrases, m.iso, m.phrase);
        for (const w of m.words) {
          push(wordsByIso, m.iso, w);
          vocab.add(memberKey(w));
        }
      }
    }
    if (records.length) pipe.hset(g.items, ...records);
    if (phrases.size) pipe.sadd(g.isos, ...phrases.keys());
    for (const [iso, members] of phrases) pipe.zadd(g.phrase(iso), ...scored(members));
    for (const [iso, members] of wordsByIso) pipe.zadd(g.word(iso), ...scored(members));
    if (vocab.size) pipe.zadd(g.vocab, ...scored([...vocab]));
    if (added) pipe.hincrby(g.meta, "entries", added);
    if (newItems) pipe.hincrby(g.meta, "items", newItems);
    return added;
  }

  /** Makes `gen` the serving generation of `type`, replaying pushes journaled during its build. */
  async publish(type: ItemType, gen: string, token: string, replay: (ops: string[]) => Promise<void>): Promise<PublishOutcome> {
    const journal = this.keys.journal(type);
    let applied = 0;
    for (;;) {
      const ops = await this.redis.lrange(journal, applied, -1);
      if (ops.length) {
        await replay(ops);
        applied += ops.length;
      }
      const [ok, detail] = (await runScript(
        this.redis,
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
    await runScript(this.redis, ABANDON, 3, this.keys.owner(type), this.keys.building(type), this.keys.journal(type), token, gen);
    await this.unlinkGeneration(type, gen);
  }

  /** Removes every generation of `type` except the serving one (leftovers of failed or crashed runs). */
  async removeStale(type: ItemType): Promise<number> {
    const [current, gens] = await Promise.all([this.currentGen(type), this.redis.smembers(this.keys.gens(type))]);
    let removed = 0;
    for (const gen of gens) {
      if (gen === current) continue;
      await this.unlinkGeneration(type, gen);
      removed++;
    }
    return removed;
  }

  /** UNLINKs a generation's keys in batches; safe to repeat. */
  async unlinkGeneration(type: ItemType, gen: string): Promise<void> {
    const g = this.keys.gen(type, gen);
    const isos = await this.redis.smembers(g.isos);
    const keys = [g.items, g.vocab, ...isos.flatMap((iso) => [g.phrase(iso), g.word(iso)]), g.isos, g.meta];
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
      // One key per command: in Redis Cluster a multi-key UNLINK is fine (one slot), but it keeps batches small.
      const pipe = this.redis.pipeline();
      for (const key of keys.slice(i, i + UNLINK_BATCH)) pipe.unlink(key);
      await pipe.exec();
    }
    await this.redis.srem(this.keys.gens(type), gen);
  }
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function scored(members: string[]): string[] {
  const out: string[] = new Array(members.length * 2);
  for (let i = 0; i < members.length; i++) {
    out[2 * i] = "0";
    out[2 * i + 1] = members[i]!;
  }
  return out;
}
