// The compiled binary on a Redis that speaks only TLS and wants a password (issue 9: rediss://
// with TLS options): the CA comes from REDIS_TLS_CA_FILE, the password from REDIS_PASSWORD.
import { afterAll, expect, test } from "bun:test";
import { getJson, killAll, postJson, startDeployment } from "../../scripts/lib/procs.ts";
import { startRedisTls } from "./topologies.ts";

afterAll(killAll);

test("rediss:// with REDIS_TLS_CA_FILE and REDIS_PASSWORD: runs and searches; without the CA or the password, /info says why", async () => {
  const password = "tls-test-password-7f3a";
  const redis = await startRedisTls(password);
  const world = await startDeployment({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.caFile, REDIS_PASSWORD: password }, { originsPerType: 50 });
  const svc = await world.serve();
  const run = await postJson(`${svc.url}/re-sync-all`);
  expect(run.status).toBe(200);
  expect(run.body.status).toBe("success");
  const search = await getJson(`${svc.url}/category-search?query=door`);
  expect(search.status).toBe(200);
  expect(search.body.suggestions.length).toBeGreaterThan(0);
  expect((await getJson(`${svc.url}/info`)).body.redis).toMatchObject({ reachable: true, mode: "standalone" });
  expect(await svc.stop()).toBe(0);

  // The server's certificate is not trusted without the CA file.
  const untrusted = await world.serve({ REDIS_TLS_CA_FILE: "" });
  const info = await getJson(`${untrusted.url}/info`);
  expect(info.status).toBe(503);
  expect(info.body.redis.reachable).toBe(false);
  expect(info.body.redis.error).toMatch(/certificate|self.signed/i);
  expect(await untrusted.stop()).toBe(0);

  const noPassword = await world.serve({ REDIS_PASSWORD: "" });
  const denied = await getJson(`${noPassword.url}/info`);
  expect(denied.status).toBe(503);
  expect(denied.body.redis.error).toMatch(/NOAUTH|Authentication/i);
  expect(await noPassword.stop()).toBe(0);
}, 60_000);
