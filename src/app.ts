// The HTTP application, built from its dependencies; it does not listen (src/main.ts does).
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import type { AppDeps } from "./http/deps.ts";
import { ApiError, errorResponse } from "./http/errors.ts";
import { healthRoutes } from "./http/health.ts";
import { schedulerRoutes } from "./http/scheduler.ts";
import { itemRoutes } from "./http/items.ts";
import { searchRoutes } from "./http/search.ts";
import { syncRoutes } from "./http/sync.ts";

export type { AppDeps } from "./http/deps.ts";

/** The field a validation error is about: its path, cut where the input stops being an object. */
function fieldOf(value: unknown, path: string | undefined, fallback: string): string {
  const named: string[] = [];
  let current = value;
  for (const part of (path ?? "").split("/").filter(Boolean)) {
    if (current === null || typeof current !== "object") break;
    current = (current as Record<string, unknown>)[part];
    if (!/^\d+$/.test(part)) named.push(part);
  }
  return named.join(".") || fallback;
}

// normalize: false everywhere: Elysia's normalisation turns a string where an array is expected
// into an array of empty objects, so the 422 would name the wrong field.
export function createApp(deps: AppDeps) {
  return new Elysia({ normalize: false })
    .onError(({ code, error, request }) => {
      if (error instanceof ApiError) return Response.json(error.toJSON(), { status: error.status });
      switch (code) {
        case "VALIDATION": {
          // Schemas carry `error: "<field>: <what is expected>"`. The failing path names the field
          // (array indexes dropped); a coerced query value has no path, so its own message does.
          const first = error.all[0] as { path?: string; summary?: string; message?: string } | undefined;
          const custom = typeof error.customError === "string" ? /^([\w.]+): (.+)$/.exec(error.customError) : null;
          const field = fieldOf(error.value, first?.path, custom?.[1] ?? error.type);
          const message = custom && custom[1] === field ? custom[0] : `${field}: ${first?.summary ?? first?.message ?? "invalid value"}`;
          return errorResponse("invalid_request", message, { field });
        }
        case "NOT_FOUND":
          return errorResponse("not_found", `no route for ${request.method} ${new URL(request.url).pathname}`);
        case "PARSE":
          return errorResponse("bad_request", "the request body could not be parsed (expected JSON)");
        default:
          deps.logger.error("request failed", { method: request.method, url: request.url, error: String((error as Error)?.message ?? error) });
          return errorResponse("internal_error", "internal error; see the service log");
      }
    })
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        documentation: {
          info: {
            title: "search-sync",
            version: deps.version,
            description: "Keeps a Redis search index of the catalog in step with MongoDB and serves autocomplete search over it.",
          },
        },
      }),
    )
    .get("/", () => ({ name: "search-sync", version: deps.version, docs: "/swagger" }), { detail: { hide: true } })
    .use(healthRoutes(deps))
    .use(syncRoutes(deps))
    .use(schedulerRoutes(deps))
    .use(searchRoutes(deps.search))
    .use(itemRoutes(deps.store, deps.config));
}

export type App = ReturnType<typeof createApp>;
