// Runs built in a worker thread (src/runs/build-thread.ts), as the service builds them: the thread
// that answers requests stays free, and whatever happens to the worker ends the run, not the service.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServices, type Services, waitForRedis } from "../src/app/container.ts";
import { createApp } from "../src/app/http.ts";
import { silentLogger } from "../src/platform/log.ts";
import { collectLogs, createContext, type TestContext } from "./helpers.ts";
import { gensIn, seedLarge, servingEntries, until } from "./sync.fixtures.ts";

const WORKER = new URL("../src/runs/build-worker.ts", import.meta.url);
const BUSY_WORKER = new URL("./workers/busy.ts", import.meta.url);
const CRASHING_WORKER = new URL("./workers/crash.ts", import.meta.url);

let ctx: TestContext;
const opened: Services[] = [];
beforeEach(async () => {
  ctx = await createContext("worker");
  await seedLarge(ctx.db, ["categories"], 250); // batches of 100: 3 of origins, 3 of suppliers
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await ctx.cleanup();
});

async function services(buildWorker: URL): Promise<Services> {
  const s = createServices(ctx.config, silentLogger, { buildWorker });
  opened.push(s);
  await waitForRedis(s.redis, 5_000);
  return s;
}

/** This process's threads: CPU ticks so far and niceness (/proc/<pid>/task/<tid>/stat fields 14, 15 and 19). */
function threads(): Map<string, { cpu: number; nice: number }> {
  return new Map(
    readdirSync(`/proc/${process.pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return [tid, { cpu: Number(fields[11]) + Number(fields[12]), nice: Number(fields[16]) }];
    }),
  );
}

const tempFiles = () => readdirSync(ctx.dir).filter((name) => name.endsWith(".tmp"));

test("a run built in the worker publishes every entry, writes its dataset file and records its counts", async () => {
  const s = await services(WORKER);
  const result = await s.engine.run("categories", "api");
  expect(result).toMatchObject({ status: "success", published: true, types: { categories: { documents: 500, entries: 750, published: true } } });
  expect(await servingEntries(s.store, "categories")).toHaveLength(750);
  expect(JSON.parse(await Bun.file(`${ctx.dir}/data_set.json`).text())).toHaveLength(750);
  expect(s.history.get(result.run_id)).toMatchObject({ status: "success", types: { categories: { entries: 750 } } });
  expect(await s.lock.holder()).toBeNull();
  expect((await s.status.get()).active).toBeNull();

  // A dry run's comparison is made in the worker too.
  await ctx.db.collection("categories").deleteOne({ slug: "categories-item-0" });
  const dry = await s.engine.run("categories", "api", { dryRun: true });
  expect(dry).toMatchObject({ status: "success", published: false, types: { categories: { diff: { added: 0, removed: 3 } } } });
  expect(tempFiles()).toEqual([]);
});

test("while the worker is busy computing (its thread never yields, at a lower priority), the service answers /healthz, search and /sync-status", async () => {
  const s = await services(BUSY_WORKER);
  const app = createApp({ ...s, version: "test", startedAt: new Date() });
  const get = async (path: string) => {
    const res = await app.handle(new Request(`http://localhost${path}`));
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  writeFileSync(`${ctx.dir}/data_set.json.release`, "");
  expect((await s.engine.run("categories", "api")).status).toBe("success");

  rmSync(`${ctx.dir}/data_set.json.release`);
  const outcome = await s.engine.trigger("categories", "api");
  if (!outcome.started) throw new Error("the run did not start");
  await until(() => existsSync(`${ctx.dir}/data_set.json.busy`), 15_000, "the worker to be busy");

  expect(await get("/healthz")).toMatchObject({ status: 200 });
  const search = await get("/category-search?query=categories%20item%2012&limit=5");
  expect(search.status).toBe(200);
  expect((search.body.suggestions as unknown[]).length).toBeGreaterThan(0);
  expect((await get("/sync-status")).body).toMatchObject({ active: { run_id: outcome.runId } });

  // The busy thread (the most CPU over a moment) is the worker's, and yields to this one when the cores are busy.
  const before = threads();
  await Bun.sleep(300);
  const after = threads();
  const [busiest] = [...after].sort(([a, x], [b, y]) => y.cpu - (before.get(b)?.cpu ?? 0) - (x.cpu - (before.get(a)?.cpu ?? 0)))[0]!;
  const mine = after.get(String(process.pid))!.nice;
  expect(busiest).not.toBe(String(process.pid));
  expect(after.get(busiest)!.nice).toBe(Math.max(mine, 10));

  writeFileSync(`${ctx.dir}/data_set.json.release`, "");
  expect(await outcome.done).toMatchObject({ status: "success", published: true });
});

test("an abort reaches the worker: the run fails as aborted, its generation is dropped and the lock released", async () => {
  const s = await services(BUSY_WORKER);
  const outcome = await s.engine.trigger("categories", "api");
  if (!outcome.started) throw new Error("the run did not start");
  await until(() => existsSync(`${ctx.dir}/data_set.json.busy`), 15_000, "the worker to be busy");
  const aborted = s.engine.abortActive("shutdown");
  writeFileSync(`${ctx.dir}/data_set.json.release`, ""); // the worker reads the stop message once it yields
  expect(await aborted).toMatchObject({ status: "failed", error: "aborted: shutdown", published: false });
  expect(await s.lock.holder()).toBeNull();
  expect(gensIn(await ctx.keys())).toEqual([]);
  expect(tempFiles()).toEqual([]);
});

test("a worker that dies of an uncaught exception ends the run as failed with its error; the lock is released and the next run succeeds", async () => {
  const s = await services(CRASHING_WORKER);
  const published = await (await services(WORKER)).engine.run("categories", "api");
  const result = await s.engine.run("categories", "api");
  expect(result).toMatchObject({ status: "failed", published: false, error: "the build worker crashed: Error: hostile document" });
  expect(s.history.get(result.run_id)).toMatchObject({ status: "failed", error: "the build worker crashed: Error: hostile document" });
  expect(await s.lock.holder()).toBeNull();
  expect((await s.status.get()).active).toBeNull();
  // The previous index still serves; the crashed run's generation and temp files are gone.
  expect(gensIn(await ctx.keys())).toEqual([published.run_id]);
  expect(tempFiles()).toEqual([]);

  const next = await (await services(WORKER)).engine.run("categories", "api");
  expect(next).toMatchObject({ status: "success", published: true });
});

test("the build paces its Redis writes only while searches are answered", async () => {
  const pauses = (lines: string[]) =>
    lines.flatMap((line) => {
      const m = /categories: (?:origins|suppliers) batch .*paused for searches (\d+) ms/.exec(line);
      return m ? [Number(m[1])] : [];
    });
  const { logger, lines } = collectLogs("debug");
  const s = createServices(ctx.config, logger, { buildWorker: WORKER });
  opened.push(s);
  await waitForRedis(s.redis, 5_000);

  expect((await s.engine.run("categories", "api")).status).toBe("success");
  const quiet = pauses(lines);
  expect(quiet).toHaveLength(6);
  expect(quiet.every((ms) => ms === 0)).toBe(true);

  lines.length = 0;
  let searching = true;
  const searches = (async () => {
    while (searching) await s.search.search("categories", { query: "categories item", iso: "en", limit: 5 });
  })();
  // The worker hears about searches within a quarter second: let them start before the run does.
  await Bun.sleep(600);
  expect((await s.engine.run("categories", "api", { force: true })).status).toBe("success");
  searching = false;
  await searches;
  const busy = pauses(lines);
  expect(busy).toHaveLength(6);
  expect(busy.some((ms) => ms > 0)).toBe(true);
});
