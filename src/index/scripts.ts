// Every Lua script of the index. Scripts that reach into a generation are given Keys.typeBase and
// derive the generation's keys with gen_keys (keys.ts), never by spelling the layout out here.
import { LUA_GEN_KEYS } from "./keys.ts";
import { CUT_MARK, ID_MAX, MEMBER_MAX } from "./members.ts";

// A search script's hits come as [iso, members, iso, members, …], each language's members joined
// by this one character: a reply of a few strings costs the client far less to read than one of
// hundreds. Neither normalised text (letters, digits, spaces), nor entry ids, nor length marks hold it.
export const MEMBER_SEPARATOR = "\u007f";
const LUA_MEMBER_SEPARATOR = "'\\127'";

// A phrase or word set kept in pieces, so Redis stores each in its compact listpack form (by
// default up to 128 members of up to 64 bytes): pieces hold consecutive ranges of the set, and
// its index (set.ix) names each piece by its first member, "<first>\0\0<id>" (members never
// hold two NULs in a row, so index members sort as their first members do, and a piece holds
// what sorts from its first member to the next piece's). Members longer than 64 bytes stay in
// the set's own zset (set.all), as every member of a generation written before pieces does:
// reads merge the two. Lua compares strings by locale, so the merge compares bytes itself.
// Bounds are inclusive strings, nil for no bound.
export const LUA_PIECES = `
local PIECE_MAX, MEMBER_MAX = 128, ${MEMBER_MAX}
local function piece_of(set, entry) return set.piece(string.sub(entry, string.find(entry, '\\0\\0', 1, true) + 2)) end
local function ix_bound(open, b) return open .. b .. '\\0\\0\\255' end
-- The index entry of the last piece whose first member is at most m, or else of the first piece
-- and true (m would become its first member).
local function piece_for(set, m)
  local e = redis.call('ZREVRANGEBYLEX', set.ix, ix_bound('[', m), '-', 'LIMIT', 0, 1)[1]
  if e then return e, false end
  return redis.call('ZRANGE', set.ix, 0, 0)[1], true
end
-- After a piece changed: its index entry follows its first member; an empty piece leaves the index.
local function reindex(set, entry, p)
  local first = redis.call('ZRANGE', p, 0, 0)[1]
  local id = string.sub(entry, string.find(entry, '\\0\\0', 1, true) + 2)
  if first == nil then redis.call('ZREM', set.ix, entry)
  elseif first .. '\\0\\0' .. id ~= entry then
    redis.call('ZREM', set.ix, entry)
    redis.call('ZADD', set.ix, 0, first .. '\\0\\0' .. id)
  end
end
local function new_piece(set, members)
  local id = redis.call('HINCRBY', set.meta, 'pieces', 1)
  -- Largest first: Redis then inserts each at the listpack's head instead of scanning to its end.
  local args = {}
  for i = #members, 1, -1 do args[#args + 1] = 0; args[#args + 1] = members[i] end
  redis.call('ZADD', set.piece(id), unpack(args))
  redis.call('ZADD', set.ix, 0, members[1] .. '\\0\\0' .. id)
end
-- Whether the set's own sorted set exists (long members, or a generation written before pieces):
-- most sets have none, and reads then skip it. Asked once per set and script call.
local function has_long(set)
  if set.long == nil then set.long = redis.call('EXISTS', set.all) == 1 end
  return set.long
end
local function piece_add(set, m)
  if #m > MEMBER_MAX then
    set.long = true
    return redis.call('ZADD', set.all, 0, m)
  end
  local e, first = piece_for(set, m)
  if not e then new_piece(set, {m}); return 1 end
  local p = piece_of(set, e)
  if redis.call('ZCARD', p) >= PIECE_MAX then
    if redis.call('ZSCORE', p, m) then return 0 end
    -- A full piece gives its upper half to a new one (before the add: a 129th member would make it a skiplist).
    local upper = redis.call('ZRANGE', p, PIECE_MAX / 2, -1)
    redis.call('ZREM', p, unpack(upper))
    new_piece(set, upper)
    e, first = piece_for(set, m)
    p = piece_of(set, e)
  end
  local added = redis.call('ZADD', p, 0, m)
  -- Only a member before the first piece becomes a piece's first member.
  if first then reindex(set, e, p) end
  return added
end
local function piece_rem(set, m)
  if #m <= MEMBER_MAX then
    local e, first = piece_for(set, m)
    if e and not first then
      local p = piece_of(set, e)
      if redis.call('ZREM', p, m) == 1 then
        if string.sub(e, 1, #m + 2) == m .. '\\0\\0' then reindex(set, e, p) end
        return 1
      end
    end
  end
  if not has_long(set) then return 0 end
  return redis.call('ZREM', set.all, m)
end
local function lex(b, edge) if b then return '[' .. b end return edge end
local byte = string.byte
local function bytes_before(x, y)
  for i = 1, math.min(#x, #y) do
    local a, b = byte(x, i), byte(y, i)
    if a ~= b then return a < b end
  end
  return #x < #y
end
-- Index entries of the pieces that may hold members from lo to hi: calls each(entry) in order until it returns true.
local function pieces_in(set, lo, hi, each)
  if lo and hi then
    -- Most ranges are a prefix's, within a piece or two: the last two pieces starting at most hi
    -- are all of them when either starts at most lo (no piece at all: none starts at most hi).
    local near, upto = redis.call('ZREVRANGEBYLEX', set.ix, ix_bound('[', hi), '-', 'LIMIT', 0, 2), lo .. '\\0\\0\\255'
    if not near[1] then return end
    if not bytes_before(upto, near[1]) then each(near[1]); return end
    if not near[2] then each(near[1]); return end
    if not bytes_before(upto, near[2]) then
      if not each(near[2]) then each(near[1]) end
      return
    end
  end
  if lo then
    local start = redis.call('ZREVRANGEBYLEX', set.ix, ix_bound('[', lo), '-', 'LIMIT', 0, 1)[1]
    if start and each(start) then return end
  end
  local from, to, offset = lo and ix_bound('(', lo) or '-', hi and ix_bound('[', hi) or '+', 0
  while true do
    local entries = redis.call('ZRANGEBYLEX', set.ix, from, to, 'LIMIT', offset, 64)
    for _, e in ipairs(entries) do if each(e) then return end end
    if #entries < 64 then return end
    offset = offset + 64
  end
end
-- The first \`limit\` members from lo to hi, in order.
local function piece_range(set, lo, hi, limit)
  local out = {}
  if limit <= 0 then return out end
  local min, max = lex(lo, '-'), lex(hi, '+')
  pieces_in(set, lo, hi, function(e)
    for _, m in ipairs(redis.call('ZRANGEBYLEX', piece_of(set, e), min, max, 'LIMIT', 0, limit - #out)) do out[#out + 1] = m end
    return #out >= limit
  end)
  if not has_long(set) then return out end
  local long = redis.call('ZRANGEBYLEX', set.all, min, max, 'LIMIT', 0, limit)
  if #long == 0 then return out end
  local merged, a, b = {}, 1, 1
  while #merged < limit and (a <= #out or b <= #long) do
    if b > #long or (a <= #out and bytes_before(out[a], long[b])) then merged[#merged + 1] = out[a]; a = a + 1
    else merged[#merged + 1] = long[b]; b = b + 1 end
  end
  return merged
end
-- How many members from lo to hi: pieces between the first and the last read lie wholly inside.
-- Given \`enough\`, it stops once it has counted that many and returns what it has (at least \`enough\`):
-- a prefix of a few letters spans a piece for every 64 to 128 members.
local function piece_count(set, lo, hi, enough)
  local min, max = lex(lo, '-'), lex(hi, '+')
  local n = has_long(set) and redis.call('ZLEXCOUNT', set.all, min, max) or 0
  local full = function() return enough ~= nil and n >= enough end
  if full() then return n end
  -- A piece is counted when the next one is found (so it is not the last), or at the end.
  local pending, first = nil, true
  local function add(e, last)
    if first or last then n = n + redis.call('ZLEXCOUNT', piece_of(set, e), min, max)
    else n = n + redis.call('ZCARD', piece_of(set, e)) end
    first = false
  end
  pieces_in(set, lo, hi, function(e)
    if pending then add(pending, false) end
    pending = e
    return full()
  end)
  if pending and not full() then add(pending, true) end
  return n
end
-- Word members from lo to hi in the word sets of the languages \`isos\` of generation keys \`k\`,
-- own and name (\\1, members.ts); given \`enough\`, at least that many once it has counted them.
local function word_count(k, isos, lo, hi, enough)
  local c = 0
  for _, i in ipairs(isos) do
    if enough and c >= enough then break end
    local set = k.set('word', i)
    c = c + piece_count(set, lo, hi, enough and enough - c)
    c = c + piece_count(set, '\\1' .. lo, '\\1' .. hi, enough and enough - c)
  end
  return c
end
-- Word members (members.ts). A member's display name runs from after its length mark (two bytes
-- below a space; absent in older members) to its last NUL, and ends with the cut mark when the
-- member carries it cut.
local CUT, ID_MAX = ${CUT_MARK.charCodeAt(0)}, ${ID_MAX}
local function word_parts(m)
  local first = string.find(m, '\\0', 1, true)
  local last = first
  while true do
    local nxt = string.find(m, '\\0', last + 1, true)
    if not nxt then break end
    last = nxt
  end
  local from = first + 1
  if byte(m, from) < 32 then from = from + 2 end
  return first, from, last, last > from and byte(m, last - 1) == CUT
end
-- Reads up to \`limit\` word members from lo to hi as piece_range does. A cut display name leaves
-- members of one word and length whose names agree up to the shortest cut unordered among
-- themselves; when the read stops inside such a run and the run holds a cut member, the run
-- (read on past the limit to its end) is returned apart with how many of its members the limit takes:
-- search orders it by the whole names. Returns members, run (or nil), places.
local function word_range(set, lo, hi, limit)
  local out = piece_range(set, lo, hi, limit)
  if limit <= 0 or #out < limit then return out, nil, 0 end
  local z = out[#out]
  local _, from = word_parts(z)
  if from == string.find(z, '\\0', 1, true) + 1 then return out, nil, 0 end
  -- Members of this word cut their names to between room - 3 and room bytes (whole characters).
  local room = MEMBER_MAX - ID_MAX - 2 - (from - 1)
  local tie = string.sub(z, 1, from - 1 + math.max(room - 3, 0))
  local after = piece_range(set, z, tie .. '\\255', 1e9)
  if #after < 2 then return out, nil, 0 end
  local run, cut = {}, false
  local start = #out + 1
  while start > 1 and string.sub(out[start - 1], 1, #tie) == tie do start = start - 1 end
  for i = start, #out do run[#run + 1] = out[i] end
  for i = 2, #after do run[#run + 1] = after[i] end
  for _, m in ipairs(run) do
    local _, _, _, c = word_parts(m)
    if c then cut = true; break end
  end
  if not cut then return out, nil, 0 end
  return {unpack(out, 1, start - 1)}, run, #out - start + 1
end
-- Appends a run as search takes it: iso, places, its members joined (MEMBER_SEPARATOR).
local function add_run(runs, i, run, places)
  if not run then return end
  runs[#runs + 1] = i
  runs[#runs + 1] = places
  runs[#runs + 1] = table.concat(run, ${LUA_MEMBER_SEPARATOR})
end
`;

