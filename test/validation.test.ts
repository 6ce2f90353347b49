// Limits and validation of every route (in-process): 413, 414, JSON depth, one 422 shape naming the
// field, JSON 404/405, and no 5xx for hostile input.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { jsonDepthExceeds, MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_QUERY_BYTES, parseJsonBody } from "../src/platform/http/limits.ts";
import { createContext, type TestContext } from "./helpers.ts";

// One app for the file: nothing here starts a run (every run trigger gets an invalid parameter).
let ctx: TestContext;
let services: Services;
let app: App;
beforeAll(async () => {
  ctx = await createContext("validation");
  services = await ctx.services();
  app = createApp({ ...services, version: "9.9.9-test", startedAt: new Date() });
});
afterAll(async () => {
  while (services.engine.activeRunId) await Bun.sleep(20);
  await ctx.cleanup();
});

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

async function call(
  method: string,
  path: string,
  body?: RequestInit["body"],
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<Reply> {
  const res = await app.handle(new Request(`http://localhost${path}`, { method, headers, body, duplex: "half" } as RequestInit));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

function stream(totalBytes: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= totalBytes) return controller.close();
      const n = Math.min(chunk, totalBytes - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(0x20));
    },
  });
}

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const oid = "64e000000000000000000001";

describe("limits", () => {
  test("a body over 1 MB is a JSON 413, on body routes and on routes that read no body, with or without Content-Length", async () => {
    const big = " ".repeat(MAX_BODY_BYTES + 1);
    for (const [method, path] of [
      ["POST", "/categories"],
      ["PUT", "/boxes"],
      ["DELETE", "/options"],
      ["POST", "/re-sync-all?wait=maybe"],
      ["POST", "/scheduler/stop"],
    ]) {
      for (const body of [big, stream(MAX_BODY_BYTES + 1), stream(5 * MAX_BODY_BYTES)]) {
        const res = await call(method!, path!, body);
        expect({ method, path, status: res.status, body: res.body }).toEqual({
          method,
          path,
          status: 413,
          body: { error: "payload_too_large", status: "error", message: "the request body is larger than 1048576 bytes (1 MB)" },
        });
        expect(res.headers.get("connection")).toBe("close");
      }
      // A declared length is refused before anything is read.
      const declared = await call(method!, path!, "{}", { "content-type": "application/json", "content-length": String(10 * 1024 * 1024 * 1024) });
      expect(declared.status).toBe(413);
    }
    expect((await call("POST", "/categories", "{}", { "content-type": "application/json", "content-length": "lots" })).body).toEqual({
      error: "bad_request",
      status: "error",
      message: "the Content-Length header is not a number",
    });
  });

  test("a body of exactly 1 MB is read (and then validated)", async () => {
    const body = `{"linked": 5${" ".repeat(MAX_BODY_BYTES - 13)}}`;
    expect(body.length).toBe(MAX_BODY_BYTES);
    const res = await call("POST", "/categories", body);
    expect(res.status).toBe(422);
    expect(res.body.error).toBe("invalid_request");
  });

  test("a query string over 8 KB is a JSON 414; 8 KB is served", async () => {
    const query = (n: number) => `query=${"a".repeat(n - 6)}`;
    const over = await call("GET", `/category-search?${query(MAX_QUERY_BYTES + 1)}`);
    expect(over).toMatchObject({ status: 414, body: { error: "uri_too_long", status: "error", message: "the query string is longer than 8192 bytes" } });
    for (const path of ["/re-sync-all", "/sync-status", "/nowhere"]) expect((await call("POST", `${path}?${query(MAX_QUERY_BYTES + 1)}`)).status).toBe(414);
    // Exactly 8 KB passes the limit; the search then refuses the 8186-character query itself.
    const at = await call("GET", `/category-search?${query(MAX_QUERY_BYTES)}`);
    expect(at.status).toBe(422);
    expect(at.body.field).toBe("query");
  });

  test("JSON nested deeper than 64 levels is a 422 on the body; 64 levels are parsed", async () => {
    for (const depth of [MAX_JSON_DEPTH + 1, 1_000, 500_000]) {
      const res = await call("POST", "/categories", nested(depth));
      expect({ depth, status: res.status, body: res.body }).toEqual({
        depth,
        status: 422,
        body: { error: "invalid_request", status: "error", message: "body: JSON nested deeper than 64 levels", field: "body" },
      });
    }
    const inField = `{"linked": "${oid}", "slug": "s", "origin_name": "o", "display_names": ${nested(70)}}`;
    expect((await call("PUT", "/boxes", inField)).body.field).toBe("body");
    const ok = await call("POST", "/categories", nested(MAX_JSON_DEPTH));
    expect(ok.status).toBe(422);
    expect(ok.body.message).not.toContain("nested");
  });

  test("jsonDepthExceeds counts brackets outside strings only", () => {
    expect(jsonDepthExceeds(nested(64))).toBe(false);
    expect(jsonDepthExceeds(nested(65))).toBe(true);
    expect(jsonDepthExceeds(JSON.stringify({ a: "[".repeat(1000), b: '\\"[[[[' }))).toBe(false);
    expect(jsonDepthExceeds(`{"a": "\\\\", "b": ${nested(65)}}`)).toBe(true);
    expect(jsonDepthExceeds("[".repeat(65))).toBe(true);
  });

  test("parseJsonBody: empty → null, JSON types, charset parameter", () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(parseJsonBody(bytes(""), "application/json")).toBeNull();
    expect(parseJsonBody(bytes(" \n"), null)).toBeNull();
    expect(parseJsonBody(bytes('{"a":1}'), "application/json; charset=utf-8")).toEqual({ a: 1 });
    expect(parseJsonBody(bytes('{"a":1}'), "application/merge-patch+json")).toEqual({ a: 1 });
    expect(() => parseJsonBody(bytes('{"a":1}'), "text/plain;charset=UTF-8")).toThrow("the body must be JSON");
    expect(parseJsonBody(bytes('{"a":1}'), null)).toEqual({ a: 1 });
  });

  test("bodies that are not JSON: invalid UTF-8 and broken JSON are 400, another content type a 415", async () => {
    const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]);
    expect((await call("POST", "/categories", invalidUtf8)).body).toEqual({
      error: "bad_request",
      status: "error",
      message: "the request body is not valid UTF-8",
    });
    for (const text of ["{not json", '{"a":', "\u0000", "[1,]", "{'a':1}", "NaN"])
      expect((await call("DELETE", "/categories", text)).body).toEqual({
        error: "bad_request",
        status: "error",
        message: "the request body could not be parsed (expected JSON)",
      });
    for (const type of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream", "application/xml", "text/plain"]) {
      const res = await call("POST", "/categories", "linked=64e000000000000000000001", { "content-type": type });
      expect(res.status).toBe(415);
      expect(res.body.error).toBe("unsupported_media_type");
      expect(res.body.message).toStartWith("the body must be JSON, sent as Content-Type: application/json");
    }
  });
});

