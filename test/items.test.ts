import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { heldEngine } from "./sync.fixtures.ts";

let ctx: TestContext;
let services: Services;
let app: App;

const flyer = new ObjectId("64e000000000000000000001").toHexString();
const poster = new ObjectId("64e000000000000000000002").toHexString();
const pushed = new ObjectId("64e0000000000000000000aa").toHexString();

beforeEach(async () => {
  ctx = await createContext("items");
  await ctx.db.collection("categories").insertMany([
    { _id: new ObjectId(flyer), name: "Flyer", slug: "flyer", display_name: [{ iso: "en", display_name: "Flyer" }] },
    { _id: new ObjectId(poster), name: "Poster", slug: "poster", display_name: [{ iso: "en", display_name: "Poster" }] },
  ]);
  services = await ctx.services();
  app = createApp({ ...services, version: "test", startedAt: new Date() });
});
afterEach(async () => {
  await ctx.cleanup();
});

async function call(method: string, path: string, body?: unknown) {
  const res = await app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
async function found(query: string, path = "/category-search") {
  const { body } = await call("GET", `${path}?query=${encodeURIComponent(query)}`);
  return (body.suggestions as { display_name: string; linked: string; origin_name: string; slug: string }[]).map(
    (s) => `${s.linked.slice(-2)} ${s.display_name}`,
  );
}

const addBody = (linked: string, ...names: [string, string][]) => ({
  linked,
  slug: "pushed-item",
  name: "Pushed item",
  origin_name: "Pushed origin",
  display_names: names.map(([iso, display_name]) => ({ iso, display_name })),
});

describe("push updates", () => {
  test("before any index is published they answer 503 not_ready", async () => {
    const res = await call("POST", "/categories", addBody(pushed, ["en", "Banner"]));
    expect(res.status).toBe(503);
    expect(res.body.error).toBe("not_ready");
  });

  test("add, delete some, delete all: visible to the next search at once", async () => {
    expect((await services.engine.run("categories", "api")).status).toBe("success");
    expect(await call("POST", "/categories", addBody(pushed, ["en", "Banner"], ["nl", "Spandoek"]))).toEqual({
      status: 200,
      body: {
        message: "Category added to search engine successfully",
        status: "success",
        data: { message: "Category added successfully", category_id: pushed, status: "success" },
        type: "categories",
        added: 2,
        removed: 0,
      },
    });
    expect(await found("banner")).toEqual(["aa Banner"]);
    expect(await found("spand")).toEqual(["aa Spandoek"]);
    const { body } = await call("GET", "/category-search?query=banner");
    expect(body.suggestions).toEqual([
      { sku: pushed, name: "Pushed item", display_name: "Banner", origin_name: "Pushed origin", iso: "en", slug: "pushed-item", linked: pushed },
    ]);
    // The same add again changes nothing.
    expect((await call("POST", "/categories", addBody(pushed, ["en", "Banner"]))).body.added).toBe(0);

    expect((await call("DELETE", "/categories", { linked: pushed, display_names: [{ iso: "nl", display_name: "Spandoek" }] })).body).toEqual({
      message: "Category entries deleted successfully",
      linked: pushed,
      deleted_count: 1,
      status: "success",
      type: "categories",
      added: 0,
      removed: 1,
    });
    expect(await found("spand")).toEqual([]);
    expect(await found("banner")).toEqual(["aa Banner"]);
    expect((await call("DELETE", "/categories", { linked: flyer })).body.removed).toBe(1);
    expect(await found("flyer")).toEqual([]);
    expect(await services.store.entryCount("categories", await services.store.currentGen("categories"))).toBe(2);
  });

  test("PUT replaces the source's entries by the target's atomically", async () => {
    expect((await services.engine.run("categories", "api")).status).toBe("success");
    const res = await call("PUT", "/categories", { source: { linked: flyer }, target: addBody(pushed, ["en", "Folder"]) });
    expect(res).toEqual({
      status: 200,
      body: {
        message: "Category updated (delete-then-insert)",
        status: "success",
        delete_result: { message: "Category entries deleted successfully", linked: flyer, deleted_count: 1, status: "success" },
        add_result: { message: "Category added successfully", category_id: pushed, status: "success" },
        type: "categories",
        added: 1,
        removed: 1,
      },
    });
    expect(await found("flyer")).toEqual([]);
    expect(await found("folder")).toEqual(["aa Folder"]);
    expect(await found("poster")).toEqual(["02 Poster"]);
  });

  test("push updates touch only their own type", async () => {
    expect((await services.engine.run("all", "api")).status).toBe("success");
    await call("POST", "/boxes", addBody(pushed, ["en", "Shipping box"]));
    expect(await found("shipping", "/boxes-search")).toEqual(["aa Shipping box"]);
    expect(await found("shipping")).toEqual([]);
  });

  test("a push made while a full run builds goes through its journal and survives its publish", async () => {
    expect((await services.engine.run("categories", "api")).status).toBe("success");
    const { building, journal } = { building: services.store.keys.building("categories"), journal: services.store.keys.journal("categories") };
    // The run stops at its first batch until released: its new generation is being built while we push.
    const held = heldEngine(services, { at: 0 });
    const outcome = await held.engine.trigger("categories", "api");
    if (!outcome.started) throw new Error("run did not start");
    await held.held;
    const add = await call("POST", "/categories", addBody(pushed, ["en", "Banner"]));
    const remove = await call("DELETE", "/categories", { linked: poster });
    expect([add.status, remove.status]).toEqual([200, 200]);
    // Acknowledged while the build was open: both wait in its journal, and search sees them already.
    expect(await ctx.redis.get(building)).toBe(outcome.runId);
    expect((await ctx.redis.lrange(journal, 0, -1)).map((op) => (JSON.parse(op) as { op: string }).op)).toEqual(["add", "remove"]);
    expect(await found("banner")).toEqual(["aa Banner"]);
    held.release();
    const result = await outcome.done;
    expect(result.status).toBe("success");
    expect(await services.store.currentGen("categories")).toBe(result.run_id);
    expect(await found("banner")).toEqual(["aa Banner"]);
    expect(await found("poster")).toEqual([]);
    expect(await found("flyer")).toEqual(["01 Flyer"]);
    expect(await ctx.redis.exists(journal, building)).toBe(0);
  });
});

/** Serves `a` on a loopback port for the test; returns its URL and a stop function. */
function serve(a: App): { url: string; stop: () => Promise<void> } {
  a.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    url: `http://127.0.0.1:${a.server!.port}`,
    stop: async () => {
      await a.stop();
    },
  };
}