// The languages a search reads a word in, as the vocabulary the service read tells them
// (members.ts): an argument "*" for any, else the languages comma-separated. A script takes them
// only while that vocabulary, "<gen>:<vocab version>", is still the serving generation's.
export const LANGUAGES_ANY = "*";
const LUA_LANGUAGES = `
local function vocabulary_current(state, gen, vocab_version)
  return state ~= '' and state == gen .. ':' .. vocab_version
end
-- A language argument as a set, or nil for any.
local function language_set(arg)
  if arg == '${LANGUAGES_ANY}' then return nil end
  local set = {}
  for i in string.gmatch(arg, '[^,]+') do set[i] = true end
  return set
end
-- The languages of \`isos\` in \`set\` (all for nil).
local function among(isos, set)
  if not set then return isos end
  local out = {}
  for _, i in ipairs(isos) do if set[i] then out[#out + 1] = i end end
  return out
end
`;

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
// member changes, as (kind, iso, member)…, follow the records ('args'), or, for a push too large
// for one command, wait in a list (KEYS[4], written in bounded commands and read here a page at a
// time: 'list'), so a push of any size within the limits is still one atomic step; the list is dropped.
// KEYS: current, building, journal, staged changes list.
// ARGV: type base, gen, mode, op, entries delta, changes' length, n, n × (sku, read, next), 'args' or 'list', changes if 'args'.
export const APPLY_PUSH = `${LUA_GEN_KEYS}${LUA_PIECES}
local base, gen, mode, op, staged = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6])
local last = 7 + 3 * tonumber(ARGV[7])
local listed = ARGV[last + 1] == 'list'
local function done(result)
  if listed then redis.call('DEL', KEYS[4]) end
  return result
end
if mode == 'serving' and redis.call('GET', KEYS[1]) ~= gen then return done(-1) end
-- A staged list that expired before this ran counts as a conflict: the push is tried again.
if listed and redis.call('LLEN', KEYS[4]) ~= staged then return done(0) end
local k = gen_keys(base, gen)
for i = 8, last, 3 do
  if (redis.call('HGET', k.items, ARGV[i]) or '') ~= ARGV[i + 1] then return done(0) end
end
for i = 8, last, 3 do
  if ARGV[i + 2] == '' then redis.call('HDEL', k.items, ARGV[i]) else redis.call('HSET', k.items, ARGV[i], ARGV[i + 2]) end
end
local vocab_added, vocab, isos_added = 0, {}, {}
local function apply(changes, from, to)
  for i = from, to, 3 do
    local kind, iso, member = changes[i], changes[i + 1], changes[i + 2]
    if kind == 'pa' then
      piece_add(k.set('phrase', iso), member)
      if not isos_added[iso] then isos_added[iso] = true; redis.call('SADD', k.isos, iso) end
    elseif kind == 'pr' then piece_rem(k.set('phrase', iso), member)
    elseif kind == 'wa' then piece_add(k.set('word', iso), member)
    elseif kind == 'wr' then piece_rem(k.set('word', iso), member)
    elseif kind == 'v' then vocab[#vocab + 1] = 0; vocab[#vocab + 1] = member end
  end
end
if listed then
  for from = 0, staged - 1, 900 do
    local page = redis.call('LRANGE', KEYS[4], from, from + 899)
    apply(page, 1, #page)
  end
else apply(ARGV, last + 2, last + 1 + staged) end
for from = 1, #vocab, 1000 do vocab_added = vocab_added + redis.call('ZADD', k.vocab, unpack(vocab, from, math.min(from + 999, #vocab))) end
redis.call('HINCRBY', k.meta, 'entries', ARGV[5])
if vocab_added > 0 then redis.call('HINCRBY', k.meta, 'vocab_version', 1) end
redis.call('HINCRBY', k.meta, 'updates', 1)
if mode == 'serving' and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RPUSH', KEYS[3], op) end
return done(1)`;

