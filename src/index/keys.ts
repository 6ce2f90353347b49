// The Redis layout, in one place. Every key starts with the configured prefix. All keys of
// one item type carry the hash tag {type}, so in Redis Cluster they share a slot and the
// scripts that publish, search and push can touch them together.
//
//   <p>lock                      run lock: "<run_id> <token>", with expiry
//   <p>status                    JSON of the last/active run (GET /sync-status)
//   <p>scheduler:tick:<job>:<s>  claim of one scheduler tick by one replica (expires)
//   <p>{type}:cur                generation id serving search
//   <p>{type}:gens               set of generation ids that have keys (for cleanup)
//   <p>{type}:owner              token of the run allowed to publish this type (fence)
//   <p>{type}:building           generation id being built (expires with the run lock)
//   <p>{type}:journal            push updates made while a generation is being built
//   <p>{type}:g:<gen>:items      hash sku → item record JSON
//   <p>{type}:g:<gen>:meta       hash: entries, items, run_id, created_at, vocab_version, updates (push count)
//   <p>{type}:g:<gen>:isos       set of the languages present
//   <p>{type}:g:<gen>:phrase:<iso> zset (score 0) "<normalised display_name>\0<entry id>"
//   <p>{type}:g:<gen>:word:<iso>   zset (score 0) "<normalised word>\0<entry id>"
//   <p>{type}:g:<gen>:vocab      zset (score 0) of distinct normalised words
import { type ItemType, SEARCH_NAME } from "../catalog/types.ts";

export class Keys {
  constructor(readonly prefix: string) {}

  get lock(): string {
    return `${this.prefix}lock`;
  }
  get status(): string {
    return `${this.prefix}status`;
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
  gen(type: ItemType, gen: string): GenKeys {
    return new GenKeys(`${this.typeBase(type)}g:${gen}:`);
  }
  /** A pattern matching every key of ours (for counting keys under the prefix). */
  get all(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  }
}

export class GenKeys {
  constructor(readonly base: string) {}
  get items(): string {
    return `${this.base}items`;
  }
  get meta(): string {
    return `${this.base}meta`;
  }
  get isos(): string {
    return `${this.base}isos`;
  }
  get vocab(): string {
    return `${this.base}vocab`;
  }
  phrase(iso: string): string {
    return `${this.base}phrase:${iso}`;
  }
  word(iso: string): string {
    return `${this.base}word:${iso}`;
  }
}
