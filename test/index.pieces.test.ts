// Phrase and word sets kept in pieces (scripts.ts LUA_PIECES): every read must answer as one
// sorted set holding the same members would, while each piece stays a compact listpack.
import { afterAll, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keys, LUA_GEN_KEYS } from "../src/index/keys.ts";
import { LUA_PIECES } from "../src/index/scripts.ts";
import { removeLeftSortFiles, SetSorter } from "../src/index/set-sorter.ts";
import { IndexStore } from "../src/index/store.ts";
import { commandCalls, testRedis } from "./env.ts";

const redis = testRedis();
const keys = new Keys(`t:pieces${process.pid}:`);
const g = keys.gen("categories", "g1");
const REFERENCE = `${keys.typeBase("categories")}reference`;
afterAll(async () => {
  await clear();
  redis.disconnect();
});
beforeEach(clear);

async function clear(): Promise<void> {
  const found = await redis.keys(`${keys.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`);
  if (found.length) await redis.del(...found);
}

// ARGV: type base, gen, op, then the op's arguments; '' stands for no bound.
const CALL = `${LUA_GEN_KEYS}${LUA_PIECES}
local set = gen_keys(ARGV[1], ARGV[2]).set('word', 'en')
local op = ARGV[3]
local function bound(b) if b == '' then return nil end return b end
if op == 'add' then local n = 0; for i = 4, #ARGV do n = n + piece_add(set, ARGV[i]) end return n end
if op == 'rem' then local n = 0; for i = 4, #ARGV do n = n + piece_rem(set, ARGV[i]) end return n end
if op == 'range' then return piece_range(set, bound(ARGV[4]), bound(ARGV[5]), tonumber(ARGV[6])) end
if op == 'count' then return piece_count(set, bound(ARGV[4]), bound(ARGV[5]), tonumber(ARGV[6])) end`;

const call = (op: string, ...args: (string | number | Buffer)[]) => redis.eval(CALL, 1, g.meta, keys.typeBase("categories"), "g1", op, ...args);

async function add(members: string[]): Promise<void> {
  for (let i = 0; i < members.length; i += 200) await call("add", ...members.slice(i, i + 200));
  await redis.zadd(REFERENCE, ...members.flatMap((m) => ["0", m]));
}
async function remove(members: string[]): Promise<void> {
  await call("rem", ...members);
  await redis.zrem(REFERENCE, ...members);
}

/** The pieces in order, as [first member in the index, members]. */
async function pieces(): Promise<[string, string[]][]> {
  const out: [string, string[]][] = [];
  for (const entry of await redis.zrange(g.pieceIndex("word", "en"), "0", "-1")) {
    out.push([entry.slice(0, entry.indexOf("\u0000\u0000")), await redis.zrange(g.piece("word", "en", entry), "0", "-1")]);
  }
  return out;
}

