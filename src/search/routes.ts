// Autocomplete endpoints of the service this one replaces.
import { Elysia, t } from "elysia";
import { EntrySchema, ISO_PATTERN, ISO_RULE, type ItemType } from "../catalog/types.ts";
import { ApiError } from "../platform/http/errors.ts";
import { responses } from "../platform/http/openapi.ts";
import { decimalQuery } from "../platform/http/params.ts";
import type { SearchService } from "./service.ts";

export const SearchQuery = t.Object({
  query: t.Optional(
    t.String({
      maxLength: 200,
      description: "the words typed so far; the last one may be the start of a word (empty: list alphabetically)",
      examples: ["mailer box"],
      error: "query: must be at most 200 characters",
    }),
  ),
  iso: t.Optional(
    t.String({
      pattern: ISO_PATTERN,
      description: "language filter, e.g. en, nl, pt-br",
      examples: ["en"],
      error: `iso: must be ${ISO_RULE}, e.g. en or pt-br`,
    }),
  ),
  limit: t.Optional(decimalQuery("limit", 100, "how many suggestions, 1-100 (default 30)", "10")),
});

const SearchResponse = t.Object({ suggestions: t.Array(EntrySchema) });

export const ROUTES: { path: string; type: ItemType }[] = [
  { path: "/category-search", type: "categories" },
  { path: "/categories-search", type: "categories" },
  { path: "/boxes-search", type: "boxes" },
  { path: "/options-search", type: "options" },
];

export function searchRoutes(search: SearchService) {
  const app = new Elysia({ name: "search-routes", normalize: false });
  for (const { path, type } of ROUTES) {
    app.get(
      path,
      async ({ query }) => {
        try {
          const json = await search.suggestionsJson(type, { query: query.query ?? "", iso: query.iso, limit: query.limit ?? 30 });
          return new Response(json, { headers: { "content-type": "application/json" } });
        } catch (err) {
          if (err instanceof ApiError) throw err;
          throw new ApiError("index_unavailable", `the search index cannot be read right now: ${(err as Error).message}`);
        }
      },
      {
        query: SearchQuery,
        // Documented, not validated: checking every suggestion on the way out costs the hot path.
        detail: {
          summary: `Autocomplete over ${type}`,
          tags: ["search"],
          responses: responses({ 200: { description: "suggestions, best first", schema: SearchResponse } }, ["invalid_request", "index_unavailable"]),
        },
      },
    );
  }
  return app;
}
