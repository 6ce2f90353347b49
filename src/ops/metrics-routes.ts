// GET /metrics (Prometheus text format). Requests are timed by the HTTP observer (http-observe.ts).
import { Elysia, t } from "elysia";
import { responses } from "../platform/http/openapi.ts";
import type { Metrics } from "./metrics.ts";

export function metricsRoutes(metrics: Metrics) {
  return new Elysia({ name: "metrics-routes" }).get(
    "/metrics",
    async () => new Response(await metrics.exposition(), { headers: { "content-type": metrics.contentType } }),
    {
      detail: {
        summary: "Prometheus metrics: runs, run duration, entries, search requests and latency, process",
        tags: ["health"],
        responses: responses({ 200: { description: "Prometheus text exposition format", schema: t.String(), type: "text/plain" } }),
      },
    },
  );
}
