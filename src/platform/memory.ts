import { edenGC, heapSize } from "bun:jsc";

// Garbage collection by RSS or heap size: JSC collects lazily, and left alone the garbage of a
// build or of a burst of changes takes the process far past what it keeps alive (a run at
// 100,000 documents: 470 MB; a burst of 100,000 changes: 370–400 MB).

/**
 * A full collection after every batch would cost more than the work itself, so collection happens
 * only when the process's RSS passes a bar: this floor, or this headroom above the least RSS seen
 * since the collection before, if that is higher (memory that cannot be collected then does not
 * make it collect after every batch). Not the RSS just after a collection: the freed pages go back
 * to the system over the next moments, and that reading is high by chance.
 */
const COLLECT_ABOVE_RSS = 200 * 1024 * 1024;
const COLLECT_HEADROOM = 16 * 1024 * 1024;

/** Collects this thread's garbage when the process's RSS has passed the bar (COLLECT_ABOVE_RSS, or higher as above). */
export class Collector {
  private bar = COLLECT_ABOVE_RSS;
  private least = Number.POSITIVE_INFINITY;
  collectIfLarge(): void {
    const rss = process.memoryUsage.rss();
    this.least = Math.min(this.least, rss);
    if (rss < this.bar) return;
    Bun.gc(true);
    this.bar = Math.max(COLLECT_ABOVE_RSS, this.least + COLLECT_HEADROOM);
    this.least = Number.POSITIVE_INFINITY;
  }
}

/** A heap this small is never fully collected early. */
const COLLECT_ABOVE_HEAP = 64 * 1024 * 1024;
/** How much the heap may grow past what the last full collection left before the next one. */
const HEAP_GROWTH = 1.5;
/** How often, at most, the young objects are collected. */
const EDEN_EVERY_MS = 100;

/**
 * Collects the garbage of a thread whose garbage comes fast and whose live heap stays small (the
 * change follower's): the young objects at most every EDEN_EVERY_MS (cheap, as little of them is
 * alive; JSC defers its own timed collections while the thread is busy, and lets the memory of
 * dead strings and buffers pile up meanwhile), and the whole heap when it has grown by half since
 * the last full collection (JSC itself lets a small heap double, or more, before it collects).
 */
export class HeapCollector {
  private bar = COLLECT_ABOVE_HEAP;
  private edenAt = Number.NEGATIVE_INFINITY;
  constructor(private readonly edenEveryMs = EDEN_EVERY_MS) {}
  /** Called after each batch of work. */
  collectAfterBatch(): void {
    const now = performance.now();
    if (heapSize() >= this.bar) {
      Bun.gc(true);
      this.bar = Math.max(COLLECT_ABOVE_HEAP, heapSize() * HEAP_GROWTH);
      this.edenAt = now;
    } else if (now - this.edenAt >= this.edenEveryMs) {
      edenGC();
      this.edenAt = now;
    }
  }
}
