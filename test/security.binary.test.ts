// Security through the compiled binary: the start-up warning, secrets kept out of every output,
// and the limits as the real server (Bun.serve) answers them.

import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, installBinary, type RunningBinary, runCommand, serviceEnv, startBinary } from "../scripts/lib/binary.ts";
import { killAll } from "../scripts/lib/procs.ts";
import { startRedisSentinelWithPasswords } from "./e2e/topologies.ts";
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
  // REDIS_PASSWORD (the master's, through Sentinel) and REDIS_SENTINEL_PASSWORD (the Sentinels' own).
  const REDIS_AUTH_PW = "RedisAuthPw-s3cret-4u";
  const SENTINEL_PW = "SentinelPw-s3cret-4u";
  const SECRETS = [MONGO_PW, REDIS_PW, KEY, REDIS_AUTH_PW, SENTINEL_PW, encodeURIComponent(MONGO_PW), encodeURIComponent(REDIS_PW)];

  const expectClean = (where: string, text: string) => {
    for (const secret of SECRETS) expect({ where, leaks: text.includes(secret) }).toEqual({ where, leaks: false });
  };

  /** Every answer an outsider or an operator can get from the service: errors of each kind, health, status, docs, metrics. */
  async function everyAnswer(url: string): Promise<[string, string][]> {
    const auth = { authorization: `Bearer ${KEY}` };
    const out: [string, string][] = [];
    for (const [path, init] of [
      ["/info", {}],
      ["/sync-status?history=true", {}],
      ["/scheduler/status", {}],
      ["/re-sync-all", { method: "POST", headers: auth }],
      ["/re-sync-all", { method: "POST", headers: { authorization: `Bearer ${KEY}x` } }],
      ["/categories", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: '{"linked": 1}' }],
      ["/categories", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{bad" }],
      ["/category-search?query=a", {}],
      ["/healthz-startup", {}],
      ["/swagger/json", {}],
      ["/metrics", {}],
      ["/dashboard", {}],
      ["/nowhere", {}],
    ] as [string, RequestInit][])
      out.push([`${init.method ?? "GET"} ${path}`, await (await fetch(`${url}${path}`, init)).text()]);
    return out;
  }

  /** Every row of every table of a history database, as text. */
  function historyDump(path: string): string {
    const history = new Database(path, { readonly: true });
    try {
      const tables = history.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      return JSON.stringify(tables.map(({ name }) => history.query(`SELECT * FROM "${name}"`).all()));
    } finally {
      history.close();
    }
  }

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

      for (const [where, text] of await everyAnswer(running.url)) expectClean(where, text);

      expect(await running.stop()).toBe(0);
      const logs = running.output();
      expect(logs).toContain(format === "json" ? '"level":"error"' : "failed");
      expectClean("logs", logs);

      const dump = historyDump(join(ctx.dir, "search-sync-history.db"));
      expect(dump).toContain("failed");
      expectClean("history database", dump);

      const cli = Bun.spawnSync([binary, "history", "--json"], { cwd: ctx.dir, env: { PATH: process.env.PATH ?? "", ...env } });
      expect(cli.exitCode).toBe(0);
      expectClean("search-sync history", cli.stdout.toString() + cli.stderr.toString());
    }, 60_000);
  }

  describe("REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD", () => {
    let sentinel: Awaited<ReturnType<typeof startRedisSentinelWithPasswords>>;
    beforeAll(async () => {
      sentinel = await startRedisSentinelWithPasswords("shop", REDIS_AUTH_PW, SENTINEL_PW);
    });
    afterAll(killAll);

    for (const format of ["text", "json"]) {
      test(`Sentinel with both passwords, right and wrong (LOG_FORMAT=${format}): no answer, log line, history row or CLI output shows either`, async () => {
        const binary = installBinary(ctx.dir);
        const env = (passwords: { redis: string; sentinel: string }) => ({
          // MongoDB unreachable, so that runs fail and errors are recorded.
          MONGODB_URI: `mongodb://syncuser:${MONGO_PW}@127.0.0.1:${freePort()}/?authSource=admin`,
          DB_NAME: ctx.dbName,
          REDIS_KEY_PREFIX: ctx.prefix,
          ENABLE_SCHEDULER: "false",
          REDIS_SENTINELS: sentinel.seeds,
          REDIS_SENTINEL_NAME: sentinel.name,
          REDIS_PASSWORD: passwords.redis,
          REDIS_SENTINEL_PASSWORD: passwords.sentinel,
          ADMIN_API_KEY: KEY,
          LOG_FORMAT: format,
          LOG_LEVEL: "debug",
        });
        // Wrong passwords carry the right ones inside them: a leak of either shows.
        const cases = [
          { name: "right passwords", redis: REDIS_AUTH_PW, sentinel: SENTINEL_PW, reachable: true },
          { name: "wrong Sentinel password", redis: REDIS_AUTH_PW, sentinel: `${SENTINEL_PW}-wrong`, reachable: false },
          { name: "wrong master password", redis: `${REDIS_AUTH_PW}-wrong`, sentinel: SENTINEL_PW, reachable: false },
        ];
        for (const c of cases) {
          const e = env(c);
          running = await startBinary(binary, ctx.dir, e);
          const info = await (await fetch(`${running.url}/info`)).json();
          // The passwords are really used: with the right ones Redis answers through the Sentinel.
          expect({ case: c.name, reachable: (info as { redis: { reachable: boolean } }).redis.reachable }).toEqual({ case: c.name, reachable: c.reachable });
          const run = await fetch(`${running.url}/re-sync-all`, { method: "POST", headers: { authorization: `Bearer ${KEY}` } });
          expect({ case: c.name, status: run.status }).toEqual({ case: c.name, status: 503 });
          expectClean(`${c.name}: run answer`, await run.text());
          for (const [where, text] of await everyAnswer(running.url)) expectClean(`${c.name}: ${where}`, text);
          expect(await running.stop()).toBe(0);
          expectClean(`${c.name}: service log`, running.output());
          // The commands side by side (each waits for Redis on its own); LOG_FORMAT changes only the log lines of sync.
          const commands = [["sync"], ["sync", "--json"], ...(format === "text" ? [["status"], ["status", "--json"], ["history"], ["history", "--json"]] : [])];
          const ran = await Promise.all(commands.map((args) => runCommand([binary, ...args], ctx.dir, e, 60_000)));
          for (const [i, cli] of ran.entries()) expectClean(`${c.name}: search-sync ${commands[i]!.join(" ")}`, cli.stdout + cli.stderr);
        }
        // The failed runs (MongoDB unreachable, Redis reachable) are in the history with their errors.
        const dump = historyDump(join(ctx.dir, "search-sync-history.db"));
        expect(dump).toContain("failed");
        expectClean("history database", dump);
      }, 150_000);
    }
  });

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
    // What the README says Bun answers itself: a request line and headers over 16 KB, a malformed Content-Length.
    const longer = await raw(port, `GET /category-search?query=${"a".repeat(17_000)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    expect(longer).toStartWith("HTTP/1.1 431");
    const badLength = await raw(port, `POST /categories HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: abc\r\n\r\n{}`);
    expect(badLength).toStartWith("HTTP/1.1 400");

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
