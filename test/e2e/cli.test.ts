// The command line through the compiled binary (dist/search-sync, copied alone into a temp
// directory): help, usage errors, every exit code of `sync`, status and history, the progress bar
// on a terminal (a pty from util-linux `script`), JSON logs, healthcheck, and what the service
// serves from the binary (/metrics through prom-client, /dashboard, alerts).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import pkg from "../../package.json";
import { freePort, installBinary, type Ran, runCommand, startBinary } from "../../scripts/lib/binary.ts";
import { startDelayProxy } from "../../scripts/lib/procs.ts";
import { COMMAND_USAGE, COMMANDS, USAGE } from "../../src/cli/usage.ts";
import { TEXT_PREFIX } from "../../src/platform/log.ts";
import type { RunResult } from "../../src/runs/model.ts";
import { createContext, type TestContext } from "../helpers.ts";
import { scrapeWithSearches } from "../metrics.fixtures.ts";
import { oid, SUPPLIER, seedLarge } from "../sync.fixtures.ts";

let ctx: TestContext;
let binary: string;
beforeEach(async () => {
  ctx = await createContext("cli");
  binary = installBinary(ctx.dir);
});
afterEach(async () => {
  await ctx.cleanup();
});

/** Runs the binary in the context's directory with the context's environment (plus `env`). */
function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return runCommand([binary, ...args], ctx.dir, { HOME: ctx.dir, ...ctx.env, ...env });
}

const STAMP = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]`;
/** Timestamp and level in front of every text log line (test/log.test.ts checks their form). */
const PREFIX = (level: string) => String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) ${level.padEnd(5)} `;
/** The lines of an output, log lines as their messages. */
const lines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((line) => line.replace(TEXT_PREFIX, ""));

describe("help and usage", () => {
  test("--version, --help, help <command> and <command> --help: stdout, exit 0", async () => {
    expect(await cli(["--version"])).toEqual({ code: 0, stdout: `search-sync ${pkg.version}\n`, stderr: "" });
    expect(await cli(["-v"])).toEqual({ code: 0, stdout: `search-sync ${pkg.version}\n`, stderr: "" });
    expect(await cli(["--help"])).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: "" });
    for (const command of COMMANDS) {
      expect({ command, ...(await cli([command, "--help"])) }).toEqual({ command, code: 0, stdout: `${COMMAND_USAGE[command]}\n`, stderr: "" });
      expect({ command, ...(await cli(["help", command])) }).toEqual({ command, code: 0, stdout: `${COMMAND_USAGE[command]}\n`, stderr: "" });
    }
  });

  test("unknown options, stray arguments, bad values: one message and the command's usage on stderr, exit 2", async () => {
    const cases: [string[], string, string][] = [
      [["sync", "--bogus"], "Unknown option '--bogus'", COMMAND_USAGE.sync],
      [["sync", "extra"], "Unexpected argument 'extra'. This command does not take positional arguments", COMMAND_USAGE.sync],
      [["sync", "--type"], "Option '--type <value>' argument missing", COMMAND_USAGE.sync],
      [["sync", "--type", "things"], '--type must be one of categories, boxes, options, not "things"', COMMAND_USAGE.sync],
      [["status", "--limit", "3"], "Unknown option '--limit'", COMMAND_USAGE.status],
      [["history", "--limit", "0"], '--limit must be an integer from 1 to 1000, not "0"', COMMAND_USAGE.history],
      [["history", "--limit", "2.5"], '--limit must be an integer from 1 to 1000, not "2.5"', COMMAND_USAGE.history],
      [["serve", "--port", "1"], "Unknown option '--port'", COMMAND_USAGE.serve],
      [["healthcheck", "now"], "Unexpected argument 'now'. This command does not take positional arguments", COMMAND_USAGE.healthcheck],
      // After "--", --help is an argument like any other.
      [["history", "--", "--help"], "Unexpected argument '--help'. This command does not take positional arguments", COMMAND_USAGE.history],
      [["frobnicate"], 'unknown command "frobnicate"', USAGE],
      [["--frobnicate"], "Unknown option '--frobnicate'", USAGE],
    ];
    for (const [args, message, usage] of cases)
      expect({ args, ...(await cli(args)) }).toEqual({ args, code: 2, stdout: "", stderr: `search-sync: ${message}\n\n${usage}\n` });
  });
});

