// Logs: text lines with a timestamp and a level before the guide's wording, JSON objects with
// errors as pino's `err`, a run's end as one event, the access log (LOG_REQUESTS) and what
// LOG_LEVEL=debug adds. Secrets stay out of every line.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import { type App, createApp } from "../src/app/http.ts";
import { createLogger, type Logger, TEXT_LINES, TEXT_PREFIX } from "../src/platform/log.ts";
import { registerSecret } from "../src/platform/redact.ts";
import { collectLogs, createContext, type TestContext } from "./helpers.ts";
import { SUPPLIER, seedLarge, slowEngine, until } from "./sync.fixtures.ts";

function capture(format: "text" | "json", level: "debug" | "info" = "info"): { logger: Logger; out: { line: string; level: string }[] } {
  const out: { line: string; level: string }[] = [];
  return { out, logger: createLogger({ format, level }, (line, lvl) => out.push({ line, level: lvl })) };
}

const json = (out: { line: string }[]) => out.map(({ line }) => JSON.parse(line) as Record<string, any>);

describe("text format", () => {
  test("every line: ISO time with the local offset, the level, then the message as given", () => {
    const { logger, out } = capture("text", "debug");
    logger.debug("d");
    logger.info("✅ Automatic re-sync scheduler started successfully!");
    logger.warn("w");
    logger.error("⚠️ Failed to start scheduler", { err: new TypeError("CronPattern: hour value out of range: '61'") });
    expect(out.map((o) => o.level)).toEqual(["debug", "info", "warn", "error"]);
    const [first, second, third] = out.map((o) => o.line);
    expect(first).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) DEBUG d$/);
    expect(second).toMatch(/^\S+ INFO {2}✅ Automatic re-sync scheduler started successfully!$/);
    expect(third).toMatch(/^\S+ WARN {2}w$/);
    // At debug level an error's stack follows its message, each line with the prefix.
    const error = out[3]!.line.split("\n");
    expect(error[0]).toMatch(/^\S+ ERROR ⚠️ Failed to start scheduler: CronPattern: hour value out of range: '61'$/);
    expect(error.length).toBeGreaterThan(1);
    for (const line of error) expect(line).toMatch(TEXT_PREFIX);
    expect(error[1]!.replace(TEXT_PREFIX, "")).toMatch(/^ +at /);
    // The time is now, in local time with its offset.
    const stamp = /^(\S+) /.exec(second!)![1]!;
    expect(Math.abs(Date.parse(stamp) - Date.now())).toBeLessThan(60_000);
  });

  test("an event with text lines is one write, every line prefixed; a message quoting its error does not repeat it", () => {
    const { logger, out } = capture("text");
    logger.info("[2024-01-15 02:00:45] Re-sync completed successfully!", { [TEXT_LINES]: ["Duration: 45.2 seconds", "Categories: 150"] });
    logger.error("Re-sync failed: connection refused", { err: new Error("connection refused") });
    logger.warn("Redis connection problem; retrying", { err: new Error("ECONNREFUSED") });
    expect(out.length).toBe(3);
    expect(out.map((o) => o.line.split("\n").map((l) => l.replace(TEXT_PREFIX, "")))).toEqual([
      ["[2024-01-15 02:00:45] Re-sync completed successfully!", "Duration: 45.2 seconds", "Categories: 150"],
      ["Re-sync failed: connection refused"],
      ["Redis connection problem; retrying: ECONNREFUSED"],
    ]);
    for (const line of out[0]!.line.split("\n")) expect(line).toMatch(/^\S+ INFO {2}/);
  });
});

describe("JSON format", () => {
  test("errors as err: { type, message, stack }, passwords masked in all three; text lines left out", () => {
    registerSecret("hunter2-json-secret");
    const { logger, out } = capture("json");
    const err = new RangeError("auth failed for mongodb://sync:hunter2-json-secret@db.internal/shop");
    logger.error("Re-sync failed", { run_id: "r1", err });
    logger.info("done", { [TEXT_LINES]: ["Duration: 1.0 seconds"], counts: { boxes: 1 } });
    logger.warn("not an Error", { err: "plain text" });
    const [failed, done, plain] = json(out);
    expect(Object.keys(failed!)).toEqual(["level", "time", "run_id", "err", "msg"]);
    expect(failed!.err.type).toBe("RangeError");
    expect(failed!.err.message).toBe("auth failed for mongodb://sync:***@db.internal/shop");
    expect(failed!.err.stack).toStartWith("RangeError: auth failed for mongodb://sync:***@db.internal/shop\n    at ");
    expect(out[0]!.line).not.toContain("hunter2");
    expect(done).toEqual({ level: "info", time: expect.any(String), counts: { boxes: 1 }, msg: "done" });
    expect(plain!.err).toMatchObject({ type: "Error", message: "plain text" });
  });
});

