// Admin protection (SPEC §3): the key, the loopback rule, every admin route found from the app
// itself, read endpoints open, CORS. In-process (app.handle), plus one listening server on 127.0.0.1.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { type ClientIp, isAdminRoute } from "../src/platform/http/admin.ts";
import { checkAdmin, isForwarded, isLoopback, presentedKey } from "../src/platform/http/auth.ts";
import { ApiError } from "../src/platform/http/errors.ts";
import { createLogger } from "../src/platform/log.ts";
import { errorText } from "../src/runs/engine.ts";
import { createContext, EXPECTED_ADMIN, type TestContext } from "./helpers.ts";

const KEY = "test-admin-key-0123456789";
const OUTSIDE: ClientIp = () => "203.0.113.7";

let ctx: TestContext;
let opened: Services[] = [];
beforeEach(async () => {
  ctx = await createContext("security");
  opened = [];
});
afterEach(async () => {
  for (const s of opened) while (s.engine.activeRunId) await Bun.sleep(20);
  await ctx.cleanup();
});

async function appWith(env: Record<string, string> = {}, clientIp?: ClientIp): Promise<App> {
  const services = await ctx.services(env);
  opened.push(services);
  return createApp({ ...services, version: "9.9.9-test", startedAt: new Date(), clientIp });
}

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

async function call(app: App, method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const res = await app.handle(new Request(`http://localhost${path}`, { method, headers: init.headers, body: init.body }));
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

const isAdminPath = (r: { method: string; path: string }) => r.method !== "GET" || r.path.startsWith("/generate-") || r.path === "/clear-data";

const EXPECTED_OPEN = [
  "/healthz",
  "/healthz-startup",
  "/info",
  "/sync-status",
  "/scheduler/status",
  "/swagger",
  "/swagger/json",
  "/category-search",
  "/categories-search",
  "/boxes-search",
  "/options-search",
];

describe("isLoopback, presentedKey, checkAdmin", () => {
  test("loopback addresses", () => {
    for (const ip of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "::FFFF:127.0.0.9"])
      expect({ ip, loopback: isLoopback(ip) }).toEqual({ ip, loopback: true });
    for (const ip of ["203.0.113.7", "10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1", "1127.0.0.1", "127.0.0.1.evil", "::2", "fe80::1", "", null, undefined])
      expect({ ip, loopback: isLoopback(ip) }).toEqual({ ip, loopback: false });
  });

  test("the key comes from Authorization: Bearer, else X-API-Key", () => {
    const h = (init: Record<string, string>) => new Headers(init);
    expect(presentedKey(h({}))).toBeNull();
    expect(presentedKey(h({ authorization: `Bearer ${KEY}` }))).toBe(KEY);
    expect(presentedKey(h({ authorization: `bearer   ${KEY}  ` }))).toBe(KEY);
    expect(presentedKey(h({ "x-api-key": KEY }))).toBe(KEY);
    expect(presentedKey(h({ authorization: "Basic dXNlcjpwYXNz", "x-api-key": KEY }))).toBe(KEY);
    expect(presentedKey(h({ authorization: "Basic dXNlcjpwYXNz" }))).toBe("");
    expect(presentedKey(h({ authorization: "Bearer" }))).toBe("");
    expect(presentedKey(h({ authorization: "Bearer a b" }))).toBe("");
  });

  const outcome = (key: string | null, headers: Record<string, string>, ip: string | null) => {
    try {
      checkAdmin(key, new Headers(headers), ip);
      return "allowed";
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      return `${(err as ApiError).status} ${(err as ApiError).code}`;
    }
  };

  test("key unset: loopback and in-process requests only; a proxied request is not loopback", () => {
    expect(outcome(null, {}, null)).toBe("allowed");
    expect(outcome(null, {}, "127.0.0.1")).toBe("allowed");
    expect(outcome(null, {}, "::1")).toBe("allowed");
    expect(outcome(null, {}, "203.0.113.7")).toBe("403 forbidden");
    expect(outcome(null, { authorization: `Bearer ${KEY}` }, "203.0.113.7")).toBe("403 forbidden");
    expect(outcome(null, {}, "")).toBe("403 forbidden");
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
      expect(isForwarded(new Headers({ [header]: "203.0.113.7" }))).toBe(true);
      expect(outcome(null, { [header]: "203.0.113.7" }, "127.0.0.1")).toBe("403 forbidden");
    }
  });

  test("key set: missing 401, wrong 403, right (either header) allowed, from anywhere", () => {
    for (const ip of [null, "127.0.0.1", "203.0.113.7"]) {
      expect(outcome(KEY, {}, ip)).toBe("401 unauthorized");
      expect(outcome(KEY, { authorization: "Bearer " }, ip)).toBe("401 unauthorized");
      expect(outcome(KEY, { "x-api-key": "" }, ip)).toBe("401 unauthorized");
      expect(outcome(KEY, { authorization: "Bearer wrong-key-0123456789" }, ip)).toBe("403 forbidden");
      expect(outcome(KEY, { "x-api-key": `${KEY}x` }, ip)).toBe("403 forbidden");
      expect(outcome(KEY, { "x-api-key": KEY.slice(0, -1) }, ip)).toBe("403 forbidden");
      expect(outcome(KEY, { authorization: `Bearer ${KEY}` }, ip)).toBe("allowed");
      expect(outcome(KEY, { "x-api-key": KEY }, ip)).toBe("allowed");
      expect(outcome(KEY, { "x-api-key": KEY, "x-forwarded-for": "198.51.100.1" }, ip)).toBe("allowed");
    }
  });
});

