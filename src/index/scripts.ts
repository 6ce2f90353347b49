// Every Lua script of the index. Scripts that reach into a generation are given Keys.typeBase and
// derive the generation's keys with gen_keys (keys.ts), never by spelling the layout out here.
import { LUA_GEN_KEYS } from "./keys.ts";

// Switches the serving generation if this run still owns the type (fence) and every push
// journaled during the build has been replayed into the new generation.
// KEYS: current, owner, building, journal, gens. ARGV: gen, token, journal entries applied.
export const PUBLISH = `
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return {0, 'fence'} end
if redis.call('LLEN', KEYS[4]) ~= tonumber(ARGV[3]) then return {0, 'journal'} end
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return {1, previous or ''}`;

// Drops the build markers of a type only if they are still this run's: a run that lost its lock
// must not remove the fence, marker and journal of the run that took over.
// KEYS: owner, building, journal. ARGV: token, gen.
export const ABANDON = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[3]) end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1`;

// Applies a push plan if the records are still as read (compare-and-set). With ARGV[3] = 'serving'
// it also checks the generation still serves, and journals the op while a new one is built. The
// member changes wait in a list (KEYS[4], written in bounded commands and read here a page at a
// time), so a push of any size within the limits is still one atomic step; the list is dropped.
// KEYS: current, building, journal, staged changes as (kind, iso, member)….
// ARGV: type base, gen, mode, op, entries delta, staged length, n, n × (sku, read, next).
export const APPLY_PUSH = `${LUA_GEN_KEYS}
local base, gen, mode, op, staged = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6])
local function done(result)
  redis.call('DEL', KEYS[4])
  return result
end
if mode == 'serving' and redis.call('GET', KEYS[1]) ~= gen then return done(-1) end
-- A staged list that expired before this ran counts as a conflict: the push is tried again.
if redis.call('LLEN', KEYS[4]) ~= staged then return done(0) end
local k = gen_keys(base, gen)
local last = 7 + 3 * tonumber(ARGV[7])
for i = 8, last, 3 do
  if (redis.call('HGET', k.items, ARGV[i]) or '') ~= ARGV[i + 1] then return done(0) end
end
for i = 8, last, 3 do
  if ARGV[i + 2] == '' then redis.call('HDEL', k.items, ARGV[i]) else redis.call('HSET', k.items, ARGV[i], ARGV[i + 2]) end
end
local vocab_added = 0
for from = 0, staged - 1, 900 do
  local page = redis.call('LRANGE', KEYS[4], from, from + 899)
  for i = 1, #page, 3 do
    local kind, iso, member = page[i], page[i + 1], page[i + 2]
    if kind == 'pa' then redis.call('ZADD', k.phrase(iso), 0, member); redis.call('SADD', k.isos, iso)
    elseif kind == 'pr' then redis.call('ZREM', k.phrase(iso), member)
    elseif kind == 'wa' then redis.call('ZADD', k.word(iso), 0, member)
    elseif kind == 'wr' then redis.call('ZREM', k.word(iso), member)
    elseif kind == 'v' then vocab_added = vocab_added + redis.call('ZADD', k.vocab, 0, member) end
  end
end
redis.call('HINCRBY', k.meta, 'entries', ARGV[5])
if vocab_added > 0 then redis.call('HINCRBY', k.meta, 'vocab_version', 1) end
redis.call('HINCRBY', k.meta, 'updates', 1)
if mode == 'serving' and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RPUSH', KEYS[3], op) end
return done(1)`;

// The keys of one type, counted from its own records rather than a SCAN: its markers, and each
// registered generation's keys (two sorted sets per language). The cost follows the index, not
// the keyspace.
// KEYS: current, gens, owner, building, journal. ARGV: type base.
export const KEY_COUNT = `${LUA_GEN_KEYS}
local n = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
for _, gen in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local k = gen_keys(ARGV[1], gen)
  n = n + redis.call('EXISTS', k.items, k.meta, k.isos, k.vocab)
  for _, iso in ipairs(redis.call('SMEMBERS', k.isos)) do n = n + redis.call('EXISTS', k.phrase(iso), k.word(iso)) end
