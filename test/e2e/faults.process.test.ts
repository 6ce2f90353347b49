// The service process itself killed or stopped mid-run (SPEC §2 run lock, §6 SIGTERM; issue 6).
import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import {
  documentsRead,
  getJson,
  historyRows,
  keysUnder,
  killAll,
  portOpen,
  postJson,
  startDelayProxy,
  startRun,
  startWorld,
  until,
} from "../../scripts/lib/procs.ts";
import { gensIn, keyShape } from "../sync.fixtures.ts";

afterEach(killAll);

/** The active run's documents read and to read (all types), and how long it has been running. */
async function runProgress(url: string): Promise<{ read: number; total: number; elapsedMs: number }> {
  const { body } = await getJson(`${url}/sync-status`);
  const progress = Object.values(body.active.progress as Record<string, { documents_read: number; documents_total: number }>);
  return {
    read: progress.reduce((sum, p) => sum + p.documents_read, 0),
    total: progress.reduce((sum, p) => sum + p.documents_total, 0),
    elapsedMs: Date.now() - Date.parse(body.active.started_at),
  };
}

/** The service's JSON log lines (LOG_FORMAT=json), parsed. */
function jsonLogLines(output: string): { msg: string }[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { msg: string });
}

const QUERIES = ["/category-search?query=door&limit=10", "/boxes-search?query=archive&iso=en&limit=10", "/options-search?query=rounded&limit=10"];
const LOCK_TTL_SECONDS = 3;

async function searchAll(url: string): Promise<unknown[]> {
  return Promise.all(QUERIES.map(async (q) => (await getJson(`${url}${q}`)).body));
}

test("SIGKILL mid-run, then restart: previous index serves, the dead run is marked failed, its lock blocks no longer than its expiry, the next run leaves a clean key set", async () => {
  const w = await startWorld({ env: { SYNC_BATCH_SIZE: "10", SYNC_LOCK_TTL_SECONDS: String(LOCK_TTL_SECONDS) } });
  const svc = await w.serve();
  const first = await postJson(`${svc.url}/re-sync-all`);
  expect(first.body.status).toBe("success");
  const clean = keyShape(await keysUnder(w.redis.url, w.prefix), [first.body.run_id]);
  const before = await searchAll(svc.url);

  const runId = await startRun(svc.url);
  await until(async () => (await documentsRead(svc.url)) >= 300, 15_000, "the run to be under way");
  svc.proc.kill("SIGKILL");
  expect(await svc.proc.exited).not.toBe(0);
  expect(historyRows(w.historyDbPath).find((r) => r.id === runId)?.status).toBe("running");
  // The dead run's partial generation is still there (nobody could clean it up yet).
  expect(gensIn(await keysUnder(w.redis.url, w.prefix)).sort()).toEqual([first.body.run_id, runId].sort());

  const again = await w.serve();
  expect(await searchAll(again.url)).toEqual(before);

  // Until its lock expires, a trigger is told that the dead run holds it; nothing renews that lock
  // (its time to live only runs down), and once Redis has expired it a trigger starts a run at once.
  const first409 = await postJson(`${again.url}/re-sync-all?wait=false`);
  expect(first409).toMatchObject({ status: 409, body: { error: "sync_in_progress", run_id: runId } });
  const redis = new Redis(w.redis.url);
  let nextId = "";
  try {
    let ttl = LOCK_TTL_SECONDS * 1000;
    await until(
      async () => {
        const left = await redis.pttl(`${w.prefix}lock`);
        const r = await postJson(`${again.url}/re-sync-all?wait=false`);
        if (r.status === 409) {
          expect({ holder: r.body.run_id, renewed: left <= 0 || left > ttl }).toEqual({ holder: runId, renewed: false });
          ttl = left;
          return false;
        }
        expect(r.status).toBe(202);
        nextId = r.body.run_id;
        return true;
      },
      LOCK_TTL_SECONDS * 1000 + 20_000,
      "the dead run's lock to expire",
    );
  } finally {
    redis.disconnect();
  }

  // The dead run is marked failed (at start-up, or as soon as its lock has expired: a live process would have renewed it).
  await until(() => historyRows(w.historyDbPath).find((r) => r.id === runId)?.status === "failed", 5_000, "the dead run to be marked failed");
  expect(historyRows(w.historyDbPath).find((r) => r.id === runId)).toMatchObject({ status: "failed", error: expect.stringContaining("interrupted") });

  await until(async () => (await getJson(`${again.url}/sync-status`)).body.last_run?.run_id === nextId, 20_000, "the next run to finish");
  const status = await getJson(`${again.url}/sync-status`);
  expect(status.body).toMatchObject({ status: "success", active: null, last_run: { run_id: nextId } });
  const keys = await keysUnder(w.redis.url, w.prefix);
  expect(gensIn(keys)).toEqual([nextId]);
  expect(keyShape(keys, [nextId])).toEqual(clean);
  expect(await searchAll(again.url)).toEqual(before);
  expect(await again.stop()).toBe(0);
}, 120_000);