describe("validation: every parameter and body, one 422 shape", () => {
  const runTriggers = [
    "POST /re-sync-all",
    "GET /generate-data-set",
    "POST /generate-data-set",
    "GET /generate-box-data",
    "POST /generate-box-data",
    "GET /generate-option-data",
    "POST /generate-option-data",
  ];
  const searches = ["/category-search", "/categories-search", "/boxes-search", "/options-search"];
  const display = [{ iso: "en", display_name: "Flyer" }];
  const add = { linked: oid, slug: "s", origin_name: "o", display_names: display };

  const cases: [string, string, unknown, string][] = [
    ...runTriggers.flatMap((r): [string, string, unknown, string][] => {
      const [method, path] = r.split(" ") as [string, string];
      return [
        [method, `${path}?wait=maybe`, undefined, "wait"],
        [method, `${path}?force=1`, undefined, "force"],
        [method, `${path}?dry_run=yes`, undefined, "dry_run"],
        [method, `${path}?force=`, undefined, "force"],
      ];
    }),
    ["GET", "/sync-status?history=maybe", undefined, "history"],
    ...["0", "1001", "abc", "1.5", "-1", "99999999999999999999", "1e400", ""].map((v): [string, string, unknown, string] => [
      "GET",
      `/sync-status?limit=${v}`,
      undefined,
      "limit",
    ]),
    ...["", "0", "169", "abc", "1e1", "-2", "0x10", " 5", "NaN", "Infinity"].map((v): [string, string, unknown, string] => [
      "PUT",
      `/scheduler/interval?hours=${encodeURIComponent(v)}`,
      undefined,
      "hours",
    ]),
    ["PUT", "/scheduler/interval", undefined, "hours"],
    ...searches.flatMap((p): [string, string, unknown, string][] => [
      ...["0", "101", "abc", "2.5", "", "5000"].map((v): [string, string, unknown, string] => ["GET", `${p}?limit=${v}`, undefined, "limit"]),
      ...["e", "en%20us", "en.US", "x".repeat(36), "", "%00en"].map((v): [string, string, unknown, string] => ["GET", `${p}?iso=${v}`, undefined, "iso"]),
      ["GET", `${p}?query=${"a".repeat(201)}`, undefined, "query"],
    ]),
    ...["/categories", "/boxes", "/options"].flatMap((p): [string, string, unknown, string][] => [
      ["POST", p, undefined, "body"],
      ["POST", p, null, "body"],
      ["POST", p, [], "body"],
      ["POST", p, "just a string", "body"],
      ["POST", p, 42, "body"],
      ["POST", p, { ...add, linked: "nope" }, "linked"],
      ["POST", p, { ...add, linked: 64 }, "linked"],
      ["POST", p, { ...add, slug: ["s"] }, "slug"],
      ["POST", p, { ...add, display_names: [] }, "display_names"],
      ["POST", p, { ...add, display_names: [{ iso: "e", display_name: "x" }] }, "display_names.iso"],
      ["POST", p, { ...add, display_names: [{ iso: "en", display_name: "" }] }, "display_names.display_name"],
      ["POST", p, { ...add, name: 1e308 }, "name"],
      ["PUT", p, add, "source"],
      ["PUT", p, { source: { linked: "x" }, target: add }, "source.linked"],
      ["PUT", p, { source: { linked: oid }, target: { ...add, origin_name: null } }, "target.origin_name"],
      ["DELETE", p, {}, "linked"],
      ["DELETE", p, { linked: oid, display_names: "en" }, "display_names"],
    ]),
  ];

  for (const [method, path, body, field] of cases) {
    test(`${method} ${path.slice(0, 60)} ${body === undefined ? "" : JSON.stringify(body)?.slice(0, 60)} → 422 ${field}`, async () => {
      const res = await call(method, path, body === undefined ? undefined : JSON.stringify(body));
      expect({ status: res.status, error: res.body.error, field: res.body.field }).toEqual({ status: 422, error: "invalid_request", field });
      expect(Object.keys(res.body).sort()).toEqual(["error", "field", "message", "status"]);
      expect(res.body.message).toMatch(new RegExp(`^${field.replace(/\./g, "\\.")}\\b`));
    });
  }
});

