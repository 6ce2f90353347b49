// The change follower's state in Redis: where each stream is (resume tokens) and where each supplier
// links (to find the origin a supplier left: delete and update events do not carry the old document).
// Every write checks, in the same script, that this follower still holds the lease: a follower that
// lost it (a replica that stalled) must not move the tokens or links of the one that took over.
import { BSON, type ResumeToken } from "mongodb";
import type { ItemType } from "../catalog/types.ts";
import type { Keys } from "../index/keys.ts";
import { type RedisClient, runScript } from "../platform/redis.ts";
import { type HeldLock, lockValue } from "../runs/lock.ts";

// KEYS: lease, links, tokens. ARGV: lease value, n links, n × (supplier, sku or '' to forget), tokens as (collection, token)….
const COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
local i = 3
for _ = 1, n do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[2], ARGV[i]) else redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
  i = i + 2
end
while i < #ARGV do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1`;

// KEYS: lease, then the keys to drop. ARGV: lease value.
const FORGET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #KEYS do redis.call('UNLINK', KEYS[i]) end
return 1`;

export class FollowerState {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** The stored resume token of each collection's stream. */
  async tokens(): Promise<Map<string, ResumeToken>> {
    const raw = await this.redis.hgetall(this.keys.changesTokens);
    return new Map(Object.entries(raw).map(([collection, text]) => [collection, BSON.EJSON.parse(text) as ResumeToken]));
  }

  /** Where the given suppliers link, as last seen (null: not known or nowhere). */
  async links(type: ItemType, suppliers: string[]): Promise<(string | null)[]> {
    if (suppliers.length === 0) return [];
    return this.redis.hmget(this.keys.supplierLinks(type), ...suppliers);
  }

  /**
   * Records supplier links (null forgets one) and stream positions, if `lease` is still held.
   * False when it is not: nothing was written.
   */
  async commit(lease: HeldLock, type: ItemType, links: Map<string, string | null>, tokens: Map<string, ResumeToken> = new Map()): Promise<boolean> {
    const args: string[] = [lockValue(lease), String(links.size)];
    for (const [supplier, sku] of links) args.push(supplier, sku ?? "");
    for (const [collection, token] of tokens) args.push(collection, BSON.EJSON.stringify(token));
    const keys = [this.keys.changesLease, this.keys.supplierLinks(type), this.keys.changesTokens];
    return (await runScript(this.redis, COMMIT, 3, ...keys, ...args)) === 1;
  }

  /**
   * Drops every link, in either form, and unless `keepTokens` every token (before they are rebuilt
   * from scratch), if `lease` is still held.
   */
  async forget(lease: HeldLock, types: readonly ItemType[], keepTokens = false): Promise<boolean> {
    const links = types.flatMap((type) => [this.keys.supplierLinks(type), this.keys.legacySupplierLinks(type)]);
    const keys = [this.keys.changesLease, ...(keepTokens ? [] : [this.keys.changesTokens]), ...links];
    return (await runScript(this.redis, FORGET, keys.length, ...keys, lockValue(lease))) === 1;
  }

  /** Whether links in the form before supplierKey are stored: they must be rebuilt. */
  async hasLegacyLinks(types: readonly ItemType[]): Promise<boolean> {
    return (await this.redis.exists(...types.map((type) => this.keys.legacySupplierLinks(type)))) > 0;
  }
}