test("SIGTERM mid-run with a short SHUTDOWN_TIMEOUT_SECONDS: the run is aborted and recorded as failed, nothing is left behind, exit code 0", async () => {
  // A catalog big enough that the run, in batches of 10, still has seconds to go when SIGTERM comes.
  const w = await startWorld({ originsPerType: 1_500, env: { SYNC_BATCH_SIZE: "10", SHUTDOWN_TIMEOUT_SECONDS: "1" } });
  // 13,500 documents: on a loaded machine this first sync alone can take half a minute.
  const cli = await w.cli(["sync", "--json"], { SYNC_BATCH_SIZE: "1000" }, 90_000);
  expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  const first = { body: JSON.parse(cli.stdout) as { run_id: string; status: string } };
  expect(first.body.status).toBe("success");
  const svc = await w.serve();
  const clean = keyShape(await keysUnder(w.redis.url, w.prefix), [first.body.run_id]);

  // A client waiting for the run's result, as an operator's curl would.
  const waiting = fetch(`${svc.url}/re-sync-all`, { method: "POST" }).then(
    async (res) => ({ status: res.status, body: (await res.json()) as any }),
    (err: Error) => ({ status: 0, body: err.message }),
  );
  await until(async () => (await documentsRead(svc.url)) >= 300, 15_000, "the run to be under way");
  const runId = historyRows(w.historyDbPath).find((r) => r.status === "running")!.id;
  const progress = await runProgress(svc.url);
  const termAt = Date.now();
  svc.proc.kill("SIGTERM");
  const code = await svc.proc.exited;
  const tookMs = Date.now() - termAt;
  expect(code).toBe(0);
  // The shutdown timeout ended the wait, not the run: the run was aborted, after the service said how
  // long it would wait, and the process exited long before the run, at its own pace, could have finished.
  const said = jsonLogLines(svc.output()).map((l) => l.msg);
  const order = ["SIGTERM received: stopping", `Waiting up to 1 s for run ${runId} to finish`, "Re-sync failed: aborted: shutdown"].map((m) => said.indexOf(m));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect(order).toEqual([...order].sort((x, y) => x - y));
  const ahead = ((progress.total - progress.read) / progress.read) * progress.elapsedMs;
  expect(tookMs).toBeLessThan(ahead);
  // The waiting client is answered with the aborted run before the process exits.
  expect(await waiting).toMatchObject({
    status: 503,
    body: { error: "sync_failed", status: "error", message: "aborted: shutdown", run_status: "failed", run_id: runId },
  });

  const row = historyRows(w.historyDbPath).find((r) => r.id === runId)!;
  expect(row).toMatchObject({ status: "failed", error: "aborted: shutdown" });
  expect(row.finished_at).not.toBeNull();
  const keys = await keysUnder(w.redis.url, w.prefix);
  expect(keys).not.toContain(`${w.prefix}lock`);
  expect(gensIn(keys)).toEqual([first.body.run_id]);
  expect(keyShape(keys, [first.body.run_id])).toEqual(clean);
  expect(svc.output()).toContain("SIGTERM received");
}, 180_000);

test("SIGTERM mid-run with a long SHUTDOWN_TIMEOUT_SECONDS: no new requests are taken, the run finishes and is recorded as success, exit code 0", async () => {
  const w = await startWorld({ originsPerType: 1_000, env: { SYNC_BATCH_SIZE: "10", SHUTDOWN_TIMEOUT_SECONDS: "60" } });
  const svc = await w.serve();
  const runId = await startRun(svc.url);
  await until(async () => (await documentsRead(svc.url)) >= 300, 15_000, "the run to be under way");
  svc.proc.kill("SIGTERM");
  const port = Number(new URL(svc.url).port);
  await until(async () => !(await portOpen(port)), 5_000, "the service to stop listening");
  expect(svc.proc.exitCode).toBeNull(); // still finishing the run
  expect(await svc.proc.exited).toBe(0);

  const row = historyRows(w.historyDbPath).find((r) => r.id === runId)!;
  expect(row).toMatchObject({ status: "success", error: null });
  const keys = await keysUnder(w.redis.url, w.prefix);
  expect(keys).not.toContain(`${w.prefix}lock`);
  expect(gensIn(keys)).toEqual([runId]);
}, 120_000);

