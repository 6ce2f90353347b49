// Runs whose process stops: `search-sync sync` interrupted by SIGINT (Ctrl-C) or SIGTERM records its
// run as failed and exits 130/143 with nothing left behind; a `sync` killed with SIGKILL is recorded
// as failed by a running service once its lock has expired (not only when a service starts).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { installBinary, runCommand, startBinary } from "../../scripts/lib/binary.ts";
import { historyRows, startDelayProxy, until } from "../../scripts/lib/procs.ts";
import type { RunResult, SyncStatus } from "../../src/runs/model.ts";
import { createContext, type TestContext } from "../helpers.ts";
import { seedLarge } from "../sync.fixtures.ts";

let ctx: TestContext;
let binary: string;
beforeEach(async () => {
  ctx = await createContext("interrupt");
  binary = installBinary(ctx.dir);
  // 3,000 documents read 10 at a time: seconds of work, so the run is mid-way when the signal comes.
  await seedLarge(ctx.db, ["categories", "boxes", "options"], 500);
});
afterEach(async () => {
  await ctx.cleanup();
});

const ENV = { SYNC_BATCH_SIZE: "10", SYNC_LOCK_TTL_SECONDS: "2" };
const env = (extra: Record<string, string> = {}) => ({ HOME: ctx.dir, ...ctx.env, ...ENV, ...extra });
const tempFiles = () => readdirSync(ctx.dir).filter((name) => name.endsWith(".tmp"));

async function status(): Promise<SyncStatus> {
  return JSON.parse((await ctx.redis.get(`${ctx.prefix}status`)) ?? '{"active":null,"last_run":null}') as SyncStatus;
}

