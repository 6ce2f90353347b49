import { describe, expect, test } from "bun:test";
import { resyncAfterMs } from "../src/changes/follower.ts";

/** How long a backlog of `backlogMs` (worked through one by one) takes at most to be in the index: worked through, or waited for and then a full run (working on beside the run only shortens it). */
function catchUpMs(backlogMs: number, runMs: number): number {
  const wait = resyncAfterMs("auto", runMs);
  return backlogMs <= wait ? backlogMs : wait + runMs;
}

describe("the full run for a backlog (CHANGE_STREAM_RESYNC_AFTER_SECONDS)", () => {
  test("auto, with runs of 30 s or more: never more than twice what the better of working through and a full run would take", () => {
    for (const runMs of [40_000, 90_000, 600_000]) {
      for (let backlogMs = 1_000; backlogMs <= 10 * runMs; backlogMs += 1_000) {
        expect(catchUpMs(backlogMs, runMs) / Math.min(backlogMs, runMs)).toBeLessThanOrEqual(2);
      }
    }
  });

  test("auto waits at least 30 s (runs of a small catalog are quick); a number of seconds is taken as it is, 0 never falls back", () => {
    expect(resyncAfterMs("auto", null)).toBe(30_000);
    expect(resyncAfterMs("auto", 5_000)).toBe(30_000);
    expect(resyncAfterMs("auto", 90_000)).toBe(90_000);
    expect(resyncAfterMs(12_000, 90_000)).toBe(12_000);
    expect(resyncAfterMs(0, 90_000)).toBe(0);
  });
});
