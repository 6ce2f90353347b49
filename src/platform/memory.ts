import { edenGC, heapSize } from "bun:jsc";

// Garbage collection after each batch of work: JSC collects lazily (and Bun defers its timed
// collections while the thread is busy), and left alone the garbage of a build or of a burst of
// changes takes the process far past what it keeps alive (a run at 100,000 documents: 470 MB; a
// burst of 100,000 changes: 370–400 MB). The memory of dead strings and buffers is not counted
// in the heap JSC sizes its collections by, so it piles up meanwhile.

/** How often, at most, the young objects are collected (cheap: little of them is still alive). */
const EDEN_EVERY_MS = 100;

/** After each batch: the whole heap when `fullIsDue()`, else the young objects at most every `edenEveryMs`. */
abstract class BatchCollector {
  private edenAt = Number.NEGATIVE_INFINITY;
  constructor(private readonly edenEveryMs = EDEN_EVERY_MS) {}
  protected abstract fullIsDue(): boolean;
  /** Called after a full collection. */
  protected abstract collected(): void;

  collectAfterBatch(): void {
    const now = performance.now();
    if (this.fullIsDue()) {
      Bun.gc(true);
      this.collected();
      this.edenAt = now;
    } else if (now - this.edenAt >= this.edenEveryMs) {
      edenGC();
      this.edenAt = now;
    }
  }
}

/**
 * A full collection after every batch would cost more than the work itself, so it happens only
 * when the process's RSS passes a bar: this floor, or this headroom above the least RSS seen
 * since the collection before, if that is higher (memory that cannot be collected then does not
 * make it collect after every batch). Not the RSS just after a collection: the freed pages go back
 * to the system over the next moments, and that reading is high by chance.
 */
const COLLECT_ABOVE_RSS = 200 * 1024 * 1024;
const COLLECT_HEADROOM = 16 * 1024 * 1024;

/** For a build, whose live heap is large: the whole heap when the process's RSS has passed the bar above. */
export class RssCollector extends BatchCollector {
  private bar = COLLECT_ABOVE_RSS;
  private least = Number.POSITIVE_INFINITY;
  protected fullIsDue(): boolean {
    const rss = process.memoryUsage.rss();
    this.least = Math.min(this.least, rss);
    return rss >= this.bar;
  }
  protected collected(): void {
    this.bar = Math.max(COLLECT_ABOVE_RSS, this.least + COLLECT_HEADROOM);
    this.least = Number.POSITIVE_INFINITY;
  }
}

/** A heap this small is never fully collected early. */
const COLLECT_ABOVE_HEAP = 64 * 1024 * 1024;
/** How much the heap may grow past what the last full collection left before the next one. */
const HEAP_GROWTH = 1.5;

/**
 * For a thread whose live heap stays small (the change follower's): the whole heap when it has
 * grown by half since the last full collection (JSC itself lets a small heap double, or more).
 */
export class HeapCollector extends BatchCollector {
  private bar = COLLECT_ABOVE_HEAP;
  protected fullIsDue(): boolean {
    return heapSize() >= this.bar;
  }
  protected collected(): void {
    this.bar = Math.max(COLLECT_ABOVE_HEAP, heapSize() * HEAP_GROWTH);
  }
}
