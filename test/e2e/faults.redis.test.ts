// Redis faults against the compiled binary, with a private redis-server that is killed and
// started again for real (SPEC §2 "no downtime", §3 error shape; issue 6).
import { afterEach, expect, test } from "bun:test";
import { documentsRead, getJson, historyRows, keysUnder, killAll, postJson, startRun, startWorld, until } from "../../scripts/lib/procs.ts";
import { gensIn, keyShape } from "../sync.fixtures.ts";

afterEach(killAll);

// Batches of 10 documents make a full run of this catalog (4,500 documents) last a few seconds.
const SLOW = { SYNC_BATCH_SIZE: "10", SYNC_LOCK_TTL_SECONDS: "2" };
const QUERIES = ["/category-search?query=door&limit=10", "/boxes-search?query=archive&iso=en&limit=10", "/options-search?query=rounded&limit=10"];

async function searchAll(url: string): Promise<unknown[]> {
  return Promise.all(QUERIES.map(async (q) => (await getJson(`${url}${q}`)).body));
}

// With appendonly the previous index survives the Redis restart: the case where Redis goes away
// and comes back with its data (a crash or a restart of a persistent Redis). SIGKILL loses nothing
// the service was told had been written: Redis appends to the AOF before it answers.
test("Redis killed mid-run: the run fails and is recorded, the service answers 503s, and after Redis returns the status key is written and the next run leaves a clean key set", async () => {
  const w = await startWorld({ persistentRedis: true, env: SLOW });
  const svc = await w.serve();
  const first = await postJson(`${svc.url}/re-sync-all`);
  expect(first.body.status).toBe("success");
  const clean = keyShape(await keysUnder(w.redis.url, w.prefix), [first.body.run_id]);
  const before = await searchAll(svc.url);
  for (const b of before) expect((b as { suggestions: unknown[] }).suggestions.length).toBeGreaterThan(0);

  const runId = await startRun(svc.url);
  await until(async () => (await documentsRead(svc.url)) >= 300, 15_000, "the run to be under way");
  await w.redis.kill();

  await until(() => historyRows(w.historyDbPath).find((r) => r.id === runId)?.status === "failed", 10_000, "the run to be recorded as failed");
  const row = historyRows(w.historyDbPath).find((r) => r.id === runId)!;
  expect(row.finished_at).not.toBeNull();
  expect(row.error).toStartWith("Redis connection lost: ");

  // The service keeps answering, and says what is wrong.
  expect((await getJson(`${svc.url}/healthz`)).status).toBe(200);
  const info = await getJson(`${svc.url}/info`);
  expect(info.status).toBe(503);
  expect(info.body).toMatchObject({ status: "degraded", redis: { reachable: false }, mongodb: { reachable: true } });
  expect(info.body.redis.error).toBeString();
  const search = await getJson(`${svc.url}${QUERIES[0]}`);
  expect(search.status).toBe(503);
  expect(search.body.error).toBe("index_unavailable");
  expect(search.body.message).toContain("cannot be read");
  expect((await getJson(`${svc.url}/healthz-startup`)).body).toMatchObject({ error: "not_ready" });
  expect((await getJson(`${svc.url}/sync-status`)).status).toBe(503);

  await w.redis.start();
  await until(async () => (await getJson(`${svc.url}/info`)).status === 200, 10_000, "the service to reconnect to Redis");
  // The previous index came back with Redis and serves again.
  expect(await searchAll(svc.url)).toEqual(before);
  // The end of the failed run reaches the status key once Redis is back (retried in the background).
  await until(
    async () => {
      const s = await getJson(`${svc.url}/sync-status`);
      return s.body.last_run?.run_id === runId;
    },
    10_000,
    "the failed run in the status key",
  );
  expect((await getJson(`${svc.url}/sync-status`)).body).toMatchObject({ status: "failed", active: null, last_run: { run_id: runId, status: "failed" } });

  // The next run succeeds (once the lost run's lock expired, if it had not yet) and leaves only its own keys.
  let next: { status: number; body: any } | null = null;
  await until(
    async () => {
      const r = await postJson(`${svc.url}/re-sync-all`);
      if (r.status === 409 && r.body.error === "sync_in_progress") return false;
      next = r;
      return true;
    },
    10_000,
    "the run lock to be free",
  );
  expect(next!.status).toBe(200);
  expect(next!.body.status).toBe("success");
  const keys = await keysUnder(w.redis.url, w.prefix);
  expect(gensIn(keys)).toEqual([next!.body.run_id]);
  expect(keyShape(keys, [next!.body.run_id])).toEqual(clean);
  expect(await searchAll(svc.url)).toEqual(before);
  expect(await svc.stop()).toBe(0);
}, 60_000);

// Without persistence Redis comes back empty: every index, the status key and the lock are gone.
test("Redis restarted empty while the service runs: startup probe and /info say the index is missing, search answers empty, a manual run restores it", async () => {
  const w = await startWorld({ env: SLOW });
  const svc = await w.serve();
  const first = await postJson(`${svc.url}/re-sync-all`);
  expect(first.body.status).toBe("success");
  const before = await searchAll(svc.url);
  expect((await getJson(`${svc.url}/healthz-startup`)).status).toBe(200);

  await w.redis.kill();
  await w.redis.start();
  expect(await keysUnder(w.redis.url, w.prefix)).toEqual([]);
  await until(async () => (await getJson(`${svc.url}/info`)).status === 200, 10_000, "the service to reconnect to Redis");

  const startup = await getJson(`${svc.url}/healthz-startup`);
  expect(startup.status).toBe(503);
  expect(startup.body).toMatchObject({ error: "not_ready", missing: ["categories", "boxes", "options"] });
  const info = await getJson(`${svc.url}/info`);
  expect(info.body).toMatchObject({
    status: "ok",
    redis: { reachable: true, keys_under_prefix: 0 },
    index: { categories: { serving: false, entries: 0 }, boxes: { serving: false, entries: 0 }, options: { serving: false, entries: 0 } },
  });
  for (const q of QUERIES) expect(await getJson(`${svc.url}${q}`)).toEqual({ status: 200, body: { suggestions: [] } });
  expect((await getJson(`${svc.url}/sync-status`)).body).toMatchObject({ status: "never_run", active: null });

  const restore = await postJson(`${svc.url}/re-sync-all`);
  expect(restore.status).toBe(200);
  expect(restore.body.status).toBe("success");
  expect(await searchAll(svc.url)).toEqual(before);
  expect((await getJson(`${svc.url}/healthz-startup`)).status).toBe(200);
  expect(await svc.stop()).toBe(0);
}, 60_000);