/** Starts `search-sync sync` and waits until its run has read documents and written its temp files. */
async function syncUnderWay(extra: Record<string, string> = {}) {
  const proc = Bun.spawn([binary, "sync"], {
    cwd: ctx.dir,
    env: { PATH: process.env.PATH ?? "", ...env(extra) },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  await until(
    async () => {
      const active = (await status()).active;
      return Object.values(active?.progress ?? {}).some((p) => p.documents_read > 0) && tempFiles().length > 0;
    },
    20_000,
    "the run to be under way",
  );
  const runId = (await status()).active!.run_id;
  return { proc, runId, output: async () => ({ stdout: await stdout, stderr: await stderr }) };
}

for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  test(`sync interrupted by ${signal}: exit ${code}, the run recorded as failed (interrupted) in status and history, no temp file, the lock free`, async () => {
    const run = await syncUnderWay();
    run.proc.kill(signal);
    // Generous: the run stops at its next batch.
    const exited = await Promise.race([run.proc.exited, Bun.sleep(15_000).then(() => "still running")]);
    const { stderr } = await run.output();
    expect({ exited, stderr: stderr.split("\n").filter((l) => l.startsWith("search-sync: ")) }).toEqual({
      exited: code,
      stderr: [`search-sync: ${signal}: stopping the run (send it again to exit at once)`],
    });
    const error = `aborted: interrupted by ${signal}`;
    expect(stderr).toContain(`Re-sync failed: ${error}`);

    expect((await status()).active).toBeNull();
    expect((await status()).last_run).toMatchObject({ run_id: run.runId, status: "failed", error, published: false });
    expect(historyRows(ctx.env.HISTORY_DB_PATH!).find((r) => r.id === run.runId)).toMatchObject({ status: "failed", error });
    const shown = await runCommand([binary, "status"], ctx.dir, env());
    expect(shown.stdout).toContain(`Error:        ${error}`);
    expect(tempFiles()).toEqual([]);
    expect(await ctx.redis.get(`${ctx.prefix}lock`)).toBeNull();

    // The next sync starts at once (not exit 4) and publishes.
    const next = await runCommand([binary, "sync", "--json"], ctx.dir, env({ SYNC_BATCH_SIZE: "1000" }), 60_000);
    expect({ code: next.code, status: (JSON.parse(next.stdout) as RunResult).status }).toEqual({ code: 0, status: "success" });
  }, 90_000);
}

test("a second SIGINT exits at once (130), without waiting for the run to stop", async () => {
  // Every answer of MongoDB a second late: the run is waiting for a batch when the signals come.
  const proxy = await startDelayProxy(Number(new URL(ctx.env.MONGODB_URI!).port), 1_000);
  try {
    const run = await syncUnderWay({ MONGODB_URI: ctx.env.MONGODB_URI!.replace(/\/\/[^/]+/, `//127.0.0.1:${proxy.port}`) });
    run.proc.kill("SIGINT");
    await Bun.sleep(100);
    run.proc.kill("SIGINT");
    expect(await run.proc.exited).toBe(130);
    expect((await run.output()).stderr.split("\n").filter((l) => l.startsWith("search-sync: "))).toEqual([
      "search-sync: SIGINT: stopping the run (send it again to exit at once)",
      "search-sync: SIGINT: exiting now",
    ]);
    // Nothing was cleaned up: the lock expires on its own (SYNC_LOCK_TTL_SECONDS).
    expect(await ctx.redis.get(`${ctx.prefix}lock`)).toStartWith(run.runId);
  } finally {
    await proxy.close();
  }
}, 60_000);

test("a service stopped (SIGTERM) while a request still takes the run lock: the run is waited for or aborted, recorded, the lock freed", async () => {
  // Every answer of Redis 150 ms late: the lock is still being taken when the signal comes.
  const proxy = await startDelayProxy(Number(new URL(ctx.env.REDIS_URL!).port), 150);
  const svc = await startBinary(binary, ctx.dir, env({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, SHUTDOWN_TIMEOUT_SECONDS: "1" }));
  try {
    const answer = fetch(`${svc.url}/re-sync-all`, { method: "POST" }).then(
      (r) => r.status,
      () => "no answer",
    );
    await Bun.sleep(100);
    expect(await svc.stop()).toBe(0);
    expect(svc.output()).toContain("Waiting up to 1 s for run ");
    expect(await answer).toBe(503);
    const rows = historyRows(ctx.env.HISTORY_DB_PATH!);
    expect(rows.map((r) => r.status)).toEqual(["failed"]);
    expect(rows[0]!.error).toContain("shutdown");
    expect(await ctx.redis.get(`${ctx.prefix}lock`)).toBeNull();
  } finally {
    await proxy.close();
  }
}, 60_000);

for (const shared of [true, false]) {
  test(`sync killed with SIGKILL while a service runs (${shared ? "sharing its history database" : "another replica's, with its own history database"}): the service shows the run failed once its lock has expired`, async () => {
    const svc = await startBinary(binary, ctx.dir, env({ LOG_FORMAT: "json", ...(shared ? {} : { HISTORY_DB_PATH: `${ctx.dir}/replica-2.db` }) }));
    try {
      const run = await syncUnderWay();
      run.proc.kill("SIGKILL");
      await run.proc.exited;
      // Lock TTL 2 s; a generous bound for a loaded machine, not a measure.
      await until(
        async () => {
          const body = (await (await fetch(`${svc.url}/sync-status`)).json()) as { status: string; last_run: RunResult | null };
          return body.status === "failed" && body.last_run?.run_id === run.runId;
        },
        20_000,
        "the service to show the killed run as failed",
      );
      const body = (await (await fetch(`${svc.url}/sync-status`)).json()) as { active: unknown; last_run: RunResult };
      expect(body).toMatchObject({ active: null, last_run: { status: "failed", error: expect.stringContaining("interrupted") } });
      // The run's own history database: recorded by the service sharing it; else by the next start of a service on it.
      expect(historyRows(ctx.env.HISTORY_DB_PATH!).find((r) => r.id === run.runId)?.status).toBe(shared ? "failed" : "running");
      if (shared) expect(tempFiles()).toEqual([]);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 90_000);
}
