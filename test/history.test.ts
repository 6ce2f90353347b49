// The history database (SPEC §2 "History"): embedded migrations, the repository, trends.
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger, silentLogger, TEXT_LINES, TEXT_PREFIX } from "../src/platform/log.ts";
import { HistoryDbError, openHistoryDb } from "../src/runs/history/db.ts";
import { embeddedMigrations, MIGRATION_SQL } from "../src/runs/history/migrations.ts";
import { HistoryRepo } from "../src/runs/history/repo.ts";
import type { RunResult, TypeResult } from "../src/runs/model.ts";
import { computeTrends, percentile } from "../src/runs/trends.ts";
import { until } from "./sync.fixtures.ts";

const drizzleDir = resolve(import.meta.dir, "../drizzle");

describe("migrations", () => {
  test("every .sql file of drizzle/ is embedded, byte for byte, and listed in the journal", () => {
    const files = readdirSync(drizzleDir)
      .filter((f) => f.endsWith(".sql"))
      .sort();
    expect(files.length).toBeGreaterThan(0);
    const tags = files.map((f) => f.replace(/\.sql$/, ""));
    expect(Object.keys(MIGRATION_SQL).sort()).toEqual(tags);
    for (const tag of tags) expect(MIGRATION_SQL[tag]).toBe(readFileSync(join(drizzleDir, `${tag}.sql`), "utf8"));
    const journal = JSON.parse(readFileSync(join(drizzleDir, "meta/_journal.json"), "utf8")) as { entries: { tag: string; when: number }[] };
    expect(journal.entries.map((e) => e.tag).sort()).toEqual(tags);
    // Drizzle skips a migration older than the newest applied one: timestamps must increase.
    const whens = journal.entries.map((e) => e.when);
    expect(whens).toEqual([...whens].sort((a, b) => a - b));
    expect(embeddedMigrations().map((m) => m.folderMillis)).toEqual(whens);
  });
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ss-history-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const opened: HistoryRepo[] = [];
function open(path = join(dir, "history.db")): HistoryRepo {
  const repo = HistoryRepo.open(path, silentLogger);
  opened.push(repo);
  return repo;
}
afterEach(() => {
  for (const r of opened.splice(0)) r.db.$client.close();
});

function run(over: Partial<RunResult> & { run_id: string; started_at: string }): RunResult {
  return {
    status: "success",
    trigger: "api",
    scope: "all",
    dry_run: false,
    force: false,
    published: (over.status ?? "success") === "success" && !over.dry_run,
    finished_at: null,
    duration_ms: null,
    types: {},
    ...over,
  };
}

describe("opening", () => {
  test("creates the file and its directory, migrates, and re-opens the same data", () => {
    const path = join(dir, "nested/deeper/history.db");
    const first = open(path);
    const r = run({ run_id: "r1", started_at: "2024-01-15T02:00:00.000Z", finished_at: "2024-01-15T02:00:45.200Z", duration_ms: 45_200 });
    first.save(r);
    first.setSetting("scheduler.interval_hours", "12");
    first.db.$client.close();
    opened.splice(opened.indexOf(first), 1);
    const again = open(path);
    expect(again.list(10)).toEqual([r]);
    expect(again.getSetting("scheduler.interval_hours")).toBe("12");
    const tables = again.db.$client.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    expect(tables).toEqual([{ name: "__drizzle_migrations" }, { name: "settings" }, { name: "sync_runs" }]);
    const applied = again.db.$client.query("SELECT COUNT(*) AS n FROM __drizzle_migrations").get() as { n: number };
    expect(applied.n).toBe(Object.keys(MIGRATION_SQL).length);
  });

  test("a relative path is against the working directory", () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const repo = open("rel/history.db");
      repo.save(run({ run_id: "r1", started_at: "2024-01-15T02:00:00.000Z" }));
      expect(readdirSync(join(dir, "rel"))).toContain("history.db");
    } finally {
      process.chdir(cwd);
    }
  });

  test("a file that is not a database is moved aside and a fresh database takes its place", async () => {
    const path = join(dir, "garbage.db");
    const garbage = "this is not sqlite ".repeat(500);
    await Bun.write(path, garbage);
    const logged: string[] = [];
    const repo = HistoryRepo.open(path, { ...silentLogger, error: (msg) => logged.push(msg) });
    opened.push(repo);
    const aside = readdirSync(dir).filter((f) => f.startsWith("garbage.db.corrupt-"));
    expect(aside).toEqual([expect.stringMatching(/^garbage\.db\.corrupt-\d{8}T\d{6}Z$/)]);
    expect(readFileSync(join(dir, aside[0]!), "utf8")).toBe(garbage);
    expect(repo.health()).toEqual({ file: "garbage.db", pending_writes: 0, last_error: null, corrupt_file_moved_to: aside[0]! });
    expect(logged).toEqual([
      `History database ${path} is corrupt (file is not a database): moved it to ${join(dir, aside[0]!)} and started an empty one; past runs and scheduler settings stay in the moved file`,
    ]);
    repo.save(run({ run_id: "r1", started_at: "2024-01-15T02:00:00.000Z" }));
    expect(repo.list(10).map((r) => r.run_id)).toEqual(["r1"]);
  });

  test("a path where no database can be created gives a HistoryDbError naming the path", () => {
    const path = join(dir, "a-directory");
    mkdirSync(path);
    expect(() => openHistoryDb(path)).toThrow(HistoryDbError);
    expect(() => openHistoryDb(path)).toThrow(path);
  });
});

