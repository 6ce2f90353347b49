// The MongoDB-compatible server killed mid-run and started again, against the compiled binary
// (SPEC §2 "no downtime": a failed run leaves the previous index serving; issue 6).
import { afterEach, expect, test } from "bun:test";
import { MongoClient } from "mongodb";
import {
  CATALOG_DB,
  documentsRead,
  getJson,
  historyRows,
  keysUnder,
  killAll,
  postJson,
  startDelayProxy,
  startRun,
  startWorld,
  until,
} from "../../scripts/lib/procs.ts";
import { READ_TIMEOUT_MS } from "../../src/source/mongo.ts";
import { gensIn, keyShape } from "../sync.fixtures.ts";

afterEach(killAll);

const QUERIES = ["/category-search?query=door&limit=10", "/boxes-search?query=archive&iso=en&limit=10", "/options-search?query=rounded&limit=10"];

/** Searches in a loop until stopped; every answer is compared with `expected` (same order as QUERIES). */
function pollSearch(url: string, expected: unknown[]) {
  let stop = false;
  const seen = { requests: 0, bad: [] as string[] };
  const loop = (async () => {
    while (!stop) {
      await Promise.all(
        QUERIES.map(async (q, i) => {
          try {
            const res = await fetch(`${url}${q}`);
            const body = await res.json();
            seen.requests++;
            if (res.status !== 200 || !Bun.deepEquals(body, expected[i])) seen.bad.push(`${q} → ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
          } catch (err) {
            seen.bad.push(`${q} → ${(err as Error).message}`);
          }
        }),
      );
      await Bun.sleep(10);
    }
  })();
  return {
    seen,
    async stop() {
      stop = true;
      await loop;
      return seen;
    },
  };
}

test("MongoDB killed mid-run: the run fails, the previous index answers every search throughout, and after MongoDB returns the next run succeeds", async () => {
  const w = await startWorld({ env: { SYNC_BATCH_SIZE: "10" } });
  const svc = await w.serve();
  const first = await postJson(`${svc.url}/re-sync-all`);
  expect(first).toMatchObject({ status: 200, body: { status: "success" } });
  const clean = keyShape(await keysUnder(w.redis.url, w.prefix), [first.body.run_id]);
  const before = await Promise.all(QUERIES.map(async (q) => (await getJson(`${svc.url}${q}`)).body));
  for (const b of before) expect((b as { suggestions: unknown[] }).suggestions.length).toBeGreaterThan(0);

  const poll = pollSearch(svc.url, before);
  const runId = await startRun(svc.url);
  await until(async () => (await documentsRead(svc.url)) >= 300, 15_000, "the run to be under way");
  await w.mongo.kill();

  // Usually at once; a read the driver leaves hanging (see src/source/mongo.ts) fails after READ_TIMEOUT_MS.
  await until(
    () => historyRows(w.historyDbPath).find((r) => r.id === runId)?.status === "failed",
    READ_TIMEOUT_MS + 10_000,
    "the run to be recorded as failed",
  );
  const status = await getJson(`${svc.url}/sync-status`);
  expect(status.body).toMatchObject({ status: "failed", active: null, last_run: { run_id: runId, status: "failed", published: false } });
  expect(status.body.last_run.error).toBeString();
  const info = await getJson(`${svc.url}/info`);
  expect(info.status).toBe(503);
  expect(info.body).toMatchObject({ status: "degraded", redis: { reachable: true }, mongodb: { reachable: false } });
  // A trigger while MongoDB is down fails with the cause and leaves the index alone.
  const down = await postJson(`${svc.url}/re-sync-all`);
  expect(down.status).toBe(503);
  expect(down.body).toMatchObject({ error: "sync_failed", status: "error", run_status: "failed", published: false });
  const keysDown = await keysUnder(w.redis.url, w.prefix);
  expect(gensIn(keysDown)).toEqual([first.body.run_id]);
  expect(keyShape(keysDown, [first.body.run_id])).toEqual(clean);

  await w.mongo.start();
  const next = await postJson(`${svc.url}/re-sync-all`);
  expect(next).toMatchObject({ status: 200, body: { status: "success" } });
  // Same catalog: the new index answers exactly as the old one; the poll spans its publish too.
  const seen = await poll.stop();
  expect(seen.bad).toEqual([]);
  expect(seen.requests).toBeGreaterThan(30);

  const keys = await keysUnder(w.redis.url, w.prefix);
  expect(gensIn(keys)).toEqual([next.body.run_id]);
  expect(keyShape(keys, [next.body.run_id])).toEqual(clean);
  expect(await svc.stop()).toBe(0);
}, 90_000);

// The engine asks for the next batch before it writes the current one: a read failing meanwhile
// used to be an unhandled rejection, which ends the process. Redis answers slowly here (each reply
// held 300 ms), so a batch is still being written when the read of the next one fails: the
// collections are dropped under the run's cursors, and MongoDB answers "cursor not found" at once.
test("a MongoDB read fails while a batch is being written: the run fails and is recorded, the service keeps running", async () => {
  const w = await startWorld({ env: { SYNC_BATCH_SIZE: "10" } });
  const redis = await startDelayProxy(w.redis.port, 300);
  const svc = await w.serve({ REDIS_URL: `redis://127.0.0.1:${redis.port}` });
  const runId = await startRun(svc.url);
  await until(async () => (await documentsRead(svc.url)) >= 50, 30_000, "the run to be under way");
  const client = new MongoClient(w.mongo.url);
  try {
    for (const name of await client.db(CATALOG_DB).listCollections({}, { nameOnly: true }).toArray()) await client.db(CATALOG_DB).dropCollection(name.name);
  } finally {
    await client.close();
  }

  // Its end takes some 25 s of 300-ms replies (the generation it leaves is removed).
  await until(async () => (await getJson(`${svc.url}/sync-status`)).body.last_run?.run_id === runId, 60_000, "the run to end");
  expect((await getJson(`${svc.url}/sync-status`)).body).toMatchObject({ status: "failed", last_run: { run_id: runId, status: "failed" } });
  expect(historyRows(w.historyDbPath).find((r) => r.id === runId)?.status).toBe("failed");
  expect(svc.proc.exitCode).toBeNull();
  expect(await svc.stop()).toBe(0);
}, 90_000);
