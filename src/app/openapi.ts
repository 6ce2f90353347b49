// The API contract: the OpenAPI document at /swagger/json and Swagger UI at /swagger. The UI's
// assets are served from the binary at a pinned version (swagger-ui-dist in package.json): the
// service usually runs on a VM without internet, where a CDN page would stay blank.
// The document is generated from the routes' schemas and `detail`, then finished here: schemas
// lose the keywords only the validator reads, query parameters carry their description and
// example, and admin routes (those with the admin guard) carry the security schemes.
import { toOpenAPISchema } from "@elysiajs/openapi";
import { SwaggerUIRender } from "@elysiajs/openapi/swagger";
import { Elysia } from "elysia";
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import { ERROR_SCHEMA_NAME, ErrorBody, responses } from "../platform/http/openapi.ts";

export const SPEC_PATH = "/swagger/json";
const ASSETS = "/swagger/assets";
const asset = (body: string, type: string) => () => new Response(body, { headers: { "content-type": type, "cache-control": "public, max-age=86400" } });

interface DocsOptions {
  version: string;
  /** BASE_URL when set to other than its default: the document's server; otherwise the page's own origin. */
  baseUrl: string | null;
  isAdmin(method: string, path: string): boolean;
}

type Json = Record<string, unknown>;
type Schema = Json & {
  properties?: Record<string, Schema>;
  patternProperties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  allOf?: Schema[];
  oneOf?: Schema[];
};

const SECURITY = [{ bearerAuth: [] }, { apiKeyAuth: [] }];
const ADMIN_NOTE =
  "Admin endpoint: send the admin key (ADMIN_API_KEY) as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'; without ADMIN_API_KEY, loopback clients only.";

const TAGS = [
  { name: "search", description: "Autocomplete over the serving index (public)" },
  { name: "push updates", description: "Change one item's entries between runs (admin)" },
  { name: "sync", description: "Start runs that rebuild the index from MongoDB (admin)" },
  { name: "scheduler", description: "The cron and interval jobs" },
  { name: "status", description: "Runs: the last one, the active one, past ones" },
  { name: "health", description: "Probes, service information and metrics" },
];

/** A JSON schema as the document shows it: without `error` (the validator's message for Elysia). */
function cleanSchema(schema: Schema): Schema {
  const { error: _, ...rest } = schema;
  const out: Schema = rest;
  for (const key of ["properties", "patternProperties"] as const)
    if (out[key]) out[key] = Object.fromEntries(Object.entries(out[key] as Record<string, Schema>).map(([k, v]) => [k, cleanSchema(v)]));
  if (out.items) out.items = cleanSchema(out.items);
  for (const key of ["anyOf", "allOf", "oneOf"] as const) if (out[key]) out[key] = out[key].map(cleanSchema);
  if (out.additionalProperties && typeof out.additionalProperties === "object") out.additionalProperties = cleanSchema(out.additionalProperties as Schema);
  return out;
}

/**
 * A query parameter with its description and example beside its schema. A boolean query value is
 * documented as a boolean; t.BooleanString, which also takes the strings "true" and "false",
 * shows as boolean-or-string.
 */
function parameter(p: Json & { schema: Schema }): Json {
  const { description, examples, ...schema } = cleanSchema(p.schema);
  const isBoolean = schema.anyOf?.some((s) => s.type === "boolean");
  return {
    ...p,
    ...(description ? { description } : {}),
    ...(Array.isArray(examples) ? { example: examples[0] } : {}),
    schema: isBoolean ? { type: "boolean" } : schema,
  };
}

function withContentSchemas<T extends Json | undefined>(holder: T): T {
  if (!holder?.content) return holder;
  const content = Object.fromEntries(
    Object.entries(holder.content as Record<string, { schema: Schema }>).map(([type, media]) => [type, { ...media, schema: cleanSchema(media.schema) }]),
  );
  return { ...holder, content };
}

function operation(op: Json, admin: boolean): Json {
  const declared = Object.fromEntries(Object.entries((op.responses ?? {}) as Record<string, Json>).map(([status, r]) => [status, withContentSchemas(r)]));
  const out: Json = {
    ...op,
    ...(op.parameters ? { parameters: (op.parameters as (Json & { schema: Schema })[]).map(parameter) } : {}),
    ...(op.requestBody ? { requestBody: withContentSchemas(op.requestBody as Json) } : {}),
    responses: {
      ...declared,
      ...(admin ? responses({}, ["unauthorized", "forbidden"]) : {}),
      default: {
        description:
          "any other error, in the same shape: 400 (malformed Host), 413 (body over 1 MB), 414 (query over 8 KB), 500; a request line and headers over 16 KB, or a malformed Content-Length, get the HTTP server's own empty 431 or 400",
        content: { "application/json": { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA_NAME}` } } },
      },
    },
  };
  if (admin) out.description = op.description ? `${op.description}\n\n${ADMIN_NOTE}` : ADMIN_NOTE;
  // An empty list: public, no key needed.
  out.security = admin ? SECURITY : [];
  return out;
}

function buildDocument(app: Parameters<typeof toOpenAPISchema>[0], opts: DocsOptions): Json {
  const generated = toOpenAPISchema(app);
  const paths = Object.fromEntries(
    Object.entries(generated.paths as Record<string, Record<string, Json>>).map(([path, ops]) => [
      path,
      Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, operation(op, opts.isAdmin(method.toUpperCase(), path))])),
    ]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "search-sync",
      version: opts.version,
      description: "Keeps a Redis search index of the catalog in step with MongoDB and serves autocomplete search over it.",
    },
    // "/": the origin the document was fetched from.
    servers: [opts.baseUrl ? { url: serverUrl(opts.baseUrl), description: "BASE_URL" } : { url: "/", description: "this service" }],
    tags: TAGS,
    paths,
    components: {
      schemas: { ...generated.components.schemas, [ERROR_SCHEMA_NAME]: cleanSchema(ErrorBody as unknown as Schema) },
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "the admin key (ADMIN_API_KEY) as 'Authorization: Bearer <key>'" },
        apiKeyAuth: { type: "apiKey", in: "header", name: "X-API-Key", description: "the admin key (ADMIN_API_KEY) as 'X-API-Key: <key>'" },
      },
    },
  };
}

export function apiDocs(opts: DocsOptions) {
  const info = { title: "search-sync", version: opts.version, description: "The search-sync HTTP API" };
  const page = SwaggerUIRender(info, {
    // An absolute spec URL, so that /swagger/ (trailing slash) finds it too.
    url: SPEC_PATH,
    theme: `${ASSETS}/swagger-ui.css`,
    cdn: `${ASSETS}/swagger-ui-bundle.js`,
  });
  const docs = new Elysia({ name: "api-docs" });
  // Built on first request, when every route is in place.
  let document: Json | null = null;
  return docs
    .get("/swagger", () => new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } }), { detail: { hide: true } })
    .get(
      SPEC_PATH,
      () => {
        document ??= buildDocument(docs, opts);
        return document;
      },
      { detail: { hide: true } },
    )
    .get(`${ASSETS}/swagger-ui.css`, asset(swaggerCss, "text/css; charset=utf-8"), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui-bundle.js`, asset(swaggerJs, "text/javascript; charset=utf-8"), { detail: { hide: true } });
}

/** BASE_URL as the document's server: without a user name or password (the document is public) or a trailing slash. */
function serverUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.username = "";
  url.password = "";
  return url.href.replace(/\/+$/, "");
}
