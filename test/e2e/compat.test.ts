// The replaced service's clients against the compiled binary: its calls with its documented bodies,
// and its answers' fields and values (README "Compatibility"), next to ours.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ObjectId } from "mongodb";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { until } from "../../scripts/lib/procs.ts";
import { createContext, type TestContext } from "../helpers.ts";

let ctx: TestContext;
let svc: RunningBinary;
beforeEach(async () => {
  ctx = await createContext("compat");
  svc = await startBinary(installBinary(ctx.dir), ctx.dir, serviceEnv(ctx));
});
afterEach(async () => {
  if (svc.proc.exitCode === null) await svc.stop();
  await ctx.cleanup();
});

interface Reply {
  status: number;
  body: any;
}

async function request(method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${svc.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const TYPES = [
  { path: "/categories", search: "/category-search", name: "category", Name: "Category" },
  { path: "/boxes", search: "/boxes-search", name: "box", Name: "Box" },
  { path: "/options", search: "/options-search", name: "option", Name: "Option" },
] as const;

const origin = new ObjectId();
async function seed(): Promise<void> {
  for (const [collection, word] of [
    ["categories", "Letterhead"],
    ["boxes", "Archive box"],
    ["options", "Rounded corners"],
  ] as const) {
    await ctx.db.collection(collection).insertOne({ _id: origin, name: word, slug: word.toLowerCase(), display_name: [{ iso: "en", display_name: word }] });
  }
}

/** Waits for the run to end; returns it as /sync-status shows it. */
async function finished(runId: string): Promise<any> {
  let last: any = null;
  await until(
    async () => {
      last = (await request("GET", "/sync-status")).body;
      return last.active === null && last.last_run?.run_id === runId;
    },
    20_000,
    `run ${runId} to end`,
  );
  return last.last_run;
}

/** The replaced service's push body. */
const pushBody = (linked: string, displayName: string) => ({
  linked,
  slug: "pushed-slug",
  origin_name: "Pushed origin",
  display_names: [{ iso: "en", display_name: displayName }],
  name: "Pushed",
});

test("probes: /healthz healthy; /healthz-startup initializing (503) until the first run, then ready", async () => {
  expect(await request("GET", "/healthz")).toEqual({ status: 200, body: { status: "healthy", message: "Search service is running" } });
  expect(await request("GET", "/healthz-startup")).toEqual({
    status: 503,
    body: {
      status: "initializing",
      message: "Search service is still initializing",
      error: "not_ready",
      detail: "no index is serving yet for: categories, boxes, options; run a sync",
      missing: ["categories", "boxes", "options"],
    },
  });
  await seed();
  const sync = await request("POST", "/sync");
  await finished(sync.body.run_id);
  expect(await request("GET", "/healthz-startup")).toMatchObject({
    status: 200,
    body: { status: "ready", message: "Search service initialization complete", index: { categories: { serving: true, entries: 1 } } },
  });
});

describe("POST /sync", () => {
  test("starts a full re-sync in the background: 200 with the old body and the run id", async () => {
    await seed();
    const sync = await request("POST", "/sync");
    expect(sync).toEqual({
      status: 200,
      body: { message: "Success Resynced", status: "200", run_id: expect.any(String), run_status: "running", scope: "all", trigger: "api" },
    });
    expect(await finished(sync.body.run_id)).toMatchObject({ status: "success", trigger: "api", scope: "all", published: true });
    expect((await request("GET", "/category-search?query=letter")).body.suggestions.map((e: { display_name: string }) => e.display_name)).toEqual([
      "Letterhead",
    ]);
  });

  test("while a run is active: 409 with the active run's id, status error (and so do /clear-data and trigger-now)", async () => {
    const active = "20990101T000000Z-elsewhere";
    await ctx.redis.set(`${ctx.prefix}lock`, `${active} token`, "PX", 60_000);
    for (const [method, path] of [
      ["POST", "/sync"],
      ["GET", "/clear-data"],
      ["POST", "/clear-data"],
      ["POST", "/scheduler/trigger-now"],
    ]) {
      const res = await request(method!, path!);
      expect({ path, status: res.status }).toEqual({ path, status: 409 });
      expect(res.body).toMatchObject({
        error: "sync_in_progress",
        status: "error",
        message: `a run is already in progress (${active})`,
        run_id: active,
        run_status: "skipped",
      });
    }
    await ctx.redis.del(`${ctx.prefix}lock`);
  });
});

describe("push updates with the old bodies", () => {
  for (const t of TYPES) {
    test(`POST, PUT, DELETE ${t.path}: the old fields and values, and ours`, async () => {
      await seed();
      await finished((await request("POST", "/sync")).body.run_id);
      const linked = new ObjectId().toHexString();
      expect(await request("POST", t.path, pushBody(linked, "Zebra print"))).toEqual({
        status: 200,
        body: {
          message: `${t.Name} added to search engine successfully`,
          status: "success",
          data: { message: `${t.Name} added successfully`, [`${t.name}_id`]: linked, status: "success" },
          type: t.path.slice(1),
          added: 1,
          removed: 0,
        },
      });
      expect((await request("GET", `${t.search}?query=zebra`)).body.suggestions).toEqual([
        { sku: linked, name: "Pushed", display_name: "Zebra print", origin_name: "Pushed origin", iso: "en", slug: "pushed-slug", linked },
      ]);

      const put = await request("PUT", t.path, {
        source: { linked, slug: "pushed-slug", origin_name: "Pushed origin", display_names: [{ iso: "en", display_name: "Zebra print" }] },
        target: pushBody(linked, "Zigzag print"),
      });
      expect(put).toEqual({
        status: 200,
        body: {
          message: `${t.Name} updated (delete-then-insert)`,
          status: "success",
          delete_result: { message: `${t.Name} entries deleted successfully`, linked, deleted_count: 1, status: "success" },
          add_result: { message: `${t.Name} added successfully`, [`${t.name}_id`]: linked, status: "success" },
          type: t.path.slice(1),
          added: 1,
          removed: 1,
        },
      });

      const remove = { linked, display_names: [{ iso: "en", display_name: "Zigzag print" }] };
      expect(await request("DELETE", t.path, remove)).toEqual({
        status: 200,
        body: { message: `${t.Name} entries deleted successfully`, linked, deleted_count: 1, status: "success", type: t.path.slice(1), added: 0, removed: 1 },
      });
      expect(await request("DELETE", t.path, remove)).toEqual({
        status: 200,
        body: {
          message: `No matching ${t.name} entries found in search engine`,
          linked,
          deleted_count: 0,
          status: "not_found",
          type: t.path.slice(1),
          added: 0,
          removed: 0,
        },
      });
      expect((await request("GET", `${t.search}?query=zigzag`)).body).toEqual({ suggestions: [] });
    });
  }

  test("errors keep their HTTP status and carry status error, message and error", async () => {
    const linked = new ObjectId().toHexString();
    expect(await request("POST", "/categories", pushBody(linked, "Banner"))).toEqual({
      status: 503,
      body: { status: "error", error: "not_ready", message: "no categories index has been published yet; run a sync first" },
    });
    const bad = await request("POST", "/boxes", { ...pushBody(linked, "Banner"), linked: "not-an-id" });
    expect(bad).toEqual({
      status: 422,
      body: { status: "error", error: "invalid_request", field: "linked", message: "linked: must be an ObjectId as 24 hex characters" },
    });
    expect(await request("GET", "/no-such-route")).toEqual({
      status: 404,
      body: { status: "error", error: "not_found", message: "no route for GET /no-such-route" },
    });
  });
});

test("scheduler: start, stop and trigger-now answer the old message and status", async () => {
  await seed();
  expect(await request("POST", "/scheduler/start")).toMatchObject({
    status: 200,
    body: { message: "Scheduler started successfully", status: "running", changed: true, running: true },
  });
  expect(await request("POST", "/scheduler/stop")).toMatchObject({
    status: 200,
    body: { message: "Scheduler stopped successfully", status: "stopped", changed: true, running: false },
  });
  const now = await request("POST", "/scheduler/trigger-now");
  expect(now).toEqual({
    status: 202,
    body: {
      message: "Manual re-sync triggered successfully",
      status: "triggered",
      run_id: expect.any(String),
      run_status: "running",
      scope: "all",
      trigger: "manual",
    },
  });
  expect(await finished(now.body.run_id)).toMatchObject({ status: "success", trigger: "manual" });
});

describe("/clear-data", () => {
  for (const method of ["GET", "POST"]) {
    test(`${method}: empties our index and the dataset files, never another key; search is empty until the next run`, async () => {
      await seed();
      await finished((await request("POST", "/sync")).body.run_id);
      const outside = `compat-outside:${crypto.randomUUID()}`;
      await ctx.redis.set(outside, "kept");
      try {
        const cleared = await request(method, "/clear-data");
        expect(cleared).toEqual({
          status: 200,
          body: expect.objectContaining({
            message: "Search index and dataset files cleared; search answers nothing until the next run",
            status: "cleared",
            run_status: "cleared",
            run_id: expect.any(String),
            trigger: "api",
            scope: "all",
            published: false,
          }),
        });
        for (const type of ["categories", "boxes", "options"]) expect(cleared.body.types[type]).toMatchObject({ entries: 0, previous_entries: 1 });

        expect(await ctx.redis.get(outside)).toBe("kept");
        // What is left under the prefix is the status key and the history stream: no index key, and the lock is released.
        expect(await ctx.keys()).toEqual([`${ctx.prefix}history`, `${ctx.prefix}status`]);
        for (const file of ["data_set.json", "data_set_boxes.json", "data_set_options.json"])
          expect(JSON.parse(readFileSync(join(ctx.dir, file), "utf8"))).toEqual([]);
        for (const t of TYPES) expect(await request("GET", `${t.search}?query=`)).toEqual({ status: 200, body: { suggestions: [] } });
        expect(await request("GET", "/healthz-startup")).toMatchObject({ status: 503, body: { status: "initializing", error: "not_ready" } });

        const status = (await request("GET", "/sync-status?history=true")).body;
        expect(status).toMatchObject({ status: "cleared", last_run: { run_id: cleared.body.run_id, status: "cleared" } });
        expect(status.history[0]).toMatchObject({ run_id: cleared.body.run_id, status: "cleared", trigger: "api", scope: "all" });

        // The next run serves again (nothing to compare against: no shrink guard).
        expect(await request("POST", "/re-sync-all")).toMatchObject({ status: 200, body: { status: "success", published: true } });
        expect((await request("GET", "/boxes-search?query=arch")).body.suggestions).toHaveLength(1);
      } finally {
        await ctx.redis.del(outside);
      }
    });
  }
});

test("the guide's routes answer as before", async () => {
  await seed();
  expect(await request("POST", "/re-sync-all")).toMatchObject({ status: 200, body: { status: "success", run_status: "success", scope: "all" } });
  for (const path of ["/generate-data-set", "/generate-box-data", "/generate-option-data"])
    expect(await request("GET", path)).toMatchObject({ status: 200, body: { status: "success" } });
  expect(await request("GET", "/sync-status")).toMatchObject({
    status: 200,
    body: { status: "success", items_synced: { options: 1 }, last_sync: expect.any(String), duration_seconds: expect.any(Number) },
  });
  expect(await request("GET", "/scheduler/status")).toMatchObject({ status: 200, body: { running: false, interval_hours: 24 } });
  expect(await request("PUT", "/scheduler/interval?hours=12")).toMatchObject({ status: 200, body: { changed: true, interval_hours: 12 } });
  expect(await request("GET", "/info")).toMatchObject({ status: 200, body: { status: "ok", redis: { reachable: true }, mongodb: { reachable: true } } });
  for (const path of ["/category-search", "/categories-search", "/boxes-search", "/options-search"]) {
    const res = await request("GET", `${path}?query=&iso=en&limit=30`);
    expect({ path, status: res.status, count: res.body.suggestions.length }).toEqual({ path, status: 200, count: 1 });
  }
});
