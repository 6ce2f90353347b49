// Security through the compiled binary: the start-up warning, secrets kept out of every output,
// and the limits as the real server (Bun.serve) answers them.

import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, installBinary, type RunningBinary, serviceEnv, startBinary } from "../scripts/lib/binary.ts";
import { createContext, type TestContext } from "./helpers.ts";

const WARNING = "ADMIN_API_KEY is not set: admin endpoints (sync triggers, scheduler, push updates) answer only to loopback clients";

let ctx: TestContext;
let running: RunningBinary | null = null;
beforeEach(async () => {
  ctx = await createContext("secbin");
});
afterEach(async () => {
  if (running && running.proc.exitCode === null) await running.stop();
  running = null;
  await ctx.cleanup();
});

const baseEnv = (extra: Record<string, string> = {}) => serviceEnv(ctx, extra);

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe("start-up warning", () => {
  test("ADMIN_API_KEY unset: logged once at start-up, not again per request", async () => {
    running = await startBinary(installBinary(ctx.dir), ctx.dir, baseEnv());
    for (let i = 0; i < 3; i++) expect((await fetch(`${running.url}/re-sync-all?wait=maybe`, { method: "POST" })).status).toBe(422);
    expect(await running.stop()).toBe(0);
    expect(count(running.output(), WARNING)).toBe(1);
  });

  test("ADMIN_API_KEY set: no warning, and admin endpoints need the key over the network too", async () => {
    const key = "binary-admin-key-0123456789";
    running = await startBinary(installBinary(ctx.dir), ctx.dir, baseEnv({ ADMIN_API_KEY: key }));
    const url = `${running.url}/re-sync-all?wait=maybe`;
    expect((await fetch(url, { method: "POST" })).status).toBe(401);
    expect((await fetch(url, { method: "POST", headers: { "x-api-key": "wrong-key-0123456789" } })).status).toBe(403);
    expect((await fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}` } })).status).toBe(422);
    expect((await fetch(url, { method: "POST", headers: { "x-api-key": key } })).status).toBe(422);
    expect(await running.stop()).toBe(0);
    expect(count(running.output(), "ADMIN_API_KEY is not set")).toBe(0);
  });
});

describe("secrets", () => {
  const MONGO_PW = "MongoPw-s3cret-4u";
  const REDIS_PW = "RedisPw-s3cret-4u";
  const KEY = "AdminKey-s3cret-0123456789";
  const SECRETS = [MONGO_PW, REDIS_PW, KEY, encodeURIComponent(MONGO_PW), encodeURIComponent(REDIS_PW)];

  const expectClean = (where: string, text: string) => {
    for (const secret of SECRETS) expect({ where, leaks: text.includes(secret) }).toEqual({ where, leaks: false });
  };

  for (const format of ["text", "json"]) {
    test(`MongoDB unreachable with a password in its URI (LOG_FORMAT=${format}): the failed run's error, history, /info and the logs show no password or key`, async () => {
      // An unreachable MongoDB on loopback (a port nothing listens on), a Redis URL with a password
      // (the test Redis has none, so ioredis goes on without), and the admin key.
      const mongoUri = `mongodb://syncuser:${MONGO_PW}@127.0.0.1:${freePort()}/?authSource=admin`;
      const redisUrl = ctx.env.REDIS_URL!.replace("redis://", `redis://default:${REDIS_PW}@`);
      const env = baseEnv({ MONGODB_URI: mongoUri, REDIS_URL: redisUrl, ADMIN_API_KEY: KEY, LOG_FORMAT: format, LOG_LEVEL: "debug" });
      const binary = installBinary(ctx.dir);
      running = await startBinary(binary, ctx.dir, env);
      const auth = { authorization: `Bearer ${KEY}` };

      const run = await fetch(`${running.url}/re-sync-all`, { method: "POST", headers: auth });
      const runText = await run.text();
      expect(run.status).toBe(503);
      const result = JSON.parse(runText) as { error: string; message: string; status: string };
      expect(result.error).toBe("sync_failed");
      expect(result.message.length).toBeGreaterThan(0);
      expectClean("run response", runText);

      const info = await fetch(`${running.url}/info`);
      const infoText = await info.text();
      expect(info.status).toBe(503);
      expect((JSON.parse(infoText) as { mongodb: { reachable: boolean } }).mongodb.reachable).toBe(false);
      expectClean("/info", infoText);

      const status = await (await fetch(`${running.url}/sync-status?history=true`)).text();
      expect(status).toContain('"status":"failed"');
      expectClean("/sync-status", status);

      for (const [path, init] of [
        ["/re-sync-all", { method: "POST", headers: { authorization: `Bearer ${KEY}x` } }],
        ["/categories", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: '{"linked": 1}' }],
        ["/categories", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{bad" }],
        ["/category-search?query=a", {}],
        ["/healthz-startup", {}],
        ["/swagger/json", {}],
        ["/metrics", {}],
        ["/nowhere", {}],
      ] as [string, RequestInit][]) {
        expectClean(path, await (await fetch(`${running.url}${path}`, init)).text());
      }

      expect(await running.stop()).toBe(0);
      const logs = running.output();
      expect(logs).toContain(format === "json" ? '"level":"error"' : "failed");
      expectClean("logs", logs);

      const history = new Database(join(ctx.dir, "search-sync-history.db"), { readonly: true });
      const tables = history.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      const rows = tables.map(({ name }) => history.query(`SELECT * FROM "${name}"`).all());
      history.close();
      const dump = JSON.stringify(rows);
      expect(dump).toContain("failed");
      expectClean("history database", dump);

      const cli = Bun.spawnSync([binary, "history", "--json"], { cwd: ctx.dir, env: { PATH: process.env.PATH ?? "", ...env } });
      expect(cli.exitCode).toBe(0);
      expectClean("search-sync history", cli.stdout.toString() + cli.stderr.toString());
    }, 60_000);
  }

  test("an invalid value naming a password stops start-up without showing it", async () => {
    const proc = Bun.spawn([installBinary(ctx.dir)], {
      cwd: ctx.dir,
      env: { PATH: process.env.PATH ?? "", MONGODB_URI: `mongodb://syncuser:${MONGO_PW}@127.0.0.1:99999/`, ADMIN_API_KEY: "short" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(2);
    const err = await new Response(proc.stderr).text();
    expect(err).toContain("MONGODB_URI");
    expect(err).toContain("***");
    expectClean("start-up error", err);
  });
});

describe("limits on the real server", () => {
  /** Sends raw bytes and returns what comes back before the server closes (or 2 s pass). */
  function raw(port: number, request: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let out = "";
      const timer = setTimeout(() => socket.destroy(), 2_000);
      socket.on("data", (d) => (out += d.toString()));
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(out);
      });
      socket.on("error", () => {});
      socket.write(request);
    });
  }

  test("413 JSON for any declared length over 1 MB (past Bun's own limit too), for a chunked body, and 414/422 for queries", async () => {
    running = await startBinary(installBinary(ctx.dir), ctx.dir, baseEnv());
    const port = Number(new URL(running.url).port);
    for (const length of [1_048_577, 200_000_000, 5_000_000_000]) {
      const reply = await raw(
        port,
        `POST /categories HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"a":`,
      );
      expect(reply).toStartWith("HTTP/1.1 413");
      expect(reply.toLowerCase()).toContain("connection: close");
      expect(reply).toContain('{"error":"payload_too_large","message":"the request body is larger than 1048576 bytes (1 MB)","status":"error"}');
    }

    let sent = 0;
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 3 * 1024 * 1024) return controller.close();
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const res = await fetch(`${running.url}/re-sync-all?wait=maybe`, { method: "POST", body: chunked, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "payload_too_large", status: "error", message: "the request body is larger than 1048576 bytes (1 MB)" });

    const long = await fetch(`${running.url}/category-search?query=${"a".repeat(9_000)}`);
    expect(long.status).toBe(414);
    expect(((await long.json()) as { error: string }).error).toBe("uri_too_long");

    // Range checks of integer query parameters hold in the compiled binary (a --minify build lost them).
    for (const path of [
      "/category-search?limit=5000",
      "/category-search?limit=0",
      "/sync-status?limit=1001",
      "/sync-status?history=true&limit=99999999999999999999",
    ]) {
      const r = await fetch(`${running.url}${path}`);
      expect({ path, status: r.status }).toEqual({ path, status: 422 });
      expect(((await r.json()) as { field: string }).field).toBe("limit");
    }
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });
});
