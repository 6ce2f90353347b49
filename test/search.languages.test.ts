// The vocabulary keeps each word's languages, and search, once it has read the vocabulary, reads
// only the languages that have words starting with every query word. Answers must be those of
// reading every language; a word pushed in a new language must be found at once; with a vocabulary
// written before languages were kept (words alone), search must read every language.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import type { Entry, ItemType } from "../src/catalog/types.ts";
import { parseVocabularyMember, vocabularyMember } from "../src/index/members.ts";
import { IndexStore } from "../src/index/store.ts";
import { applyPush } from "../src/index/update.ts";
import { SearchService } from "../src/search/service.ts";
import { commandCalls } from "./env.ts";
import { createContext, type TestContext } from "./helpers.ts";

/** An index store that records the languages each prefix read took, and whether it took a hint. */
class RecordingStore extends IndexStore {
  taken: boolean[] = [];
  override async prefixHits(...args: Parameters<IndexStore["prefixHits"]>) {
    const found = await super.prefixHits(...args);
    if (found) this.taken.push(found.languagesTaken);
    return found;
  }
}

let ctx: TestContext;
let services: Services;
const sku = new ObjectId().toHexString();

const NAMES: [string, [string, string][]][] = [
  [
    "Poster",
    [
      ["en", "Poster"],
      ["de", "Poster"],
      ["nl", "Poster"],
      ["fr", "Affiche"],
      ["pl", "Plakat"],
    ],
  ],
  [
    "Poster frame",
    [
      ["en", "Poster frame"],
      ["de", "Posterrahmen"],
      ["nl", "Posterlijst"],
      ["fr", "Cadre d'affiche"],
      ["pl", "Rama na plakat"],
    ],
  ],
  [
    "Large poster",
    [
      ["en", "Large poster"],
      ["de", "Großes Poster"],
      ["nl", "Grote poster"],
      ["fr", "Grande affiche"],
    ],
  ],
  [
    "Door hangers",
    [
      ["en", "Door hangers"],
      ["nl", "Deurhangers"],
      ["fr", "Accroche-portes"],
      ["de", "Türanhänger"],
      ["pl", "Zawieszki na drzwi"],
    ],
  ],
  [
    "Stickers",
    [
      ["en", "Stickers"],
      ["nl", "Stickers"],
      ["de", "Aufkleber"],
      ["fr", "Autocollants"],
      ["pl", "Naklejki"],
    ],
  ],
  [
    "Flyer",
    [
      ["en", "Flyer"],
      ["nl", "Flyer"],
      ["de", "Flyer"],
      ["fr", "Prospectus"],
      ["pl", "Ulotka"],
    ],
  ],
  [
    "Paper bags",
    [
      ["en", "Paper bags"],
      ["nl", "Papieren tassen"],
      ["de", "Papiertüten"],
      ["fr", "Sacs en papier"],
      ["pl", "Torby papierowe"],
    ],
  ],
  [
    "Mailer box",
    [
      ["en", "Mailer box"],
      ["nl", "Verzenddoos"],
      ["de", "Versandkarton"],
      ["fr", "Boîte d'expédition"],
      ["pl", "Pudełko wysyłkowe"],
    ],
  ],
];

beforeAll(async () => {
  ctx = await createContext("search-languages");
  const docs = NAMES.map(([name, names], n) => ({
    _id: n === 0 ? new ObjectId(sku) : new ObjectId(),
    name,
    slug: `s${n}`,
    display_name: names.map(([iso, display_name]) => ({ iso, display_name })),
  }));
  for (let n = 0; n < 30; n++)
    docs.push({ _id: new ObjectId(), name: "Poster print", slug: `p${n}`, display_name: [{ iso: "en", display_name: `Poster print ${n}` }] });
  // "business" has fewer members than "bły" in Polish but more in all languages: the word that
  // drives is chosen over every language, as without a hint, or the one Polish entry matching both
  // (through its item's name) is past the Polish "business" members one read takes.
  const more = (count: number, name: string, iso: string, display: string) => {
    for (let n = 0; n < count; n++)
      docs.push({ _id: new ObjectId(), name, slug: `${iso}${docs.length}`, display_name: [{ iso, display_name: `${display} ${n}` }] });
  };
  more(100, "Business card", "en", "Business card");
  more(60, "Business cards", "pl", "Wizytówki");
  more(70, "Glossy stickers", "pl", "Błyszczące naklejki");
  docs.push({ _id: new ObjectId(), name: "Błyszczące Business cards", slug: "glossy", display_name: [{ iso: "pl", display_name: "Wizytówki dwustronne" }] });
  // Languages named with the characters that separate languages in the scripts' arguments.
  docs.push({
    _id: new ObjectId(),
    name: "Quirky",
    slug: "quirky",
    display_name: ["x,y", "a;b", "*"].map((iso) => ({ iso, display_name: `Quirky ${iso}` })),
  });
  await ctx.db.collection("categories").insertMany(docs);
  services = await ctx.services();
  expect((await services.engine.run("categories", "api")).status).toBe("success");
});
afterAll(() => ctx.cleanup());

const QUERIES = [
  "p",
  "po",
  "post",
  "poster",
  "poster fr",
  "poster print",
  "print 1",
  "plak",
  "rama plak",
  "aff",
  "affiche grande",
  "large post",
  "deur",
  "stick",
  "flyer",
  "pap",
  "papier",
  "tassen pap",
  "mail",
  "mailer box",
  "box",
  "doos",
  "karton",
  // Inside words and typos: read in every language by the expansion.
  "ster",
  "hanger",
  "postre",
  "stikcers",
  "flyre",
  "mailr box",
  "posetr fr",
  "zzzz",
  "business bły",
  "quirky",
  "quirky y",
];
const ISOS = [undefined, "nl", "PL", "xx", "A;B"];