describe("runs, requests and debug lines", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createContext("logs");
  });
  afterEach(async () => {
    await ctx.cleanup();
  });

  test("a run's end is one event: JSON has duration, counts and skipped counts; text keeps the guide's block", async () => {
    await seedLarge(ctx.db, ["categories"], 3);
    await ctx.db
      .collection(SUPPLIER.categories)
      .insertOne({ _id: new ObjectId(), linked: new ObjectId(), display_name: [{ iso: "en", display_name: "orphan" }] });
    const { logger, out } = capture("json");
    const services = await ctx.services({}, logger);
    const result = await services.engine.run("categories", "api");
    const events = json(out).filter((r) => !String(r.msg).startsWith("Progress"));
    expect(events).toEqual([
      {
        level: "info",
        time: expect.any(String),
        run_id: result.run_id,
        status: "success",
        scope: "categories",
        trigger: "api",
        dry_run: false,
        duration_seconds: result.duration_ms! / 1000,
        counts: { categories: { documents: 7, entries: 9, previous_entries: 0 } },
        skipped: { categories: { linked_unknown_origin: 1 } },
        msg: expect.stringMatching(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] Re-sync completed successfully!$/),
      },
    ]);

    const text = collectLogs();
    const again = await ctx.services({}, text.logger);
    await again.engine.run("categories", "api");
    expect(text.lines).toEqual([
      expect.stringMatching(/^\[[^\]]+\] Re-sync completed successfully!$/),
      expect.stringMatching(/^Duration: \d+\.\d seconds$/),
      "Categories: 9",
    ]);
  });

  test("a failed run: one error event with the figures and err { type, message, stack }", async () => {
    await seedLarge(ctx.db, ["boxes"], 2);
    const { logger, out } = capture("json");
    const services = await ctx.services({ DATA_SET_FILE: "/dev/null/nope/data_set.json" }, logger);
    const result = await services.engine.run("boxes", "cli");
    expect(result.status).toBe("failed");
    const [event] = json(out).filter((r) => r.level === "error");
    expect(event).toMatchObject({ msg: `Re-sync failed: ${result.error}`, run_id: result.run_id, status: "failed", scope: "boxes", trigger: "cli" });
    expect(event!.err).toMatchObject({ type: "Error", message: result.error });
    expect(event!.err.stack).toContain("\n    at ");
  });

  test("LOG_LEVEL=debug: batch timings of a run, lock renewals, search cache invalidations", async () => {
    await seedLarge(ctx.db, ["categories"], 30);
    const { logger, lines } = collectLogs("debug");
    const services = await ctx.services({ SYNC_BATCH_SIZE: "20", SYNC_LOCK_TTL_SECONDS: "2" }, logger);
    // A source that pauses 400 ms per batch: the run outlasts a lock renewal (every TTL/3).
    expect((await slowEngine(services, 400).run("categories", "api")).status).toBe("success");
    const batches = lines.filter((l) =>
      /^categories: (origins|suppliers) batch of \d+ documents: read \d+ ms, written \d+ ms \(of which paused for searches \d+ ms; \d+ read so far\)$/.test(l),
    );
    expect(batches.length).toBeGreaterThanOrEqual(4);
    expect(lines).toContainEqual(
      expect.stringMatching(/^categories: phrase and word sets written in order in \d+ ms with RESTORE \(of which paused for searches \d+ ms\)$/),
    );
    expect(lines).toContain("Run lock renewed for 2 s");

    const app = createApp({ ...services, version: "test", startedAt: new Date() });
    const search = () => app.handle(new Request("http://localhost/category-search?query=a"));
    expect((await search()).status).toBe(200);
    expect((await services.engine.run("categories", "api")).status).toBe("success");
    expect((await search()).status).toBe(200);
    expect(lines.filter((l) => l.startsWith("Search cache: "))).toEqual([
      expect.stringMatching(/^Search cache: the categories index changed \(.+ → .+\); its cached answers dropped$/),
    ]);
  });

  describe("access log", () => {
    async function appWith(env: Record<string, string>, logger: Logger): Promise<App> {
      const services = await ctx.services(env, logger);
      return createApp({ ...services, version: "test", startedAt: new Date(), clientIp: () => "203.0.113.9" });
    }
    const get = (app: App, path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init));

    test("LOG_REQUESTS=true: method, route pattern (not the path or query), status, ms, client IP per request", async () => {
      const { logger, lines } = collectLogs();
      const app = await appWith({ LOG_REQUESTS: "true" }, logger);
      await get(app, "/healthz");
      await get(app, "/category-search?query=secret-query&limit=5");
      await get(app, "/category-search?limit=0");
      await get(app, "/no/such/path?token=abc");
      await get(app, "/healthz", { method: "DELETE" });
      await get(app, "/categories", { method: "POST", headers: { "content-type": "application/json" }, body: "{bad" });
      await until(() => lines.length >= 6); // the hook runs after the answer is sent
      const access = lines.map((l) => l.replace(/ \d+(\.\d)? ms /, " N ms "));
      expect(access).toEqual([
        "GET /healthz 200 N ms 203.0.113.9",
        "GET /category-search 200 N ms 203.0.113.9",
        "GET /category-search 422 N ms 203.0.113.9",
        "GET unmatched 404 N ms 203.0.113.9",
        "DELETE /healthz 405 N ms 203.0.113.9",
        // Refused before routing (an admin route, a client that is not loopback): the route is still named.
        "POST /categories 403 N ms 203.0.113.9",
      ]);
      expect(lines.join("\n")).not.toContain("secret-query");
      expect(lines.join("\n")).not.toContain("token");
    });

    test("JSON: the fields method, route, status, duration_ms, client_ip; off by default", async () => {
      const { logger, out } = capture("json");
      const app = await appWith({ LOG_REQUESTS: "true" }, logger);
      await get(app, "/info");
      await until(() => out.length >= 1);
      const [line] = json(out);
      expect(line).toEqual({
        level: "info",
        time: expect.any(String),
        method: "GET",
        route: "/info",
        status: 200,
        duration_ms: expect.any(Number),
        client_ip: "203.0.113.9",
        msg: expect.stringMatching(/^GET \/info 200 [\d.]+ ms 203\.0\.113\.9$/),
      });

      const quiet = collectLogs();
      const quietApp = await appWith({}, quiet.logger);
      await get(quietApp, "/healthz");
      // The request is counted (after the answer), and still nothing is logged.
      await until(async () => (await (await get(quietApp, "/metrics")).text()).includes('route="/healthz"'));
      expect(quiet.lines).toEqual([]);
    });
  });
});
