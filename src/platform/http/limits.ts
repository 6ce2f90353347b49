// What every request passes before it reaches a route: CORS, size limits, the admin check of admin
// routes (before the body is parsed or validated, so a client without the key gets 401, not 422),
// and the one body parser (JSON only, read with a size cap, nesting depth checked before parsing).
import { Elysia } from "elysia";
import { type AdminConfig, admitAdmin, type ClientIp, isAdminRoute, type RouteLike, type Server, serverClientIp } from "./admin.ts";
import { ApiError } from "./errors.ts";

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_QUERY_BYTES = 8 * 1024;
export const MAX_JSON_DEPTH = 64;
/**
 * Bun.serve answers a Content-Length above its `maxRequestBodySize` (default 128 MB) itself, with
 * an empty 413; past any real length, our JSON 413 answers instead. Nothing is buffered because of
 * it: the bodies we read stop at MAX_BODY_BYTES, and a 413 closes the connection.
 */
export const SERVE_MAX_BODY_BYTES = Number.MAX_SAFE_INTEGER;

const CORS_METHODS = "GET, POST, PUT, DELETE";
const CORS_HEADERS = "Authorization, X-API-Key, Content-Type";

/** The app's routes by path, built on first use (routes are all added by then). */
export class RouteIndex {
  private built: { admin: Set<string>; methods: Map<string, string[]> } | null = null;
  private routes: () => readonly RouteLike[] = () => [];

  attach(routes: () => readonly RouteLike[]): void {
    this.routes = routes;
    this.built = null;
  }

  private index() {
    if (this.built) return this.built;
    const admin = new Set<string>();
    const methods = new Map<string, string[]>();
    for (const route of this.routes()) {
      if (isAdminRoute(route)) admin.add(`${route.method} ${route.path}`);
      methods.set(route.path, [...(methods.get(route.path) ?? []), route.method]);
    }
    this.built = { admin, methods };
    return this.built;
  }

  /** Whether `method path` is an admin route; HEAD runs the GET handler, so it counts as GET. */
  isAdmin(method: string, path: string): boolean {
    const m = method === "HEAD" ? "GET" : method;
    const { admin } = this.index();
    return admin.has(`${m} ${path}`) || admin.has(`${m} ${trimSlash(path)}`);
  }

  /** The route path a request path is (with or without a trailing slash), or null for an unknown path. */
  pathOf(path: string): string | null {
    const { methods } = this.index();
    return methods.has(path) ? path : methods.has(trimSlash(path)) ? trimSlash(path) : null;
  }

  /** The methods a path answers to (for 405), empty for an unknown path. */
  methodsOf(path: string): string[] {
    const { methods } = this.index();
    return methods.get(path) ?? methods.get(trimSlash(path)) ?? [];
  }
}

const trimSlash = (path: string) => (path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path);

const tooLarge = () => new ApiError("payload_too_large", `the request body is larger than ${MAX_BODY_BYTES} bytes (1 MB)`);

/** The body, at most `max` bytes: more → 413 (the rest is not read). */
async function readCapped(request: Request, max = MAX_BODY_BYTES): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        void reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError("bad_request", "the request body could not be read");
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Whether JSON text nests arrays/objects deeper than `max` (checked before JSON.parse, which recurses). */
export function jsonDepthExceeds(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A request body as JSON: null when empty; 400 when not UTF-8 or not JSON; 422 when too deep or not JSON's type. */
export function parseJsonBody(bytes: Uint8Array, contentType: string | null): unknown {
  if (bytes.byteLength === 0) return null;
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  // text/plain and form types are what a web page may send cross-site without a preflight: refused.
  if (type && type !== "application/json" && !type.endsWith("+json"))
    throw new ApiError("unsupported_media_type", `the body must be JSON, sent as Content-Type: application/json (got ${type.slice(0, 100)})`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ApiError("bad_request", "the request body is not valid UTF-8");
  }
  if (!text.trim()) return null;
  if (jsonDepthExceeds(text)) throw new ApiError("invalid_request", `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`, { field: "body" });
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("bad_request", "the request body could not be parsed (expected JSON)");
  }
}

interface GuardOptions {
  config: AdminConfig;
  clientIp?: ClientIp;
  routes: RouteIndex;
}

/** Allowed origin → the value of Access-Control-Allow-Origin; null: not allowed. */
function corsOrigin(origins: readonly string[], origin: string | null): string | null {
  if (!origin) return null;
  if (origins.includes("*")) return "*";
  return origins.includes(origin) ? origin : null;
}

export function requestGuards({ config, clientIp = serverClientIp, routes }: GuardOptions) {
  // Bodies of requests without Content-Length (chunked), read in onRequest so that the 1 MB limit
  // holds for every route, including those that never parse their body.
  const preRead = new WeakMap<Request, Uint8Array>();
  return new Elysia()
    .onRequest(async (ctx) => {
      const { request, set, server } = ctx;
      // Bun builds request.url from the Host header; a missing or malformed one makes no URL.
      if (!URL.canParse(request.url)) throw new ApiError("bad_request", "the Host header is missing or not a valid host name");
      const origin = request.headers.get("origin");
      const allowOrigin = corsOrigin(config.corsOrigins, origin);
      if (allowOrigin) set.headers["access-control-allow-origin"] = allowOrigin;
      if (config.corsOrigins.length && allowOrigin !== "*") set.headers.vary = "Origin";
      if (request.method === "OPTIONS" && origin && request.headers.has("access-control-request-method")) {
        if (!allowOrigin)
          throw new ApiError("forbidden", `origin ${origin.slice(0, 200)} may not call this API from a browser: CORS_ORIGINS lists the origins that may`);
        return new Response(null, {
          status: 204,
          headers: {
            "access-control-allow-origin": allowOrigin,
            "access-control-allow-methods": CORS_METHODS,
            "access-control-allow-headers": CORS_HEADERS,
            "access-control-max-age": "600",
            ...(allowOrigin === "*" ? {} : { vary: "Origin" }),
          },
        });
      }

      const q = request.url.indexOf("?");
      if (q !== -1 && request.url.length - q - 1 > MAX_QUERY_BYTES)
        throw new ApiError("uri_too_long", `the query string is longer than ${MAX_QUERY_BYTES} bytes`);

      const length = request.headers.get("content-length");
      if (length !== null && !/^\d+$/.test(length.trim())) throw new ApiError("bad_request", "the Content-Length header is not a number");
      if (length !== null && Number(length) > MAX_BODY_BYTES) {
        set.headers.connection = "close";
        throw tooLarge();
      }

      // Elysia routes by its own reading of the path (`ctx.path`, untyped); both readings are checked.
      const elysiaPath = (ctx as { path?: unknown }).path;
      const paths = [new URL(request.url).pathname, ...(typeof elysiaPath === "string" ? [elysiaPath] : [])];
      if (paths.some((p) => routes.isAdmin(request.method, p))) admitAdmin(config, request, clientIp(request, server as Server));

      if (length === null && request.body) {
        try {
          preRead.set(request, await readCapped(request));
        } catch (err) {
          set.headers.connection = "close";
          throw err;
        }
      }
    })
    .onParse({ as: "global" }, async ({ request, set }) => {
      let bytes = preRead.get(request);
      if (!bytes) {
        try {
          bytes = await readCapped(request);
        } catch (err) {
          set.headers.connection = "close";
          throw err;
        }
      }
      return parseJsonBody(bytes, request.headers.get("content-type"));
    });
}