/** What the pieces must always be: listpacks of 1 to 128 members, in order, each indexed by its first member. */
async function expectWellFormed(): Promise<void> {
  const all: string[] = [];
  for (const [first, members] of await pieces()) {
    expect(members.length).toBeGreaterThan(0);
    expect(members.length).toBeLessThanOrEqual(128);
    expect(first).toBe(members[0]!);
    all.push(...members);
  }
  for (const entry of await redis.zrange(g.pieceIndex("word", "en"), "0", "-1")) {
    expect(await redis.object("ENCODING", g.piece("word", "en", entry))).toBe("listpack");
  }
  const plain = await redis.zrange(g.word("en"), "0", "-1");
  expect([...all, ...plain].sort(byBytes)).toEqual(await redis.zrange(REFERENCE, "0", "-1"));
  expect(all).toEqual([...all].sort(byBytes));
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Range reads and counts agree with one sorted set holding every member. */
async function expectReadsLikeOneSet(prefixes: string[], limits: number[]): Promise<void> {
  for (const p of prefixes) {
    // Prefix ranges as search reads them: from the prefix to the prefix and a 0xff byte.
    const upTo = (open: string) => Buffer.concat([Buffer.from(open + p), Buffer.from([0xff])]);
    const [lo, hi] = p === "" ? ["", ""] : [p, upTo("")];
    const [min, max] = p === "" ? ["-", "+"] : [`[${p}`, upTo("[")];
    for (const limit of limits) {
      expect({ p, limit, got: await call("range", lo, hi, limit) }).toEqual({
        p,
        limit,
        got: await redis.zrangebylex(REFERENCE, min, max, "LIMIT", 0, limit),
      });
    }
    const count = await redis.zlexcount(REFERENCE, min, max);
    expect({ p, count: await call("count", lo, hi) }).toEqual({ p, count });
    // Counting up to `enough`: the count while below it, else at least `enough` (a read may stop early).
    for (const enough of [0, 1, 100, count, count + 1]) {
      const got = (await call("count", lo, hi, enough)) as number;
      expect({ p, enough, exact: got < enough ? got : count >= enough }).toEqual({ p, enough, exact: count < enough ? count : true });
      expect(got).toBeLessThanOrEqual(count);
    }
  }
}

// Word members as members.ts writes them: word, NUL, two length bytes, display name, NUL, entry id.
const member = (word: string, display: string, id: number) =>
  `${word}\u0000${String.fromCharCode(1, 1 + (display.length % 31))}${display}\u0000${id.toString(36).padStart(4, "0")}.0`;

function shuffled<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const WORDS = ["box", "boxes", "brochure", "card", "cards", "flyer", "poster", "posters"];
const many = (n: number) => Array.from({ length: n }, (_, i) => member(WORDS[i % WORDS.length]!, `${WORDS[i % WORDS.length]} ${i % 13}`, i));

test("a piece that fills up splits in two, and every piece stays a listpack", async () => {
  const first = many(128);
  await add(shuffled(first));
  expect((await pieces()).length).toBe(1);
  await expectWellFormed();
  await add([member("card", "card extra", 5000)]);
  const split = await pieces();
  expect(split.map(([, m]) => m.length).sort()).toEqual([64, 65]);
  await add(shuffled(many(1500)).filter((m) => !first.includes(m)));
  expect((await pieces()).length).toBeGreaterThan(12);
  await expectWellFormed();
  await expectReadsLikeOneSet(["", "b", "box", "box\u0000", "boxes", "c", "card", "cards\u0000", "z", "flyer\u0000\u0001"], [1, 10, 100, 700, 5000]);
  // A count that has enough stops reading pieces: the whole set spans more than 12.
  const pieceReads = async (enough?: number) => {
    const calls = () => commandCalls(redis, ["zcard", "zlexcount"]);
    const before = await calls();
    await call("count", "", "", ...(enough === undefined ? [] : [enough]));
    return (await calls()) - before;
  };
  expect(await pieceReads()).toBeGreaterThan(12);
  expect(await pieceReads(100)).toBeLessThanOrEqual(2);
});

test("adding a member again changes nothing, and a member below every piece becomes the first piece's first", async () => {
  await add(many(300));
  const before = await pieces();
  expect(await call("add", ...many(300))).toBe(0);
  expect(await pieces()).toEqual(before);
  const lowest = member("aaa", "aaa", 1);
  await add([lowest]);
  expect((await pieces())[0]![0]).toBe(lowest);
  await expectWellFormed();
});

test("removing the first member of a piece moves its index entry to the next member", async () => {
  await add(shuffled(many(600)));
  const [, [, second]] = (await pieces()) as [[string, string[]], [string, string[]]];
  await remove([second[0]!]);
  const after = await pieces();
  expect(after[1]![0]).toBe(second[1]!);
  await expectWellFormed();
  await expectReadsLikeOneSet([second[0]!.slice(0, 3), second[1]!.slice(0, 5), ""], [1, 50, 1000]);
});

test("a piece emptied by removals is dropped with its index entry", async () => {
  await add(shuffled(many(600)));
  const before = await pieces();
  const [entry] = await redis.zrange(g.pieceIndex("word", "en"), "1", "1");
  await remove(before[1]![1]);
  expect(await redis.exists(g.piece("word", "en", entry!))).toBe(0);
  expect((await pieces()).length).toBe(before.length - 1);
  await expectWellFormed();
  await expectReadsLikeOneSet(["", "b", "box", "c", "f", "p"], [1, 100, 1000]);
  await remove(many(600));
  expect(await redis.exists(g.pieceIndex("word", "en"))).toBe(0);
  expect(await call("range", "", "", 10)).toEqual([]);
  expect(await call("count", "", "")).toBe(0);
});

test("members longer than 64 bytes stay in the set's own sorted set and are read in order with the pieces", async () => {
  const long = Array.from({ length: 40 }, (_, i) =>
    member(WORDS[i % WORDS.length]!, `${WORDS[i % WORDS.length]} ${"extra long name ".repeat(4)}${i}`, 9000 + i),
  );
  expect(long.every((m) => Buffer.byteLength(m) > 64)).toBe(true);
  await add(shuffled([...many(400), ...long]));
  expect(await redis.zcard(g.word("en"))).toBe(40);
  await expectWellFormed();
  await expectReadsLikeOneSet(["", "b", "box", "box\u0000", "card", "poster", "posters\u0000"], [1, 30, 100, 1000]);
  await remove(long.slice(0, 20));
  expect(await redis.zcard(g.word("en"))).toBe(20);
  await expectReadsLikeOneSet(["", "card"], [5, 1000]);
});

test("a set written before pieces (one sorted set) is read, and takes additions and removals", async () => {
  const old = many(300);
  await redis.zadd(g.word("en"), ...old.flatMap((m) => ["0", m]));
  await redis.zadd(REFERENCE, ...old.flatMap((m) => ["0", m]));
  await expectReadsLikeOneSet(["", "box", "card"], [1, 100, 1000]);
  await add([member("card", "card new", 7000), member("zebra", "zebra", 7001)]);
  await remove([old[0]!, old[1]!]);
  expect(await redis.zcard(g.word("en"))).toBe(298);
  await expectWellFormed();
  await expectReadsLikeOneSet(["", "b", "box", "card", "z"], [1, 100, 1000]);
});

test("a run's sets are written in order as pieces, members gathered past the sorter's memory included; longer members stay, pushes then add and remove", async () => {
  const all = shuffled([...many(3000), ...Array.from({ length: 30 }, (_, i) => member("card", `card ${"long name ".repeat(6)}${i}`, 8000 + i))]);
  await redis.zadd(REFERENCE, ...all.flatMap((m) => ["0", m]));
  // A budget of 700 members: four runs go to the sorter's file, the rest stays in memory.
  const sets = new SetSorter(700);
  const store = new IndexStore(redis, keys);
  for (const m of all) sets.add("word\u0000en", m);
  let pipelines = 0;
  await store.writeSets("categories", "g1", sets, async () => {
    pipelines++;
  });
  sets.close();
  expect(pipelines).toBe(1);
  expect(await redis.zcard(g.word("en"))).toBe(30);
  const sizes = (await pieces()).map(([, members]) => members.length);
  // Pieces of 112, with room for pushes, but the last.
  expect(sizes.slice(0, -1).every((n) => n === 112)).toBe(true);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(3000);
  expect(Number(await redis.hget(g.meta, "pieces"))).toBe(sizes.length);
  await expectWellFormed();
  await expectReadsLikeOneSet(["", "b", "box", "box\u0000", "card", "cards", "flyer\u0000", "poster"], [1, 10, 500, 5000]);
  const more = [member("card", "card new", 9100), member("aardvark", "aardvark", 9101), ...many(50).map((m) => m.replace(/\.\w+$/, ".zz"))];
  await add(more);
  await remove([all[0]!, all[1]!, more[0]!]);
  await expectWellFormed();
  await expectReadsLikeOneSet(["", "a", "card", "poster"], [1, 10, 5000]);
});

test("the sorter gives each set's members once, in Redis's byte order, from memory and from its file alike", () => {
  // Characters where UTF-16 and UTF-8 order differ (above U+FFFF against U+E000-U+FFFF), control bytes, and repeats.
  const alphabet = ["a", "b", "\u0000", "\u0001", "\u00e9", "\u4e2d", "\ue000", "\uffee", "\u{1f600}", "\u{10348}", " "];
  let seed = 11;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const word = (letters = alphabet.length) => Array.from({ length: 1 + rand(6) }, () => alphabet[rand(letters)]).join("");
  // z: characters where the orders agree, until its 4,001st and 4,002nd members (after runs of it went to the file).
  const z = Array.from({ length: 5000 }, (_, i) => (i === 4000 ? "\u{1f600}" : i === 4001 ? "\uffee" : word(6)));
  const given = { x: Array.from({ length: 5000 }, () => word()), y: Array.from({ length: 300 }, () => word()), z };
  for (const budget of [100_000, 450]) {
    const sets = new SetSorter(budget);
    for (let i = 0; i < 5000; i++) {
      sets.add("x", given.x[i]!);
      if (i < 300) sets.add("y", given.y[i]!);
      sets.add("z", given.z[i]!);
    }
    expect(sets.sets()).toEqual(["x", "y", "z"]);
    for (const name of ["x", "y", "z"] as const) {
      expect([...sets.sorted(name)].flat()).toEqual([...new Set(given[name])].sort(byBytes));
    }
    sets.close();
  }
});

test("a sorter's temporary files are its process's, removed when it closes; those of processes gone are removed by the next build", () => {
  const sets = new SetSorter(10);
  for (let i = 0; i < 25; i++) sets.add("x", `m${i}`);
  const mine = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`search-sync-sets-${process.pid}-`));
  expect(mine().length).toBe(1);
  sets.close();
  expect(mine()).toEqual([]);

  const dir = mkdtempSync(join(tmpdir(), "t-sorter-files-"));
  try {
    const gone = Bun.spawnSync(["true"]).pid;
    for (const name of [`search-sync-sets-${gone}-a`, `search-sync-sets-${process.pid}-b`, "search-sync-sets-1-c", "other"]) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "runs"), "m");
    }
    removeLeftSortFiles(false, dir);
    expect(readdirSync(dir).sort()).toEqual(["other", "search-sync-sets-1-c", `search-sync-sets-${process.pid}-b`].sort());
    // After this process's build worker was stopped mid-build.
    removeLeftSortFiles(true, dir);
    expect(readdirSync(dir).sort()).toEqual(["other", "search-sync-sets-1-c"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("removing a generation leaves none of its keys, however many pieces its index names", async () => {
  const store = new IndexStore(redis, keys);
  const sets = new SetSorter();
  // 1,010 pieces of 112 members: the index is read more than one page at a time.
  for (const m of many(112 * 1010)) sets.add("word\u0000en", m);
  sets.add("phrase\u0000en", "box 1\u0000000a.0");
  await store.writeSets("categories", "g1", sets);
  sets.close();
  await redis.sadd(g.isos, "en");
  await redis.sadd(keys.gens("categories"), "g1", "g2");
  await redis.hset(g.items, "65f001000000000000000001", "{}");
  await redis.zadd(g.vocab, 0, "box");
  const genKeys = () =>
    redis.keys(
      `${keys
        .gen("categories", "g1")
        .meta.slice(0, -"meta".length)
        .replace(/[*?[\]\\]/g, "\\$&")}*`,
    );
  expect((await genKeys()).length).toBeGreaterThan(1010);
  let pages = 0;
  await store.unlinkGeneration("categories", "g1", () => pages++);
  expect(await genKeys()).toEqual([]);
  // One page of pieces gathered (the rest go with the last keys).
  expect(pages).toBe(1);
  expect(await redis.smembers(keys.gens("categories"))).toEqual(["g2"]);
});
