import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json";
import { installBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { until } from "../../scripts/lib/procs.ts";
import { createContext, type TestContext } from "../helpers.ts";

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createContext("e2e");
});
afterEach(async () => {
  await ctx.cleanup();
});

// Every path of SPEC §3 (the OpenAPI document must list each one).
const SPEC_PATHS = [
  "/re-sync-all",
  "/generate-data-set",
  "/generate-box-data",
  "/generate-option-data",
  "/sync-status",
  "/info",
  "/category-search",
  "/categories-search",
  "/boxes-search",
  "/options-search",
  "/categories",
  "/boxes",
  "/options",
  "/healthz",
  "/healthz-startup",
];

test("the binary, copied alone into an empty directory, serves, creates and migrates its history DB, and stops on SIGTERM", async () => {
  const binary = installBinary(ctx.dir);
  const svc = await startBinary(binary, ctx.dir, serviceEnv(ctx));
  expect(existsSync(join(ctx.dir, "search-sync-history.db"))).toBe(true);
  // Started without waiting on anything: no retry, no "not reachable yet", just these lines.
  const listening = `search-sync ${pkg.version} listening on ${svc.url}`;
  await until(() => svc.output().includes(listening), 5_000, "the listening line");
  // Each text line: "<ISO time> <LEVEL> <message>"; the lines up to the listening one.
  const lines = svc.output().trim().split("\n");
  const messages = lines.slice(0, lines.findIndex((line) => line.endsWith(listening)) + 1).map((line) => line.replace(/^\S+Z (?:INFO|WARN) +/, ""));
  expect(messages).toEqual([
    "ADMIN_API_KEY is not set: admin endpoints (sync triggers, scheduler, push updates) answer only to loopback clients",
    "scheduler: off (ENABLE_SCHEDULER=false); POST /scheduler/start turns it on",
    listening,
  ]);

  const info = (await (await fetch(`${svc.url}/info`)).json()) as { redis: { reachable: boolean }; mongodb: { reachable: boolean }; history: unknown };
  expect(info.redis.reachable).toBe(true);
  expect(info.mongodb.reachable).toBe(true);
  expect(info.history).toEqual({
    file: "search-sync-history.db",
    pending_writes: 0,
    last_error: null,
    corrupt_file_moved_to: null,
    last_run_id: null,
    stream: { position: "0", imported: 0, invalid: 0, pending_publish: 0 },
  });

  const doc = (await (await fetch(`${svc.url}/swagger/json`)).json()) as { paths: Record<string, unknown> };
  for (const path of SPEC_PATHS) expect({ path, listed: path in doc.paths }).toEqual({ path, listed: true });
  expect((await fetch(`${svc.url}/swagger`)).status).toBe(200);

  const run = await fetch(`${svc.url}/re-sync-all`, { method: "POST" });
  expect(run.status).toBe(200);
  expect(((await run.json()) as { status: string }).status).toBe("success");

  expect(await svc.stop()).toBe(0);
});

test("a bad environment value stops the binary with exit code 2 and one line", async () => {
  const binary = installBinary(ctx.dir);
  const proc = Bun.spawn([binary], { cwd: ctx.dir, env: { PATH: process.env.PATH ?? "", REDIS_PORT: "abc" }, stderr: "pipe", stdout: "pipe" });
  expect(await proc.exited).toBe(2);
  const err = await new Response(proc.stderr).text();
  expect(err.trim().split("\n")).toEqual(['search-sync: Invalid REDIS_PORT="abc": expected an integer from 1 to 65535']);
});