end
return n`;

// "<serving generation>:<push updates applied to it>", or false before any publish: what a
// cached answer must have been read at to be used.
// KEYS: current. ARGV: type base.
export const SERVING_STATE = `${LUA_GEN_KEYS}
local gen = redis.call('GET', KEYS[1])
if not gen then return false end
return gen .. ':' .. (redis.call('HGET', gen_keys(ARGV[1], gen).meta, 'updates') or '0')`;

// A search script's hits come as [iso, members, iso, members, …], each language's members joined
// by this one character: a reply of a few strings costs the client far less to read than one of
// hundreds. Neither normalised text (letters, digits, spaces), nor entry ids, nor length marks hold it.
export const MEMBER_SEPARATOR = "\u007f";
const LUA_MEMBER_SEPARATOR = "'\\127'";

// One search's prefix reads, in one round trip. Returns {gen, vocab_version, phrase hits, word
// hits, name hits, driver, counts}, hits by language as above.
// Phrase members (display names starting with the query) come first. Only when they give fewer
// than `limit` entries (counted once per item and display name): the word members of the query
// word with the fewest (`driver`, its 1-based position; `counts` has every query word's), first
// of the entries' own display-name words, then, only when those still give fewer than `limit`
// entries whose display name has every query word, of the words found only through the item's
// name or origin name (members marked with \1, see members.ts). A single query word is not
// counted (`counts` stays empty).
// KEYS: current. ARGV: type base, iso ('' for all), query phrase, limit, word candidates, query words….
export const PREFIX_SEARCH = `${LUA_GEN_KEYS}
local base, iso, q, limit, cap = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local gen = redis.call('GET', KEYS[1])
if not gen then return {} end
local k = gen_keys(base, gen)
local isos = {iso}
if iso == '' then isos = redis.call('SMEMBERS', k.isos) end
local phrase_hits, word_hits, name_hits, counts, seen, distinct, driver = {}, {}, {}, {}, {}, 0, 0
for _, i in ipairs(isos) do
  local members
  if q == '' then members = redis.call('ZRANGEBYLEX', k.phrase(i), '-', '+', 'LIMIT', 0, limit)
  else members = redis.call('ZRANGEBYLEX', k.phrase(i), '[' .. q, '[' .. q .. '\\255', 'LIMIT', 0, limit) end
  if #members > 0 then
    phrase_hits[#phrase_hits + 1] = i
    phrase_hits[#phrase_hits + 1] = table.concat(members, ${LUA_MEMBER_SEPARATOR})
  end
  -- An entry is counted by "<display name>\\0<item>." (neither holds a dot), once enough are.
  for x = 1, distinct < limit and #members or 0 do
    local key = string.sub(members[x], 1, string.find(members[x], '.', 1, true))
    if not seen[key] then seen[key] = true; distinct = distinct + 1 end
  end
end
if #ARGV > 5 and distinct < limit then
  -- A single query word drives uncounted: reading its members costs no more than counting them.
  local best_count = nil
  if #ARGV == 6 then driver = 1 end
  for t = 6, #ARGV > 6 and #ARGV or 0 do
    local w, count = ARGV[t], 0
    for _, i in ipairs(isos) do
      count = count + redis.call('ZLEXCOUNT', k.word(i), '[' .. w, '[' .. w .. '\\255')
        + redis.call('ZLEXCOUNT', k.word(i), '[\\1' .. w, '[\\1' .. w .. '\\255')
    end
    counts[#counts + 1] = count
    if best_count == nil or count < best_count then driver, best_count = t - 5, count end
  end
  if best_count ~= 0 then
    local best, spaced = ARGV[driver + 5], {}
    for t = 6, #ARGV do spaced[t] = ' ' .. ARGV[t] end
    -- The candidate budget is shared by the languages searched, but each gets a page's worth.
    local each = math.max(limit + 10, math.floor(cap / #isos))
    for _, i in ipairs(isos) do
      local members = redis.call('ZRANGEBYLEX', k.word(i), '[' .. best, '[' .. best .. '\\255', 'LIMIT', 0, each)
      if #members > 0 then
        word_hits[#word_hits + 1] = i
        word_hits[#word_hits + 1] = table.concat(members, ${LUA_MEMBER_SEPARATOR})
      end
      for x = 1, distinct < limit and #members or 0 do
        local m = members[x]
        local from = string.find(m, '\\0', 1, true) + 1
        -- Skip the display name's length mark (two bytes below a space; members.ts).
        if string.byte(m, from) < 32 then from = from + 2 end
        -- Each other query word must start the display name or a word of it (the best one starts
        -- the member's own word). Past the display name, the entry id holds no space.
        local all = true
        for t = 6, #ARGV do
          if t ~= driver + 5 then
            local at = string.find(m, ARGV[t], from, true)
            if at ~= from and not (at and string.find(m, spaced[t], from, true)) then all = false; break end
          end
        end
        if all then
          local key = string.sub(m, from, string.find(m, '.', from, true))
          if not seen[key] then seen[key] = true; distinct = distinct + 1 end
        end
      end
    end
    if distinct < limit then
      for _, i in ipairs(isos) do
        local members = redis.call('ZRANGEBYLEX', k.word(i), '[\\1' .. best, '[\\1' .. best .. '\\255', 'LIMIT', 0, each)
        if #members > 0 then
          name_hits[#name_hits + 1] = i
          name_hits[#name_hits + 1] = table.concat(members, ${LUA_MEMBER_SEPARATOR})
        end
      end
    end
  end
end
return {gen, redis.call('HGET', k.meta, 'vocab_version') or '0', phrase_hits, word_hits, name_hits, driver, counts}`;

// Word hits of query words expanded through the vocabulary (infix and typo words), in generation
// ARGV[2] if it still serves; false if it does not. Each query word comes as: the word, how many
// members its prefix has (-1: not counted), 1 if its prefix members were read already, n, then n
// whole words it expands to. The query word whose prefix and words have the fewest members drives:
// its members are read, up to a budget per language for own words and again for name words.
// KEYS: current. ARGV: type base, gen, iso ('' for all), limit, word candidates, query words count, the query words….
// Returns {driver (1-based), hits by language as PREFIX_SEARCH's (own members, then name members)}.
export const EXPANDED_SEARCH = `${LUA_GEN_KEYS}
local base, gen, iso, limit, cap, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('GET', KEYS[1]) ~= gen then return false end
local k = gen_keys(base, gen)
local isos = {iso}
if iso == '' then isos = redis.call('SMEMBERS', k.isos) end
local groups, a = {}, 7
for t = 1, n do
  local g = {prefix = ARGV[a], count = tonumber(ARGV[a + 1]), read = ARGV[a + 2] == '1', words = {}}
  for x = 1, tonumber(ARGV[a + 3]) do g.words[x] = ARGV[a + 3 + x] end
  a = a + 4 + #g.words
  groups[t] = g
end
local function count(lo, hi)
  local c = 0
  for _, i in ipairs(isos) do
    c = c + redis.call('ZLEXCOUNT', k.word(i), '[' .. lo, '[' .. hi) + redis.call('ZLEXCOUNT', k.word(i), '[\\1' .. lo, '[\\1' .. hi)
  end
  return c
end
local driver, best = 1, nil
if n > 1 then
  -- Fewest prefix members first: counting a word's expansions stops once it cannot be the fewest.
  local order = {}
  for t, g in ipairs(groups) do
    if g.count < 0 then g.count = count(g.prefix, g.prefix .. '\\255') end
    order[t] = t
  end
  table.sort(order, function(x, y) return groups[x].count < groups[y].count end)
  for _, t in ipairs(order) do
    local g = groups[t]
    local c = g.count
    for _, w in ipairs(g.words) do
      if best ~= nil and c >= best then break end
      c = c + count(w .. '\\0', w .. '\\0\\255')
    end
    if best == nil or c < best then driver, best = t, c end
  end
end
local g = groups[driver]
local each = math.max(limit + 10, math.floor(cap / #isos))
local hits = {}
for _, mark in ipairs({'', '\\1'}) do
  for _, i in ipairs(isos) do
    local left, got = each, {}
    local function read(lo, hi)
      if left <= 0 then return end
      local members = redis.call('ZRANGEBYLEX', k.word(i), '[' .. mark .. lo, '[' .. mark .. hi, 'LIMIT', 0, left)
      left = left - #members
      for _, m in ipairs(members) do got[#got + 1] = m end
    end
    if not g.read then read(g.prefix, g.prefix .. '\\255') end
    for _, w in ipairs(g.words) do read(w .. '\\0', w .. '\\0\\255') end
    if #got > 0 then
      hits[#hits + 1] = i
      hits[#hits + 1] = table.concat(got, ${LUA_MEMBER_SEPARATOR})
    end
  end
end
return {driver, hits}`;
