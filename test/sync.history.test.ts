// Every run is recorded (SPEC §2 "History"): success, failed, rejected, skipped; the rows survive
// re-opening the database; GET /sync-status?history=true returns them newest first with trends.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type App, createApp } from "../src/app/http.ts";
import { silentLogger } from "../src/platform/log.ts";
import { HistoryRepo } from "../src/runs/history/repo.ts";
import type { RunResult } from "../src/runs/model.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { oid, SUPPLIER, seedLarge } from "./sync.fixtures.ts";

let ctx: TestContext;
let app: App;
const runs: RunResult[] = []; // oldest first

beforeAll(async () => {
  ctx = await createContext("history");
  await seedLarge(ctx.db, ["categories", "boxes"], 10);
  const s = await ctx.services();
  app = createApp({ ...s, version: "test", startedAt: new Date() });

  // 1. success (all): categories 30, boxes 30, options 0
  runs.push(await s.engine.run("all", "api"));
  // 2. failed: MongoDB unreachable
  const down = await ctx.services({ MONGODB_URI: "mongodb://127.0.0.1:1" });
  runs.push(await down.engine.run("all", "cron"));
  // 3. rejected: boxes shrink from 30 to 6
  await ctx.db.collection("boxes").deleteMany({ _id: { $in: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => oid("boxes", 0, i)) } });
  await ctx.db.collection(SUPPLIER.boxes).deleteMany({ _id: { $in: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => oid("boxes", 1, i)) } });
  runs.push(await s.engine.run("boxes", "interval"));
  // 4. skipped: another run holds the lock
  await ctx.redis.set(`${ctx.prefix}lock`, "20240101T000000Z-holder00 token", "PX", 60_000);
  runs.push(await s.engine.run("categories", "manual"));
  await ctx.redis.del(`${ctx.prefix}lock`);
  // 5. success (categories): 33 entries
  await seedLarge(ctx.db, ["categories"], 1, 10);
  runs.push(await s.engine.run("categories", "cli"));
  // 6. success, forced (boxes): 6 entries
  runs.push(await s.engine.run("boxes", "api", { force: true }));
});
afterAll(async () => {
  await ctx.cleanup();
});

describe("history rows", () => {
  test("the runs ended as arranged", () => {
    expect(runs.map((r) => [r.trigger, r.scope, r.status])).toEqual([
      ["api", "all", "success"],
      ["cron", "all", "failed"],
      ["interval", "boxes", "rejected"],
      ["manual", "categories", "skipped"],
      ["cli", "categories", "success"],
      ["api", "boxes", "success"],
    ]);
    // The cause, not a follow-up error of the driver.
    expect(runs[1]!.error).toBe("connect ECONNREFUSED 127.0.0.1:1");
    expect(runs[2]).toMatchObject({ reason: "shrink", types: { boxes: { entries: 6, previous_entries: 30 } } });
    expect(runs[3]).toMatchObject({ reason: "in_progress", active_run_id: "20240101T000000Z-holder00" });
    for (const r of runs) {
      expect(r.finished_at).not.toBeNull();
      expect(r.duration_ms).toBe(new Date(r.finished_at!).getTime() - new Date(r.started_at).getTime());
    }
  });

  test("every run is stored as returned, and survives re-opening the database", () => {
    const repo = HistoryRepo.open(ctx.env.HISTORY_DB_PATH!, silentLogger);
    try {
      expect(repo.list(100)).toEqual([...runs].reverse());
      for (const r of runs) expect(repo.get(r.run_id)).toEqual(r);
    } finally {
      repo.db.$client.close();
    }
  });
});

describe("GET /sync-status?history=true", () => {
  async function status(query: string) {
    const res = await app.handle(new Request(`http://localhost/sync-status${query}`));
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, any>;
  }

  test("limit=N gives the N newest runs, newest first", async () => {
    const body = await status("?history=true&limit=4");
    expect(body.history).toEqual([...runs].reverse().slice(0, 4));
    expect(body.last_run).toEqual(runs[5]);
    expect(body.status).toBe("success");
  });

  test("trends over all runs match a hand computation", async () => {
    const body = await status("?history=true&limit=50");
    expect(body.history).toEqual([...runs].reverse());
    const [ok1, failed, rejected, , ok2, ok3] = runs as [RunResult, RunResult, RunResult, RunResult, RunResult, RunResult];
    const decided = [ok1, failed, rejected, ok2, ok3].map((r) => r.duration_ms!);
    const sorted = [...decided].sort((a, b) => a - b);
    expect(body.trends).toEqual({
      runs: 6,
      success_rate: 3 / 5, // skipped runs do not count
      mean_duration_ms: Math.round((decided[0]! + decided[1]! + decided[2]! + decided[3]! + decided[4]!) / 5),
      p95_duration_ms: sorted[4], // nearest rank: ceil(0.95 × 5) = 5th
      entries_over_time: [
        { run_id: ok1.run_id, started_at: ok1.started_at, categories: 30, boxes: 30, options: 0 },
        { run_id: ok2.run_id, started_at: ok2.started_at, categories: 33 },
        { run_id: ok3.run_id, started_at: ok3.started_at, boxes: 6 },
      ],
      // The latest published run (boxes only) against the last earlier run that had boxes.
      change_vs_previous: { boxes: 6 - 30 },
    });
  });

  test("limit=2: trends over those two runs only", async () => {
    const body = await status("?history=true&limit=2");
    const [ok2, ok3] = [runs[4]!, runs[5]!];
    expect(body.trends).toEqual({
      runs: 2,
      success_rate: 1,
      mean_duration_ms: Math.round((ok2.duration_ms! + ok3.duration_ms!) / 2),
      p95_duration_ms: Math.max(ok2.duration_ms!, ok3.duration_ms!),
      entries_over_time: [
        { run_id: ok2.run_id, started_at: ok2.started_at, categories: 33 },
        { run_id: ok3.run_id, started_at: ok3.started_at, boxes: 6 },
      ],
      change_vs_previous: {}, // no type in common
    });
  });

  test("a history database that cannot be read: 503 at once, and /info still answers", async () => {
    const path = join(ctx.dir, "unreadable.db");
    const history = HistoryRepo.open(path, silentLogger);
    const other = new Database(path);
    other.exec("DROP TABLE sync_runs");
    other.close();
    try {
      const broken = createApp({ ...(await ctx.services()), history, version: "test", startedAt: new Date() });
      const res = await broken.handle(new Request("http://localhost/sync-status?history=true"));
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 503,
        body: { error: "service_unavailable", message: "the history database cannot be read now: no such table: sync_runs", status: "error" },
      });
      const info = await broken.handle(new Request("http://localhost/info"));
      expect(info.status).toBe(200);
      expect(((await info.json()) as { history: unknown }).history).toEqual({
        file: "unreadable.db",
        last_run_id: null,
        pending_writes: 0,
        last_error: null,
        corrupt_file_moved_to: null,
        stream: { position: "0", imported: 0, invalid: 0, pending_publish: 0 },
      });
    } finally {
      history.db.$client.close();
    }
  });

  test("without history=true, no history", async () => {
    const body = await status("");
    expect(body.history).toBeUndefined();
    expect(body.trends).toBeUndefined();
    expect(body.items_synced).toEqual({ boxes: 6 });
  });
});
