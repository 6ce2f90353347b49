// The HTTP app in-process (createApp(deps).handle): probes, /info, errors, OpenAPI, bad parameters.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { basename } from "node:path";
import { ObjectId } from "mongodb";
import { createServices, type Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { parseConfig } from "../src/platform/config.ts";
import { silentLogger } from "../src/platform/log.ts";
import { RunLock } from "../src/runs/lock.ts";
import { CLUSTER_NODES, REDIS_URL } from "./env.ts";
import { createContext, REDIS_DOWN_ENV, type TestContext } from "./helpers.ts";
import { heldEngine } from "./sync.fixtures.ts";

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createContext("http");
});
afterEach(async () => {
  await ctx.cleanup();
});

// What /info and /sync-status say of a change follower this process has not started.
const FOLLOWER_NOT_STARTED = {
  mode: "auto",
  state: "stopped",
  reason: null,
  lag_seconds: null,
  last_event_at: null,
  events_applied: { insert: 0, update: 0, replace: 0, delete: 0 },
  resync_run_id: null,
  error: null,
};

function appOf(services: Services): App {
  return createApp({ ...services, version: "9.9.9-test", startedAt: new Date(Date.now() - 5_000) });
}

async function call(app: App, method: string, path: string): Promise<{ status: number; body: any; type: string | null }> {
  const res = await app.handle(new Request(`http://localhost${path}`, { method }));
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, type: res.headers.get("content-type")?.split(";")[0] ?? null };
}

async function seed() {
  const oid = (n: number) => new ObjectId(`64e${n.toString(16).padStart(21, "0")}`);
  for (const [i, type] of ["categories", "boxes", "options"].entries()) {
    await ctx.db.collection(type).insertMany([
      {
        _id: oid(i * 10 + 1),
        name: `${type} one`,
        slug: `${type}-one`,
        display_name: [
          { iso: "en", display_name: `${type} one` },
          { iso: "nl", display_name: `${type} een` },
        ],
      },
      { _id: oid(i * 10 + 2), name: `${type} two`, slug: `${type}-two`, display_name: [{ iso: "en", display_name: `${type} two` }] },
    ]);
  }
}

describe("probes", () => {
  test("GET /healthz is always healthy", async () => {
    const app = appOf(await ctx.services());
    expect(await call(app, "GET", "/healthz")).toEqual({
      status: 200,
      body: { status: "healthy", message: "Search service is running" },
      type: "application/json",
    });
  });

  test("GET /healthz-startup: 503 before any index serves, 200 once every type serves", async () => {
    await seed();
    const services = await ctx.services();
    const app = appOf(services);
    const before = await call(app, "GET", "/healthz-startup");
    expect(before.status).toBe(503);
    expect(before.body).toEqual({
      error: "not_ready",
      status: "initializing",
      message: "Search service is still initializing",
      detail: "no index is serving yet for: categories, boxes, options; run a sync",
      missing: ["categories", "boxes", "options"],
    });

    expect((await services.engine.run("boxes", "api")).status).toBe("success");
    const partly = await call(app, "GET", "/healthz-startup");
    expect(partly.status).toBe(503);
    expect(partly.body.missing).toEqual(["categories", "options"]);

    expect((await services.engine.run("all", "api")).status).toBe("success");
    const after = await call(app, "GET", "/healthz-startup");
    expect(after).toEqual({
      status: 200,
      type: "application/json",
      body: {
        status: "ready",
        message: "Search service initialization complete",
        index: {
          categories: { serving: true, entries: 3 },
          boxes: { serving: true, entries: 3 },
          options: { serving: true, entries: 3 },
        },
      },
    });
  });
});

