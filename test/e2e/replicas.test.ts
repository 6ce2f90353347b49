import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ObjectId } from "mongodb";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
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
  await Bun.sleep(10_000);
  for (const svc of running.splice(0)) expect(await svc.stop()).toBe(0);

  const rows = dirs.flatMap((dir) => {
    const out = Bun.spawnSync([binary, "history", "--json", "--limit", "100"], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env } });
    return (JSON.parse(out.stdout.toString()) as Row[]).filter((r) => r.trigger === "cron");
  });
  const ran = rows
    .filter((r) => r.status === "success")
    .map((r) => Date.parse(r.started_at))
    .sort((a, b) => a - b);
  // About five ticks in 10 s; every tick ran once in total: no two runs within one 2 s tick.
  expect(ran.length).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < ran.length; i++) expect(ran[i]! - ran[i - 1]!).toBeGreaterThan(1_000);
  // The replica that did not run a tick recorded it as skipped, because the other one had it
  // (except the first and last ticks, when one replica was not up yet or already stopped).
  const skipped = rows.filter((r) => r.status === "skipped");
  expect(skipped.length).toBeGreaterThanOrEqual(ran.length - 2);
  expect(new Set(skipped.map((r) => r.reason))).toEqual(new Set(["in_progress"]));
  expect(rows.filter((r) => r.status !== "success" && r.status !== "skipped")).toEqual([]);
}, 40_000);
