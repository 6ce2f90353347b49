// The OpenAPI document as a contract: Redocly's linter finds no error in the binary's document, and
// real answers of every operation (success and error cases, over real HTTP) match the schema the
// document declares for their status; a status the document does not declare fails.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { ObjectId } from "mongodb";
import { ensureBinary, type RunningBinary, serviceEnv, startBinary } from "../scripts/lib/binary.ts";
import { createServices, type Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { parseConfig } from "../src/platform/config.ts";
import { silentLogger } from "../src/platform/log.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { createContext, EXPECTED_ADMIN, REDIS_DOWN_ENV, type TestContext } from "./helpers.ts";
import { heldEngine } from "./sync.fixtures.ts";

const KEY = "openapi-test-admin-key-0123456789";
const BASE_URL = "http://search.internal:8000";
const ADMIN = { "x-api-key": KEY };

type Json = Record<string, any>;

let ctx: TestContext;
const apps: App[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ctx = await createContext("openapi", { ADMIN_API_KEY: KEY });
});

afterAll(async () => {
  for (const app of apps) await app.stop(true);
  for (const close of closers) await close().catch(() => {});
  await ctx?.cleanup();
});

/** Listens on a free port: the answers go through Bun's HTTP server. */
function serve(deps: Parameters<typeof createApp>[0]): string {
  const app = createApp(deps);
  app.listen({ hostname: "127.0.0.1", port: 0 });
  apps.push(app);
  return `http://127.0.0.1:${app.server!.port}`;
}

const fetchDocument = async (origin: string): Promise<Json> => (await (await fetch(`${origin}/swagger/json`)).json()) as Json;

