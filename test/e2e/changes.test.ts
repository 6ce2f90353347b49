// The compiled binary following the change streams of a MongoDB server that has them
// (mongo-java-server at MONGODB_CS_URI, started by scripts/services.sh): an edit becomes searchable
// without a run, /sync-status and /metrics show it, and SIGTERM hands the lease back.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { MongoClient, ObjectId } from "mongodb";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { createContext, type TestContext } from "../helpers.ts";

const CS_URI = process.env.MONGODB_CS_URI ?? `mongodb://127.0.0.1:${process.env.SS_MONGO_CS_PORT ?? 27037}`;

let ctx: TestContext;
let client: MongoClient;
let svc: RunningBinary | null = null;
beforeEach(async () => {
  ctx = await createContext("e2e-changes", { MONGODB_URI: CS_URI });
  client = new MongoClient(CS_URI, { serverSelectionTimeoutMS: 3_000 });
});
afterEach(async () => {
  await svc?.stop().catch(() => {});
  svc = null;
  await client
    .db(ctx.dbName)
    .dropDatabase()
    .catch(() => {});
  await client.close();
  await ctx.cleanup();
});

async function json(url: string): Promise<any> {
  return (await fetch(url)).json();
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

test("an edit in MongoDB is searchable without a run; the change_stream block and metrics say so", async () => {
  const db = client.db(ctx.dbName);
  const sku = new ObjectId();
  await db.collection("categories").insertOne({ _id: sku, name: "Flyer", slug: "flyer", display_name: [{ iso: "en", display_name: "Flyer" }] });
  svc = await startBinary(installBinary(ctx.dir), ctx.dir, serviceEnv(ctx, { HISTORY_DB_PATH: "history.db", LOG_FORMAT: "json" }), 15_000);
  const url = svc.url;
  await until(async () => (await json(`${url}/sync-status`)).change_stream.state === "following", 30_000, "following");
  const status = await json(`${url}/sync-status?history=true`);
  expect(status.history.map((r: { trigger: string; status: string }) => [r.trigger, r.status])).toEqual([["resync", "success"]]);

  const started = Date.now();
  await db.collection("supplier_categories").insertOne({ linked: sku, display_name: [{ iso: "fr", display_name: "Prospectus" }] });
  await until(async () => (await json(`${url}/category-search?query=prospectus`)).suggestions.length === 1, 15_000, "the new name in search");
  process.stderr.write(`change → searchable through the binary: ${Date.now() - started} ms\n`);

  const info = await json(`${url}/info`);
  expect(info.change_stream).toMatchObject({ mode: "auto", state: "following", reason: null, error: null });
  expect(info.change_stream.events_applied.insert).toBe(1);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  expect(metrics).toMatch(/^sync_change_events_total\{type="categories",op="insert"\} 1$/m);
  // SIGTERM: stops following and hands the lease back.
  expect(await svc.stop()).toBe(0);
  svc = null;
  expect(await ctx.redis.exists(`${ctx.prefix}{changes}:lease`)).toBe(0);
});

test("stored positions the server cannot resume from: a full run (resync) and an alert to ALERT_WEBHOOK_URL", async () => {
  const alerts: { event: string; reason: string }[] = [];
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      alerts.push((await req.json()) as { event: string; reason: string });
      return new Response("ok");
    },
  });
  try {
    await client
      .db(ctx.dbName)
      .collection("categories")
      .insertOne({ name: "Flyer", slug: "flyer", display_name: [{ iso: "en", display_name: "Flyer" }] });
    const env = serviceEnv(ctx, {
      HISTORY_DB_PATH: "history.db",
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${receiver.port}/hook`,
      CHANGE_STREAM_MAX_LAG_SECONDS: "30",
    });
    const binary = installBinary(ctx.dir);
    svc = await startBinary(binary, ctx.dir, env, 15_000);
    await until(async () => (await json(`${svc!.url}/sync-status`)).change_stream.state === "following", 30_000, "following");
    expect(await svc.stop()).toBe(0);
    // The first start's full run is no fallback: nothing was posted.
    expect(alerts).toEqual([]);
    await ctx.redis.hset(`${ctx.prefix}{changes}:tokens`, "categories", JSON.stringify({ _data: "not a token" }));
    svc = await startBinary(binary, ctx.dir, env, 15_000);
    const url = svc.url;
    await until(async () => alerts.length > 0 && (await json(`${url}/sync-status`)).change_stream.state === "following", 30_000, "the alert and a resync");
    expect(alerts).toEqual([
      expect.objectContaining({ service: "search-sync", event: "change_stream_resync", reason: expect.stringContaining("cannot be resumed") }),
    ]);
    const history = (await json(`${url}/sync-status?history=true`)).history.map((r: { trigger: string; status: string }) => [r.trigger, r.status]);
    expect(history).toEqual([
      ["resync", "success"],
      ["resync", "success"],
    ]);
  } finally {
    receiver.stop(true);
  }
});
