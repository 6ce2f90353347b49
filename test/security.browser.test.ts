// What a web page open in a browser on the service's host could send to admin endpoints: a form
// or fetch from another origin, a cross-site request, a DNS-rebound host name, a text/plain body.
// In-process (app.handle) for the rules, and raw requests to the compiled binary for bad Host headers.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../scripts/lib/binary.ts";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { createContext, type TestContext } from "./helpers.ts";

const KEY = "browser-admin-key-0123456789";
const OID = "64e0000000000000000000a1";
const PUSH = JSON.stringify({ linked: OID, name: "n", slug: "s", origin_name: "Mailer box", display_names: [{ iso: "en", display_name: "Mailer box" }] });

let ctx: TestContext;
let opened: Services[] = [];
let running: RunningBinary | null = null;
beforeEach(async () => {
  ctx = await createContext("browser");
  opened = [];
});
afterEach(async () => {
  if (running && running.proc.exitCode === null) await running.stop();
  running = null;
  for (const s of opened) while (s.engine.activeRunId) await Bun.sleep(20);
  await ctx.cleanup();
});

async function appWith(env: Record<string, string> = {}): Promise<App> {
  const services = await ctx.services(env);
  opened.push(services);
  return createApp({ ...services, version: "test", startedAt: new Date() });
}

async function call(app: App, url: string, init: RequestInit = {}) {
  const res = await app.handle(new Request(url, init));
  return { status: res.status, body: (await res.json()) as { error?: string; message?: string } };
}

const post = (headers: Record<string, string>, body = PUSH): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body,
});

describe("admin endpoints refuse browser requests from elsewhere", () => {
  for (const mode of ["no key", "key"] as const) {
    const env: Record<string, string> = mode === "key" ? { ADMIN_API_KEY: KEY } : {};
    const auth: Record<string, string> = mode === "key" ? { authorization: `Bearer ${KEY}` } : {};

    test(`${mode}: an Origin that is not the service's own nor in CORS_ORIGINS → 403`, async () => {
      const app = await appWith(env);
      const res = await call(app, "http://localhost/categories", post({ ...auth, origin: "https://evil.example" }));
      expect(res.status).toBe(403);
      expect(res.body.error).toBe("forbidden");
      expect(res.body.message).toContain("origin https://evil.example");
      // The scheduler and run triggers too, GET triggers of the guide included.
      expect((await call(app, "http://localhost/scheduler/stop", { method: "POST", headers: { ...auth, origin: "null" } })).status).toBe(403);
      expect((await call(app, "http://localhost/generate-data-set", { headers: { ...auth, origin: "http://127.0.0.1:9999" } })).status).toBe(403);
    });

    test(`${mode}: Sec-Fetch-Site cross-site → 403, same-origin and none pass`, async () => {
      const app = await appWith(env);
      expect((await call(app, "http://localhost/categories", post({ ...auth, "sec-fetch-site": "cross-site" }))).status).toBe(403);
      expect((await call(app, "http://localhost/categories", post({ ...auth, "sec-fetch-site": "same-origin" }))).status).toBe(503);
      expect((await call(app, "http://localhost/categories", post({ ...auth, "sec-fetch-site": "none" }))).status).toBe(503);
    });

    test(`${mode}: the service's own origin and origins in CORS_ORIGINS pass`, async () => {
      const app = await appWith({ ...env, CORS_ORIGINS: "https://admin.example" });
      // 503 not_ready: the push got through every guard and found no index yet.
      expect((await call(app, "http://localhost/categories", post({ ...auth, origin: "http://localhost" }))).status).toBe(503);
      expect((await call(app, "http://localhost/categories", post({ ...auth, origin: "https://admin.example" }))).status).toBe(503);
      expect((await call(app, "http://localhost/categories", post({ ...auth, origin: "https://other.example" }))).status).toBe(403);
    });

    test(`${mode}: a text/plain or form body (what a page may send without a preflight) → 415, nothing applied`, async () => {
      const app = await appWith(env);
      for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
        const res = await call(app, "http://localhost/categories", { method: "POST", headers: { ...auth, "content-type": type }, body: PUSH });
        expect({ type, status: res.status, error: res.body.error }).toEqual({ type, status: 415, error: "unsupported_media_type" });
      }
    });
  }

  test("no key: a Host that is not a loopback name, BASE_URL's host or in ALLOWED_HOSTS → 403 (DNS rebinding)", async () => {
    const app = await appWith({ BASE_URL: "http://search.internal:8000", ALLOWED_HOSTS: "sync.example,10.1.2.3" });
    const rebound = await call(app, "http://attacker.example:8000/categories", post({ origin: "http://attacker.example:8000" }));
    expect(rebound.status).toBe(403);
    expect(rebound.body.message).toContain("ALLOWED_HOSTS");
    expect((await call(app, "http://attacker.example:8000/re-sync-all?wait=false", { method: "POST" })).status).toBe(403);
    for (const host of ["localhost", "127.0.0.1", "[::1]", "app.localhost", "search.internal:8000", "sync.example", "10.1.2.3:8000"])
      expect({ host, status: (await call(app, `http://${host}/categories`, post({}))).status }).toEqual({ host, status: 503 });
    // Search and status stay open to any Host.
    expect((await call(app, "http://attacker.example/sync-status")).status).toBe(200);
  });

  test("key set: any Host passes with the key (the key is the protection), without it 401", async () => {
    const app = await appWith({ ADMIN_API_KEY: KEY });
    expect((await call(app, "http://attacker.example/categories", post({ authorization: `Bearer ${KEY}` }))).status).toBe(503);
    expect((await call(app, "http://attacker.example/categories", post({}))).status).toBe(401);
  });
});

