// GET /metrics (Prometheus text format), and the hooks that time the search routes.
import { Elysia, StatusMap } from "elysia";
import type { ItemType } from "../catalog/types.ts";
import { ROUTES } from "../search/routes.ts";
import type { Metrics } from "./metrics.ts";

const SEARCH_TYPE = new Map<string, ItemType>(ROUTES.map((r) => [r.path, r.type]));

/** Use before the search routes: the hooks only see routes registered after them. */
export function metricsRoutes(metrics: Metrics) {
  const started = new WeakMap<Request, number>();
  return new Elysia({ name: "metrics-routes" })
    .onRequest(({ request }) => {
      started.set(request, performance.now());
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const type = SEARCH_TYPE.get(route);
      const t0 = started.get(request);
      if (!type || t0 === undefined) return;
      // A handler that returns a Response leaves set.status at 200; errors set it.
      const status =
        responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : (StatusMap[set.status ?? "OK"] ?? 200);
      metrics.recordSearch(type, status, (performance.now() - t0) / 1000);
    })
    .get("/metrics", async () => new Response(await metrics.exposition(), { headers: { "content-type": metrics.contentType } }), {
      detail: { summary: "Prometheus metrics: runs, run duration, entries, search requests and latency, process", tags: ["health"] },
    });
}
