// The HTTP application, built from its dependencies; it does not listen (src/main.ts does).
import { Elysia, type ValidationError } from "elysia";
import { itemRoutes } from "../items/routes.ts";
import { dashboardRoutes } from "../ops/dashboard.ts";
import { healthRoutes } from "../ops/health.ts";
import { httpObserver } from "../ops/http-observe.ts";
import { metricsRoutes } from "../ops/metrics-routes.ts";
import { DEFAULT_BASE_URL } from "../platform/config.ts";
import { ApiError, errorResponse } from "../platform/http/errors.ts";
import { RouteIndex, requestGuards, SERVE_MAX_BODY_BYTES } from "../platform/http/limits.ts";
import { syncRoutes } from "../runs/routes.ts";
import { schedulerRoutes } from "../scheduler/routes.ts";
import { searchRoutes } from "../search/routes.ts";
import type { AppDeps } from "./deps.ts";
import { apiDocs } from "./openapi.ts";

export type { AppDeps } from "./deps.ts";

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

// A 404 names the path it did not find, cut to this many characters.
const MAX_PATH_IN_MESSAGE = 200;

// normalize: false everywhere: Elysia's normalisation turns a string where an array is expected
// into an array of empty objects, so the 422 would name the wrong field.
export function createApp(deps: AppDeps) {
  const routes = new RouteIndex();

  /** The app's answer to an error: one JSON shape, a fitting status. */
  const errorAnswer = ({ code, error: raised, request }: { code: unknown; error: unknown; request: Request }): Response => {
    // An ApiError thrown by the body parser (413, bad JSON, too deep) arrives wrapped in a ParseError.
    const cause = code === "PARSE" ? (raised as Error).cause : undefined;
    if (cause instanceof ApiError) return Response.json(cause.toJSON(), { status: cause.status });
    if (raised instanceof ApiError) return Response.json(raised.toJSON(), { status: raised.status });
    switch (code) {
      case "VALIDATION": {
        const error = raised as ValidationError;
        // Schemas carry `error: "<field>: <what is expected>"`. The failing path names the field
        // (array indexes dropped); a coerced query value has no path, so its own message does.
        const first = error.all[0] as { path?: string; summary?: string; message?: string } | undefined;
        const custom = typeof error.customError === "string" ? /^([\w.]+): (.+)$/.exec(error.customError) : null;
        const field = fieldOf(error.value, first?.path, custom?.[1] ?? error.type);
        const message = custom && custom[1] === field ? custom[0] : `${field}: ${first?.summary ?? first?.message ?? "invalid value"}`;
        return errorResponse("invalid_request", message, { field });
      }
      case "NOT_FOUND": {
        const fullPath = new URL(request.url).pathname;
        const allowed = routes.methodsOf(fullPath);
        const path = fullPath.slice(0, MAX_PATH_IN_MESSAGE);
        if (allowed.length)
          return errorResponse("method_not_allowed", `${path} answers to ${allowed.join(", ")}, not ${request.method}`, {}, { allow: allowed.join(", ") });
        return errorResponse("not_found", `no route for ${request.method} ${path}`);
      }
      case "PARSE":
        return errorResponse("bad_request", "the request body could not be parsed (expected JSON)");
      default:
        deps.logger.error("request failed", { method: request.method, url: request.url, err: raised });
        return errorResponse("internal_error", "internal error; see the service log");
    }
  };

  const observer = httpObserver({
    metrics: deps.metrics,
    logger: deps.logger,
    logRequests: deps.config.logRequests,
    clientIp: deps.clientIp,
    routeOf: (path) => routes.pathOf(path),
  });
  const app = new Elysia({ normalize: false, serve: { maxRequestBodySize: SERVE_MAX_BODY_BYTES } })
    .onError((ctx) => observer.noteStatus(ctx.request, errorAnswer(ctx)))
    .use(observer.plugin)
    .use(
      apiDocs({
        version: deps.version,
        baseUrl: deps.config.baseUrl === DEFAULT_BASE_URL ? null : deps.config.baseUrl,
        isAdmin: (method, path) => routes.isAdmin(method, path),
      }),
    )
    .use(requestGuards({ config: deps.config, clientIp: deps.clientIp, routes }))
    .get("/", () => ({ name: "search-sync", version: deps.version, docs: "/swagger" }), { detail: { hide: true } })
    .use(healthRoutes(deps))
    .use(syncRoutes({ ...deps, changeStream: () => deps.changes?.status() ?? null }))
    .use(schedulerRoutes(deps))
    .use(metricsRoutes(deps.metrics))
    .use(dashboardRoutes())
    .use(searchRoutes(deps.search))
    .use(itemRoutes(deps.store, deps.config, deps.clientIp));
  routes.attach(() => app.routes);
  return app;
}

export type App = ReturnType<typeof createApp>;
