// Push updates racing full runs: a push acknowledged at any moment after a run was started (its
// 202) and before its publish must be in the index that run publishes.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import type { ItemType } from "../src/catalog/types.ts";
import type { Scope } from "../src/runs/model.ts";
import { createContext, type TestContext } from "./helpers.ts";
import { heldEngine, ITEM_TYPES, oid, seedLarge, until } from "./sync.fixtures.ts";

const ORIGINS = 100;
const PUSHES_PER_RUN = 250;
const PATH: Record<Scope, string> = { all: "/re-sync-all", categories: "/generate-data-set", boxes: "/generate-box-data", options: "/generate-option-data" };

let ctx: TestContext;
let services: Services;
let app: App;
let url: string;

beforeEach(async () => {
  ctx = await createContext("itemsjournal");
  await seedLarge(ctx.db, ITEM_TYPES, ORIGINS);
  services = await ctx.services({ SYNC_BATCH_SIZE: "25" });
  app = createApp({ ...services, version: "test", startedAt: new Date() });
  app.listen({ hostname: "127.0.0.1", port: 0 });
  url = `http://127.0.0.1:${app.server!.port}`;
});
afterEach(async () => {
  await app.stop();
  await ctx.cleanup();
});

interface Push {
  type: ItemType;
  sku: string;
  name: string;
  status: number;
}

async function push(type: ItemType, name: string): Promise<Push> {
  const sku = oid(type, 0, Math.floor(Math.random() * ORIGINS)).toHexString();
  const res = await fetch(`${url}/${type}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ linked: sku, slug: "s", origin_name: "o", display_names: [{ iso: "en", display_name: name }] }),
  });
  await res.arrayBuffer();
  return { type, sku, name, status: res.status };
}

/** The acknowledged pushes whose name is not in the serving index of their type. */
async function lost(pushes: Push[]): Promise<string[]> {
  const out: string[] = [];
  for (const type of ITEM_TYPES) {
    const ofType = pushes.filter((p) => p.type === type);
    const records = await services.store.readItems(type, (await services.store.currentGen(type))!, [...new Set(ofType.map((p) => p.sku))]);
    const names = new Set(records.flatMap((r) => r?.e.map((e) => e?.[1]) ?? []));
    for (const p of ofType) if (!names.has(p.name)) out.push(p.name);
  }
  return out;
}

describe("push updates during runs", () => {
  test("when a run's id is handed out, every type of its scope already journals pushes", async () => {
    expect((await services.engine.run("all", "api")).status).toBe("success");
    const held = heldEngine(services, { at: 0 });
    const outcome = await held.engine.trigger("all", "api");
    if (!outcome.started) throw new Error("run did not start");
    const markers = await Promise.all(ITEM_TYPES.map((type) => ctx.redis.get(services.store.keys.building(type))));
    held.release();
    expect(markers).toEqual([outcome.runId, outcome.runId, outcome.runId]);
    expect((await outcome.done).status).toBe("success");
  });

  test(`${4 * PUSHES_PER_RUN} pushes fired from a run's start to past its publish, in runs of every type: none is lost`, async () => {
    const scopes: Scope[] = ["categories", "boxes", "options", "all"];
    const duration: Partial<Record<Scope, number>> = {};
    for (const scope of scopes) {
      const result = await services.engine.run(scope, "api");
      expect(result.status).toBe("success");
      duration[scope] = result.duration_ms!;
    }

    let acknowledged = 0;
    const lostPerScope: Partial<Record<Scope, string[]>> = {};
    for (const scope of scopes) {
      const types = scope === "all" ? ITEM_TYPES : [scope];
      const res = await fetch(`${url}${PATH[scope]}?wait=false`, { method: "POST" });
      expect(res.status).toBe(202);
      const { run_id: runId } = (await res.json()) as { run_id: string };
      // A fifth at once (the window the run's first steps leave), the rest spread to well past the
      // publish, going by how long the previous run of this scope took.
      const pushes = Array.from({ length: PUSHES_PER_RUN }, async (_, i) => {
        if (i >= PUSHES_PER_RUN / 5) await Bun.sleep(Math.random() * 1.5 * duration[scope]!);
        return push(types[i % types.length]!, `pushed ${scope} ${i}`);
      });
      const answered = await Promise.all(pushes);
      expect(answered.filter((p) => p.status !== 200)).toEqual([]);
      acknowledged += answered.length;
      await until(() => services.history.get(runId)?.status !== "running", 20_000, `run ${runId} to end`);
      expect(services.history.get(runId)?.status).toBe("success");
      for (const type of types) expect(await services.store.currentGen(type)).toBe(runId);
      lostPerScope[scope] = await lost(answered);
    }
    expect(acknowledged).toBe(4 * PUSHES_PER_RUN);
    expect(lostPerScope).toEqual({ categories: [], boxes: [], options: [], all: [] });
  }, 60_000);
});
