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

/** A weak reference to an object nothing else holds (the reference keeps it until the current job ends). */
function droppedObject(): WeakRef<object> {
  return new WeakRef({ text: "an event of a batch" });
}

test("young garbage is collected after a batch, at most once per interval", async () => {
  Bun.gc(true);
  const collector = new HeapCollector(60_000);
  const first = droppedObject();
  await Bun.sleep(0);
  collector.collectAfterBatch();
  expect(first.deref()).toBeUndefined();

  // Within the interval the next batch's garbage is left to JSC.
  const second = droppedObject();
  await Bun.sleep(0);
  collector.collectAfterBatch();
  expect(second.deref()).toBeDefined();
});

test("a heap grown past 64 MB is fully collected, even within the interval", () => {
  Bun.gc(true);
  const collector = new HeapCollector(60_000);
  collector.collectAfterBatch();
  let kept: unknown[] | null = [];
  for (let i = 0; i < 80; i++) kept.push(new Array(100_000).fill(i));
  // Old objects (a collection has seen them alive) that die: only a full collection frees them.
  Bun.gc(true);
  kept = null;
  garbage(20);
  const grown = heapSize();
  expect(grown).toBeGreaterThan(64 * MB);
  collector.collectAfterBatch();
  expect(heapSize()).toBeLessThan(grown / 2);
});