test("the binary's document passes redocly lint with no error", async () => {
  const binary = ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), "ss-openapi-"));
  let running: RunningBinary | undefined;
  try {
    // A BASE_URL with credentials: the public document names the server without them.
    const withCredentials = BASE_URL.replace("://", "://docs:s3cretBASEpw@");
    running = await startBinary(binary, dir, serviceEnv(ctx, { BASE_URL: withCredentials, HISTORY_DB_PATH: join(dir, "history.db") }));
    const doc = await fetchDocument(running.url);
    expect(doc.servers).toEqual([{ url: BASE_URL, description: "BASE_URL" }]);
    expect(JSON.stringify(doc)).not.toContain("s3cretBASEpw");
    const file = join(dir, "openapi.json");
    writeFileSync(file, JSON.stringify(doc));
    const redocly = resolve(import.meta.dir, "../node_modules/@redocly/cli/bin/cli.js");
    const lint = Bun.spawnSync([process.execPath, redocly, "lint", file, "--format=json"], {
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    });
    const report = JSON.parse(lint.stdout.toString()) as { totals: { errors: number; warnings: number }; problems: Json[] };
    const listed = (severity: string) =>
      report.problems.filter((p) => p.severity === severity).map((p) => `${p.ruleId} ${p.location?.[0]?.pointer ?? ""}: ${p.message}`);
    if (report.totals.warnings) console.log(`redocly lint warnings:\n  ${listed("warn").join("\n  ")}`);
    expect(listed("error")).toEqual([]);
    expect(report.totals.errors).toBe(0);
  } finally {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

/** Every schema object below `value` that carries a keyword only Elysia's validator reads. */
function leakedKeywords(value: unknown, at: string, parentKey = ""): string[] {
  if (!value || typeof value !== "object") return [];
  const found = parentKey !== "properties" && !Array.isArray(value) && "error" in value ? [at] : [];
  return [...found, ...Object.entries(value).flatMap(([k, v]) => leakedKeywords(v, `${at}/${k}`, k))];
}

const METHODS = ["get", "put", "post", "delete"] as const;
const operationsOf = (doc: Json) =>
  Object.entries(doc.paths as Record<string, Json>).flatMap(([path, ops]) =>
    METHODS.filter((m) => ops[m]).map((method) => ({ path, method, op: ops[method] })),
  );

test("the document: security on admin operations only, described parameters with examples, booleans, no validator keywords, servers", async () => {
  const services = await ctx.services();
  const doc = await fetchDocument(serve({ ...services, version: "1.2.3", startedAt: new Date() }));
  expect(doc.servers).toEqual([{ url: "/", description: "this service" }]);
  expect(doc.components.securitySchemes).toEqual({
    bearerAuth: expect.objectContaining({ type: "http", scheme: "bearer" }),
    apiKeyAuth: expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" }),
  });
  expect(leakedKeywords(doc, "#")).toEqual([]);
  const secured = operationsOf(doc)
    .filter(({ op }) => op.security.length)
    .map(({ method, path, op }) => {
      expect({ path, security: op.security, admin: [op.responses["401"], op.responses["403"]].map((r) => r?.description) }).toEqual({
        path,
        security: [{ bearerAuth: [] }, { apiKeyAuth: [] }],
        admin: ["error: unauthorized", "error: forbidden"],
      });
      return `${method.toUpperCase()} ${path}`;
    });
  // Exactly the operations the admin guard protects (the search, status and health ones are public).
  expect(secured.sort()).toEqual([...EXPECTED_ADMIN].sort());
  for (const { path, op } of operationsOf(doc))
    for (const p of op.parameters ?? []) {
      expect({ path, name: p.name, described: typeof p.description, example: p.example !== undefined }).toEqual({
        path,
        name: p.name,
        described: "string",
        example: true,
      });
      expect(p.schema.anyOf).toBeUndefined();
    }
  const params = (path: string, method: string) => Object.fromEntries(doc.paths[path][method].parameters.map((p: Json) => [p.name, p]));
  expect(params("/re-sync-all", "post").wait).toMatchObject({ in: "query", schema: { type: "boolean" } });
  expect(params("/sync-status", "get").history.schema).toEqual({ type: "boolean" });
  expect(params("/boxes-search", "get")).toMatchObject({ query: { example: "mailer box" }, iso: { example: "en" } });
  expect(doc.components.schemas.Error).toMatchObject({ required: ["status", "error", "message"], properties: { run_status: { type: "string" } } });
});

test("real answers of every operation match the schemas the document declares for their status", async () => {
  const services = await ctx.services();
  const scheduler = new Scheduler(services);
  closers.push(() => scheduler.close());
  await scheduler.init();
  const deps = { ...services, version: "1.2.3", startedAt: new Date(), scheduler };
  const origin = serve(deps);
  const doc = await fetchDocument(origin);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, "openapi.json");

  const mismatches: string[] = [];
  const exercised = new Set<string>();
  const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

  /** Calls an operation and checks its answer against the document; returns the parsed body. */
  async function call(
    at: string,
    method: string,
    url: string,
    expected: number,
    init: { headers?: Record<string, string>; body?: unknown; raw?: string } = {},
  ): Promise<Json> {
    const path = new URL(url, "http://x").pathname;
    const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
    const headers = { ...(init.body !== undefined ? { "content-type": "application/json" } : {}), ...init.headers };
    const res = await fetch(`${at}${url}`, { method, headers, body });
    const text = await res.text();
    const label = `${method} ${url} → ${res.status}`;
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) {
      mismatches.push(`${label}: no such operation in the document`);
      return {};
    }
    exercised.add(`${method} ${path}`);
    if (res.status !== expected) mismatches.push(`${label}: expected ${expected} (${text.slice(0, 200)})`);
    const declared = op.responses[String(res.status)];
    if (!declared) {
      mismatches.push(`${label}: status not declared (${text.slice(0, 200)})`);
      return {};
    }
    const type = res.headers.get("content-type")?.split(";")[0] ?? "";
    if (!declared.content?.[type]) {
      mismatches.push(`${label}: content type ${type} not declared`);
      return {};
    }
    const value = type === "application/json" ? JSON.parse(text) : text;
    const validate = ajv.getSchema(
      `openapi.json#/${pointer("paths", path, method.toLowerCase(), "responses", String(res.status), "content", type, "schema")}`,
    )!;
    if (!validate(value)) mismatches.push(`${label}: ${ajv.errorsText(validate.errors)} in ${text.slice(0, 300)}`);
    return typeof value === "object" ? value : {};
  }

  const item = (linked: string, name: string) => ({
    linked,
    slug: name.replace(/ /g, "-"),
    origin_name: name,
    display_names: [{ iso: "en", display_name: name }],
  });
  const boxId = new ObjectId().toHexString();

  // Before any run: no index serves.
  await call(origin, "GET", "/healthz", 200);
  await call(origin, "GET", "/healthz-startup", 503);
  await call(origin, "POST", "/boxes", 503, { headers: ADMIN, body: item(boxId, "mailer box") });
  await call(origin, "GET", "/sync-status", 200);

  const oid = (n: number) => new ObjectId(`64e${n.toString(16).padStart(21, "0")}`);
  for (const [i, type] of ["categories", "boxes", "options"].entries())
    await ctx.db.collection(type).insertMany(
      Array.from({ length: 4 }, (_, n) => ({
        _id: oid(i * 10 + n),
        name: `${type} ${n}`,
        slug: `${type}-${n}`,
        display_name: [
          { iso: "en", display_name: `mailer ${type} ${n}` },
          { iso: "nl", display_name: `doos ${type} ${n}` },
        ],
      })),
    );

  // Admin checks come first: no key, a wrong key.
  await call(origin, "POST", "/re-sync-all", 401);
  await call(origin, "POST", "/re-sync-all", 403, { headers: { authorization: "Bearer not-the-key" } });
  // Runs, waiting for their end.
  await call(origin, "POST", "/re-sync-all?wait=true&force=false&dry_run=true", 200, { headers: ADMIN });
  await call(origin, "POST", "/re-sync-all", 200, { headers: { authorization: `Bearer ${KEY}` } });
  await call(origin, "POST", "/re-sync-all?wait=maybe", 422, { headers: ADMIN });
  for (const path of ["/generate-data-set", "/generate-box-data", "/generate-option-data"]) {
    await call(origin, "GET", path, 200, { headers: ADMIN });
    await call(origin, "POST", path, 200, { headers: ADMIN });
    await call(origin, "POST", `${path}?force=yes`, 422, { headers: ADMIN });
  }
  await call(origin, "GET", "/healthz-startup", 200);
  await call(origin, "GET", "/info", 200);
  await call(origin, "GET", "/sync-status?history=true&limit=50", 200);
  await call(origin, "GET", "/sync-status?history=true&limit=0", 422);
  await call(origin, "GET", "/metrics", 200);
  await call(origin, "GET", "/dashboard", 200);

  for (const path of ["/category-search", "/categories-search", "/boxes-search", "/options-search"]) {
    await call(origin, "GET", `${path}?query=mailer&iso=en&limit=10`, 200);
    await call(origin, "GET", `${path}?limit=0`, 422);
  }

  // Push updates, and their bad requests.
  for (const path of ["/categories", "/boxes", "/options"]) {
    const linked = new ObjectId().toHexString();
    await call(origin, "POST", path, 200, { headers: ADMIN, body: item(linked, "mailer box") });
    await call(origin, "PUT", path, 200, { headers: ADMIN, body: { source: { linked }, target: item(linked, "shipping box") } });
    await call(origin, "DELETE", path, 200, { headers: ADMIN, body: { linked } });
    await call(origin, "DELETE", path, 200, { headers: ADMIN, body: { linked } });
    await call(origin, "POST", path, 422, { headers: ADMIN, body: { linked: "not-an-id" } });
    await call(origin, "PUT", path, 400, { headers: { ...ADMIN, "content-type": "application/json" }, raw: "{not json" });
    await call(origin, "DELETE", path, 415, { headers: { ...ADMIN, "content-type": "text/plain" }, raw: JSON.stringify({ linked }) });
    await call(origin, "DELETE", path, 401, { body: { linked } });
  }
  await call(origin, "POST", "/boxes", 413, { headers: { ...ADMIN, "content-type": "application/json" }, raw: `"${"x".repeat(1024 * 1024)}"` });

  // The scheduler.
  await call(origin, "GET", "/scheduler/status", 200);
  await call(origin, "POST", "/scheduler/start", 200, { headers: ADMIN });
  await call(origin, "POST", "/scheduler/stop", 200, { headers: ADMIN });
  await call(origin, "PUT", "/scheduler/interval?hours=12", 200, { headers: ADMIN });
  await call(origin, "PUT", "/scheduler/interval?hours=twelve", 422, { headers: ADMIN });
  await call(origin, "POST", "/scheduler/stop", 403, { headers: { "x-api-key": "not-the-key" } });

  // Runs that do not wait, and runs while another one holds the lock.
  const held = heldEngine(services, { at: 0 });
  const heldOrigin = serve({ ...deps, engine: held.engine });
  const started = await call(heldOrigin, "POST", "/generate-box-data?wait=false", 202, { headers: ADMIN });
  await held.held;
  await call(heldOrigin, "POST", "/re-sync-all", 409, { headers: ADMIN });
  await call(heldOrigin, "POST", "/sync", 409, { headers: ADMIN });
  await call(heldOrigin, "GET", "/clear-data", 409, { headers: ADMIN });
  await call(heldOrigin, "POST", "/clear-data", 409, { headers: ADMIN });
  await call(heldOrigin, "POST", "/scheduler/trigger-now", 409, { headers: ADMIN });
  await call(heldOrigin, "GET", "/sync-status", 200);
  held.release();
  const until = Date.now() + 30_000;
  while (services.history.get(started.run_id)?.status === "running" || !services.history.get(started.run_id)) {
    if (Date.now() > until) throw new Error("the held run did not end");
    await Bun.sleep(25);
  }
  // The shrink guard: a catalog emptied by more than half is not published.
  await ctx.db.collection("boxes").deleteMany({ _id: { $ne: oid(10) } });
  await call(origin, "POST", "/generate-box-data", 409, { headers: ADMIN });
  await call(origin, "POST", "/sync", 200, { headers: ADMIN });
  await waitIdle(services);
  await call(origin, "POST", "/scheduler/trigger-now", 202, { headers: ADMIN });
  await waitIdle(services);
  await call(origin, "POST", "/clear-data", 200, { headers: ADMIN });
  await call(origin, "GET", "/clear-data", 200, { headers: ADMIN });

  // MongoDB unreachable: a run fails; /info is degraded.
  const mongoDown = createServices(parseConfig({ ...ctx.env, ADMIN_API_KEY: KEY, MONGODB_URI: "mongodb://127.0.0.1:1" }), silentLogger);
  closers.push(() => mongoDown.close());
  const mongoDownOrigin = serve({ ...mongoDown, version: "1.2.3", startedAt: new Date() });
  await call(mongoDownOrigin, "POST", "/re-sync-all", 503, { headers: ADMIN });
  await call(mongoDownOrigin, "GET", "/info", 503);

  // Redis unreachable (and no scheduler in the process).
  const redisDown = createServices(parseConfig({ ...ctx.env, ADMIN_API_KEY: KEY, ...REDIS_DOWN_ENV }), silentLogger);
  closers.push(() => redisDown.close());
  const redisDownOrigin = serve({ ...redisDown, version: "1.2.3", startedAt: new Date() });
  await call(redisDownOrigin, "GET", "/sync-status", 503);
  await call(redisDownOrigin, "GET", "/boxes-search?query=mailer", 503);
  await call(redisDownOrigin, "POST", "/boxes", 503, { headers: ADMIN, body: item(boxId, "mailer box") });
  await call(redisDownOrigin, "POST", "/sync", 503, { headers: ADMIN });
  await call(redisDownOrigin, "POST", "/clear-data", 503, { headers: ADMIN });
  await call(redisDownOrigin, "POST", "/scheduler/trigger-now", 503, { headers: ADMIN });
  await call(redisDownOrigin, "GET", "/scheduler/status", 503);
  await call(redisDownOrigin, "POST", "/scheduler/start", 503, { headers: ADMIN });
  await call(redisDownOrigin, "PUT", "/scheduler/interval?hours=2", 503, { headers: ADMIN });

  expect(mismatches).toEqual([]);
  // Every operation of the document was called.
  expect(
    operationsOf(doc)
      .map(({ method, path }) => `${method.toUpperCase()} ${path}`)
      .filter((op) => !exercised.has(op)),
  ).toEqual([]);
}, 120_000);

async function waitIdle(services: Services): Promise<void> {
  const until = Date.now() + 30_000;
  while (services.engine.activeRunId || (await services.status.get()).active) {
    if (Date.now() > until) throw new Error("a run did not end");
    await Bun.sleep(25);
  }
}