// What a push reads before it plans, in one round trip: the generation (the serving one, or the
// one given), its member form and the items' records; false when there is no serving generation.
// KEYS: current. ARGV: type base, gen ('' for the serving one), skus….
export const READ_PUSH = `${LUA_GEN_KEYS}
local gen = ARGV[2]
if gen == '' then gen = redis.call('GET', KEYS[1]) end
if not gen then return false end
local k = gen_keys(ARGV[1], gen)
local form = redis.call('HMGET', k.meta, 'ids', 'cut')
return {gen, form[1] or '', form[2] or '', redis.call('HMGET', k.items, unpack(ARGV, 3))}`;

// The keys of one type, counted from its own records rather than a SCAN: its markers, and each
// registered generation's keys (two sets per language, each with its piece index and pieces). The cost follows the index, not
// the keyspace.
// KEYS: current, gens, owner, building, journal. ARGV: type base.
export const KEY_COUNT = `${LUA_GEN_KEYS}
local n = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
for _, gen in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local k = gen_keys(ARGV[1], gen)
  n = n + redis.call('EXISTS', k.items, k.meta, k.isos, k.vocab)
  for _, iso in ipairs(redis.call('SMEMBERS', k.isos)) do
    for _, kind in ipairs({'phrase', 'word'}) do
      local set = k.set(kind, iso)
      n = n + redis.call('EXISTS', set.all, set.ix, set.plain) + redis.call('ZCARD', set.ix)
    end
  end
end
return n`;

