// SPEC §8: no input inside the documented limits (README "Limits") makes a run or a push fail. What
// cannot be indexed is skipped and counted (runs) or refused with a 422 naming the limit (pushes),
// and no Redis command carries more than 1,000 arguments, however large the input.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { type Document, ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import type { RedisClient } from "../src/platform/redis.ts";
import { createContext, type TestContext } from "./helpers.ts";

const MAX_ARGS = 1000;

let ctx: TestContext;
let services: Services;
let app: App;
let widest: () => number;

beforeEach(async () => {
  ctx = await createContext("limits");
  services = await ctx.services({ SYNC_BATCH_SIZE: "1000" });
  app = createApp({ ...services, version: "test", startedAt: new Date() });
  widest = widestCommand(services.redis);
});
afterEach(async () => {
  await ctx.cleanup();
});

/** Watches the real client: the most arguments any command it sends carries (pipelined or not). */
function widestCommand(client: RedisClient): () => number {
  let max = 0;
  const send = client.sendCommand.bind(client) as (command: { args: unknown[] }, ...rest: unknown[]) => unknown;
  (client as unknown as { sendCommand: typeof send }).sendCommand = (command, ...rest) => {
    max = Math.max(max, command.args.length);
    return send(command, ...rest);
  };
  return () => max;
}

const oid = (n: number) => new ObjectId(n.toString(16).padStart(24, "0"));
const hex = (n: number) => oid(n).toHexString();
/** `count` distinct words of `width` characters, space-separated. */
const wordy = (count: number, width = 6) => Array.from({ length: count }, (_, i) => `w${String(i).padStart(width - 1, "0")}`).join(" ");
const origin = (n: number, name: string, ...names: string[]): Document => ({
  _id: oid(n),
  name,
  slug: `item-${n}`,
  display_name: names.map((display_name) => ({ iso: "en", display_name })),
});

