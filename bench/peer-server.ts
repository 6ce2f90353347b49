// The peer of bench/peer.ts: a minimal, uncached autocomplete over RediSearch 1.2 with
// search-sync's search endpoints and answer shape ({ suggestions: [entry, …] }).
//   PORT=… REDIS_URL=redis://… bun bench/peer-server.ts
// Every query word is a prefix; words of 4+ letters also match with one edit (RediSearch 1.2's
// fuzzy terms; it has no two-edit fuzzy). RediSearch ranks by its TF-IDF with display_name weighted.
import { Redis } from "ioredis";

export const PEER_INDEX: Record<string, string> = {
  "/category-search": "peer:categories",
  "/categories-search": "peer:categories",
  "/boxes-search": "peer:boxes",
  "/options-search": "peer:options",
};

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** The RediSearch query for a search: every word a prefix (or one edit away from 4 letters), optionally one language. */
export function peerQuery(query: string, iso: string | null): string | null {
  const terms = query
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  if (!terms.length) return null;
  const words = terms.map((t) => (t.length >= 4 ? `(${t}*|%${t}%)` : `${t}*`)).join(" ");
  return iso ? `@iso:{${iso.toLowerCase().replace(/[^a-z0-9]/g, (c) => `\\${c}`)}} ${words}` : words;
}

export interface SearchRequest {
  path: string;
  query: string;
  iso: string | null;
  limit: number;
}

/**
 * Serves bench/'s search servers: /healthz, and the search endpoints with search-sync's
 * parameters checked (limit 1-100, iso a language tag) and its answer shape; `answer` gives the
 * suggestions, or null for a path it does not serve (404).
 */
export function serveSearch(defaultPort: number, answer: (request: SearchRequest) => Promise<unknown[] | null>): void {
  Bun.serve({
    port: Number(process.env.PORT ?? defaultPort),
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/healthz") return json({ status: "ok" });
      const limit = Number(url.searchParams.get("limit") ?? 30);
      const iso = url.searchParams.get("iso");
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return json({ error: "invalid_request", field: "limit" }, 422);
      if (iso !== null && !/^[A-Za-z-]{2,8}$/.test(iso)) return json({ error: "invalid_request", field: "iso" }, 422);
      const suggestions = await answer({ path: url.pathname, query: url.searchParams.get("query") ?? "", iso, limit });
      return suggestions ? json({ suggestions }) : json({ error: "not_found" }, 404);
    },
  });
}

if (import.meta.main) {
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  serveSearch(8100, async ({ path, query, iso, limit }) => {
    const index = PEER_INDEX[path];
    if (!index) return null;
    const q = peerQuery(query, iso);
    if (q === null) return [];
    const reply = (await redis.call("FT.SEARCH", index, q, "LIMIT", "0", String(limit))) as unknown[];
    const suggestions: Record<string, string>[] = [];
    const seen = new Set<string>();
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const fields = reply[i + 1] as string[];
      const doc: Record<string, string> = {};
      for (let f = 0; f + 1 < fields.length; f += 2) doc[fields[f]!] = fields[f + 1]!;
      const key = `${doc.sku}\u0000${doc.display_name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      suggestions.push({
        sku: doc.sku ?? "",
        name: doc.name ?? "",
        display_name: doc.display_name ?? "",
        origin_name: doc.origin_name ?? "",
        iso: doc.iso ?? "",
        slug: doc.slug ?? "",
        linked: doc.sku ?? "",
      });
    }
    return suggestions;
  });
}