describe("GET /info", () => {
  test("version, uptime, Redis with the key count under the prefix, MongoDB, history, index", async () => {
    await seed();
    const services = await ctx.services();
    const app = appOf(services);
    const result = await services.engine.run("all", "api");
    // A key outside the prefix is not counted.
    const outside = `sentinel:${crypto.randomUUID()}`;
    await ctx.redis.set(outside, "1");
    try {
      const info = await call(app, "GET", "/info");
      const keys = await ctx.keys();
      expect(info.status).toBe(200);
      expect(info.body).toEqual({
        name: "search-sync",
        version: "9.9.9-test",
        uptime_seconds: expect.any(Number),
        status: "ok",
        redis: {
          reachable: true,
          mode: CLUSTER_NODES ? "cluster" : "standalone",
          key_prefix: ctx.prefix,
          used_memory_bytes: expect.any(Number),
          keys_under_prefix: keys.length,
          topology: CLUSTER_NODES
            ? { masters: 3, replicas: 3, nodes: expect.any(Array) }
            : { masters: 1, replicas: 0, nodes: [{ address: new URL(REDIS_URL).host, role: "master", up: true }] },
        },
        index: {
          categories: { serving: true, entries: 3 },
          boxes: { serving: true, entries: 3 },
          options: { serving: true, entries: 3 },
        },
        mongodb: { reachable: true, database: ctx.dbName },
        history: {
          file: basename(ctx.env.HISTORY_DB_PATH!),
          last_run_id: result.run_id,
          pending_writes: 0,
          last_error: null,
          corrupt_file_moved_to: null,
          stream: { position: "0", imported: 0, invalid: 0, pending_publish: 0 },
        },
        active_run_id: null,
        scheduler: null,
        change_stream: FOLLOWER_NOT_STARTED,
      });
      if (CLUSTER_NODES) expect(info.body.redis.topology.nodes.map((n: { address: string }) => n.address).sort()).toEqual(CLUSTER_NODES.split(",").sort());
      expect(info.body.uptime_seconds).toBeGreaterThanOrEqual(5);
      expect(info.body.redis.used_memory_bytes).toBeGreaterThan(0);
      expect(keys.length).toBeGreaterThan(10);
    } finally {
      await ctx.redis.del(outside);
    }
  });

  test("MongoDB unreachable: a run answers 503 sync_failed with the cause; /info 503, degraded", async () => {
    const app = appOf(await ctx.services({ MONGODB_URI: "mongodb://127.0.0.1:1" }));
    const run = await call(app, "POST", "/re-sync-all");
    expect(run.status).toBe(503);
    expect(run.body).toMatchObject({
      error: "sync_failed",
      message: "connect ECONNREFUSED 127.0.0.1:1",
      status: "error",
      run_status: "failed",
      run_id: expect.any(String),
      published: false,
    });
    const info = await call(app, "GET", "/info");
    expect(info.status).toBe(503);
    expect(info.body).toMatchObject({
      status: "degraded",
      redis: { reachable: true, keys_under_prefix: 2 }, // the status key and the history stream of the failed run
      mongodb: { reachable: false, database: ctx.dbName, error: expect.any(String) },
      index: {
        categories: { serving: false, entries: 0 },
        boxes: { serving: false, entries: 0 },
        options: { serving: false, entries: 0 },
      },
      history: { last_run_id: run.body.run_id },
    });
  });
});

describe("Redis unreachable", () => {
  test("run triggers answer 503 with the reason, status and probes 503, liveness 200", async () => {
    // Built directly: the test helper would wait for Redis to come up.
    const services = createServices(parseConfig({ ...ctx.env, ...REDIS_DOWN_ENV }), silentLogger);
    try {
      const app = appOf(services);
      for (const [method, path] of [
        ["POST", "/re-sync-all"],
        ["GET", "/generate-data-set"],
        ["POST", "/generate-box-data?wait=false"],
      ]) {
        const res = await call(app, method!, path!);
        expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 503, error: "service_unavailable" });
        expect(res.body.message).toStartWith("could not start a run (is Redis reachable?): ");
      }
      expect((await call(app, "GET", "/sync-status")).body).toEqual({
        error: "service_unavailable",
        status: "error",
        message: "Redis is unreachable: the sync status cannot be read",
      });
      expect((await call(app, "GET", "/healthz-startup")).status).toBe(503);
      const info = await call(app, "GET", "/info");
      expect(info.status).toBe(503);
      expect(info.body).toMatchObject({ status: "degraded", redis: { reachable: false, keys_under_prefix: null, error: expect.any(String) }, index: null });
      expect(await call(app, "GET", "/healthz")).toMatchObject({ status: 200, body: { status: "healthy" } });
    } finally {
      await services.close();
    }
  });
});

