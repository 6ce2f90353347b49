// A run writes each piece of its phrase and word sets with RESTORE of a payload made in the
// process (zset-dump.ts): it must be the sorted set ZADD would make, and a server that does not take
// it must still get every piece.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { Keys } from "../src/index/keys.ts";
import { SetSorter } from "../src/index/set-sorter.ts";
import { IndexStore, type PieceWrites } from "../src/index/store.ts";
import { zsetDump } from "../src/index/zset-dump.ts";
import { CLUSTER_NODES, commandCalls, REDIS_URL, scanAll, testRedis } from "./env.ts";

const redis = testRedis();
const prefix = `t:dump${process.pid}:`;
// Redis walks every entry of a restored value and checks the sorted set's pairs: a payload written
// wrong is refused here, where by default it would be taken and could crash Redis when read.
let sanitize: string | null = null;
beforeAll(async () => {
  if (CLUSTER_NODES) return;
  [, sanitize] = (await redis.config("GET", "sanitize-dump-payload")) as [string, string];
  await redis.config("SET", "sanitize-dump-payload", "yes");
});
afterAll(async () => {
  if (sanitize !== null) await redis.config("SET", "sanitize-dump-payload", sanitize);
  const found = await scanAll(redis, `${prefix}*`);
  for (const key of found) await redis.del(key);
  redis.disconnect();
});

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sorted = (members: string[]) => [...new Set(members)].sort(byBytes);

const CASES: [string, string[]][] = [
  ["one member", ["a\u0000"]],
  ["ASCII members", ["box\u0000\u0001\u0003box\u0000A.0", "box\u0000\u0001\u0004boxes\u0000B.1", "card\u0000C.2"]],
  [
    "letters of two and three bytes, a pair of surrogates",
    ["łódź\u0000Z.0", "ελληνικά\u0000Y.0", "日本語の箱\u0000X.1", "emoji 📦\u0000W.2", "\uffff\u0000V.3", "\u0001named\u0000U.4"],
  ],
  // 63 bytes take a listpack entry's 6-bit length, 64 its 12-bit one.
  ["members of 63 and 64 bytes", [`${"x".repeat(61)}\u0000a`, `${"y".repeat(62)}\u0000b`, `é${"z".repeat(61)}\u0000`]],
  [
    "128 members, a full piece",
    Array.from({ length: 128 }, (_, i) => `word${i % 9}\u0000\u0001${String.fromCharCode(2 + (i % 30))}name ${i}\u0000${i.toString(36)}.0`),
  ],
];

/** Over 16 KB of listpack, and more members than Redis keeps in one (it makes them a skiplist). */
const LARGE = Array.from({ length: 400 }, (_, i) => `${"w".repeat(40)}${i}\u0000${i}`);

test.each(CASES)("a payload of %s is the sorted set ZADD makes, in Redis's compact form", async (_, members) => {
  const ordered = sorted(members);
  const [made, restored] = [`${prefix}{x}made`, `${prefix}{x}restored`];
  await redis.zadd(made, ...ordered.flatMap((m) => ["0", m]));
  await redis.restore(restored, 0, zsetDump(ordered));
  expect(await redis.zrange(restored, "0", "-1", "WITHSCORES")).toEqual(await redis.zrange(made, "0", "-1", "WITHSCORES"));
  expect(await redis.object("ENCODING", restored)).toBe("listpack");
  // Dumped again by Redis, byte for byte the set ZADD made.
  expect((await redis.dumpBuffer(restored)).equals(await redis.dumpBuffer(made))).toBe(true);
  await redis.del(made, restored);
});

test("nothing to write: no sets, no RESTORE tried", async () => {
  const before = await restoreCalls();
  expect(await writeWords(new IndexStore(redis, new Keys(`${prefix}empty:`)), "g1", [])).toBeNull();
  expect(await restoreCalls()).toBe(before);
});

test("a member past 64 bytes is refused, not written", () => {
  expect(() => zsetDump([`${"x".repeat(64)}\u0000`])).toThrow(RangeError);
});