// "<serving generation>:<push updates applied to it>", or false before any publish: what a
// cached answer must have been read at to be used.
// KEYS: current. ARGV: type base.
export const SERVING_STATE = `${LUA_GEN_KEYS}
local gen = redis.call('GET', KEYS[1])
if not gen then return false end
return gen .. ':' .. (redis.call('HGET', gen_keys(ARGV[1], gen).meta, 'updates') or '0')`;

// One search's prefix reads, in one round trip. Returns {gen, vocab_version, phrase hits, word
// hits, name hits, driver, counts, word runs, name runs, names unsure, languages taken}, hits by
// language as above, runs (word_range) as [iso, places, members joined, …].
// With each query word, search can give the languages whose vocabulary has words starting with
// it (LUA_LANGUAGES), taken while that vocabulary is current (\`languages taken\` is then 1). A
// word's members are counted only in its languages (it has none elsewhere), and the prefix reads
// read only the languages of every query word: only they can hold an entry every query word
// starts a word of. For one query word those are all the languages its members are in; for
// several, the driver's members may be in others, which inside-word and typo matches of the
// other words need: \`driver\` is then 0, and EXPANDED_SEARCH reads them in every language.
// Phrase members (display names starting with the query) come first. Only when they give fewer
// than \`limit\` entries (counted once per item and display name): the word members of the query
// word with the fewest (\`driver\`, its 1-based position; \`counts\` has every query word's, -1 for one
// not counted to the end as it could not drive), first
// of the entries' own display-name words, then, only when those still give fewer than \`limit\`
// entries whose display name has every query word, of the words found only through the item's
// name or origin name (members marked with \1, see members.ts). A single query word is not
// counted (\`counts\` stays empty). Members with a cut display name (and runs) may or may not
// count: when that decides, the name words are read and \`names unsure\` is 1, so search counts on
// the whole names and drops them if they were not needed.
// KEYS: current. ARGV: type base, iso ('' for all), query phrase, limit, word candidates, the
// vocabulary's "<gen>:<vocab version>" ('' for none), each query word's languages joined by ';',
// query words….
export const PREFIX_SEARCH = `${LUA_GEN_KEYS}${LUA_PIECES}${LUA_LANGUAGES}
local base, iso, q, limit, cap = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
-- The query words are ARGV[W + 1] to ARGV[#ARGV].
local W = 7
local gen = redis.call('GET', KEYS[1])
if not gen then return {} end
local k = gen_keys(base, gen)
local vocab_version = redis.call('HGET', k.meta, 'vocab_version') or '0'
local isos = {iso}
if iso == '' then isos = redis.call('SMEMBERS', k.isos) end
-- The candidate budget is shared by the languages searched, but each gets a page's worth.
local each = math.max(limit + 10, math.floor(cap / math.max(#isos, 1)))
-- Each query word's languages (nil: any), while the vocabulary they come from is current.
local hinted, languages = vocabulary_current(ARGV[6], gen, vocab_version), {}
if hinted then
  for arg in string.gmatch(ARGV[7] .. ';', '([^;]*);') do languages[#languages + 1] = language_set(arg) end
end
-- A word's members are counted in its languages; the reads read the languages of every word.
local counted = {}
for n = 1, #ARGV - W do counted[n] = among(isos, languages[n]) end
for n = 1, #ARGV - W do isos = among(isos, languages[n]) end
local phrase_hits, word_hits, name_hits, counts, seen, distinct, driver = {}, {}, {}, {}, {}, 0, 0
local word_runs, name_runs, unsure = {}, {}, 0
for _, i in ipairs(isos) do
  local members
  if q == '' then members = piece_range(k.set('phrase', i), nil, nil, limit)
  else members = piece_range(k.set('phrase', i), q, q .. '\\255', limit) end
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
if #ARGV > W and distinct < limit then
  -- A single query word drives uncounted: reading its members costs no more than counting them.
  local best_count = nil
  if #ARGV == W + 1 then driver = 1 end
  -- Longest first (most often the fewest members): a word stops being counted, and counts -1,
  -- once it cannot drive, i.e. has as many members as the fewest so far (ties go to the earlier word).
  local order = {}
  for t = W + 1, #ARGV > W + 1 and #ARGV or 0 do order[#order + 1] = t - W end
  table.sort(order, function(x, y)
    if #ARGV[x + W] ~= #ARGV[y + W] then return #ARGV[x + W] > #ARGV[y + W] end
    return x < y
  end)
  for _, n in ipairs(order) do
    local w = ARGV[n + W]
    -- It cannot drive with \`stop\` members or more.
    local stop = best_count and (n > driver and best_count or best_count + 1)
    local count = word_count(k, counted[n], w, w .. '\\255', stop)
    if stop and count >= stop then count = -1 end
    counts[n] = count
    if count >= 0 and (best_count == nil or count < best_count or (count == best_count and n < driver)) then driver, best_count = n, count end
  end
  if best_count ~= 0 then
    local best, spaced = ARGV[driver + W], {}
    for t = W + 1, #ARGV do spaced[t] = ' ' .. ARGV[t] end
    for _, i in ipairs(isos) do
      local members, run, places = word_range(k.set('word', i), best, best .. '\\255', each)
      add_run(word_runs, i, run, places)
      unsure = unsure + places
      if #members > 0 then
        word_hits[#word_hits + 1] = i
        word_hits[#word_hits + 1] = table.concat(members, ${LUA_MEMBER_SEPARATOR})
      end
      for x = 1, distinct < limit and #members or 0 do
        local m = members[x]
        local _, from, _, cut = word_parts(m)
        -- Each other query word must start the display name or a word of it (the best one starts
        -- the member's own word). Past the display name, the entry id holds no space.
        local all = not cut
        if cut then unsure = unsure + 1 end
        for t = W + 1, all and #ARGV or 0 do
          if t ~= driver + W then
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
      if distinct + unsure >= limit then unsure = 1 else unsure = 0 end
      for _, i in ipairs(isos) do
        local members, run, places = word_range(k.set('word', i), '\\1' .. best, '\\1' .. best .. '\\255', each)
        add_run(name_runs, i, run, places)
        if #members > 0 then
          name_hits[#name_hits + 1] = i
          name_hits[#name_hits + 1] = table.concat(members, ${LUA_MEMBER_SEPARATOR})
        end
      end
    else unsure = 0 end
  end
end
-- With several query words, the driver's members were read only where all the words are.
if hinted and #ARGV > W + 1 then driver = 0 end
return {gen, vocab_version, phrase_hits, word_hits, name_hits, driver, counts, word_runs, name_runs, unsure, hinted and 1 or 0}`;

