// Clearing the index (GET /clear-data, the replaced service's call): only the index's keys go,
// under the run lock, recorded as a run of its own; the next run serves again.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Services } from "../src/app/container.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { seedLarge } from "./sync.fixtures.ts";

let ctx: TestContext;
let s: Services;
beforeEach(async () => {
  ctx = await createContext("clear");
  await seedLarge(ctx.db, ["categories", "boxes", "options"], 5);
  s = await ctx.services();
});
afterEach(async () => {
  await ctx.cleanup();
});

test("every key of every type goes (leftovers of crashed runs too); lock, status, scheduler and other prefixes' keys stay", async () => {
  expect((await s.engine.run("all", "api")).status).toBe("success");
  // A leftover no generation set names, as a crash between writes could leave.
  await ctx.redis.set(`${ctx.prefix}{category}:g:crashed:meta`, "x");
  const kept = [`${ctx.prefix}scheduler:tick:cron:1700000000`, `${ctx.prefix.slice(0, -1)}-other:{category}:cur`];
  for (const key of kept) await ctx.redis.set(key, "1", "EX", 60);
  try {
    const outcome = await s.engine.clear("api");
    expect(outcome.started).toBe(true);
    if (!outcome.started) return;
    // The clear holds the run lock: a run triggered meanwhile is refused.
    expect(await s.engine.run("all", "cron")).toMatchObject({ status: "skipped", reason: "in_progress", active_run_id: outcome.runId });
    const result = await outcome.done;
    expect(result).toMatchObject({ status: "cleared", trigger: "api", scope: "all", published: false });
    expect(result.types.categories).toEqual({ documents: 0, entries: 0, previous_entries: 15, skipped: {}, published: false });

    expect((await ctx.keys()).sort()).toEqual([`${ctx.prefix}history`, `${ctx.prefix}scheduler:tick:cron:1700000000`, `${ctx.prefix}status`]);
    for (const key of kept) expect(await ctx.redis.get(key)).toBe("1");
    expect(JSON.parse(readFileSync(join(ctx.dir, "data_set_options.json"), "utf8"))).toEqual([]);
    expect(s.history.get(result.run_id)).toMatchObject({ status: "cleared", trigger: "api", scope: "all" });
    expect((await s.status.get()).last_run).toMatchObject({ run_id: result.run_id, status: "cleared" });
    expect(await s.search.search("boxes", { query: "", limit: 30 })).toEqual([]);
  } finally {
    for (const key of kept) await ctx.redis.del(key);
  }

  const next = await s.engine.run("all", "api");
  expect(next).toMatchObject({ status: "success", published: true });
  expect(next.types.boxes).toMatchObject({ entries: 15, previous_entries: 0 });
});

test("refused while a run is active, and recorded as skipped", async () => {
  await ctx.redis.set(`${ctx.prefix}lock`, "20240101T000000Z-holder00 token", "PX", 60_000);
  const outcome = await s.engine.clear("api");
  expect(outcome).toMatchObject({ started: false, result: { status: "skipped", reason: "in_progress", active_run_id: "20240101T000000Z-holder00" } });
  if (outcome.started) return;
  expect(s.history.get(outcome.result.run_id)).toMatchObject({ status: "skipped", trigger: "api", scope: "all" });
});
