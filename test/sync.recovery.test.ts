// MongoDB down, then back: the failed run records the cause, and later runs work again without
// a restart. MongoDB is reached through a local TCP proxy that the test opens and closes.
import { afterEach, beforeEach, expect, test } from "bun:test";
import net from "node:net";
import { createApp } from "../src/app/http.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { seedLarge } from "./sync.fixtures.ts";

let ctx: TestContext;
let proxy: net.Server | null = null;
let port = 0;

/** A free port, closed again: connecting to it is refused until the proxy listens there. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function openProxy(): Promise<void> {
  const target = new URL(ctx.env.MONGODB_URI!);
  proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 27017), target.hostname);
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy!.listen(port, "127.0.0.1", resolve));
}

beforeEach(async () => {
  ctx = await createContext("recovery");
  port = await freePort();
});
afterEach(async () => {
  await ctx.cleanup();
  proxy?.close();
  proxy = null;
});

// After a failed first connect the MongoDB driver (v7) keeps a closed topology until connect()
// is called again; CatalogSource connects before every read, so the service recovers by itself.
test("a run while MongoDB is down fails with the cause; once it is back, runs and /info work again", async () => {
  await seedLarge(ctx.db, ["categories"], 5);
  const s = await ctx.services({ MONGODB_URI: `mongodb://127.0.0.1:${port}` });
  const app = createApp({ ...s, version: "test", startedAt: new Date() });

  const down = await s.engine.run("categories", "api");
  expect(down).toMatchObject({ status: "failed", published: false, error: `connect ECONNREFUSED 127.0.0.1:${port}` });
  expect((await app.handle(new Request("http://localhost/info"))).status).toBe(503);

  await openProxy();
  const up = await s.engine.run("categories", "api");
  expect(up.error).toBeUndefined();
  expect(up).toMatchObject({ status: "success", published: true, types: { categories: { entries: 15 } } });
  const info = await app.handle(new Request("http://localhost/info"));
  expect(info.status).toBe(200);
  expect(await info.json()).toMatchObject({ status: "ok", mongodb: { reachable: true } });
});