// The end of a run is recorded after its publish: a process killed in between left a run that had
// published recorded as failed. Redis answers the service slowly here (each reply held 150 ms), so
// the kill lands after a publish and before the end is recorded; recovery reads what serves.
test("SIGKILL after a publish, before the run's end is recorded: after restart, the history says which types the run published", async () => {
  const w = await startWorld({ originsPerType: 100, env: { SYNC_LOCK_TTL_SECONDS: "2" } });
  const proxy = await startDelayProxy(w.redis.port, 150);
  const redis = new Redis(w.redis.url);
  const serving = (name: string) => redis.get(`${w.prefix}{${name}}:cur`);
  const killedAfter = async (name: string) => {
    const svc = await w.serve({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    const runId = await startRun(svc.url);
    await until(async () => (await serving(name)) === runId, 30_000, `${name} to serve run ${runId}`);
    svc.proc.kill("SIGKILL");
    await svc.proc.exited;
    expect(historyRows(w.historyDbPath).find((r) => r.id === runId)?.status).toBe("running");
    return runId;
  };
  const recorded = async (runId: string) => {
    const svc = await w.serve();
    await until(() => historyRows(w.historyDbPath).find((r) => r.id === runId)?.status !== "running", 10_000, `run ${runId} to be recorded`);
    const runs = (await getJson(`${svc.url}/sync-status?history=true`)).body.history as any[];
    await svc.stop();
    return runs.find((r) => r.run_id === runId);
  };
  try {
    // Killed after its last type (options) was published: it did everything but record its end.
    const whole = await killedAfter("option");
    const wholeRun = await recorded(whole);
    expect(wholeRun).toMatchObject({
      status: "success",
      published: true,
      types: { categories: { published: true }, boxes: { published: true }, options: { published: true } },
    });
    expect(wholeRun.error).toBeUndefined();
    // Its counts were recorded before the publish.
    for (const t of Object.values(wholeRun.types) as { entries: number }[]) expect(t.entries).toBeGreaterThan(0);

    // Killed after its first type (categories) was published: the others still serve the run before.
    const part = await killedAfter("category");
    expect(await serving("box")).toBe(whole);
    expect(await recorded(part)).toMatchObject({
      status: "failed",
      published: true,
      error: expect.stringContaining("interrupted"),
      types: { categories: { published: true }, boxes: { published: false }, options: { published: false } },
    });
  } finally {
    redis.disconnect();
  }
}, 120_000);

test("temp dataset files of a killed run are removed when the service starts and by the next run; no other file is touched", async () => {
  const w = await startWorld({ env: { SYNC_BATCH_SIZE: "10", SYNC_LOCK_TTL_SECONDS: "2" } });
  const others = ["data_set.json.notes.tmp", "other.json.20260101T000000Z-aaaaaaaa.tmp", "data_set.json.20260101T000000Z-aaaaaaaa.tmp.keep"];
  for (const name of others) writeFileSync(join(w.dir, name), "not ours");
  const temps = (runId: string) => readdirSync(w.dir).filter((f) => f.endsWith(`.${runId}.tmp`));
  const killMidRun = async () => {
    const svc = await w.serve();
    const runId = await startRun(svc.url);
    await until(async () => (await documentsRead(svc.url)) >= 300, 15_000, "the run to be under way");
    svc.proc.kill("SIGKILL");
    await svc.proc.exited;
    expect(temps(runId).sort()).toEqual([`data_set.json.${runId}.tmp`, `data_set_boxes.json.${runId}.tmp`, `data_set_options.json.${runId}.tmp`]);
    return runId;
  };

  // The service starting again removes them once the dead run's lock has expired.
  const first = await killMidRun();
  const svc = await w.serve();
  await until(() => temps(first).length === 0, 10_000, "the killed run's temp files to be removed");
  expect(await svc.stop()).toBe(0);

  // A run started by the CLI (no service) removes them too.
  const second = await killMidRun();
  await until(async () => (await w.cli(["sync"])).code === 0, 10_000, "a CLI run once the dead run's lock has expired");
  expect(temps(second)).toEqual([]);
  for (const name of others) expect(readFileSync(join(w.dir, name), "utf8")).toBe("not ours");
}, 90_000);
