import { heapSize } from "bun:jsc";
import { expect, test } from "bun:test";
import { HeapCollector } from "../src/platform/memory.ts";

const MB = 1024 * 1024;

/** Leaves about `mb` MB of unreachable objects on the heap. */
function garbage(mb: number): void {
  let kept: { text: string; n: number }[] | null = [];
  for (let i = 0; i < mb * 10_000; i++) kept.push({ text: `item ${i} of a batch`, n: i });
  kept = null;
}

test("a heap grown past 64 MB is collected; a smaller one is left to JSC", () => {
  Bun.gc(true);
  const collector = new HeapCollector();
  garbage(10);
  const small = heapSize();
  collector.collectIfGrown();
  // Below the 64 MB floor nothing is collected: the garbage is still there.
  expect(heapSize()).toBeGreaterThanOrEqual(small * 0.9);

  garbage(150);
  const grown = heapSize();
  expect(grown).toBeGreaterThan(64 * MB);
  collector.collectIfGrown();
  expect(heapSize()).toBeLessThan(grown / 2);
});
