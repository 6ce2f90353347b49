import { afterEach, beforeEach, expect, test } from "bun:test";
import { installBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { createContext, type TestContext } from "../helpers.ts";

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createContext("e2esched");
});
afterEach(async () => {
  await ctx.cleanup();
});

interface SchedulerStatus {
  running: boolean;
  interval_hours: number;
  jobs: { name: string; schedule: string }[];
}

test("scheduler start and interval changes survive a restart of the binary", async () => {
  const binary = installBinary(ctx.dir);
  const env = serviceEnv(ctx, { SYNC_CRON: "0 3 * * *" });
  const first = await startBinary(binary, ctx.dir, env);
  const status = async (url: string) => (await (await fetch(`${url}/scheduler/status`)).json()) as SchedulerStatus;
  expect((await status(first.url)).running).toBe(false);
  expect((await fetch(`${first.url}/scheduler/interval?hours=12.5`, { method: "PUT" })).status).toBe(200);
  expect((await fetch(`${first.url}/scheduler/start`, { method: "POST" })).status).toBe(200);
  const before = await status(first.url);
  expect([before.running, before.interval_hours]).toEqual([true, 12.5]);
  expect(await first.stop()).toBe(0);
  expect(first.output()).toContain("✅ Automatic re-sync scheduler started successfully!");
  expect(first.output()).toContain("✅ Scheduler started: cron ");

  // ENABLE_SCHEDULER=false again: the state changed through the API wins.
  const second = await startBinary(binary, ctx.dir, env);
  const after = await status(second.url);
  expect([after.running, after.interval_hours]).toEqual([true, 12.5]);
  expect(after.jobs.map((j) => [j.name, j.schedule])).toEqual(before.jobs.map((j) => [j.name, j.schedule]));
  expect((await fetch(`${second.url}/scheduler/interval?hours=0`, { method: "PUT" })).status).toBe(422);
  expect(await second.stop()).toBe(0);
});
