// The API contract: the OpenAPI document at /swagger/json and Swagger UI at /swagger. The UI's
// assets are served from the binary at a pinned version (swagger-ui-dist in package.json): the
// service usually runs on a VM without internet, where a CDN page would stay blank.
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };

const ASSETS = "/swagger/assets";
const asset = (body: string, type: string) => () => new Response(body, { headers: { "content-type": type, "cache-control": "public, max-age=86400" } });

export function apiDocs(version: string) {
  return new Elysia({ name: "api-docs" })
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        swagger: {
          // An absolute spec URL, so that /swagger/ (trailing slash) finds it too; the plugin
          // passes it on to Swagger UI, but its options type leaves `url` out.
          ...({ url: "/swagger/json" } as object),
          theme: `${ASSETS}/swagger-ui.css`,
          cdn: `${ASSETS}/swagger-ui-bundle.js`,
        },
        documentation: {
          info: {
            title: "search-sync",
            version,
            description: "Keeps a Redis search index of the catalog in step with MongoDB and serves autocomplete search over it.",
          },
        },
      }),
    )
    .get(`${ASSETS}/swagger-ui.css`, asset(swaggerCss, "text/css; charset=utf-8"), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui-bundle.js`, asset(swaggerJs, "text/javascript; charset=utf-8"), { detail: { hide: true } });
}
