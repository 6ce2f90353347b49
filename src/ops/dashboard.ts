// GET /dashboard: one self-contained page (inline CSS, JS and SVG charts) that reads
// /sync-status?history=true and /scheduler/status. The CSP keeps it from loading anything else.
import { Elysia, t } from "elysia";
import { responses } from "../platform/http/openapi.ts";
import page from "./dashboard.html" with { type: "text" };

// bun-types declares *.html imports as HTML bundles; imported as text it is the file's contents.
const DASHBOARD_HTML = page as unknown as string;

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function dashboardRoutes() {
  return new Elysia({ name: "dashboard-routes" }).get(
    "/dashboard",
    () =>
      new Response(DASHBOARD_HTML, {
        headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": DASHBOARD_CSP, "cache-control": "no-cache" },
      }),
    {
      detail: {
        summary: "History dashboard: current status, next scheduled runs, run durations and entries over time, last failures",
        tags: ["status"],
        responses: responses({ 200: { description: "the page", schema: t.String(), type: "text/html" } }),
      },
    },
  );
}
