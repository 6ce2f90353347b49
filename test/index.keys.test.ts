// The key layout has one definition (src/index/keys.ts): the Lua scripts derive a generation's
// keys with its gen_keys helper and must name exactly the keys the TypeScript names.
import { afterAll, expect, test } from "bun:test";
import { ITEM_TYPES } from "../src/catalog/types.ts";
import { Keys, LUA_GEN_KEYS } from "../src/index/keys.ts";
import * as scripts from "../src/index/scripts.ts";
import { testRedis } from "./env.ts";

const redis = testRedis();
afterAll(() => redis.disconnect());

const GEN_KEYS_OF = `${LUA_GEN_KEYS}
local k = gen_keys(ARGV[1], ARGV[2])
local p, w = k.set('phrase', ARGV[3]), k.set('word', ARGV[3])
return {k.items, k.meta, k.isos, k.vocab, k.phrase(ARGV[3]), k.word(ARGV[3]), p.all, p.ix, p.piece(7), w.all, w.ix, w.piece(12)}`;

test("gen_keys in Lua names a generation's keys exactly as Keys.gen does", async () => {
  const keys = new Keys("t:lua*[x]:");
  for (const type of ITEM_TYPES) {
    for (const [gen, iso] of [
      ["20250101T020000Z-1a2b3c4d", "en"],
      ["crashed", "pt-br"],
    ] as const) {
      const g = keys.gen(type, gen);
      const fromLua = await redis.eval(GEN_KEYS_OF, 0, keys.typeBase(type), gen, iso);
      expect(fromLua).toEqual([
        g.items,
        g.meta,
        g.isos,
        g.vocab,
        g.phrase(iso),
        g.word(iso),
        g.phrase(iso),
        g.pieceIndex("phrase", iso),
        g.piece("phrase", iso, "a\u0000b\u0000\u00007"),
        g.word(iso),
        g.pieceIndex("word", iso),
        g.piece("word", iso, "a\u0000b\u0000\u000012"),
      ]);
    }
  }
});

test("no script spells a generation key itself", () => {
  for (const [name, script] of Object.entries(scripts)) {
    const body = script.replace(LUA_GEN_KEYS, "");
    expect({ name, spelled: body.match(/'(g:|items'|meta'|isos'|vocab'|phrase:|word:)/g) }).toEqual({ name, spelled: null });
  }
});
