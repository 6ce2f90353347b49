// Two replicas of the compiled binary on a private 3-master, 3-replica Redis Cluster: one run per
// trigger, the same answers from both, and recovery after a master is killed (issue 9).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster } from "ioredis";
import type { RunningBinary } from "../../scripts/lib/binary.ts";
import { type Deployment, documentsRead, getJson, historyRows, killAll, postJson, startDeployment, startRun, until } from "../../scripts/lib/procs.ts";
import { scanKeys } from "../../src/platform/redis.ts";
import { type RedisClusterDeployment, startRedisCluster } from "./topologies.ts";

const QUERIES = [
  "/category-search?query=door&limit=10",
  "/boxes-search?query=archive&iso=en&limit=10",
  "/options-search?query=rounded&limit=10",
  "/category-search?query=&limit=5",
];

let cluster: RedisClusterDeployment;
let world: Deployment;
let a: RunningBinary;
let b: RunningBinary;

beforeAll(async () => {
  cluster = await startRedisCluster(3, 1);
  // Batches of 10 documents make a full run of this catalog (2,700 documents) last a few seconds.
  world = await startDeployment({ REDIS_CLUSTER_NODES: cluster.seeds }, { originsPerType: 300, env: { SYNC_BATCH_SIZE: "10", SYNC_LOCK_TTL_SECONDS: "3" } });
  a = await world.serve({ HISTORY_DB_PATH: join(world.dir, "a.db"), DATA_SET_FILE: join(world.dir, "a.json") });
  b = await world.serve({ HISTORY_DB_PATH: join(world.dir, "b.db"), DATA_SET_FILE: join(world.dir, "b.json") });
}, 60_000);
afterAll(killAll);

/** Per type: the generation serving search, with its items and entries (read straight from the Cluster). */
async function servingIndex(): Promise<Record<string, { gen: string | null; items: number; entries: number }>> {
  const client = new Cluster(cluster.seeds.split(",").map((hp) => ({ host: "127.0.0.1", port: Number(hp.split(":")[1]) })));
  try {
    const out: Record<string, { gen: string | null; items: number; entries: number }> = {};
    for (const tag of ["category", "box", "option"]) {
      const base = `${world.prefix}{${tag}}:`;
      const gen = await client.get(`${base}cur`);
      out[tag] = { gen, items: await client.hlen(`${base}g:${gen}:items`), entries: Number(await client.hget(`${base}g:${gen}:meta`, "entries")) };
    }
    return out;
  } finally {
    client.disconnect();
  }
}

async function answers(url: string): Promise<unknown[]> {
  return Promise.all(QUERIES.map(async (q) => (await getJson(`${url}${q}`)).body));
}

/** POST /re-sync-all until the lock is free (a failed run's lock may still be held until it expires). */
async function runWhenFree(url: string): Promise<{ status: number; body: any }> {
  let last: { status: number; body: any } | null = null;
  await until(
    async () => {
      last = await postJson(`${url}/re-sync-all`);
      return !(last.status === 409 && last.body.error === "sync_in_progress");
    },
    20_000,
    "the run lock to be free",
  );
  return last!;
}