describe("routes", () => {
  test("an unknown route is a JSON 404, whatever the method", async () => {
    for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH"]) {
      for (const path of ["/nope", "/re-sync-all/extra", "/%2e%2e/etc/passwd", "/categories%00", "/RE-SYNC-ALL"]) {
        const res = await call(method, path);
        expect({ method, path, status: res.status, error: res.body.error, type: res.headers.get("content-type") }).toEqual({
          method,
          path,
          status: 404,
          error: "not_found",
          type: "application/json;charset=utf-8",
        });
      }
    }
  });

  test("a known route with the wrong method is a JSON 405 with Allow", async () => {
    for (const [method, path, allow] of <[string, string, string][]>[
      ["DELETE", "/healthz", "GET"],
      ["POST", "/sync-status", "GET"],
      ["GET", "/re-sync-all", "POST"],
      ["PATCH", "/categories", "POST, PUT, DELETE"],
      ["GET", "/scheduler/interval", "PUT"],
      ["PUT", "/generate-data-set", "GET, POST"],
    ]) {
      const res = await call(method, path);
      expect({ status: res.status, body: res.body, allow: res.headers.get("allow") }).toEqual({
        status: 405,
        body: { error: "method_not_allowed", status: "error", message: `${path} answers to ${allow}, not ${method}` },
        allow,
      });
    }
  });
});