async function pushAll(url: string, names: string[]): Promise<number[]> {
  return Promise.all(
    names.map(async (name) => {
      const res = await fetch(`${url}/categories`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(addBody(flyer, ["en", name])),
      });
      await res.arrayBuffer();
      return res.status;
    }),
  );
}

/** The display names of an item in the serving index. */
async function namesOf(sku: string): Promise<string[]> {
  const [record] = await services.store.readItems("categories", (await services.store.currentGen("categories"))!, [sku]);
  return (record?.e ?? []).flatMap((e) => (e ? [e[1]] : [])).sort();
}

function tally(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

describe("concurrent push updates to one item", () => {
  test("200 at once over HTTP: every one is answered 200 and the item keeps every name", async () => {
    expect((await services.engine.run("categories", "api")).status).toBe("success");
    const server = serve(app);
    try {
      const names = Array.from({ length: 200 }, (_, i) => `Concurrent ${i}`);
      expect(tally(await pushAll(server.url, names))).toEqual({ 200: 200 });
      expect(await namesOf(flyer)).toEqual(["Flyer", ...names].sort());
      expect(await services.store.entryCount("categories", await services.store.currentGen("categories"))).toBe(202);
    } finally {
      await server.stop();
    }
  });

  test("through two replicas at once (100 each): every one is answered 200 and the item keeps every name", async () => {
    expect((await services.engine.run("categories", "api")).status).toBe("success");
    const other = await ctx.services({ HISTORY_DB_PATH: join(ctx.dir, "replica-2.db") });
    const servers = [serve(app), serve(createApp({ ...other, version: "test", startedAt: new Date() }))];
    try {
      const names = (replica: number) => Array.from({ length: 100 }, (_, i) => `Replica ${replica} ${i}`);
      const statuses = (await Promise.all(servers.map((server, replica) => pushAll(server.url, names(replica))))).flat();
      expect(tally(statuses)).toEqual({ 200: 200 });
      expect(await namesOf(flyer)).toEqual(["Flyer", ...names(0), ...names(1)].sort());
    } finally {
      for (const server of servers) await server.stop();
    }
  });
});

describe("push update validation → 422 naming the field", () => {
  const cases: [string, unknown, string][] = [
    ["POST", { slug: "x", origin_name: "x", display_names: [{ iso: "en", display_name: "x" }] }, "linked"],
    ["POST", { ...addBody("not-an-object-id", ["en", "x"]) }, "linked"],
    ["POST", { ...addBody(pushed), display_names: "Banner" }, "display_names"],
    ["POST", { ...addBody(pushed), display_names: [] }, "display_names"],
    ["POST", { ...addBody(pushed), display_names: [{ iso: "en" }] }, "display_names.display_name"],
    ["POST", { ...addBody(pushed), display_names: [{ iso: "english!", display_name: "x" }] }, "display_names.iso"],
    ["DELETE", { display_names: [] }, "linked"],
    ["PUT", { source: { linked: "zz" }, target: addBody(pushed, ["en", "x"]) }, "source.linked"],
    ["PUT", { source: { linked: flyer }, target: { linked: pushed } }, "target.slug"],
    // Unknown fields inside the body's objects too: "display_name" for "display_names" must not read as "every entry".
    ["PUT", { source: { linked: flyer, display_name: [{ iso: "en", display_name: "Flyer" }] }, target: addBody(pushed, ["en", "x"]) }, "source.display_name"],
    ["POST", { ...addBody(pushed), display_names: [{ iso: "en", display_name: "x", extra: 1 }] }, "display_names.extra"],
    ["DELETE", { linked: flyer, display_names: [{ iso: "en", display_name: "Flyer", lang: "en" }] }, "display_names.lang"],
    // Blank, as a run would skip it.
    ["POST", { ...addBody(pushed), display_names: [{ iso: "en", display_name: " \t " }] }, "display_names.display_name"],
  ];
  for (const [method, body, field] of cases) {
    test(`${method} ${JSON.stringify(body).slice(0, 60)} → ${field}`, async () => {
      expect((await services.engine.run("categories", "api")).status).toBe("success");
      const res = await call(method, "/categories", body);
      expect(res.status).toBe(422);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.field).toBe(field);
      // Nothing was changed.
      expect(await found("flyer")).toEqual(["01 Flyer"]);
    });
  }

  test("a body that is not JSON → 400", async () => {
    const res = await call("POST", "/categories", "{not json");
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("bad_request");
  });
});
