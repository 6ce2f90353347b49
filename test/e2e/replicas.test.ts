import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ObjectId } from "mongodb";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { until } from "../../scripts/lib/procs.ts";
import { createContext, type TestContext } from "../helpers.ts";

let ctx: TestContext;
const running: RunningBinary[] = [];
beforeEach(async () => {
  ctx = await createContext("replicas");
});
afterEach(async () => {
  for (const svc of running.splice(0)) await svc.stop().catch(() => {});
  await ctx.cleanup();
});

interface Row {
  run_id: string;
  trigger: string;
  status: string;
  reason?: string;
  started_at: string;
}

test("two replicas (two binaries, own history DBs, one Redis and MongoDB) with a cron every 2 s: one run per tick", async () => {
  await ctx.db.collection("categories").insertOne({ _id: new ObjectId(), name: "Flyer", slug: "flyer", display_name: [{ iso: "en", display_name: "Flyer" }] });
  const binary = installBinary(ctx.dir);
  const env = serviceEnv(ctx, { ENABLE_SCHEDULER: "true", SYNC_CRON: "*/2 * * * * *" });
  // A recent success, so the interval job has no catch-up run to make.
  const first = Bun.spawnSync([binary, "sync"], { cwd: ctx.dir, env: { PATH: process.env.PATH ?? "", ...env, HISTORY_DB_PATH: "cli.db" } });
  expect(first.exitCode).toBe(0);

  const dirs = ["a", "b"].map((name) => join(ctx.dir, name));
  for (const dir of dirs) {
    mkdirSync(dir);
    running.push(await startBinary(binary, dir, env));
  }
  // From here on every tick fires on both replicas; the one that runs a tick is the one that claimed
  // it in Redis (<prefix>scheduler:tick:cron:<second>).
  const from = Date.now();
  const claimedTicks = async () =>
    (await ctx.keys())
      .map((key) => Number(/scheduler:tick:cron:(\d+)$/.exec(key)?.[1] ?? Number.NaN) * 1000)
      .filter((tick) => tick >= from)
      .sort((x, y) => x - y);
  await until(async () => (await claimedTicks()).length >= 5, 60_000, "five ticks claimed");
  // Both at once: only the tick that fires while they stop may be seen by one of them.
  const stopped = await Promise.all(running.splice(0).map((svc) => svc.stop()));
  expect(stopped).toEqual([0, 0]);

  const ticks = await claimedTicks();
  const rows = dirs.flatMap((dir, i) => {
    const out = Bun.spawnSync([binary, "history", "--json", "--limit", "100"], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env } });
    return (JSON.parse(out.stdout.toString()) as Row[]).filter((r) => r.trigger === "cron").map((r) => ({ ...r, replica: i }));
  });
  expect(rows.filter((r) => r.status !== "success" && r.status !== "skipped")).toEqual([]);
  // A row belongs to the latest claimed tick at or before its start (croner never fires early); the
  // last claimed tick is not judged (the replicas were stopping).
  const tickOf = (startedAt: string) => Math.max(...ticks.filter((tick) => tick <= Date.parse(startedAt)));
  const judged = ticks.slice(0, -1);
  expect(judged.length).toBeGreaterThanOrEqual(4);
  for (const tick of judged) {
    const atTick = rows.filter((r) => tickOf(r.started_at) === tick);
    // Every tick ran once in total; the other replica recorded it as skipped, because the first had it.
    expect({ tick: new Date(tick).toISOString(), statuses: atTick.map((r) => `${r.status}${r.reason ? ` ${r.reason}` : ""}`).sort() }).toEqual({
      tick: new Date(tick).toISOString(),
      statuses: ["skipped in_progress", "success"],
    });
    expect(new Set(atTick.map((r) => r.replica)).size).toBe(2);
  }
}, 120_000);