describe("errors", () => {
  test("an unknown route is a JSON 404", async () => {
    const app = appOf(await ctx.services());
    expect(await call(app, "GET", "/no/such/route")).toEqual({
      status: 404,
      type: "application/json",
      body: { error: "not_found", status: "error", message: "no route for GET /no/such/route" },
    });
    expect(await call(app, "DELETE", "/healthz")).toEqual({
      status: 405,
      type: "application/json",
      body: { error: "method_not_allowed", status: "error", message: "/healthz answers to GET, not DELETE" },
    });
  });

  test("a bad boolean query parameter is a 422 naming the field", async () => {
    const app = appOf(await ctx.services());
    for (const [method, path, field] of [
      ["POST", "/re-sync-all?force=maybe", "force"],
      ["POST", "/re-sync-all?wait=later", "wait"],
      ["GET", "/generate-data-set?dry_run=perhaps", "dry_run"],
      ["GET", "/generate-box-data?force=2", "force"],
      ["POST", "/generate-option-data?force=yes%20please", "force"],
      ["GET", "/sync-status?history=often", "history"],
      ["GET", "/sync-status?history=true&limit=abc", "limit"],
      ["GET", "/sync-status?history=true&limit=0", "limit"],
      ["GET", "/sync-status?history=true&limit=1001", "limit"],
      ["GET", "/sync-status?history=true&limit=2.5", "limit"],
    ] as const) {
      const res = await call(app, method, path);
      expect({ path, status: res.status, body: res.body }).toEqual({
        path,
        status: 422,
        body: { error: "invalid_request", status: "error", field, message: expect.stringMatching(new RegExp(`^${field}: .+`)) },
      });
      expect(JSON.stringify(res.body)).not.toMatch(/\n\s+at |\.ts:\d+/);
    }
    // Nothing was started by the rejected triggers.
    expect((await call(app, "GET", "/sync-status")).body.status).toBe("never_run");
  });
});

describe("OpenAPI", () => {
  test("/swagger/json documents every endpoint of the guide", async () => {
    const app = appOf(await ctx.services());
    const res = await call(app, "GET", "/swagger/json");
    expect(res.status).toBe(200);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    const methods = (p: string) => Object.keys(paths[p] ?? {}).sort();
    expect(methods("/re-sync-all")).toEqual(["post"]);
    expect(methods("/generate-data-set")).toEqual(["get", "post"]);
    expect(methods("/generate-box-data")).toEqual(["get", "post"]);
    expect(methods("/generate-option-data")).toEqual(["get", "post"]);
    expect(methods("/sync-status")).toEqual(["get"]);
    expect(methods("/info")).toEqual(["get"]);
    expect(methods("/healthz")).toEqual(["get"]);
    expect(methods("/healthz-startup")).toEqual(["get"]);
    // The query parameters of the run triggers are documented.
    const params = (paths["/re-sync-all"]!.post as { parameters?: { name: string; in: string }[] }).parameters ?? [];
    expect(
      params
        .filter((p) => p.in === "query")
        .map((p) => p.name)
        .sort(),
    ).toEqual(["dry_run", "force", "wait"]);
    const ui = await app.handle(new Request("http://localhost/swagger"));
    expect(ui.status).toBe(200);
    expect(ui.headers.get("content-type")).toContain("text/html");
  });
});

describe("GET /sync-status", () => {
  test("before any run", async () => {
    const app = appOf(await ctx.services());
    expect(await call(app, "GET", "/sync-status")).toEqual({
      status: 200,
      type: "application/json",
      body: {
        status: "never_run",
        last_sync: null,
        duration_seconds: null,
        items_synced: {},
        last_run: null,
        active: null,
        change_stream: FOLLOWER_NOT_STARTED,
      },
    });
    const withHistory = await call(app, "GET", "/sync-status?history=true&limit=5");
    expect(withHistory.body).toEqual({
      status: "never_run",
      last_sync: null,
      duration_seconds: null,
      items_synced: {},
      last_run: null,
      active: null,
      change_stream: FOLLOWER_NOT_STARTED,
      history: [],
      trends: { runs: 0, success_rate: null, mean_duration_ms: null, p95_duration_ms: null, entries_over_time: [], change_vs_previous: null },
    });
  });

  test("after a run: its figures", async () => {
    await seed();
    const services = await ctx.services();
    const app = appOf(services);
    const result = await services.engine.run("all", "api");
    expect(await call(app, "GET", "/sync-status")).toEqual({
      status: 200,
      type: "application/json",
      body: {
        status: "success",
        last_sync: result.finished_at,
        duration_seconds: result.duration_ms! / 1000,
        items_synced: { categories: 3, boxes: 3, options: 3 },
        last_run: result,
        active: null,
        change_stream: FOLLOWER_NOT_STARTED,
      },
    });
  });
});