describe("hostile input never gets a 5xx", () => {
  const values = [
    "%00",
    "%zz",
    "%",
    "%C3%28",
    "%FF%FE",
    "😀%F0%9F%98%80",
    "a%00b",
    "__proto__",
    "constructor",
    "%5B%5D",
    "1e309",
    "-0",
    "9".repeat(400),
    "%E2%80%AE",
    "true&wait=false",
  ];
  const paths = ["/category-search", "/boxes-search", "/sync-status", "/re-sync-all", "/generate-box-data", "/scheduler/interval", "/info", "/healthz-startup"];
  test("odd query strings on every kind of route", async () => {
    const seen = new Map<number, number>();
    for (const path of paths) {
      for (const value of values) {
        for (const key of ["query", "iso", "limit", "wait", "force", "hours", "history", "__proto__", "query[]", "limit[0]"]) {
          const method = ["/re-sync-all", "/generate-box-data"].includes(path) ? "POST" : path === "/scheduler/interval" ? "PUT" : "GET";
          // A run trigger that would pass validation would start a run: keep `wait` invalid there.
          const extra = method === "POST" ? "&wait=maybe" : "";
          const res = await call(method, `${path}?${key}=${value}${extra}`);
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          expect({ path, key, value, status: res.status < 500 || res.body.error === "not_ready" }).toEqual({ path, key, value, status: true });
          if (res.status >= 400) expect(typeof res.body.error === "string" && typeof res.body.message === "string").toBe(true);
        }
      }
    }
    expect(seen.get(200)).toBeGreaterThan(0);
    expect(seen.get(422)).toBeGreaterThan(0);
  });

  test("odd bodies on the push routes", async () => {
    const bodies = [
      JSON.stringify({ __proto__: { linked: oid }, constructor: { prototype: {} } }),
      '{"__proto__": {"polluted": true}, "linked": "64e000000000000000000001"}',
      JSON.stringify({ linked: oid, slug: "\u0000", origin_name: "\u202e", display_names: [{ iso: "en", display_name: "\u0000\uffff😀" }] }),
      JSON.stringify({ linked: oid, slug: "s", origin_name: "o", display_names: Array.from({ length: 501 }, () => ({ iso: "en", display_name: "x" })) }),
      JSON.stringify({ source: { linked: oid }, target: { linked: oid, slug: Number.POSITIVE_INFINITY, origin_name: "o", display_names: [] } }),
      '{"linked": 1e99999}',
      '{"linked": "64e000000000000000000001", "display_names": [{"iso": "en", "display_name": "x", "extra": [[[[[]]]]]}]}',
      `{"a": "${"\\u0000".repeat(10_000)}"}`,
      '"\\ud800"',
    ];
    for (const body of bodies) {
      for (const method of ["POST", "PUT", "DELETE"]) {
        const res = await call(method, "/options", body);
        expect({ method, body: body.slice(0, 80), ok: res.status < 500 || res.body.error === "not_ready" }).toEqual({
          method,
          body: body.slice(0, 80),
          ok: true,
        });
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
