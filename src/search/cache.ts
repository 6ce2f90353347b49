// Finished search responses, kept per type for the index state they were read at (serving
// generation and its update counter). A cached answer is used only while Redis still reports
// that state, so a publish or a push update (from any replica) is visible to the next search;
// once a search sees a new state, the type's answers of the old one are dropped.
export class ResultCache {
  private readonly entries = new Map<string, { type: string; state: string; json: string }>();
  /** Per type, the index state last seen and the keys of the answers kept for it. */
  private readonly types = new Map<string, { state: string; keys: Set<string> }>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  /** Notes the state a search of `type` saw; returns the state it replaces (its answers dropped), or null when unchanged (or the first). */
  observe(type: string, state: string): string | null {
    const seen = this.types.get(type);
    if (seen?.state === state) return null;
    this.types.set(type, { state, keys: new Set() });
    if (!seen) return null;
    for (const key of seen.keys) this.drop(key);
    return seen.state;
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  get(key: string, state: string): string | undefined {
    const found = this.entries.get(key);
    if (!found || found.state !== state) {
      this.misses++;
      return undefined;
    }
    // Map order is the eviction order: a hit moves the entry to the end.
    this.entries.delete(key);
    this.entries.set(key, found);
    this.hits++;
    return found.json;
  }

  /** Keeps an answer of `type` read at `state`, unless a search has seen a newer state meanwhile. */
  set(type: string, key: string, state: string, json: string): void {
    if (!this.enabled || json.length > this.maxBytes / 16) return;
    if (!this.types.has(type)) this.observe(type, state);
    const seen = this.types.get(type)!;
    if (seen.state !== state) return;
    this.drop(key);
    this.entries.set(key, { type, state, json });
    seen.keys.add(key);
    this.bytes += size(key, json);
    for (const [oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldest);
    }
  }

  private drop(key: string): void {
    const found = this.entries.get(key);
    if (!found) return;
    this.entries.delete(key);
    this.types.get(found.type)?.keys.delete(key);
    this.bytes -= size(key, found.json);
  }

  get size(): number {
    return this.entries.size;
  }
}

// UTF-16 code units, about the bytes a string takes in the engine.
const size = (key: string, json: string) => 2 * (key.length + json.length) + 64;