describe("the admin key comparison (constant time)", () => {
  test("wrong keys of any length, and of the key's own length, get the same 403", async () => {
    const app = await appWith({ ADMIN_API_KEY: KEY });
    const wrong = [
      "x",
      KEY.slice(0, 1),
      KEY.slice(0, -1),
      `${KEY}x`,
      `x${KEY.slice(1)}`, // the key's length, first character wrong
      `${KEY.slice(0, -1)}x`, // the key's length, last character wrong
      "é".repeat(KEY.length), // the key's length in characters, not in bytes
      "k".repeat(10_000),
    ];
    const answers = [];
    for (const key of wrong) {
      const res = await call(app, "POST", "/scheduler/stop", { headers: { "x-api-key": key } });
      answers.push({ status: res.status, body: res.body });
    }
    expect(answers).toEqual(wrong.map(() => ({ status: 403, body: { error: "forbidden", status: "error", message: "the admin key is not valid" } })));
    expect((await call(app, "POST", "/scheduler/stop", { headers: { "x-api-key": KEY } })).status).not.toBe(403);
  });

  test("both sides are hashed to SHA-256 digests (32 bytes whatever the key) and compared with timingSafeEqual, nothing else", () => {
    // crypto.timingSafeEqual throws on inputs of different lengths, so the answers above (no 500 for
    // a 1- or a 10,000-character key) show that equal lengths reach it. That it is the comparison
    // used, on both sides hashed, is read from the source: a plain === would answer the same.
    const source = readFileSync(resolve(import.meta.dir, "../src/platform/http/auth.ts"), "utf8");
    expect(source).toContain('import { createHash, timingSafeEqual } from "node:crypto";');
    expect(source).toContain('const digest = (s: string) => createHash("sha256").update(s).digest();');
    const checkAdminSource = source.slice(source.indexOf("export function checkAdmin("));
    const comparisons = checkAdminSource.split("\n").filter((line) => /\bkey\b/.test(line) && /adminApiKey/.test(line));
    expect(comparisons.map((line) => line.trim())).toEqual([
      'if (!timingSafeEqual(digest(key), digest(adminApiKey))) throw new ApiError("forbidden", "the admin key is not valid");',
    ]);
  });
});

describe("secrets in error texts and log lines", () => {
  const texts = [
    "failed to connect to mongodb://syncuser:Pw-s3cret@db.internal:27017/?authSource=admin",
    "redis://:Pw-s3cret@cache:6379/0 refused",
    "rediss://default:Pw-s3cret@cache:6380 timed out",
    "mongodb+srv://u:Pw-s3cret@cluster0.example.net/db",
    "auth failed for syncuser:Pw-s3cret@db.internal",
  ];

  test("errorText (run results, history, status) drops URI passwords", () => {
    for (const text of texts) {
      expect(errorText(new Error(text))).not.toContain("Pw-s3cret");
      expect(errorText(new Error(text))).toContain("***");
    }
  });

  test("errorText names Redis for every message ioredis gives when its connection goes away", () => {
    for (const text of [
      "Connection is closed.",
      "Command aborted due to connection close",
      'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
      "Stream isn't writeable and enableOfflineQueue options is false",
    ])
      expect(errorText(new Error(text))).toBe(`Redis connection lost: ${text}`);
  });

  test("the logger drops URI passwords from every line, text and JSON, whatever a caller passes", () => {
    for (const format of ["text", "json"] as const) {
      const lines: string[] = [];
      const logger = createLogger({ format, level: "debug" }, (line) => lines.push(line));
      for (const text of texts) {
        logger.error(text);
        logger.warn("Redis connection problem; retrying", { error: text });
        logger.info("run", { detail: { uri: text } });
      }
      expect(lines.length).toBe(texts.length * 3);
      for (const line of lines) expect({ format, line, leaks: line.includes("Pw-s3cret") }).toEqual({ format, line, leaks: false });
    }
  });
});

