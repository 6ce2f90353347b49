// The compiled binary builds its runs in the worker thread it bundles (package.json "build").
import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { documentsRead, getJson, killAll, startDelayProxy, startRun, startWorld, until } from "../../scripts/lib/procs.ts";

afterEach(killAll);

/** The names of a process's threads (Linux); Bun names a worker's thread "Worker". */
function threads(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((task) => readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").trim());
}

test("the binary builds a run in a worker thread, which ends with the run; the run publishes", async () => {
  const w = await startWorld({ env: { SYNC_BATCH_SIZE: "10" } });
  // Each Redis reply held 20 ms: the run is surely still under way when its threads are looked at.
  const redis = await startDelayProxy(w.redis.port, 20);
  const svc = await w.serve({ REDIS_URL: `redis://127.0.0.1:${redis.port}` });
  const pid = svc.proc.pid;
  expect(threads(pid)).not.toContain("Worker");

  const runId = await startRun(svc.url);
  await until(async () => (await documentsRead(svc.url)) >= 50, 30_000, "the run to be under way");
  expect(threads(pid)).toContain("Worker");

  await until(async () => (await getJson(`${svc.url}/sync-status`)).body.last_run?.run_id === runId, 60_000, "the run to end");
  expect((await getJson(`${svc.url}/sync-status`)).body).toMatchObject({ active: null, last_run: { run_id: runId, status: "success", published: true } });
  expect((await getJson(`${svc.url}/category-search?query=door&limit=5`)).body.suggestions.length).toBeGreaterThan(0);
  await until(() => !threads(pid).includes("Worker"), 10_000, "the worker thread to end");
  expect(await svc.stop()).toBe(0);
}, 90_000);
