// What every HTTP request leaves behind once answered: the optional access log (LOG_REQUESTS=true)
// and the request metrics. Labels and log fields name the route's pattern (/categories), never the
// raw path, so neither a client's paths nor its query strings reach the log or the series.
import { Elysia, StatusMap } from "elysia";
import type { ItemType } from "../catalog/types.ts";
import { type ClientIp, type Server, serverClientIp } from "../platform/http/admin.ts";
import type { Logger } from "../platform/log.ts";
import { ROUTES } from "../search/routes.ts";
import type { Metrics } from "./metrics.ts";

const SEARCH_TYPE = new Map<string, ItemType>(ROUTES.map((r) => [r.path, r.type]));

/** A request for a path no route has (404): one label for all of them. */
export const UNMATCHED_ROUTE = "unmatched";

interface ObserveDeps {
  metrics: Metrics;
  logger: Logger;
  /** LOG_REQUESTS: one log line per request. */
  logRequests: boolean;
  clientIp?: ClientIp;
  /**
   * The route path of a request path, or null: names the route of a request answered before
   * routing (a guard's 403, 413, 415) or refused for its method (405).
   */
  routeOf?: (path: string) => string | null;
}

/** The path of a request's URL; also of one whose Host header made it unparsable (answered 400). */
function pathOf(url: string): string {
  return URL.canParse(url) ? new URL(url).pathname : (/^[a-z]+:\/\/[^/?#]*(\/[^?#]*)?/i.exec(url)?.[1] ?? "/");
}

/** `plugin`: use it first, its hooks see the routes registered after it. */
export function httpObserver({ metrics, logger, logRequests, clientIp = serverClientIp, routeOf = () => null }: ObserveDeps) {
  const started = new WeakMap<Request, { t0: number; ip: string }>();
  const errorStatus = new WeakMap<Request, number>();
  /** Counts an answered request, and logs it with LOG_REQUESTS. */
  const observe = (
    request: Request,
    route: string,
    set: { status?: number | keyof typeof StatusMap },
    responseValue: unknown,
    start: { t0: number; ip: string },
  ) => {
    const { t0, ip } = start;
    const seconds = (performance.now() - t0) / 1000;
    // A handler that returns a Response leaves set.status at 200; errors answer through noteStatus.
    const status =
      errorStatus.get(request) ??
      (responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : (StatusMap[set.status ?? "OK"] ?? 200));
    const pattern = route || routeOf(pathOf(request.url)) || UNMATCHED_ROUTE;
    metrics.recordHttp(request.method, pattern, status, seconds);
    const type = SEARCH_TYPE.get(pattern);
    if (type) metrics.recordSearch(type, status, seconds);
    if (!logRequests) return;
    const ms = Math.round(seconds * 10_000) / 10;
    logger.info(`${request.method} ${pattern} ${status} ${ms} ms ${ip}`, {
      method: request.method,
      route: pattern,
      status,
      duration_ms: ms,
      client_ip: ip,
    });
  };
  const plugin = new Elysia({ name: "http-observer" })
    .onRequest(({ request, server }) => {
      // The client's address while its connection is surely open (not after the answer).
      const ip = logRequests ? clientIp(request, server as Server) || "-" : "-";
      started.set(request, { t0: performance.now(), ip });
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const start = started.get(request);
      if (start === undefined) return;
      try {
        observe(request, route, set, responseValue, start);
      } catch {
        // Runs after the answer, where nobody would catch it: a request's bookkeeping must not take the process down.
      }
    });
  /** Remembers the status of the error handler's answer (Elysia's `set.status` does not show it), and passes the answer on. */
  const noteStatus = (request: Request, response: Response): Response => {
    errorStatus.set(request, response.status);
    return response;
  };
  return { plugin, noteStatus };
}
