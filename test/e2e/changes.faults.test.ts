// Process-level faults of the change-stream follower: the compiled binary on a private Redis and a
// private mongo-java-server (scripts/lib/procs.ts), a writer streaming every kind of change meanwhile,
// and after each fault the index must equal what a fresh full run of the same data builds.
// bench/changes.ts runs the same faults on a bigger catalog and prints the figures.
import { afterEach, expect, test } from "bun:test";
import { type ChangeWorld, FAULTS, startChangeWorld, stopChangeWorld } from "../../bench/changes.ts";
import { killAll } from "../../scripts/lib/procs.ts";

const LEASE_SECONDS = 3;
const RATE = 20;
let cw: ChangeWorld | null = null;
afterEach(async () => {
  if (cw) await stopChangeWorld(cw).catch(() => {});
  cw = null;
  await killAll();
});

const world = async () => {
  cw = await startChangeWorld({ origins: 300, leaseSeconds: LEASE_SECONDS });
  return cw;
};

test("kill -9 of the binary while changes stream, started again: it resumes from the stored positions, nothing lost, no full run", async () => {
  const r = await FAULTS.kill(await world(), RATE);
  expect(r.writes).toBeGreaterThan(20);
  expect(r.lost).toBeNull();
  expect(r.resyncs).toBe(0);
}, 120_000);

test("Redis restarted while following: the follower goes on, nothing lost, no full run", async () => {
  const r = await FAULTS.redis(await world(), RATE);
  expect(r.lost).toBeNull();
  expect(r.resyncs).toBe(0);
}, 120_000);

test("two binaries on one Redis, the follower killed with kill -9: the other takes over within two lease periods, nothing lost, no full run", async () => {
  const r = await FAULTS.takeover(await world(), RATE);
  expect(r.lost).toBeNull();
  expect(r.resyncs).toBe(0);
  expect(r.takeover_ms).toBeLessThanOrEqual(2 * LEASE_SECONDS * 1000);
}, 120_000);

test("MongoDB restarted (in memory) and seeded again while changes stream: a full run (resync), nothing lost; a takeover after it needs no full run", async () => {
  const cw = await world();
  const restarted = await FAULTS.mongo(cw, RATE);
  expect(restarted.lost).toBeNull();
  expect(restarted.resyncs).toBeGreaterThanOrEqual(1);
  const taken = await FAULTS.takeover(cw, RATE);
  expect(taken.lost).toBeNull();
  expect(taken.resyncs).toBe(0);
}, 400_000);