describe("repository", () => {
  test("save inserts, then replaces the same run; get and list return it as saved", () => {
    const repo = open();
    const running = run({ run_id: "r1", status: "running", published: false, started_at: "2024-01-15T02:00:00.000Z" });
    repo.save(running);
    expect(repo.get("r1")).toEqual(running);
    const done: RunResult = {
      ...running,
      status: "success",
      published: true,
      finished_at: "2024-01-15T02:00:45.200Z",
      duration_ms: 45_200,
      types: {
        categories: {
          documents: 3,
          entries: 5,
          previous_entries: 4,
          skipped: { linked_invalid: { count: 1, examples: ["64c000000000000000000003"] } },
          published: true,
        },
      },
    };
    repo.save(done);
    expect(repo.get("r1")).toEqual(done);
    expect(repo.list(10)).toEqual([done]);
    expect(repo.get("nope")).toBeNull();
  });

  test("rows from before each type recorded `published`: a successful run's types read as published, others' not", () => {
    const repo = open();
    const legacy = { documents: 1, entries: 1, previous_entries: 0, skipped: {} } as unknown as TypeResult;
    repo.save(run({ run_id: "ok", started_at: "2024-01-15T02:00:00.000Z", types: { boxes: legacy } }));
    repo.save(run({ run_id: "bad", status: "failed", started_at: "2024-01-15T03:00:00.000Z", types: { boxes: legacy } }));
    expect(repo.get("ok")).toMatchObject({ published: true, types: { boxes: { published: true } } });
    expect(repo.get("bad")).toMatchObject({ published: false, types: { boxes: { published: false } } });
  });

  test("every status round-trips: failed with error, rejected with reason, skipped with the active run id, dry runs", () => {
    const repo = open();
    const runs: RunResult[] = [
      run({ run_id: "ok", started_at: "2024-01-15T02:00:00.000Z", finished_at: "2024-01-15T02:00:01.000Z", duration_ms: 1000 }),
      run({
        run_id: "bad",
        status: "failed",
        published: false,
        started_at: "2024-01-15T03:00:00.000Z",
        finished_at: "2024-01-15T03:00:02.000Z",
        duration_ms: 2000,
        error: "MongoDB unreachable",
      }),
      run({
        run_id: "shrunk",
        status: "rejected",
        published: false,
        reason: "shrink",
        started_at: "2024-01-15T04:00:00.000Z",
        finished_at: "2024-01-15T04:00:03.000Z",
        duration_ms: 3000,
        error: "categories: 100 → 10 entries (-90.0%)",
      }),
      run({
        run_id: "skip",
        status: "skipped",
        published: false,
        trigger: "cron",
        reason: "in_progress",
        active_run_id: "20240115T050000Z-abcd1234",
        started_at: "2024-01-15T05:00:00.000Z",
        finished_at: "2024-01-15T05:00:00.001Z",
        duration_ms: 1,
      }),
      run({
        run_id: "recent",
        status: "skipped",
        published: false,
        trigger: "interval",
        reason: "recent_success",
        started_at: "2024-01-15T05:30:00.000Z",
        finished_at: "2024-01-15T05:30:00.000Z",
        duration_ms: 0,
      }),
      run({
        run_id: "dry",
        dry_run: true,
        published: false,
        scope: "boxes",
        trigger: "cli",
        started_at: "2024-01-15T06:00:00.000Z",
        finished_at: "2024-01-15T06:00:01.000Z",
        duration_ms: 1000,
      }),
    ];
    for (const r of runs) repo.save(r);
    for (const r of runs) expect(repo.get(r.run_id)).toEqual(r);
    expect(repo.list(100)).toEqual([...runs].reverse());
    expect(repo.list(2)).toEqual([runs[5]!, runs[4]!]);
  });

  test("runs started in the same millisecond are listed by run id, whatever order they were recorded in (every replica lists them alike)", () => {
    const repo = open();
    const at = "2024-01-15T02:00:00.000Z";
    const ids = ["aa-first", "zz-second", "mm-third"];
    for (const id of ids) repo.save(run({ run_id: id, status: "running", published: false, started_at: at }));
    repo.save(run({ run_id: "aa-first", started_at: at, finished_at: "2024-01-15T02:00:01.000Z", duration_ms: 1000 }));
    expect(repo.list(10).map((r) => r.run_id)).toEqual(["zz-second", "mm-third", "aa-first"]);
  });

  test("lastSuccess: the newest published success, optionally of one scope (dry runs don't count)", () => {
    const repo = open();
    const a = run({ run_id: "a", scope: "all", started_at: "2024-01-15T01:00:00.000Z", finished_at: "2024-01-15T01:00:05.000Z", duration_ms: 5000 });
    const b = run({ run_id: "b", scope: "boxes", started_at: "2024-01-15T02:00:00.000Z", finished_at: "2024-01-15T02:00:05.000Z", duration_ms: 5000 });
    const dry = run({
      run_id: "c",
      scope: "all",
      dry_run: true,
      started_at: "2024-01-15T03:00:00.000Z",
      finished_at: "2024-01-15T03:00:05.000Z",
      duration_ms: 5000,
    });
    const failed = run({
      run_id: "d",
      scope: "all",
      status: "failed",
      started_at: "2024-01-15T04:00:00.000Z",
      finished_at: "2024-01-15T04:00:05.000Z",
      duration_ms: 5000,
    });
    expect(repo.lastSuccess()).toBeNull();
    for (const r of [a, b, dry, failed]) repo.save(r);
    expect(repo.lastSuccess()?.run_id).toBe("b");
    expect(repo.lastSuccess("all")?.run_id).toBe("a");
    expect(repo.lastSuccess("options")).toBeNull();
  });

  test("running lists the runs left running; finishRunning records an end only over a running row", () => {
    const repo = open();
    repo.save(run({ run_id: "dead", status: "running", published: false, started_at: "2024-01-15T02:00:00.000Z" }));
    const done = run({ run_id: "done", started_at: "2024-01-15T01:00:00.000Z", finished_at: "2024-01-15T01:00:01.000Z", duration_ms: 1000 });
    repo.save(done);
    expect(repo.running().map((r) => r.run_id)).toEqual(["dead"]);
    const failed = run({
      run_id: "dead",
      status: "failed",
      published: false,
      started_at: "2024-01-15T02:00:00.000Z",
      finished_at: "2024-01-15T03:00:00.000Z",
      duration_ms: 3_600_000,
      error: "interrupted: the process running it stopped before it finished",
    });
    expect(repo.finishRunning(failed)).toBe(true);
    expect(repo.get("dead")).toEqual(failed);
    expect(repo.running()).toEqual([]);
    // Not twice, and never over a run that recorded its own end.
    expect(repo.finishRunning({ ...failed, status: "success" })).toBe(false);
    expect(repo.finishRunning({ ...done, status: "failed" })).toBe(false);
    expect(repo.get("dead")).toEqual(failed);
    expect(repo.get("done")).toEqual(done);
  });

  test("settings: absent → null, set, overwrite, survive re-opening", () => {
    const path = join(dir, "history.db");
    const repo = open(path);
    expect(repo.getSetting("scheduler.enabled")).toBeNull();
    repo.setSetting("scheduler.enabled", "true");
    repo.setSetting("scheduler.enabled", "false");
    repo.setSetting("scheduler.interval_hours", "6");
    expect(open(path).getSetting("scheduler.enabled")).toBe("false");
    expect(open(path).getSetting("scheduler.interval_hours")).toBe("6");
  });
});