/** A keep-alive connection that has made one request and now sits idle; `closed` resolves when the server closes it. */
async function idleConnection(port: number): Promise<{ closed: Promise<void> }> {
  const socket = net.connect(port, "127.0.0.1");
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  const answered = new Promise<void>((resolve) => socket.once("data", () => resolve()));
  socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
  await answered;
  return { closed };
}

describe("a client waiting for a run's result", () => {
  // It receives nothing until the run ends, and Bun closes a connection idle for the server's
  // idleTimeout (Elysia's default: 30 s, shorter than a big run): src/runs/routes.ts lifts the
  // timeout for such a request. Here the server's idleTimeout is 1 s (Bun checks every 4 s), and
  // the run is held until the server has closed an idle connection opened after the waiting one.
  test("keeps its connection past the server's idle timeout and gets the result", async () => {
    await seed();
    const s = await ctx.services();
    const run = heldEngine(s);
    const app = createApp({ ...s, engine: run.engine, version: "9.9.9-test", startedAt: new Date() });
    app.listen({ hostname: "127.0.0.1", port: 0, idleTimeout: 1 });
    try {
      const port = app.server!.port!;
      const waiting = fetch(`http://127.0.0.1:${port}/re-sync-all`, { method: "POST" }).then(
        async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }),
        (err: Error) => ({ status: 0, body: { error: err.message } }),
      );
      await run.held;
      const idle = await idleConnection(port);
      await idle.closed;
      run.release();
      expect(await waiting).toMatchObject({ status: 200, body: { status: "success", published: true } });
    } finally {
      await app.stop(true);
    }
  }, 20_000);

  test("keeps it while the run is slow to start, then gets the result and the server closes the connection", async () => {
    await seed();
    const s = await ctx.services();
    // Taking the lock outlasts Bun's idle sweep (every 4 s): the connection must not be idle meanwhile.
    class SlowLock extends RunLock {
      private slow = true;
      override async acquire(runId: string) {
        if (this.slow) await Bun.sleep(5_000);
        this.slow = false;
        return super.acquire(runId);
      }
    }
    const run = heldEngine(s, { lock: new SlowLock(s.redis, s.keys.lock, s.config.lockTtlMs) });
    const app = createApp({ ...s, engine: run.engine, version: "9.9.9-test", startedAt: new Date() });
    app.listen({ hostname: "127.0.0.1", port: 0, idleTimeout: 1 });
    try {
      const answer = exchange(app.server!.port!, "POST /re-sync-all");
      await run.held;
      // A request answered at once (a run is active) is closed after its answer too.
      const refused = await exchange(app.server!.port!, "POST /re-sync-all");
      expect(refused.response).toStartWith("HTTP/1.1 409 ");
      expect(refused.response.toLowerCase()).toContain("\r\nconnection: close\r\n");
      expect(refused.closed).toBe(true);
      run.release();
      const { response, closed } = await answer;
      expect(response).toStartWith("HTTP/1.1 200 ");
      expect(JSON.parse(response.slice(response.indexOf("\r\n\r\n")))).toMatchObject({ status: "success", published: true });
      // No idle timeout applies to it any more: left open, it would stay open for good.
      expect(response.toLowerCase()).toContain("\r\nconnection: close\r\n");
      expect(closed).toBe(true);
    } finally {
      await app.stop(true);
    }
  }, 20_000);
});

/**
 * Sends one keep-alive request on a new connection and gathers what comes back until the server
 * closes it (`closed`), or until nothing more has come for 2 s after the answer began.
 */
function exchange(port: number, requestLine: string): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let response = "";
    let quiet: Timer | undefined;
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      response += chunk.toString();
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        socket.destroy();
        resolve({ response, closed: false });
      }, 2_000);
    });
    socket.once("close", () => {
      clearTimeout(quiet);
      resolve({ response, closed: true });
    });
    socket.write(`${requestLine} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n`);
  });
}
