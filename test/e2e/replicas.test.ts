import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ObjectId } from "mongodb";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { getJson, postJson, until } from "../../scripts/lib/procs.ts";
import { claimedCronTicks, createContext, type TestContext } from "../helpers.ts";

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
  replica?: string;
}

test("two replicas (two binaries, own history DBs, one Redis and MongoDB) with a cron every 2 s: one run per tick, in both histories", async () => {
  await ctx.db.collection("categories").insertOne({ _id: new ObjectId(), name: "Flyer", slug: "flyer", display_name: [{ iso: "en", display_name: "Flyer" }] });
  const binary = installBinary(ctx.dir);
  const env = serviceEnv(ctx, { ENABLE_SCHEDULER: "true", SYNC_CRON: "*/2 * * * * *" });
  // A recent success, so the interval job has no catch-up run to make.
  const first = Bun.spawnSync([binary, "sync"], { cwd: ctx.dir, env: { PATH: process.env.PATH ?? "", ...env, HISTORY_DB_PATH: "cli.db" } });
  expect(first.exitCode).toBe(0);

  const names = ["a", "b"];
  const dirs = names.map((name) => join(ctx.dir, name));
  for (const [i, dir] of dirs.entries()) {
    mkdirSync(dir);
    running.push(await startBinary(binary, dir, { ...env, REPLICA_NAME: names[i]! }));
  }
  // From here on every tick fires on both replicas; the one that runs a tick is the one that claimed
  // it in Redis (<prefix>scheduler:tick:cron:<second>).
  const from = Date.now();
  const claimedTicks = async () => claimedCronTicks(await ctx.keys(), from);
  await until(async () => (await claimedTicks()).length >= 5, 60_000, "five ticks claimed");
  // Both at once: only the tick that fires while they stop may be seen by one of them.
  const stopped = await Promise.all(running.splice(0).map((svc) => svc.stop()));
  expect(stopped).toEqual([0, 0]);

  const ticks = await claimedTicks();
  // Each history has the other replica's runs too (imported); the last ones may have missed the other's last.
  const byId = new Map<string, Row>();
  for (const dir of dirs) {
    const out = Bun.spawnSync([binary, "history", "--json", "--limit", "100"], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env } });
    for (const row of JSON.parse(out.stdout.toString()) as Row[]) if (row.trigger === "cron") byId.set(row.run_id, row);
  }
  const rows = [...byId.values()];
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

test("three replicas show one history: identical /sync-status?history=true on each, also on one started after the runs and after restarts", async () => {
  await ctx.db.collection("categories").insertOne({ _id: new ObjectId(), name: "Flyer", slug: "flyer", display_name: [{ iso: "en", display_name: "Flyer" }] });
  const binary = installBinary(ctx.dir);
  const env = serviceEnv(ctx);
  const replicas = new Map<string, RunningBinary>();
  const start = async (name: string) => {
    const dir = join(ctx.dir, name);
    mkdirSync(dir, { recursive: true });
    const svc = await startBinary(binary, dir, { ...env, REPLICA_NAME: name });
    running.push(svc);
    replicas.set(name, svc);
  };
  const stop = async (name: string) => {
    const svc = replicas.get(name)!;
    replicas.delete(name);
    running.splice(running.indexOf(svc), 1);
    expect(await svc.stop()).toBe(0);
  };
  const statuses = () => Promise.all([...replicas.values()].map(async (svc) => (await getJson(`${svc.url}/sync-status?history=true&limit=100`)).body));
  /** Waits until every replica answers the same body with `runs` runs, and returns it. */
  const identical = async (runs: number) => {
    let bodies: { history: Row[] }[] = [];
    await until(
      async () => {
        bodies = await statuses();
        return bodies[0]!.history.length === runs && bodies.every((body) => Bun.deepEquals(body, bodies[0]));
      },
      20_000,
      `the same ${runs} runs in /sync-status?history=true of ${[...replicas.keys()].join(", ")}`,
    );
    return bodies[0]!;
  };

  for (const name of ["a", "b", "c"]) await start(name);
  const url = (name: string) => replicas.get(name)!.url;
  const made = [
    await postJson(`${url("a")}/re-sync-all`),
    await postJson(`${url("b")}/generate-box-data`),
    await postJson(`${url("c")}/re-sync-all?dry_run=true`),
  ].map((res) => res.body as Row);
  expect(made.map((r) => [r.status, r.replica])).toEqual([
    ["success", "a"],
    ["success", "b"],
    ["success", "c"],
  ]);
  const since = performance.now();
  let body = await identical(3);
  console.log(JSON.stringify({ all_three_identical_after_last_run_ms: Math.round(performance.now() - since) }));
  expect(body.history.map((r) => [r.run_id, r.replica])).toEqual(made.reverse().map((r) => [r.run_id, r.replica]));
  // The whole run, as its replica answered the trigger (whose body adds run_status).
  expect(made[0] as object).toEqual({ ...body.history[0], run_status: "success" });

  // c is down while a and b run; d starts only after; both catch up from the stream.
  await stop("c");
  const whileDown = [await postJson(`${url("a")}/generate-option-data`), await postJson(`${url("b")}/re-sync-all`)].map((res) => res.body as Row);
  expect(whileDown.map((r) => r.status)).toEqual(["success", "success"]);
  await start("c");
  await start("d");
  body = await identical(5);
  expect(body.history.slice(0, 2).map((r) => r.run_id)).toEqual(whileDown.reverse().map((r) => r.run_id));

  // Restarts import nothing twice: a run through the restarted d, and every list still has each run once.
  await stop("d");
  await start("d");
  await stop("a");
  await start("a");
  const last = (await postJson(`${url("d")}/re-sync-all`)).body as Row;
  body = await identical(6);
  expect(body.history[0]!.run_id).toBe(last.run_id);
  expect(new Set(body.history.map((r) => r.run_id)).size).toBe(6);
  expect(body.history.map((r) => r.replica)).toEqual(["d", "b", "a", "c", "b", "a"]);
}, 180_000);
