// PUT /scheduler/interval with bad `hours`: one 422 { error, message, field } each, nothing changed.
import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Services } from "../src/app/container.ts";
import { type App, createApp } from "../src/app/http.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { createContext, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let services: Services;
let scheduler: Scheduler;
let app: App;
beforeEach(async () => {
  ctx = await createContext("schederr");
  services = await ctx.services();
  scheduler = new Scheduler(services);
  await scheduler.init();
  app = createApp({ ...services, version: "test", startedAt: new Date(), scheduler });
});
afterEach(async () => {
  await scheduler.close();
  await ctx.cleanup();
});

const EXPECTED = "a number of hours from 1 to 168 (decimals allowed, e.g. 1.5)";

async function put(query: string): Promise<{ status: number; body: unknown }> {
  const res = await app.handle(new Request(`http://localhost/scheduler/interval${query}`, { method: "PUT" }));
  return { status: res.status, body: await res.json() };
}

test.each([
  ["0", `hours must be ${EXPECTED}, not 0`],
  ["-1", `hours must be ${EXPECTED}, not "-1"`],
  ["169", `hours must be ${EXPECTED}, not 169`],
  ["168.5", `hours must be ${EXPECTED}, not 168.5`],
  ["0.5", `hours must be ${EXPECTED}, not 0.5`],
  ["abc", `hours must be ${EXPECTED}, not "abc"`],
  ["", `hours must be ${EXPECTED}, not ""`],
  ["1e9", `hours must be ${EXPECTED}, not "1e9"`],
  ["1e1", `hours must be ${EXPECTED}, not "1e1"`],
  ["12h", `hours must be ${EXPECTED}, not "12h"`],
  ["%2012", `hours must be ${EXPECTED}, not " 12"`],
  ["0x10", `hours must be ${EXPECTED}, not "0x10"`],
  ["Infinity", `hours must be ${EXPECTED}, not "Infinity"`],
  ["NaN", `hours must be ${EXPECTED}, not "NaN"`],
  ["1.", `hours must be ${EXPECTED}, not "1."`],
])("hours=%p → 422", async (value, message) => {
  expect(await put(`?hours=${value}`)).toEqual({ status: 422, body: { error: "invalid_request", status: "error", message, field: "hours" } });
  expect(scheduler.status().interval_hours).toBe(24);
  expect(services.history.getSetting("scheduler.interval_hours")).toBeNull();
});

test("no hours at all → 422", async () => {
  expect(await put("")).toEqual({
    status: 422,
    body: { error: "invalid_request", status: "error", message: `hours is required: ${EXPECTED}`, field: "hours" },
  });
});
