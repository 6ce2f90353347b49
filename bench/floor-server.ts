// The floor of bench/peer.ts: the least any search over search-sync's index can cost a request on
// this machine, with the same endpoints and answer shape. One round trip per request: one script
// reads the members of the first query word's prefix from the one piece of one language's word set
// holding it (no other language, word, piece or typo; no ranking) and the records of their items.
// Its requests per second bound what a real search over the index can reach here.
//   PORT=… REDIS_URL=redis://… REDIS_KEY_PREFIX=… bun bench/floor-server.ts
import { Redis } from "ioredis";
import { ID_ALPHABET, toEntry } from "../src/catalog/entries.ts";
import { words } from "../src/catalog/normalize.ts";
import { type Entry, ITEM_TYPES, type ItemType } from "../src/catalog/types.ts";
import { Keys, LUA_GEN_KEYS } from "../src/index/keys.ts";
import { decodeRecord } from "../src/index/store.ts";
import { serveSearch } from "./peer-server.ts";
import { SEARCH_PATHS } from "./wrk.ts";

// KEYS: current. ARGV: type base, iso, word, limit. Returns [sku, position, record, …].
// Entry ids in the short form (entries.ts) turn back into skus here: 2 characters → 3 hex digits.
const FLOOR_SEARCH = `${LUA_GEN_KEYS}
local ALPHABET = '${ID_ALPHABET}'
local gen = redis.call('GET', KEYS[1])
if not gen then return {} end
local set = gen_keys(ARGV[1], gen).set('word', ARGV[2])
local w = ARGV[3]
local e = redis.call('ZREVRANGEBYLEX', set.ix, '[' .. w .. '\\0\\0\\255', '-', 'LIMIT', 0, 1)[1]
if not e then return {} end
local piece = set.piece(string.sub(e, string.find(e, '\\0\\0', 1, true) + 2))
local members = redis.call('ZRANGEBYLEX', piece, '[' .. w, '[' .. w .. '\\255', 'LIMIT', 0, tonumber(ARGV[4]))
if #members == 0 then return {} end
local out, skus = {}, {}
for _, m in ipairs(members) do
  local id = string.match(m, '%z([^%z]*)$')
  local item, position = string.match(id, '^(.*)%.(%w+)$')
  if #item == 16 then
    local hex = ''
    for i = 1, 16, 2 do
      local v = (string.find(ALPHABET, string.sub(item, i, i), 1, true) - 1) * 64 + string.find(ALPHABET, string.sub(item, i + 1, i + 1), 1, true) - 1
      hex = hex .. string.format('%03x', v)
    end
    item = hex
  end
  skus[#skus + 1] = item
  out[#out + 1] = item
  out[#out + 1] = position
  out[#out + 1] = false
end
local records = redis.call('HMGET', gen_keys(ARGV[1], gen).items, unpack(skus))
for i = 1, #records do out[3 * i] = records[i] end
return out`;

const keys = new Keys(process.env.REDIS_KEY_PREFIX ?? "");
const TYPE_OF = new Map<string, ItemType>(ITEM_TYPES.map((type) => [SEARCH_PATHS[type], type]));

if (import.meta.main) {
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  redis.defineCommand("floorSearch", { numberOfKeys: 1, lua: FLOOR_SEARCH });
  const floorSearch = (type: ItemType, iso: string, word: string, limit: number) =>
    (redis as unknown as { floorSearch(...args: (string | number)[]): Promise<(string | null)[]> }).floorSearch(
      keys.current(type),
      keys.typeBase(type),
      iso,
      word,
      limit,
    );
  serveSearch(8101, async ({ path, query, iso, limit }) => {
    const type = TYPE_OF.get(path);
    if (!type) return null;
    const first = words(query)[0];
    if (!first) return [];
    const reply = await floorSearch(type, (iso ?? "en").toLowerCase(), first, limit);
    const suggestions: Entry[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const record = reply[i + 2];
      const entry = record ? toEntry(reply[i]!, decodeRecord(record), Number.parseInt(reply[i + 1]!, 36)) : null;
      if (entry) suggestions.push(entry);
    }
    return suggestions;
  });
}