test("a payload past 16 KB (a longer length in its header) and past the listpack's entries is still read whole", async () => {
  const members = sorted(LARGE);
  const key = `${prefix}{x}large`;
  await redis.restore(key, 0, zsetDump(members));
  expect(await redis.zrange(key, "0", "-1")).toEqual(members);
  await redis.del(key);
});

const restoreCalls = () => commandCalls(redis, ["restore"]);

/** Every piece of a generation's word set for `en`, in order. */
async function pieceMembers(keys: Keys, gen: string): Promise<string[][]> {
  const g = keys.gen("categories", gen);
  const out: string[][] = [];
  for (const entry of await redis.zrange(g.pieceIndex("word", "en"), "0", "-1")) out.push(await redis.zrange(g.piece("word", "en", entry), "0", "-1"));
  return out;
}

async function writeWords(store: IndexStore, gen: string, members: string[]): Promise<PieceWrites | null> {
  const sets = new SetSorter();
  for (const m of members) sets.add("word\u0000en", m);
  try {
    return await store.writeSets("categories", gen, sets);
  } finally {
    sets.close();
  }
}

// ACLs are set on one server; a Cluster's nodes would each need theirs.
test.skipIf(Boolean(CLUSTER_NODES))("a run writes its pieces with RESTORE, and with ZADD where the server refuses RESTORE (here an ACL), alike", async () => {
  const members = Array.from({ length: 1000 }, (_, i) => `word${i % 17}\u0000\u0001\u0005ł name ${i}\u0000${i.toString(36)}.0`);
  const keys = new Keys(prefix);
  const before = await restoreCalls();
  expect(await writeWords(new IndexStore(redis, keys), "g1", members)).toEqual({ by: "RESTORE" });
  const restored = await pieceMembers(keys, "g1");
  // The probe and one per piece.
  expect(await restoreCalls()).toBe(before + 1 + restored.length);
  expect(restored.flat()).toEqual(sorted(members));

  const user = `ss-no-restore-${process.pid}`;
  await redis.call("ACL", "SETUSER", user, "reset", "on", "nopass", "~*", "&*", "+@all", "-restore");
  const limited = new Redis(REDIS_URL, { username: user, password: "x" });
  try {
    const after = await restoreCalls();
    // The refusal is told, for the run's log.
    expect(await writeWords(new IndexStore(limited, keys), "g2", members)).toEqual({ by: "ZADD", refusal: expect.stringMatching(/^NOPERM .*restore/) });
    expect(await pieceMembers(keys, "g2")).toEqual(restored);
    expect(await restoreCalls()).toBe(after);
  } finally {
    limited.disconnect();
    await redis.call("ACL", "DELUSER", user);
  }
});

test.skipIf(Boolean(CLUSTER_NODES))(
  "a failure other than a refusal (here Redis out of memory) fails the write, and the next one asks again and restores",
  async () => {
    const members = Array.from({ length: 300 }, (_, i) => `word${i % 7}\u0000\u0001\u0004name ${i}\u0000${i.toString(36)}.0`);
    const keys = new Keys(`${prefix}oom:`);
    const store = new IndexStore(redis, keys);
    const [, maxmemory] = (await redis.config("GET", "maxmemory")) as [string, string];
    await redis.config("SET", "maxmemory", "1");
    try {
      await expect(writeWords(store, "g1", members)).rejects.toThrow(/OOM/);
    } finally {
      await redis.config("SET", "maxmemory", maxmemory);
    }
    const before = await restoreCalls();
    expect(await writeWords(store, "g1", members)).toEqual({ by: "RESTORE" });
    const pieces = await pieceMembers(keys, "g1");
    expect(pieces.flat()).toEqual(sorted(members));
    expect(await restoreCalls()).toBe(before + 1 + pieces.length);
    // The key it tried on is gone.
    expect(await redis.exists(keys.gen("categories", "g1").pieceKey("phrase", "", 0))).toBe(0);
  },
);
