// Shared by metrics.test.ts and e2e/cli.test.ts: a strict parser of the Prometheus text format.
export interface Exposition {
  /** `name{a="b",…}` (labels sorted) → value. */
  samples: Map<string, number>;
  help: Map<string, string>;
  types: Map<string, string>;
}

/** Parses the Prometheus text format strictly: a line that is not HELP, TYPE, blank or a sample fails. */
export function parseExposition(text: string): Exposition {
  const samples = new Map<string, number>();
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      help.set(m[1]!, m[2]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|Nan|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus exposition line: ${JSON.stringify(line)}`);
    const labels = [...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
    samples.set(labels.length ? `${m[1]}{${labels.join(",")}}` : m[1]!, Number(m[3]));
  }
  return { samples, help, types };
}

/** The samples whose name is `name` (with or without labels). */
export function family(exp: Exposition, name: string): Record<string, number> {
  return Object.fromEntries([...exp.samples].filter(([key]) => key === name || key.startsWith(`${name}{`)));
}

/**
 * Scrapes until `n` search requests are counted in all, and returns that exposition: the search
 * hooks record a request after its response is sent, so a scrape right after a search may be early.
 */
export async function scrapeWithSearches(scrape: () => Promise<string>, n: number, ms = 10_000): Promise<Exposition> {
  const end = Date.now() + ms;
  for (;;) {
    const exp = parseExposition(await scrape());
    const counted = Object.values(family(exp, "search_requests_total")).reduce((a, b) => a + b, 0);
    if (counted === n) return exp;
    if (counted > n || Date.now() > end) throw new Error(`${counted} search requests counted, expected ${n}`);
    await Bun.sleep(10);
  }
}