type Answer = Pick<Entry, "sku" | "display_name" | "iso">[];
async function answer(search: SearchService, query: string, iso?: string, type: ItemType = "categories"): Promise<Answer> {
  return (await search.search(type, { query, iso, limit: 10 })).map(({ sku, display_name, iso }) => ({ sku, display_name, iso }));
}

/** How many sorted-set range reads Redis ran (scripts' included) while `run` ran. */
async function rangeReads(run: () => Promise<unknown>): Promise<number> {
  const reads = () => commandCalls(ctx.redis, ["zrangebylex", "zrevrangebylex", "zlexcount"]);
  const before = await reads();
  await run();
  return (await reads()) - before;
}

/** A search service whose vocabulary has been read, so its prefix reads take the languages it gives. */
async function warmed(): Promise<{ search: SearchService; store: RecordingStore }> {
  const store = new RecordingStore(services.redis, services.keys);
  const search = new SearchService(store);
  for (let tries = 0; tries < 100; tries++) {
    store.taken = [];
    await answer(search, "poster");
    if (store.taken[0]) return { search, store };
    await Bun.sleep(10);
  }
  throw new Error("the vocabulary was never read");
}

describe("languages of the vocabulary", () => {
  test("a run keeps each word with each language whose word members have it", async () => {
    const gen = (await services.store.currentGen("categories"))!;
    const members = (await services.store.vocabulary("categories", gen)).map(parseVocabularyMember);
    const languagesOf = (word: string) => members.filter((m) => m.word === word).map((m) => m.iso);
    expect(languagesOf("grote")).toEqual(["nl"]);
    expect(languagesOf("plakat")).toEqual(["pl"]);
    // "Poster" is an item's name, so every language of the item has it as a name word.
    expect(languagesOf("poster").sort()).toEqual(["de", "en", "fr", "nl", "pl"]);
    // "Door hangers" is the item's name, so every language of the item has its words as name words.
    expect(languagesOf("hangers").sort()).toEqual(["de", "en", "fr", "nl", "pl"]);
  });

  test("searches read fewer languages once the vocabulary is kept, with the answers of reading them all", async () => {
    const { search, store } = await warmed();
    let compared = 0;
    for (const query of QUERIES)
      for (const iso of ISOS) {
        // A service that has read no vocabulary yet reads every language.
        const everyLanguage = await answer(new SearchService(new IndexStore(services.redis, services.keys)), query, iso);
        store.taken = [];
        expect({ query, iso, answer: await answer(search, query, iso) }).toEqual({ query, iso, answer: everyLanguage });
        compared += everyLanguage.length;
        if (query.length > 2) expect({ query, iso, taken: store.taken }).toEqual({ query, iso, taken: [true] });
      }
    expect(compared).toBeGreaterThan(200);
    // And it reads less than half as much: "plakat" is Polish only, "grote" Dutch only.
    for (const query of ["plakat", "grote poster", "plakatx"]) {
      const fresh = await rangeReads(() => answer(new SearchService(new IndexStore(services.redis, services.keys)), query));
      const kept = await rangeReads(() => answer(search, query));
      expect({ query, fewer: kept * 2 < fresh }).toEqual({ query, fewer: true });
    }
  });

  test("a word pushed in a new language is found at once", async () => {
    const { search, store } = await warmed();
    expect(await answer(search, "plakat", "de")).toEqual([]);
    await applyPush(services.store, "categories", { op: "add", item: { linked: sku, display_names: [{ iso: "de", display_name: "Plakat groß" }] } }, "serving");
    store.taken = [];
    expect((await answer(search, "plakat", "de")).map((e) => e.display_name)).toEqual(["Plakat groß"]);
    // The push added the word in a new language: the vocabulary kept is not the serving one now.
    expect(store.taken).toEqual([false]);
  });

  test("with a vocabulary of words alone (written before languages were kept), search reads every language", async () => {
    const gen = (await services.store.currentGen("categories"))!;
    const key = services.keys.gen("categories", gen).vocab;
    const members = await ctx.redis.zrange(key, "0", "-1");
    const answers = [];
    for (const query of ["poster", "plak", "postre"]) answers.push(await answer(await warmed().then((w) => w.search), query));
    await ctx.redis.del(key);
    // Without "plakat" too: such a vocabulary is not taken to list every word of the members either.
    const words = new Set(members.map((m) => parseVocabularyMember(m).word));
    words.delete("plakat");
    await ctx.redis.zadd(key, ...[...words].flatMap((w) => ["0", w]));
    await ctx.redis.hincrby(services.keys.gen("categories", gen).meta, "vocab_version", 1);
    const search = new SearchService(new IndexStore(services.redis, services.keys));
    for (let round = 0; round < 3; round++) {
      expect([await answer(search, "poster"), await answer(search, "plak"), await answer(search, "postre")]).toEqual(answers);
      await Bun.sleep(20);
    }
    // A push into it adds words with their language, and search still reads every language.
    await applyPush(services.store, "categories", { op: "add", item: { linked: sku, display_names: [{ iso: "fr", display_name: "Zebra" }] } }, "serving");
    expect(await ctx.redis.zscore(key, vocabularyMember("zebra", "fr"))).toBe("0");
    for (let round = 0; round < 3; round++) {
      expect((await answer(search, "zebra")).map((e) => e.display_name)).toEqual(["Zebra"]);
      expect(await answer(search, "plak")).toEqual(answers[1]!);
      await Bun.sleep(20);
    }
  });
});