describe("admin routes, enumerated from the app", () => {
  test("the app's routes: every non-GET route and GET /generate-* carries the admin guard; nothing else does", async () => {
    const app = await appWith({ ADMIN_API_KEY: KEY });
    const routes = app.routes.map((r) => ({ method: r.method, path: r.path, guarded: isAdminRoute(r) }));
    const admin = routes.filter(isAdminPath).map((r) => `${r.method} ${r.path}`);
    for (const expected of EXPECTED_ADMIN) expect(admin).toContain(expected);
    for (const r of routes) expect({ route: `${r.method} ${r.path}`, guarded: r.guarded }).toEqual({ route: `${r.method} ${r.path}`, guarded: isAdminPath(r) });
    const open = routes.filter((r) => !isAdminPath(r)).map((r) => r.path);
    for (const expected of EXPECTED_OPEN) expect(open).toContain(expected);
  });

  test("ADMIN_API_KEY set: each admin route answers 401 without the key, 403 with a wrong one, and passes with it in either header", async () => {
    const app = await appWith({ ADMIN_API_KEY: KEY });
    const admin = app.routes.filter(isAdminPath);
    expect(admin.length).toBeGreaterThanOrEqual(EXPECTED_ADMIN.length);
    for (const { method, path } of admin) {
      const route = `${method} ${path}`;
      // Invalid input everywhere, so that passing the guard shows as 422 (or 503: no scheduler here), not as a run.
      const target = `${path}?wait=maybe&hours=abc`;
      const body = method === "GET" ? undefined : "{}";
      const json = { "content-type": "application/json" };
      const missing = await call(app, method, target, { body, headers: json });
      expect({ route, status: missing.status, body: missing.body }).toEqual({
        route,
        status: 401,
        body: {
          error: "unauthorized",
          status: "error",
          message: "this endpoint needs the admin key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
        },
      });
      for (const headers of [{ authorization: "Bearer not-the-key-0123456789" }, { "x-api-key": "not-the-key-0123456789" }] as Record<string, string>[]) {
        const wrong = await call(app, method, target, { body, headers: { ...json, ...headers } });
        expect({ route, status: wrong.status, body: wrong.body }).toEqual({
          route,
          status: 403,
          body: { error: "forbidden", status: "error", message: "the admin key is not valid" },
        });
      }
      for (const headers of [{ authorization: `Bearer ${KEY}` }, { "x-api-key": KEY }] as Record<string, string>[]) {
        const right = await call(app, method, target, { body, headers: { ...json, ...headers } });
        expect({ route, passed: ![401, 403].includes(right.status) }).toEqual({ route, passed: true });
        // 503 only from the scheduler routes: this app has no scheduler.
        expect({ route, ok: right.status < 500 || (path.startsWith("/scheduler/") && right.body.error === "service_unavailable") }).toEqual({
          route,
          ok: true,
        });
      }
    }
  });

  test("the key is checked before the body is parsed or the input validated", async () => {
    const app = await appWith({ ADMIN_API_KEY: KEY });
    const cases: [string, string, string | undefined][] = [
      ["POST", "/categories", "{not json"],
      ["POST", "/categories", '{"linked": 5}'],
      ["PUT", "/boxes", "[".repeat(1000)],
      ["DELETE", "/options", "\u0000"],
      ["POST", "/re-sync-all?wait=maybe", undefined],
      ["GET", "/generate-data-set?force=2", undefined],
      ["PUT", "/scheduler/interval?hours=abc", undefined],
    ];
    for (const [method, path, body] of cases) {
      const res = await call(app, method, path, { body, headers: { "content-type": "application/json" } });
      expect({ method, path, status: res.status, error: res.body.error }).toEqual({ method, path, status: 401, error: "unauthorized" });
    }
  });

  test("read endpoints answer without a key, with the key set and from a non-loopback client", async () => {
    for (const app of [await appWith({ ADMIN_API_KEY: KEY }), await appWith({}, OUTSIDE)]) {
      const reads = app.routes.filter((r) => !isAdminPath(r));
      expect(reads.length).toBeGreaterThanOrEqual(EXPECTED_OPEN.length);
      for (const { method, path } of reads) {
        const res = await call(app, method, path);
        expect({ route: `${method} ${path}`, open: ![401, 403].includes(res.status) }).toEqual({ route: `${method} ${path}`, open: true });
      }
    }
  });

  test("ADMIN_API_KEY unset: a non-loopback client gets 403 on every admin route, with how to set the key", async () => {
    const app = await appWith({}, OUTSIDE);
    for (const { method, path } of app.routes.filter(isAdminPath)) {
      const res = await call(app, method, path, { body: method === "GET" ? undefined : "{}", headers: { "content-type": "application/json" } });
      expect({ route: `${method} ${path}`, status: res.status, error: res.body.error }).toEqual({
        route: `${method} ${path}`,
        status: 403,
        error: "forbidden",
      });
      expect(res.body.message).toContain("set ADMIN_API_KEY");
      expect(res.body.message).toContain("Authorization: Bearer <key>");
    }
  });

  test("ADMIN_API_KEY unset: loopback clients pass (IPv4, IPv6, mapped), a request through a proxy does not", async () => {
    for (const ip of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
      const app = await appWith({}, () => ip);
      expect((await call(app, "POST", "/re-sync-all?wait=maybe")).status).toBe(422);
      const proxied = await call(app, "POST", "/re-sync-all?wait=maybe", { headers: { "x-forwarded-for": "198.51.100.4" } });
      expect(proxied.status).toBe(403);
    }
  });

  test("ADMIN_API_KEY set: a non-loopback client with the key passes", async () => {
    const app = await appWith({ ADMIN_API_KEY: KEY }, OUTSIDE);
    expect((await call(app, "POST", "/re-sync-all?wait=maybe")).status).toBe(401);
    expect((await call(app, "POST", "/re-sync-all?wait=maybe", { headers: { "x-api-key": KEY } })).status).toBe(422);
  });

  test("a listening server sees its loopback clients through server.requestIP", async () => {
    const app = await appWith();
    app.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const url = `http://127.0.0.1:${app.server!.port}`;
      expect((await fetch(`${url}/re-sync-all?wait=maybe`, { method: "POST" })).status).toBe(422);
      const proxied = await fetch(`${url}/re-sync-all?wait=maybe`, { method: "POST", headers: { forwarded: "for=198.51.100.4" } });
      expect(proxied.status).toBe(403);
    } finally {
      await app.stop();
    }
  });
});