describe("a database locked by another connection", () => {
  test("writes do not wait: they are kept in memory, retried, and written in order once the lock is released; reads go on; one error line, one recovery line", async () => {
    const path = join(dir, "history.db");
    const logged: string[] = [];
    const repo = HistoryRepo.open(path, { ...silentLogger, info: (msg) => logged.push(msg), error: (msg) => logged.push(msg) });
    opened.push(repo);
    const earlier = run({ run_id: "r0", started_at: "2024-01-15T01:00:00.000Z", finished_at: "2024-01-15T01:00:01.000Z", duration_ms: 1000 });
    repo.save(earlier);

    const locker = new Database(path);
    locker.exec("BEGIN EXCLUSIVE");
    const running = run({ run_id: "r1", status: "running", published: false, started_at: "2024-01-15T02:00:00.000Z" });
    const done = run({ run_id: "r1", started_at: "2024-01-15T02:00:00.000Z", finished_at: "2024-01-15T02:00:45.200Z", duration_ms: 45_200 });
    repo.save(running);
    repo.save(done);
    repo.setSetting("scheduler.enabled", "false");
    expect(repo.health()).toEqual({ file: "history.db", pending_writes: 3, last_error: "database is locked", corrupt_file_moved_to: null });
    expect(repo.list(10)).toEqual([earlier]);
    expect(() => repo.running()).toThrow("history database not writable: database is locked");
    expect(logged).toEqual(["Could not write to the history database: database is locked; keeping 1 record(s) in memory and retrying until it is writable"]);

    await Bun.sleep(300); // a few retries fail too, quietly
    expect(repo.health().pending_writes).toBe(3);
    locker.exec("ROLLBACK");
    locker.close();
    await until(() => repo.health().pending_writes === 0, 5_000, "the pending writes");
    expect(repo.health().last_error).toBeNull();
    expect(repo.list(10)).toEqual([done, earlier]);
    expect(repo.getSetting("scheduler.enabled")).toBe("false");
    expect(logged.slice(1)).toEqual(["History database writable again: wrote 3 pending record(s)"]);
  });

  test("on close, records still not written after the wait are logged whole", async () => {
    const path = join(dir, "history.db");
    const errors: { msg: string; fields?: Record<string, unknown> }[] = [];
    const repo = HistoryRepo.open(path, { ...silentLogger, error: (msg, fields) => errors.push({ msg, fields }) });
    const locker = new Database(path);
    locker.exec("BEGIN EXCLUSIVE");
    try {
      const r = run({ run_id: "r1", status: "failed", published: false, started_at: "2024-01-15T02:00:00.000Z", error: "boom" });
      repo.save(r);
      await repo.close(200);
      const records = [{ what: "run r1 (failed)", row: expect.objectContaining({ id: "r1", status: "failed", error: "boom" }) }];
      expect(errors.at(-1)).toEqual({
        msg: "1 record(s) could not be written to the history database before exit: database is locked",
        fields: { records, [TEXT_LINES]: [expect.stringContaining('{"what":"run r1 (failed)","row":{')] },
      });
    } finally {
      locker.close();
    }
  });

  test("in text logs (the default), those records follow the error line as a JSON line each", async () => {
    const path = join(dir, "history.db");
    const lines: string[] = [];
    const repo = HistoryRepo.open(
      path,
      createLogger({ format: "text", level: "info" }, (line) => lines.push(...line.split("\n"))),
    );
    const locker = new Database(path);
    locker.exec("BEGIN EXCLUSIVE");
    try {
      repo.save(run({ run_id: "r1", status: "failed", published: false, started_at: "2024-01-15T02:00:00.000Z", error: "boom" }));
      await repo.close(200);
      const at = lines.findIndex((l) => l.endsWith("ERROR 1 record(s) could not be written to the history database before exit: database is locked"));
      expect(at).toBeGreaterThanOrEqual(0);
      const record = JSON.parse(lines[at + 1]!.replace(TEXT_PREFIX, ""));
      expect(record).toMatchObject({ what: "run r1 (failed)", row: { id: "r1", status: "failed", error: "boom" } });
    } finally {
      locker.close();
    }
  });
});

