// Finished search responses, kept per type for the index state they were read at (serving
// generation and its update counter). A cached answer is used only while Redis still reports
// that state, so a publish or a push update (from any replica) is visible to the next search.
export class ResultCache {
  private readonly entries = new Map<string, { state: string; json: string }>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  /** The index state last seen per type: a new one leaves every answer of the old state unused. */
  private readonly states = new Map<string, string>();

  /** Notes the state a search of `type` saw; returns the state it replaces, or null when unchanged (or the first). */
  observe(type: string, state: string): string | null {
    const previous = this.states.get(type);
    this.states.set(type, state);
    return previous !== undefined && previous !== state ? previous : null;
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

  set(key: string, state: string, json: string): void {
    if (!this.enabled || json.length > this.maxBytes / 16) return;
    this.drop(key);
    this.entries.set(key, { state, json });
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
    this.bytes -= size(key, found.json);
  }

  get size(): number {
    return this.entries.size;
  }
}

// UTF-16 code units, about the bytes a string takes in the engine.
const size = (key: string, json: string) => 2 * (key.length + json.length) + 64;
