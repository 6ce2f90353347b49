// Shared by the sync.*.test.ts files: catalogs, atomic reads of the serving index, key shapes.
import type { Cluster, Redis } from "ioredis";
import { type Db, type Document, type MongoClient, ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { ITEM_TYPES, type ItemType } from "../src/catalog/types.ts";
import { LUA_GEN_KEYS } from "../src/index/keys.ts";
import { LUA_PIECES } from "../src/index/scripts.ts";
import type { IndexStore } from "../src/index/store.ts";
import { SyncEngine } from "../src/runs/engine.ts";
import { type HeldLock, RunLock } from "../src/runs/lock.ts";
import { CatalogSource } from "../src/source/mongo.ts";
import { scanAll } from "./env.ts";

export { servingEntries, sortEntries } from "../scripts/lib/entries.ts";

export const TYPE_CODE: Record<ItemType, number> = { categories: 1, boxes: 2, options: 3 };
export const SUPPLIER: Record<ItemType, string> = { categories: "supplier_categories", boxes: "supplier_boxes", options: "supplier_options" };

/** A deterministic ObjectId: 0x65 + type code + kind (0 origin, 1 supplier) + index. */
export function oid(type: ItemType, kind: 0 | 1, index: number): ObjectId {
  return new ObjectId(`65${TYPE_CODE[type]}${kind}${index.toString(16).padStart(20, "0")}`);
}

/**
 * A plain catalog of `origins` origins per type, each with an en and an nl name, plus one supplier
 * per origin adding a de name. Entries per type: 3 × origins.
 */
export async function seedLarge(db: Db, types: readonly ItemType[], origins: number, from = 0): Promise<void> {
  for (const type of types) {
    const originDocs = [];
    const supplierDocs = [];
    for (let i = from; i < from + origins; i++) {
      originDocs.push({
        _id: oid(type, 0, i),
        name: `${type} item ${i}`,
        slug: `${type}-item-${i}`,
        display_name: [
          { iso: "en", display_name: `${type} item ${i}` },
          { iso: "nl", display_name: `${type} artikel ${i}` },
        ],
      });
      supplierDocs.push({ _id: oid(type, 1, i), linked: oid(type, 0, i), display_name: [{ iso: "de", display_name: `${type} Artikel ${i}` }] });
    }
    for (let i = 0; i < originDocs.length; i += 1000) await db.collection(type).insertMany(originDocs.slice(i, i + 1000));
    for (let i = 0; i < supplierDocs.length; i += 1000) await db.collection(SUPPLIER[type]).insertMany(supplierDocs.slice(i, i + 1000));
  }
}

// Reads, in one atomic step, what search would see: the serving generation, its item count,
// its entry count, and the members of its sorted sets.
const SNAPSHOT = `${LUA_GEN_KEYS}${LUA_PIECES}
local gen = redis.call('GET', KEYS[1])
if not gen then return {'', 0, 0, 0} end
local k = gen_keys(ARGV[1], gen)
local phrases = 0
for _, iso in ipairs(redis.call('SMEMBERS', k.isos)) do phrases = phrases + piece_count(k.set('phrase', iso), nil, nil) end
return {gen, redis.call('HLEN', k.items), tonumber(redis.call('HGET', k.meta, 'entries') or '-1'), phrases}`;

export interface Snapshot {
  gen: string;
  items: number;
  entries: number;
  phrases: number;
}

export async function snapshot({ redis, store }: Pick<Services, "redis" | "store">, type: ItemType): Promise<Snapshot> {
  const [gen, items, entries, phrases] = (await redis.eval(SNAPSHOT, 1, store.keys.current(type), store.keys.typeBase(type))) as [
    string,
    number,
    number,
    number,
  ];
  return { gen, items, entries, phrases };
}

/** Keys with generation ids replaced by <gen>, so two clean states compare equal. */
export function keyShape(keys: string[], gens: string[]): string[] {
  return [
    ...new Set(
      keys.map((k) => {
        let out = k;
        for (const g of gens) out = out.split(`:g:${g}:`).join(":g:<gen>:");
        // A set's pieces are numbered as they are made: one shape for all of them.
        return out.replace(/#\d+:/, "#<piece>:");
      }),
    ),
  ].sort();
}

/** Every generation id mentioned by a key. */
export function gensIn(keys: string[]): string[] {
  return [...new Set(keys.map((k) => /:g:([^:]+):/.exec(k)?.[1]).filter((g): g is string => !!g))];
}

/** Keys and values of one type's keys (everything under `<prefix>{name}:`), for "untouched" checks. */
export async function dumpType(redis: Redis | Cluster, store: IndexStore, type: ItemType): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const pattern = `${store.keys.typeBase(type).replace(/[*?[\]\\]/g, "\\$&")}*`;
  for (const key of await scanAll(redis, pattern)) {
    const dump = await redis.dumpBuffer(key);
    out[key] = dump ? dump.toString("base64") : "";
  }
  return out;
}

export { ITEM_TYPES };

/**
 * The real MongoDB source, stopping before its `at`-th batch (counted over every collection a run
 * reads, from 0) until released: a run that is surely still building while a test acts, however
 * slow or fast the machine.
 */
export class HeldSource extends CatalogSource {
  private served = 0;
  private open = false;
  private opened!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.opened = resolve));
  private reached!: () => void;
  /** Resolves when the run first waits at the gate. */
  readonly held = new Promise<void>((resolve) => (this.reached = resolve));

  constructor(
    client: MongoClient,
    dbName: string,
    private readonly at: number,
  ) {
    super(client, dbName);
  }
  override async *batches(collection: string, projection: Document, batchSize: number): AsyncGenerator<Document[]> {
    for await (const batch of super.batches(collection, projection, batchSize)) {
      if (!this.open && this.served++ >= this.at) {
        this.reached();
        await this.gate;
      }
      yield batch;
    }
  }
  release(): void {
    this.open = true;
    this.opened();
  }
}