describe("two replicas on a Redis Cluster", () => {
  test("one run per trigger across both; the same search answers from both; a push on one is seen by the other", async () => {
    const [ra, rb] = await Promise.all([postJson(`${a.url}/re-sync-all`), postJson(`${b.url}/re-sync-all`)]);
    const statuses = [ra.status, rb.status].sort();
    expect(statuses).toEqual([200, 409]);
    const winner = ra.status === 200 ? ra : rb;
    const loser = ra.status === 409 ? ra : rb;
    expect(winner.body.status).toBe("success");
    expect(loser.body).toMatchObject({ error: "sync_in_progress", run_id: winner.body.run_id });

    const fromA = await answers(a.url);
    for (const answer of fromA) expect((answer as { suggestions: unknown[] }).suggestions.length).toBeGreaterThan(0);
    expect(await answers(b.url)).toEqual(fromA);

    const linked = "65f0000000000000000000aa";
    const push = await fetch(`${a.url}/categories`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ linked, slug: "zebra-flyer", origin_name: "Zebra flyer", display_names: [{ iso: "en", display_name: "Zebra flyer" }] }),
    });
    expect(push.status).toBe(200);
    const seen = await getJson(`${b.url}/category-search?query=zebra`);
    expect(seen.body.suggestions.map((s: { linked: string }) => s.linked)).toEqual([linked]);
    const removed = await fetch(`${b.url}/categories`, { method: "DELETE", headers: { "content-type": "application/json" }, body: JSON.stringify({ linked }) });
    expect(removed.status).toBe(200);
    expect((await getJson(`${a.url}/category-search?query=zebra`)).body.suggestions).toEqual([]);

    const info = await getJson(`${a.url}/info`);
    expect(info.body.redis).toMatchObject({ reachable: true, mode: "cluster", topology: { masters: 3, replicas: 3 } });
    expect(info.body.redis.topology.nodes.map((n: { address: string }) => n.address).sort()).toEqual(cluster.seeds.split(",").sort());
    expect(info.body.redis.keys_under_prefix).toBeGreaterThan(10);
  }, 60_000);

  test("the keys of each type share one hash slot; the run lock and status keys live outside them", async () => {
    const client = new Cluster(cluster.seeds.split(",").map((hp) => ({ host: "127.0.0.1", port: Number(hp.split(":")[1]) })));
    try {
      const keys = await scanKeys(client, `${world.prefix}*`);
      const slotsByType = new Map<string, Set<number>>();
      for (const key of keys) {
        const tag = /\{(\w+)\}/.exec(key)?.[1] ?? "(none)";
        const slot = Number(await client.call("CLUSTER", "KEYSLOT", key));
        slotsByType.set(tag, (slotsByType.get(tag) ?? new Set()).add(slot));
      }
      expect([...slotsByType.keys()].sort()).toEqual(["(none)", "box", "category", "option"]);
      for (const tag of ["box", "category", "option"]) expect(slotsByType.get(tag)!.size).toBe(1);
    } finally {
      client.disconnect();
    }
  });

  test("a master killed during a run: the run fails and is recorded, or completes on the promoted replica, never half-published; the next run succeeds on either replica", async () => {
    const before = await answers(a.url);
    const serving = await servingIndex();
    const runId = await startRun(a.url);
    await until(async () => (await documentsRead(a.url)) >= 300, 15_000, "the run to be under way");
    const master = await cluster.masterFor(`${world.prefix}{category}:cur`);
    await master.kill();
    await cluster.waitHealthy();

    // Which of the two depends on whether a write was on its way to the master when it died.
    await until(() => ["failed", "success"].includes(historyRows(join(world.dir, "a.db")).find((r) => r.id === runId)?.status ?? ""), 60_000, "the run to end");
    const ended = historyRows(join(world.dir, "a.db")).find((r) => r.id === runId)!;
    console.log(`run during the failover: ${ended.status}${ended.error ? ` (${ended.error})` : ""}`);
    expect(ended.finished_at).not.toBeNull();
    if (ended.status === "failed") expect(ended.error?.length).toBeGreaterThan(0);
    else expect(ended.error).toBeNull();
    // Both replicas show that outcome (the shared status key may have lived on the killed master: it is written again).
    for (const url of [a.url, b.url])
      await until(async () => (await getJson(`${url}/sync-status`)).body.last_run?.run_id === runId, 30_000, "the run's end in the status key");
    for (const url of [a.url, b.url]) expect((await getJson(`${url}/sync-status`)).body).toMatchObject({ status: ended.status, last_run: { run_id: runId } });
    // What serves: every type whole — the previous index after a failure, the run's complete one after a success.
    const after = await servingIndex();
    if (ended.status === "failed") expect(after).toEqual(serving);
    else expect(after).toEqual(Object.fromEntries(Object.entries(serving).map(([tag, s]) => [tag, { ...s, gen: runId }])));
    expect(await answers(a.url)).toEqual(before);
    expect(await answers(b.url)).toEqual(before);

    const next = await runWhenFree(b.url);
    expect(next.status).toBe(200);
    expect(next.body.status).toBe("success");
    expect(await answers(a.url)).toEqual(before);
    expect(await answers(b.url)).toEqual(before);

    // The killed node comes back as a replica of the promoted one.
    await master.start();
    await cluster.waitHealthy();
  }, 120_000);

  test("a master killed under search load: errors only during the failover, none once each service has answered from the promoted replica", async () => {
    const expected = await answers(a.url);
    // seq: the order requests were sent in; results are pushed in the order they were answered.
    const results: { seq: number; url: string; q: number; ok: boolean; status: number }[] = [];
    let sent = 0;
    let stop = false;
    const load = async (url: string, offset: number) => {
      for (let i = offset; !stop; i++) {
        const q = i % QUERIES.length;
        const seq = sent++;
        const res = await fetch(`${url}${QUERIES[q]}`).catch(() => null);
        const body = res ? await res.json().catch(() => null) : null;
        const ok = res?.status === 200 && JSON.stringify(body) === JSON.stringify(expected[q]);
        results.push({ seq, url, q, ok, status: res?.status ?? 0 });
        if (!ok) await Bun.sleep(10);
      }
    };
    const loops = [a.url, b.url, a.url, b.url].map(load);
    await until(() => results.length >= 100, 30_000, "search load before the kill");
    const master = await cluster.masterFor(`${world.prefix}{category}:cur`);
    const answeredBeforeKill = results.length;
    await master.kill();
    await cluster.waitHealthy();
    const promotedSeq = sent;
    // Each query on each service: the first right answer to a request sent after the promotion.
    const streams = [a.url, b.url].flatMap((url) => QUERIES.map((_, q) => ({ url, q })));
    const recoveredSeq = (url: string, q: number) =>
      Math.min(...results.filter((r) => r.url === url && r.q === q && r.ok && r.seq >= promotedSeq).map((r) => r.seq));
    await until(
      () => streams.every(({ url, q }) => results.filter((r) => r.url === url && r.q === q && r.seq > recoveredSeq(url, q)).length >= 10),
      60_000,
      "every query to answer again from both services, ten times over",
    );
    stop = true;
    await Promise.all(loops);

    const before = results.slice(0, answeredBeforeKill);
    const recovered = results.filter((r) => r.seq > recoveredSeq(r.url, r.q));
    const failed = results.filter((r) => !r.ok);
    console.log(`failover under search load: ${failed.length} of ${results.length} requests failed, ${recovered.length} answered after recovery`);
    expect(before.every((r) => r.ok)).toBe(true);
    // Failed requests are clean 503s, never 500s or hangs.
    expect(new Set(failed.map((r) => r.status))).toEqual(new Set(failed.length ? [503] : []));
    expect(recovered.filter((r) => !r.ok)).toEqual([]);
    await master.start();
    await cluster.waitHealthy();
  }, 120_000);
});