describe("search-sync sync", () => {
  test("success: exit 0, the guide's lines, plain progress lines when not a terminal", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 10);
    const { code, stdout, stderr } = await cli(["sync"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const out = lines(stdout);
    const progress = out.filter((l) => l.startsWith("Progress: "));
    const rest = out.filter((l) => !l.startsWith("Progress: "));
    expect(rest.length).toBe(9);
    expect(rest[0]).toMatch(new RegExp(`^${STAMP} Re-sync completed successfully!$`));
    expect(rest[1]).toMatch(/^Duration: \d+\.\d seconds$/);
    expect(rest.slice(2, 5)).toEqual(["Categories: 30", "Boxes: 30", "Options: 30"]);
    // The summary: the run's id and result, a line per type.
    const runId = (JSON.parse((await cli(["history", "--json", "--limit", "1"])).stdout) as RunResult[])[0]!.run_id;
    expect(rest.slice(5)).toEqual([
      expect.stringMatching(new RegExp(`^Run ${runId} \\(cli, all\\): success in \\d+\\.\\d seconds$`)),
      "  categories  30 entries from 20 documents (before: 0)",
      "  boxes       30 entries from 20 documents (before: 0)",
      "  options     30 entries from 20 documents (before: 0)",
    ]);
    // One line per stage at least: starting, then origins and suppliers of each type.
    expect(progress[0]).toBe("Progress: starting — 0 documents, 0 entries/s, ETA -");
    for (const type of ["categories", "boxes", "options"])
      for (const stage of ["origins", "suppliers"])
        expect({ stage: `${type}: ${stage}`, shown: progress.some((l) => l.startsWith(`Progress: ${type}: ${stage} — `)) }).toEqual({
          stage: `${type}: ${stage}`,
          shown: true,
        });
    for (const line of progress) expect(line).toMatch(/^Progress: [a-z: ]+ — [\d,]+(\/[\d,]+)? documents( \(\d+%\))?, [\d,]+ entries\/s, ETA (-|\d+:\d\d)$/);
  });

  test("--json: the run's result on stdout (the same as the history records), no progress, exit 0", async () => {
    await seedLarge(ctx.db, ["boxes"], 5);
    const { code, stdout, stderr } = await cli(["sync", "--type", "boxes", "--json"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const result = JSON.parse(stdout) as RunResult;
    expect({ ...result, run_id: "", started_at: "", finished_at: "", duration_ms: 0, replica: "" }).toEqual({
      status: "success",
      run_id: "",
      trigger: "cli",
      scope: "boxes",
      dry_run: false,
      force: false,
      published: true,
      started_at: "",
      finished_at: "",
      duration_ms: 0,
      types: { boxes: { documents: 10, entries: 15, previous_entries: 0, skipped: {}, published: true } },
      replica: "",
    });
    expect(result.replica).toBe(hostname());
    const history = await cli(["history", "--json", "--limit", "5"]);
    expect(history.code).toBe(0);
    expect(JSON.parse(history.stdout)).toEqual([result]);
  });

  test("summary and --dry-run: the run id, thousands separators, skipped documents per reason, what would be added and removed (first 20, then a count)", async () => {
    await seedLarge(ctx.db, ["options"], 400);
    await ctx.db.collection("options").insertOne({ name: "no names", slug: "no-names" });
    const summary = (ran: Ran) => lines(ran.stdout).filter((l) => !/^(Progress: |Dry run completed|Duration: |Options: )/.test(l));
    const dry = await cli(["sync", "--type", "options", "--dry-run"]);
    expect(dry.code).toBe(0);
    const [headline, ...rest] = summary(dry);
    expect(headline).toMatch(/^Run \d{8}T\d{6}Z-[0-9a-f]{8} \(cli, options, dry run\): success in \d+\.\d seconds$/);
    expect(rest.slice(0, 4)).toEqual([
      "  options     1,200 entries from 801 documents (before: 0, 1 skipped)",
      "  options skipped: display_name_missing 1",
      "options: 1,200 entries would be added and 0 removed against the serving index",
      expect.stringMatching(/^ {2}\+ [0-9a-f]{24} (en|nl|de) options (item|artikel|Artikel) \d+$/),
    ]);
    expect(rest.slice(3, -1).every((l) => /^ {2}\+ [0-9a-f]{24} (en|nl|de) options (item|artikel|Artikel) \d+$/.test(l))).toBe(true);
    expect(rest.length).toBe(3 + 20 + 1);
    expect(rest.at(-1)).toBe("  + … and 1,180 more");
    expect(await ctx.redis.get(`${ctx.prefix}{option}:cur`)).toBeNull();

    expect((await cli(["sync", "--type", "options"])).code).toBe(0);
    await ctx.db.collection("options").deleteOne({ _id: oid("options", 0, 7) });
    await ctx.db.collection(SUPPLIER.options).deleteOne({ _id: oid("options", 1, 7) });
    const removed = summary(await cli(["sync", "--type", "options", "--dry-run"]));
    expect(removed.slice(1)).toEqual([
      "  options     1,197 entries from 799 documents (before: 1,200, 1 skipped)",
      "  options skipped: display_name_missing 1",
      "options: 0 entries would be added and 3 removed against the serving index",
      "  - 653000000000000000000007 en options item 7",
      "  - 653000000000000000000007 nl options artikel 7",
      "  - 653000000000000000000007 de options Artikel 7",
    ]);
  });

  test("exit codes: 1 failed, 3 rejected (0 with --force), 4 skipped while another run holds the lock", async () => {
    await seedLarge(ctx.db, ["categories"], 10);
    const failed = await cli(["sync", "--type", "categories"], { DATA_SET_FILE: "/dev/null/x/data_set.json" });
    expect(failed).toEqual({
      code: 1,
      stdout: expect.any(String),
      stderr: expect.stringMatching(new RegExp(`^${PREFIX("ERROR")}Re-sync failed: dataset file data_set.json: ENOTDIR: not a directory\n$`)),
    });

    expect((await cli(["sync", "--type", "categories"])).code).toBe(0);
    const gone = [0, 1, 2, 3, 4, 5, 6, 7];
    await ctx.db.collection("categories").deleteMany({ _id: { $in: gone.map((i) => oid("categories", 0, i)) } });
    await ctx.db.collection(SUPPLIER.categories).deleteMany({ _id: { $in: gone.map((i) => oid("categories", 1, i)) } });
    const rejected = await cli(["sync", "--type", "categories"]);
    expect({ code: rejected.code, stderr: lines(rejected.stderr) }).toEqual({
      code: 3,
      stderr: [
        "Re-sync rejected: categories: 30 → 6 entries (-80.0%); more than SYNC_MAX_SHRINK_PERCENT=50%, nothing published (use force=true to publish anyway)",
      ],
    });
    expect((await cli(["sync", "--type", "categories", "--force"])).code).toBe(0);

    await ctx.redis.set(`${ctx.prefix}lock`, "20240101T000000Z-holder00 token", "PX", 60_000);
    expect(await cli(["sync"])).toEqual({
      code: 4,
      stdout: "",
      stderr: "search-sync: another run is in progress (20240101T000000Z-holder00); nothing was done\n",
    });
    const skippedJson = await cli(["sync", "--json"]);
    expect(skippedJson.code).toBe(4);
    expect(JSON.parse(skippedJson.stdout)).toMatchObject({
      status: "skipped",
      reason: "in_progress",
      active_run_id: "20240101T000000Z-holder00",
      trigger: "cli",
    });

    const statuses = (JSON.parse((await cli(["history", "--json"])).stdout) as RunResult[]).map((r) => r.status);
    expect(statuses).toEqual(["skipped", "skipped", "success", "rejected", "success", "failed"]);
  });

  test("Redis unreachable: exit 1 with one line", async () => {
    const ran = await cli(["sync"], { REDIS_URL: "redis://127.0.0.1:1" });
    expect(ran.code).toBe(1);
    expect(lines(ran.stderr).at(-1)).toBe("search-sync: Redis is not reachable");
  });

  test("on a terminal: a progress bar redrawn in place (stage, documents of the total, entries/s, ETA), erased before the summary", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 300);
    // Every answer of MongoDB 300 ms late: the run lasts several of the progress's 1 s redraws on any machine.
    const mongo = await startDelayProxy(Number(new URL(ctx.env.MONGODB_URI!).port), 300);
    const mongoUri = ctx.env.MONGODB_URI!.replace(/\/\/[^/]+/, `//127.0.0.1:${mongo.port}`);
    const env = Object.entries({ ...ctx.env, MONGODB_URI: mongoUri, PATH: process.env.PATH ?? "", HOME: ctx.dir, SYNC_BATCH_SIZE: "50", COLUMNS: "120" })
      .map(([k, v]) => `${k}='${v}'`)
      .join(" ");
    // `script` gives the binary a pseudo-terminal and copies what it wrote into the file.
    const typescript = `${ctx.dir}/tty.out`;
    const proc = Bun.spawn(["script", "-qec", `env -i ${env} ${binary} sync`, typescript], { cwd: ctx.dir, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const exited = await proc.exited;
    await mongo.close();
    expect(exited).toBe(0);
    const screen = await Bun.file(typescript).text();
    const frames = screen.split("\r\x1b[2K").slice(1);
    // Every frame but the last is the progress line; until the totals are estimated it has no bar.
    const frameLines = frames.slice(0, -1).map((f) => f.split("\r")[0]!);
    for (const line of frameLines)
      expect(line).toMatch(/^[a-z: ]+ {2}(\[[█░]{20}\] +\d+% {2}[\d,]+\/[\d,]+ docs|[\d,]+ docs) {2}[\d,]+ entries\/s {2}ETA (\d+:\d\d|-)$/);
    const bars = frameLines.filter((line) => /^(categories|boxes|options): (origins|suppliers) {2}\[/.test(line));
    expect(bars.length).toBeGreaterThan(3);
    expect(bars.some((bar) => / ETA \d+:\d\d$/.test(bar))).toBe(true);
    // The last frame is the erase before the summary lines.
    expect(frames.at(-1)!.replace(/\r/g, "")).toMatch(
      new RegExp(
        `^${PREFIX("INFO")}${STAMP} Re-sync completed successfully!\n${PREFIX("INFO")}Duration: \\d+\\.\\d seconds\n${PREFIX("INFO")}Categories: 900\n${PREFIX("INFO")}Boxes: 900\n${PREFIX("INFO")}Options: 900\n`,
      ),
    );
  });

  test("on a narrow terminal: the bar narrows, then parts go, numbers are never cut (the terminal's columns)", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 300);
    const env = Object.entries({ ...ctx.env, PATH: process.env.PATH ?? "", HOME: ctx.dir, SYNC_BATCH_SIZE: "50" })
      .map(([k, v]) => `${k}='${v}'`)
      .join(" ");
    const framesAt = async (columns: number) => {
      const typescript = `${ctx.dir}/tty-${columns}.out`;
      const proc = Bun.spawn(["script", "-qec", `stty cols ${columns}; env -i ${env} ${binary} sync`, typescript], {
        cwd: ctx.dir,
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      });
      expect(await proc.exited).toBe(0);
      const frames = (await Bun.file(typescript).text()).split("\r\x1b[2K").slice(1, -1);
      return frames.map((f) => f.split("\r")[0]!);
    };
    const NUMBERS = String.raw`( *\d+% {2}[\d,]+\/[\d,]+ docs|[\d,]+ docs)( {2}[\d,]+ entries\/s)?( {2}ETA (\d+:\d\d|-))?`;
    const at90 = await framesAt(90);
    for (const line of at90) {
      expect(line.length).toBeLessThan(90);
      expect(line).toMatch(new RegExp(`^[a-z: ]+ {2}(\\[[█░]{5,20}\\] +)?${NUMBERS}$`));
    }
    // Narrower than 20 cells, but still a bar.
    expect(at90.some((line) => /^(categories|boxes|options): (origins|suppliers) {2}\[[█░]{5,19}\]/.test(line))).toBe(true);
    const at32 = await framesAt(32);
    for (const line of at32) {
      expect(line.length).toBeLessThan(32);
      expect(line).toMatch(new RegExp(`^([a-z: ]+ {2})?${NUMBERS}$`));
    }
    expect(at32.some((line) => /\d+\/[\d,]+ docs/.test(line))).toBe(true);
  });

  test("LOG_FORMAT=json: one JSON object per line (level, time, msg, run_id, fields), the run's end one object; LOG_LEVEL=warn keeps only warnings", async () => {
    type Summary = Record<string, unknown>;
    await seedLarge(ctx.db, ["categories"], 2);
    const { code, stdout, stderr } = await cli(["sync", "--type", "categories"], { LOG_FORMAT: "json" });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const records = lines(stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(Object.keys(r).slice(0, 2)).toEqual(["level", "time"]);
      expect(r.level).toBe("info");
      expect(new Date(r.time as string).toISOString()).toBe(r.time as string);
    }
    // The run's end is one event: the headline with the duration, counts and skipped documents as fields.
    const summary = records.filter((r) => !(r.msg as string).startsWith("Progress: "));
    const runId = summary[0]!.run_id as string;
    expect(summary.map(({ time, msg, duration_seconds, ...rest }): Summary => ({ msg: (msg as string).replace(/^\[[^\]]+\]/, "[T]"), ...rest }))).toEqual([
      {
        msg: "[T] Re-sync completed successfully!",
        level: "info",
        run_id: runId,
        status: "success",
        scope: "categories",
        trigger: "cli",
        dry_run: false,
        counts: { categories: { documents: 4, entries: 6, previous_entries: 0 } },
        skipped: { categories: {} },
      },
    ]);
    expect(summary[0]!.duration_seconds).toBeNumber();
    expect(records.filter((r) => (r.msg as string).startsWith("Progress: ")).every((r) => r.run_id === runId && typeof r.documents_read === "number")).toBe(
      true,
    );

    const quiet = await cli(["sync", "--type", "categories"], { LOG_FORMAT: "json", LOG_LEVEL: "warn" });
    expect(quiet).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("a failed run's alert is delivered before the command exits", async () => {
    const received: any[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (req) => {
        received.push(await req.json());
        return new Response("ok");
      },
    });
    try {
      const ran = await cli(["sync", "--type", "boxes"], {
        DATA_SET_FILE: "/dev/null/x/data_set.json",
        ALERT_WEBHOOK_URL: `http://127.0.0.1:${server.port}/hook`,
      });
      expect(ran.code).toBe(1);
      expect(received.map((b) => [b.status, b.trigger, b.scope, b.error])).toEqual([
        ["failed", "cli", "boxes", "dataset file data_set_boxes.json: ENOTDIR: not a directory"],
      ]);
    } finally {
      server.stop(true);
    }
  });
});

describe("status and history", () => {
  test("tables for people, JSON with --json", async () => {
    expect(await cli(["status"])).toEqual({ code: 0, stdout: "Status:       never run\nActive run:   none\nLast run:     none\n", stderr: "" });
    expect(await cli(["history"])).toEqual({ code: 0, stdout: "No runs recorded yet.\n", stderr: "" });

    await seedLarge(ctx.db, ["categories", "boxes"], 10);
    const run = JSON.parse((await cli(["sync", "--json"])).stdout) as RunResult;
    const status = await cli(["status"]);
    expect(status.code).toBe(0);
    expect(lines(status.stdout)).toEqual([
      "Status:       success",
      "Active run:   none",
      `Last run:     ${run.run_id} (cli, all, on ${run.replica})`,
      "Result:       success",
      expect.stringMatching(/^Finished: {5}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      `Duration:     ${(run.duration_ms! / 1000).toFixed(1)} seconds`,
      "  categories  30 entries from 20 documents (before: 0)",
      "  boxes       30 entries from 20 documents (before: 0)",
      "  options     0 entries from 0 documents (before: 0)",
    ]);
    expect(JSON.parse((await cli(["status", "--json"])).stdout)).toEqual({ active: null, last_run: run });

    const history = await cli(["history", "--limit", "1"]);
    const [header, row, ...more] = lines(history.stdout);
    expect(more).toEqual([]);
    expect(header!.split(/\s{2,}/)).toEqual(["started", "run_id", "trigger", "replica", "scope", "status", "seconds", "entries", "error"]);
    expect(row!.split(/\s{2,}/)).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      run.run_id,
      "cli",
      hostname(),
      "all",
      "success",
      (run.duration_ms! / 1000).toFixed(1),
      "60",
    ]);
  });
});

