// The compiled binary on Redis Sentinel (one master, one replica, three sentinels): when the
// master is killed, the service follows the promoted replica by itself (issue 9).
import { afterAll, expect, test } from "bun:test";
import { getJson, killAll, postJson, startDeployment, until } from "../../scripts/lib/procs.ts";
import { startRedisSentinel } from "./topologies.ts";

afterAll(killAll);

const QUERIES = ["/category-search?query=door&limit=10", "/boxes-search?query=archive&iso=en&limit=10", "/options-search?query=rounded&limit=10"];

test("master killed: Sentinel promotes the replica and the service searches and syncs on it", async () => {
  const sentinel = await startRedisSentinel("shop");
  const world = await startDeployment({ REDIS_SENTINELS: sentinel.seeds, REDIS_SENTINEL_NAME: sentinel.name }, { originsPerType: 100 });
  const svc = await world.serve();
  const first = await postJson(`${svc.url}/re-sync-all`);
  expect(first.body.status).toBe("success");
  const answers = () => Promise.all(QUERIES.map(async (q) => await getJson(`${svc.url}${q}`)));
  const before = await answers();
  for (const a of before) expect(a.body.suggestions.length).toBeGreaterThan(0);
  const info = await getJson(`${svc.url}/info`);
  expect(info.body.redis).toMatchObject({
    mode: "sentinel",
    topology: { masters: 1, replicas: 1, nodes: [{ address: `127.0.0.1:${sentinel.master.port}`, role: "master" }] },
  });

  const killedAt = Date.now();
  await sentinel.master.kill();
  await until(async () => (await sentinel.currentMasterPort()) === sentinel.replica.port, 30_000, "Sentinel to promote the replica");
  await until(
    async () => (await answers()).every((a, i) => a.status === 200 && Bun.deepEquals(a.body, before[i]!.body)),
    15_000,
    "search to answer from the new master",
  );
  console.log(`sentinel failover: search answered again ${Date.now() - killedAt} ms after the master was killed`);

  // Writes go to the new master: a full run succeeds.
  const next = await postJson(`${svc.url}/re-sync-all`);
  expect(next.status).toBe(200);
  expect(next.body.status).toBe("success");
  expect((await getJson(`${svc.url}/info`)).body.redis).toMatchObject({
    reachable: true,
    topology: { masters: 1, nodes: [{ address: `127.0.0.1:${sentinel.replica.port}`, role: "master" }] },
  });
  expect((await answers()).map((a) => a.body)).toEqual(before.map((a) => a.body));
  expect(await svc.stop()).toBe(0);
}, 90_000);