describe("CORS", () => {
  const preflight = (origin: string, method = "POST") => ({
    origin,
    "access-control-request-method": method,
    "access-control-request-headers": "authorization, content-type",
  });

  test("default (no CORS_ORIGINS): no CORS headers, preflights refused", async () => {
    const app = await appWith();
    const res = await call(app, "GET", "/healthz", { headers: { origin: "https://shop.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await call(app, "OPTIONS", "/re-sync-all", { headers: preflight("https://shop.example") });
    expect(pre.status).toBe(403);
    expect(pre.body.error).toBe("forbidden");
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("listed origins get the headers and their preflight answered; others do not", async () => {
    const app = await appWith({ CORS_ORIGINS: "https://shop.example, http://localhost:5173", ADMIN_API_KEY: KEY });
    for (const origin of ["https://shop.example", "http://localhost:5173"]) {
      const res = await call(app, "GET", "/category-search?query=a", { headers: { origin } });
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(res.headers.get("vary")).toBe("Origin");
      const pre = await call(app, "OPTIONS", "/categories", { headers: preflight(origin, "DELETE") });
      expect(pre.status).toBe(204);
      expect(pre.body).toBe("");
      expect(Object.fromEntries([...pre.headers].filter(([k]) => k.startsWith("access-control-") || k === "vary"))).toEqual({
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST, PUT, DELETE",
        "access-control-allow-headers": "Authorization, X-API-Key, Content-Type",
        "access-control-max-age": "600",
        vary: "Origin",
      });
      // Errors carry the header too, so that a browser can read them.
      const denied = await call(app, "POST", "/re-sync-all", { headers: { origin } });
      expect(denied.status).toBe(401);
      expect(denied.headers.get("access-control-allow-origin")).toBe(origin);
    }
    for (const origin of ["https://evil.example", "https://shop.example.evil.example", "null"]) {
      const res = await call(app, "GET", "/healthz", { headers: { origin } });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("vary")).toBe("Origin");
      const pre = await call(app, "OPTIONS", "/re-sync-all", { headers: preflight(origin) });
      expect(pre.status).toBe(403);
      expect(pre.body.message).toContain("CORS_ORIGINS");
    }
  });

  test("CORS_ORIGINS=*: any origin, without Vary", async () => {
    const app = await appWith({ CORS_ORIGINS: "*" });
    const res = await call(app, "GET", "/healthz", { headers: { origin: "https://anything.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("vary")).toBeNull();
    expect((await call(app, "OPTIONS", "/boxes", { headers: preflight("https://anything.example", "PUT") })).status).toBe(204);
  });

  test("an OPTIONS request that is not a preflight is a 405 naming the methods", async () => {
    const app = await appWith({ CORS_ORIGINS: "https://shop.example" });
    const res = await call(app, "OPTIONS", "/categories");
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ error: "method_not_allowed", status: "error", message: "/categories answers to POST, PUT, DELETE, not OPTIONS" });
    expect(res.headers.get("allow")).toBe("POST, PUT, DELETE");
  });
});