/**
 * An engine over the same services whose run stops before its `at`-th batch until `release()`;
 * `held` resolves once it waits there. `lock` replaces the services' run lock (e.g. to watch renewals).
 */
export function heldEngine(s: Services, opts: { at?: number; lock?: RunLock } = {}): { engine: SyncEngine; held: Promise<void>; release(): void } {
  const source = new HeldSource(s.mongo, s.config.dbName, opts.at ?? 1);
  return { engine: engineWith(s, source, opts.lock), held: source.held, release: () => source.release() };
}

/** The real MongoDB source, pausing `delayMs` before each batch. */
class SlowSource extends CatalogSource {
  constructor(
    client: MongoClient,
    dbName: string,
    private readonly delayMs: number,
  ) {
    super(client, dbName);
  }
  override async *batches(collection: string, projection: Document, batchSize: number): AsyncGenerator<Document[]> {
    for await (const batch of super.batches(collection, projection, batchSize)) {
      await Bun.sleep(this.delayMs);
      yield batch;
    }
  }
}

/** An engine over the same services whose source pauses `delayMs` before each batch. */
export function slowEngine(s: Services, delayMs: number): SyncEngine {
  return engineWith(s, new SlowSource(s.mongo, s.config.dbName, delayMs));
}

function engineWith(s: Services, source: CatalogSource, lock: RunLock = s.lock): SyncEngine {
  return new SyncEngine({ config: s.config, store: s.store, lock, source, history: s.history, status: s.status, logger: s.logger });
}

/** The services' run lock, telling when a renewal is refused (the run has lost its lock). */
export class WatchedLock extends RunLock {
  private refused!: () => void;
  /** Resolves at the first renewal Redis refused. */
  readonly lost = new Promise<void>((resolve) => (this.refused = resolve));
  constructor(s: Services) {
    super(s.redis, s.keys.lock, s.config.lockTtlMs);
  }
  override async renew(lock: HeldLock): Promise<boolean> {
    const ok = await super.renew(lock);
    if (!ok) this.refused();
    return ok;
  }
}

/** Polls `check` every 20 ms until it is true (or fails after `ms`). */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}