// Word hits of query words expanded through the vocabulary (infix and typo words), in generation
// ARGV[2] if it still serves; false if it does not. Each query word comes as: the word, the
// languages of the words starting with it (LUA_LANGUAGES), how many members its prefix has (-1:
// not counted), 1 if its prefix members were read already, n, then n whole words it expands to,
// each followed by its languages. The languages are taken while the vocabulary they come from
// ("<gen>:<vocab version>") is current: a word is then counted and read only in its languages.
// The query word whose prefix and words have the fewest members drives: its members are read, up
// to a budget per language for own words and again for name words.
// KEYS: current. ARGV: type base, gen, iso ('' for all), limit, word candidates, the vocabulary's
// "<gen>:<vocab version>" ('' for none), query words count, the query words….
// Returns {driver (1-based), hits by language as PREFIX_SEARCH's (own members, then name members), runs as PREFIX_SEARCH's}.
export const EXPANDED_SEARCH = `${LUA_GEN_KEYS}${LUA_PIECES}${LUA_LANGUAGES}
local base, gen, iso, limit, cap, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
if redis.call('GET', KEYS[1]) ~= gen then return false end
local k = gen_keys(base, gen)
local isos = {iso}
if iso == '' then isos = redis.call('SMEMBERS', k.isos) end
local hinted = vocabulary_current(ARGV[6], gen, redis.call('HGET', k.meta, 'vocab_version') or '0')
local function languages(arg) if hinted then return language_set(arg) end end
-- A word's languages: \`set\` (nil for any) and \`isos\`, those searched among them.
local function word(text, arg)
  local set = languages(arg)
  return {text = text, set = set, isos = among(isos, set)}
end
local groups, a = {}, 8
for t = 1, n do
  local g = {prefix = word(ARGV[a], ARGV[a + 1]), count = tonumber(ARGV[a + 2]), read = ARGV[a + 3] == '1', words = {}}
  for x = 1, tonumber(ARGV[a + 4]) do g.words[x] = word(ARGV[a + 3 + 2 * x], ARGV[a + 4 + 2 * x]) end
  a = a + 5 + 2 * #g.words
  groups[t] = g
end
local driver, best = 1, nil
if n > 1 then
  -- Fewest prefix members first: counting a word's expansions stops once it cannot be the fewest.
  local order = {}
  for t, g in ipairs(groups) do
    if g.count < 0 then g.count = word_count(k, g.prefix.isos, g.prefix.text, g.prefix.text .. '\\255') end
    order[t] = t
  end
  table.sort(order, function(x, y) return groups[x].count < groups[y].count end)
  for _, t in ipairs(order) do
    local g = groups[t]
    local c = g.count
    for _, w in ipairs(g.words) do
      if best ~= nil and c >= best then break end
      c = c + word_count(k, w.isos, w.text .. '\\0', w.text .. '\\0\\255', best and best - c)
    end
    if best == nil or c < best then driver, best = t, c end
  end
end
local g = groups[driver]
local each = math.max(limit + 10, math.floor(cap / #isos))
local hits, runs = {}, {}
for _, mark in ipairs({'', '\\1'}) do
  for _, i in ipairs(isos) do
    local left, got = each, {}
    local function read(w, lo, hi)
      if left <= 0 or (w.set and not w.set[i]) then return end
      local members, run, places = word_range(k.set('word', i), mark .. lo, mark .. hi, left)
      left = left - #members - places
      for _, m in ipairs(members) do got[#got + 1] = m end
      add_run(runs, i, run, places)
    end
    if not g.read then read(g.prefix, g.prefix.text, g.prefix.text .. '\\255') end
    for _, w in ipairs(g.words) do read(w, w.text .. '\\0', w.text .. '\\0\\255') end
    if #got > 0 then
      hits[#hits + 1] = i
      hits[#hits + 1] = table.concat(got, ${LUA_MEMBER_SEPARATOR})
    end
  end
end
return {driver, hits, runs}`;