describe("trends", () => {
  test("percentile is nearest-rank", () => {
    expect(percentile([], 95)).toBeNull();
    expect(percentile([7], 95)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 1000], 95)).toBe(19);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 1000], 95)).toBe(20);
  });

  test("no runs", () => {
    expect(computeTrends([])).toEqual({
      runs: 0,
      success_rate: null,
      mean_duration_ms: null,
      p95_duration_ms: null,
      entries_over_time: [],
      change_vs_previous: null,
    });
  });

  test("figures over a mixed history match a hand computation", () => {
    const t = (n: number, published = true) => ({ documents: n, entries: n, previous_entries: 0, skipped: {}, published });
    // Oldest first here; computeTrends takes them newest first.
    const oldestFirst: RunResult[] = [
      run({ run_id: "1", started_at: "2024-01-01T00:00:00.000Z", duration_ms: 1000, types: { categories: t(100), boxes: t(50), options: t(200) } }),
      run({ run_id: "2", status: "failed", published: false, started_at: "2024-01-02T00:00:00.000Z", duration_ms: 500, error: "x" }),
      run({ run_id: "3", started_at: "2024-01-03T00:00:00.000Z", duration_ms: 3000, types: { boxes: t(60) } }),
      run({ run_id: "4", status: "skipped", published: false, reason: "in_progress", started_at: "2024-01-04T00:00:00.000Z", duration_ms: 1 }),
      run({
        run_id: "5",
        status: "rejected",
        published: false,
        reason: "shrink",
        started_at: "2024-01-05T00:00:00.000Z",
        duration_ms: 2000,
        types: { categories: t(10, false) },
      }),
      run({
        run_id: "6",
        dry_run: true,
        published: false,
        started_at: "2024-01-06T00:00:00.000Z",
        duration_ms: 4000,
        types: { categories: t(1, false), boxes: t(1, false), options: t(1, false) },
      }),
      run({ run_id: "7", started_at: "2024-01-07T00:00:00.000Z", duration_ms: 6000, types: { categories: t(110), boxes: t(55), options: t(190) } }),
      run({ run_id: "8", status: "running", published: false, started_at: "2024-01-08T00:00:00.000Z", duration_ms: null }),
    ];
    const trends = computeTrends([...oldestFirst].reverse());
    // Decided runs (success, failed, rejected): 1, 2, 3, 5, 6, 7 → successes 1, 3, 6, 7 = 4 of 6.
    // Durations of decided runs: 1000, 500, 3000, 2000, 4000, 6000 → mean 16500 / 6 = 2750;
    // p95 nearest rank: ceil(0.95 * 6) = 6th of the sorted list = 6000.
    // Published successes, oldest first: 1, 3, 7. Change: run 7 against the latest earlier run
    // with that type: categories 110 - 100 (run 1), boxes 55 - 60 (run 3), options 190 - 200 (run 1).
    expect(trends).toEqual({
      runs: 8,
      success_rate: 4 / 6,
      mean_duration_ms: 2750,
      p95_duration_ms: 6000,
      entries_over_time: [
        { run_id: "1", started_at: "2024-01-01T00:00:00.000Z", categories: 100, boxes: 50, options: 200 },
        { run_id: "3", started_at: "2024-01-03T00:00:00.000Z", boxes: 60 },
        { run_id: "7", started_at: "2024-01-07T00:00:00.000Z", categories: 110, boxes: 55, options: 190 },
      ],
      change_vs_previous: { categories: 10, boxes: -5, options: -10 },
    });
  });

  test("one published run: no change yet; only skipped runs: no rate", () => {
    const only = run({
      run_id: "1",
      started_at: "2024-01-01T00:00:00.000Z",
      duration_ms: 10,
      types: { boxes: { documents: 1, entries: 1, previous_entries: 0, skipped: {}, published: true } },
    });
    expect(computeTrends([only]).change_vs_previous).toBeNull();
    const skipped = run({ run_id: "2", status: "skipped", published: false, started_at: "2024-01-01T00:00:00.000Z", duration_ms: 0 });
    expect(computeTrends([skipped])).toMatchObject({ runs: 1, success_rate: null, mean_duration_ms: null, p95_duration_ms: null });
  });
});