/** One raw HTTP/1.1 request, so the Host header can be missing or malformed. */
function rawGet(port: number, path: string, host: string | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(`GET ${path} HTTP/1.1\r\n${host === null ? "" : `Host: ${host}\r\n`}Connection: close\r\n\r\n`),
    );
    let data = "";
    socket.on("data", (chunk) => {
      data += chunk;
    });
    socket.on("end", () => resolve({ status: Number(data.split(" ")[1]), body: data.slice(data.indexOf("\r\n\r\n") + 4) }));
    socket.on("error", reject);
  });
}

describe("Host headers on the real server", () => {
  test("a missing or malformed Host gets 400 with the JSON error, no 500 and no error log line", async () => {
    running = await startBinary(installBinary(ctx.dir), ctx.dir, serviceEnv(ctx));
    const port = Number(new URL(running.url).port);
    for (const host of [null, "", "a b", "[::1", "exa%mple", "x:99999", "\u00e9x"]) {
      const res = await rawGet(port, "/category-search?query=a", host);
      expect({ host, status: res.status }).toEqual({ host, status: 400 });
      if (host !== null) expect(JSON.parse(res.body).error).toBe("bad_request");
    }
    expect((await rawGet(port, "/healthz", "localhost")).status).toBe(200);
    expect(await running.stop()).toBe(0);
    expect(running.output()).not.toContain("request failed");
  });

  test("a 404 names at most 200 characters of the path", async () => {
    const app = await appWith();
    const res = await call(app, `http://localhost/${"x".repeat(5000)}`);
    expect(res.status).toBe(404);
    expect(res.body.message!.length).toBeLessThan(260);
  });

  test("limit takes plain decimal integers only", async () => {
    const app = await appWith();
    for (const limit of ["0x5", "1e2", " 5", "5.0", "+5", "0", "101"]) {
      const res = await call(app, `http://localhost/category-search?limit=${encodeURIComponent(limit)}`);
      expect({ limit, status: res.status }).toEqual({ limit, status: 422 });
    }
    for (const limit of ["0x5", "1e2", "1001"])
      expect((await call(app, `http://localhost/sync-status?history=true&limit=${encodeURIComponent(limit)}`)).status).toBe(422);
  });

  test("/info names the history file, not the machine's directories", async () => {
    const app = await appWith();
    const res = await app.handle(new Request("http://localhost/info"));
    const text = await res.text();
    expect(text).not.toContain(ctx.dir);
  });
});
