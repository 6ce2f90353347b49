// One history across replicas: finished runs go to the shared Redis stream, and every replica
// imports what it has not seen into its own SQLite history, once per run id.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import type { Services } from "../src/app/container.ts";
import { Keys } from "../src/index/keys.ts";
import { watchInterruptedRuns } from "../src/runs/interrupted.ts";
import type { RunResult } from "../src/runs/model.ts";
import { collectLogs, createContext, REDIS_DOWN_ENV, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let stream: string;
beforeEach(async () => {
  ctx = await createContext("history-shared");
  stream = new Keys(ctx.prefix).history;
});
afterEach(async () => {
  await ctx.cleanup();
});

/** A replica's services: its own history database and name, the context's Redis and MongoDB. */
function replica(name: string, overrides: Record<string, string> = {}, logger = collectLogs("warn").logger): Promise<Services> {
  return ctx.services({ HISTORY_DB_PATH: join(ctx.dir, `${name}.db`), REPLICA_NAME: name, ...overrides }, logger);
}

test("a run of one replica is in the other's history as in its own, once, also when the stream is read again from its start", async () => {
  const [a, b] = [await replica("a"), await replica("b")];
  const run = await a.engine.run("all", "api");
  const dry = await b.engine.run("categories", "manual", { dryRun: true });
  expect([run.status, run.replica, dry.status, dry.replica]).toEqual(["success", "a", "success", "b"]);
  for (const s of [a, b]) await s.feed.importNew();
  expect(a.history.list(10).map((r) => r.run_id)).toEqual([dry.run_id, run.run_id]);
  expect(a.history.list(10)).toEqual([dry, run]);
  expect(b.history.list(10)).toEqual([dry, run]);
  expect(b.feed.health()).toMatchObject({ imported: 1, invalid: 0, pending_publish: 0 }); // its own run was recorded already
  expect(await ctx.redis.xlen(stream)).toBe(2);

  // A restart reads on from where it got to; one whose position is lost reads everything again.
  const position = b.feed.health().position;
  await b.close();
  const restarted = await replica("b");
  await restarted.feed.start();
  expect(restarted.feed.health()).toMatchObject({ position, imported: 0 });
  restarted.history.setSetting("history_stream_position", "0");
  await restarted.close();
  const reread = await replica("b");
  await reread.feed.start();
  expect(reread.feed.health()).toMatchObject({ position, imported: 2 });
  expect(reread.history.list(10)).toEqual([dry, run]);
});

test("a replica down while the stream was trimmed past where it had read imports what is left and says what it missed", async () => {
  const { logger, lines } = collectLogs("warn");
  const [a, b] = [await replica("a"), await replica("b")];
  await a.engine.run("all", "api");
  await b.feed.start();
  const position = b.feed.health().position;
  await b.close();
  const missed = await a.engine.run("boxes", "api");
  const kept = await a.engine.run("options", "api");
  await ctx.redis.xtrim(stream, "MAXLEN", 1); // what MAXLEN ~ HISTORY_STREAM_MAXLEN does to a busy stream
  const restarted = await replica("b", {}, logger);
  await restarted.feed.start();
  expect(restarted.history.list(10).map((r) => r.run_id)).not.toContain(missed.run_id);
  expect(restarted.history.get(kept.run_id)).toEqual(kept);
  expect(lines).toEqual([
    expect.stringContaining(`The shared history stream no longer holds entry ${position}, where this replica had read to: runs added after it and trimmed`),
  ]);
});

test("entries that are not a finished run are skipped, counted and logged; the runs around them are imported", async () => {
  const { logger, lines } = collectLogs("warn");
  const [a, b] = [await replica("a"), await replica("b", {}, logger)];
  const first = await a.engine.run("all", "api");
  const valid = JSON.parse(JSON.stringify(first)) as Record<string, unknown>;
  const junk: string[][] = [
    ["other", "x"],
    ["run", "{not json"],
    ["run", "[1,2]"],
    ["run", JSON.stringify({ ...valid, run_id: "1; DROP TABLE sync_runs" })],
    ["run", JSON.stringify({ ...valid, status: "running" })],
    ["run", JSON.stringify({ ...valid, started_at: "yesterday" })],
    ["run", JSON.stringify({ ...valid, types: { categories: { entries: "many" } } })],
    ["run", JSON.stringify({ ...valid, types: { shoes: valid.types } })],
  ];
  for (const fields of junk) await ctx.redis.xadd(stream, "*", ...fields);
  const last = await a.engine.run("boxes", "api");

  await b.feed.importNew();
  expect(b.history.list(10)).toEqual([last, first]);
  expect(b.feed.health()).toMatchObject({ imported: 2, invalid: junk.length });
  expect(lines.map((l) => l.replace(/entry \S+/, "entry <id>"))).toEqual([
    "History stream entry <id> skipped: no run field",
    "History stream entry <id> skipped: run is not JSON",
    "History stream entry <id> skipped: run is not an object",
    "History stream entry <id> skipped: run_id is missing or invalid",
    "History stream entry <id> skipped: status is missing or invalid",
    "History stream entry <id> skipped: started_at is missing or invalid",
    "History stream entry <id> skipped: types is missing or invalid",
    "History stream entry <id> skipped: types is missing or invalid",
  ]);
});

test("an import completes a run left `running` here, and leaves a finished run as it was recorded", async () => {
  const [a, b] = [await replica("a"), await replica("b")];
  const done = await a.engine.run("all", "api");
  const other = await a.engine.run("boxes", "api");
  // b's database has the first run as its process left it when it died, and the second finished.
  const started: RunResult = { ...done, status: "running", finished_at: null, duration_ms: null, types: {}, published: false };
  b.history.save(started);
  b.history.save({ ...other, error: "as recorded here" });
  await b.feed.importNew();
  expect(b.history.list(10)).toEqual([{ ...other, error: "as recorded here" }, done]);
});

test("a run its replica finds interrupted after a crash reaches the other replicas as it was recorded", async () => {
  const [a, b] = [await replica("a"), await replica("b")];
  const died = { ...a.engine.skippedResult("all", "api", "in_progress"), status: "running", finished_at: null, duration_ms: null } as RunResult;
  delete died.reason;
  a.history.save(died); // what a process killed during its run leaves behind
  const watch = watchInterruptedRuns(a, 60_000);
  await watch.first;
  watch.stop();
  const recorded = a.history.get(died.run_id)!;
  expect(recorded).toMatchObject({ status: "failed", error: "interrupted: the process running it stopped before it finished", replica: "a" });
  await b.feed.importNew();
  expect(b.history.get(died.run_id)).toEqual(recorded);
});

test("with Redis unreachable a finished run is kept for the stream and retried, never thrown", async () => {
  const down = await replica("a", REDIS_DOWN_ENV);
  const skipped = down.engine.skippedResult("all", "interval", "recent_success");
  await down.engine.recordSkipped(skipped);
  expect(down.history.get(skipped.run_id)).toEqual(skipped);
  expect(down.feed.health().pending_publish).toBe(1);
  await down.feed.start();
  expect(down.feed.health().pending_publish).toBe(1);
});