async function call(method: string, path: string, body?: unknown) {
  const res = await app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function search(query: string): Promise<string[]> {
  const { body } = await call("GET", `/category-search?query=${encodeURIComponent(query)}&limit=100`);
  return (body.suggestions as { display_name: string }[]).map((s) => s.display_name);
}

describe("runs", () => {
  test("a 1.1 MB origin and 1,000 origins whose name has 400 words: the run publishes the rest and names them under name_too_long", async () => {
    const huge = origin(1, wordy(160_000), "Huge");
    const long = Array.from({ length: 1000 }, (_, i) => origin(1000 + i, wordy(400), `Long ${i}`));
    await ctx.db.collection("categories").insertMany([huge, ...long, origin(2, "Flyer", "Flyer"), origin(3, "Poster", "Poster")]);
    expect(JSON.stringify(huge.name).length).toBeGreaterThan(1_100_000);

    const result = await services.engine.run("categories", "api");
    expect(result).toMatchObject({ status: "success", published: true });
    expect(result.types.categories).toMatchObject({ documents: 1003, entries: 2 });
    expect(result.types.categories!.skipped).toEqual({
      name_too_long: { count: 1001, examples: [hex(1), ...Array.from({ length: 19 }, (_, i) => hex(1000 + i))] },
    });
    expect(await search("poster")).toEqual(["Poster"]);
    expect(widest()).toBeLessThanOrEqual(MAX_ARGS);
  });

  test("each limit: past it the display name or the document is skipped under its reason; at it, indexed", async () => {
    const atLimit = `${wordy(29, 33)} ${"x".repeat(1000 - 29 * 34)}`;
    expect([atLimit.length, atLimit.split(" ").length]).toEqual([1000, 30]);
    const wordyName = wordy(40, 3);
    const many = Array.from({ length: 1001 }, (_, i) => `Big ${i}`);
    await ctx.db
      .collection("categories")
      .insertMany([
        origin(1, "x".repeat(1001), "Long name"),
        origin(2, wordyName, "Wordy name"),
        origin(3, "Stationery", atLimit, "x".repeat(1001), wordyName, "Letterhead"),
        origin(5, atLimit, "Envelope"),
        origin(6, "Big", ...many),
      ]);
    await ctx.db.collection("supplier_categories").insertMany([
      { _id: oid(4), linked: oid(3), display_name: [{ iso: "fr", display_name: wordyName }] },
      { _id: oid(7), linked: oid(6), display_name: [{ iso: "fr", display_name: "Grand" }] },
    ]);

    const result = await services.engine.run("categories", "api");
    expect(result).toMatchObject({ status: "success" });
    expect(result.types.categories).toMatchObject({ documents: 7, entries: 1003 });
    expect(result.types.categories!.skipped).toEqual({
      name_too_long: { count: 1, examples: [hex(1)] },
      display_name_too_long: { count: 1, examples: [hex(3)] },
      too_many_words: { count: 3, examples: [hex(2), hex(3), hex(4)] },
      too_many_entries: { count: 2, examples: [hex(6), hex(7)] },
    });
    expect(await search("letterhead")).toEqual(["Letterhead"]);
    // A display name and a name at the limits are searchable (Letterhead through its origin name).
    expect(await search(atLimit.slice(0, 100))).toEqual([atLimit, "Envelope", "Letterhead"]);
  });

  test("a batch of 1,000 origins with 3 names each is written in commands of at most 1,000 arguments", async () => {
    const names = (i: number) => Array.from({ length: 3 }, (_, k) => `Item ${i} variant ${k}`);
    await ctx.db.collection("categories").insertMany(Array.from({ length: 1000 }, (_, i) => origin(1000 + i, `Item ${i}`, ...names(i))));
    const result = await services.engine.run("categories", "api");
    expect(result).toMatchObject({ status: "success" });
    expect(result.types.categories!.entries).toBe(3_000);
    expect((await search("item 999 variant 2"))[0]).toBe("Item 999 variant 2");
    expect(widest()).toBeLessThanOrEqual(MAX_ARGS);
  });
});

describe("push updates", () => {
  const item = hex(2);
  const body = (displayNames: string[], extra: Record<string, string> = {}) => ({
    linked: item,
    slug: "pushed",
    name: "Pushed",
    origin_name: "Pushed",
    display_names: displayNames.map((display_name) => ({ iso: "en", display_name })),
    ...extra,
  });
  beforeEach(async () => {
    await ctx.db.collection("categories").insertOne(origin(1, "Flyer", "Flyer"));
    expect((await services.engine.run("categories", "api")).status).toBe("success");
  });

  test("500 display names of 480 characters (30 words each) are all added, in commands of at most 1,000 arguments", async () => {
    const names = Array.from({ length: 500 }, (_, i) => `n${String(i).padStart(7, "0")} ${wordy(29, 15)}`.padEnd(480, "z"));
    expect(names.every((n) => n.length === 480 && n.split(" ").length === 30)).toBe(true);
    const res = await call("POST", "/categories", body(names));
    expect(res).toMatchObject({ status: 200, body: { status: "success", type: "categories", added: 500, removed: 0 } });
    expect((await search("n0000499"))[0]).toBe(names[499]!);
    const replaced = await call("PUT", "/categories", { source: { linked: item }, target: body(["Banner"]) });
    expect(replaced).toMatchObject({ status: 200, body: { status: "success", type: "categories", added: 1, removed: 500 } });
    expect(await search("n0000")).toEqual([]);
    expect(widest()).toBeLessThanOrEqual(MAX_ARGS);
  });

  test("an entry of more than 32 words, or an item of more than 1,000 entries, is refused with a 422 naming the field and the limit", async () => {
    const words = "an entry (display name, name and origin name together) may have at most 32 words";
    // The review's push: 500 display names of 480 characters, here of 48 words each.
    const long = Array.from({ length: 500 }, (_, i) => `n${String(i).padStart(7, "0")} ${wordy(47, 9)}`.slice(0, 480));
    for (const [method, payload, field, text] of [
      ["POST", body(long), "display_names.display_name", long[0]!],
      ["POST", body([wordy(33, 2)]), "display_names.display_name", wordy(33, 2)],
      ["POST", body(["Banner"], { origin_name: wordy(32, 2) }), "display_names.display_name", "Banner"],
      ["PUT", { source: { linked: item }, target: body(["Banner", wordy(40, 2)]) }, "target.display_names.display_name", wordy(40, 2)],
    ] as const) {
      const res = await call(method, "/categories", payload);
      expect({ method, status: res.status, body: res.body }).toEqual({
        method,
        status: 422,
        body: { error: "invalid_request", status: "error", field, message: `${field}: ${words}; "${text.slice(0, 40)}" has more` },
      });
    }
    // Nothing of a refused push is applied.
    expect(await search("banner")).toEqual([]);

    for (const from of [0, 500]) {
      const names = Array.from({ length: 500 }, (_, i) => `Variant ${from + i}`);
      expect((await call("POST", "/categories", body(names))).status).toBe(200);
    }
    expect(await call("POST", "/categories", body(["Banner"]))).toEqual({
      status: 422,
      body: {
        error: "invalid_request",
        status: "error",
        field: "display_names",
        message: `display_names: an item may have at most 1000 entries; ${item} would have more`,
      },
    });
  });
});
