// Alerts still being delivered when the service is stopped (README "Alerts": the service waits up
// to 5 s for pending alerts on shutdown; src/main.ts ALERT_DRAIN_ON_SHUTDOWN_MS), against the
// compiled binary and a real local receiver.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { createContext, type TestContext } from "../helpers.ts";

const DRAIN_MS = 5_000;

let ctx: TestContext;
let svc: RunningBinary | null = null;
let stopReceiver = () => {};
beforeEach(async () => {
  ctx = await createContext("alertstop");
});
afterEach(async () => {
  if (svc && svc.proc.exitCode === null) svc.proc.kill("SIGKILL");
  svc = null;
  stopReceiver();
  await ctx.cleanup();
});

interface Delivery {
  runId: string;
  /** The service closed the connection before it was answered (it exited). */
  aborted: boolean;
}

/** A webhook receiver that never answers ("hang") or answers 200 `afterMs` after a request came; `events` records its answers. */
function receiver(answer: "hang" | { afterMs: number }, events: string[]) {
  const deliveries: Delivery[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const delivery: Delivery = { runId: ((await req.json()) as { run_id: string }).run_id, aborted: false };
      deliveries.push(delivery);
      req.signal.addEventListener("abort", () => {
        delivery.aborted = true;
      });
      if (answer === "hang") return new Promise<Response>(() => {});
      await Bun.sleep(answer.afterMs);
      if (!req.signal.aborted) events.push("answered");
      return new Response("ok");
    },
  });
  stopReceiver = () => server.stop(true);
  return { url: `http://127.0.0.1:${server.port}/hooks/T0/SECRET`, deliveries };
}

/** Starts the binary with alerts to `url` and a run that fails at once; returns the failed run's id. */
async function failedRunAlertingTo(url: string): Promise<string> {
  // The dataset file cannot be written: the run fails right away, and its alert goes out.
  const env = serviceEnv(ctx, { ALERT_WEBHOOK_URL: url, DATA_SET_FILE: "/dev/null/x/data_set.json", LOG_FORMAT: "json" });
  svc = await startBinary(installBinary(ctx.dir), ctx.dir, env);
  const res = await fetch(`${svc.url}/re-sync-all`, { method: "POST" });
  const body = (await res.json()) as { run_status: string; run_id: string };
  expect({ http: res.status, run_status: body.run_status }).toEqual({ http: 503, run_status: "failed" });
  return body.run_id;
}

test("a receiver that never answers: SIGTERM waits for the alert, then exits 0 before its delivery would give up", async () => {
  const events: string[] = [];
  const r = receiver("hang", events);
  const runId = await failedRunAlertingTo(r.url);
  const termAt = performance.now();
  svc!.proc.kill("SIGTERM");
  expect(await svc!.proc.exited).toBe(0);
  const tookMs = performance.now() - termAt;

  // It waited for the pending alert (a lower bound: a loaded machine only makes it longer)...
  expect(tookMs).toBeGreaterThanOrEqual(DRAIN_MS - 100);
  // ...and no longer than the wait allows: a delivery that ran its course (an attempt times out after
  // 5 s, then retries after 1, 2 and 4 s) would have made 4 attempts and logged that it gave up.
  expect(r.deliveries.length).toBeGreaterThanOrEqual(1);
  expect(r.deliveries.length).toBeLessThanOrEqual(2);
  expect(r.deliveries.map((d) => d.runId)).toEqual(r.deliveries.map(() => runId));
  expect(svc!.output()).not.toContain("Alert webhook");
  expect(svc!.output()).toContain("SIGTERM received: stopping");
}, 60_000);

test("a slow receiver that answers: SIGTERM lets the alert be delivered, then exits 0", async () => {
  const events: string[] = [];
  const r = receiver({ afterMs: 2_000 }, events);
  const runId = await failedRunAlertingTo(r.url);
  svc!.proc.kill("SIGTERM");
  const exited = svc!.proc.exited.then((code) => {
    events.push("exited");
    return code;
  });
  expect(await exited).toBe(0);
  // The receiver answered while the service was still there to read the answer, and only then did it exit.
  expect(r.deliveries).toEqual([{ runId, aborted: false }]);
  expect(events).toEqual(["answered", "exited"]);
  expect(svc!.output()).not.toContain("Alert webhook");
}, 60_000);