describe("the service from the binary", () => {
  test("healthcheck: 0 while the service answers, 1 when nothing listens or the config is bad", async () => {
    const svc = await startBinary(binary, ctx.dir, { ...ctx.env });
    try {
      const port = new URL(svc.url).port;
      expect(await cli(["healthcheck"], { PORT: port, LISTEN_HOST: "0.0.0.0" })).toEqual({ code: 0, stdout: "", stderr: "" });
      expect(await cli(["healthcheck"], { PORT: port, LISTEN_HOST: "127.0.0.1" })).toEqual({ code: 0, stdout: "", stderr: "" });
    } finally {
      expect(await svc.stop()).toBe(0);
    }
    const closed = freePort();
    const down = await cli(["healthcheck"], { PORT: String(closed) });
    expect(down.code).toBe(1);
    expect(down.stderr.startsWith(`search-sync: healthcheck: http://127.0.0.1:${closed}/healthz: `)).toBe(true);
    // Docker reserves exit code 2: a configuration error is "unhealthy" too.
    expect(await cli(["healthcheck"], { PORT: "eighty" })).toEqual({
      code: 1,
      stdout: "",
      stderr: 'search-sync: Invalid PORT="eighty": expected an integer from 0 to 65535\n',
    });
  });

  test("GET /metrics (prom-client inside the binary) counts a run and has process metrics; GET /dashboard serves the page", async () => {
    await seedLarge(ctx.db, ["categories", "boxes", "options"], 10);
    const svc = await startBinary(binary, ctx.dir, { ...ctx.env });
    try {
      const run = await fetch(`${svc.url}/re-sync-all`, { method: "POST" });
      expect(run.status).toBe(200);
      const { finished_at } = (await run.json()) as { finished_at: string };
      expect((await fetch(`${svc.url}/category-search?query=categories`)).status).toBe(200);
      const res = await fetch(`${svc.url}/metrics`);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      await res.text();
      const exp = await scrapeWithSearches(async () => (await fetch(`${svc.url}/metrics`)).text(), 1);
      expect(exp.samples.get('sync_runs_total{status="success",trigger="api"}')).toBe(1);
      expect(exp.samples.get("sync_run_duration_seconds_count")).toBe(1);
      expect(exp.samples.get('sync_entries{type="options"}')).toBe(30);
      expect(exp.samples.get("sync_in_progress")).toBe(0);
      expect(exp.samples.get("sync_last_success_timestamp_seconds")).toBe(Date.parse(finished_at) / 1000);
      expect(exp.samples.get('search_requests_total{status="200",type="categories"}')).toBe(1);
      expect(exp.samples.get("process_resident_memory_bytes")).toBeGreaterThan(10_000_000);
      expect(exp.samples.get("process_cpu_seconds_total")).toBeGreaterThan(0);

      const page = await fetch(`${svc.url}/dashboard`);
      expect(page.status).toBe(200);
      expect((await page.text()).includes('<svg id="duration-chart"')).toBe(true);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
