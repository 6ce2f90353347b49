// Admin endpoints: with ADMIN_API_KEY set they need the key; without it, only loopback clients.
import { createHash, timingSafeEqual } from "node:crypto";
import { ApiError } from "./errors.ts";

// Both sides hashed first: timingSafeEqual needs equal lengths, and the hashes hide the key's length.
const digest = (s: string) => createHash("sha256").update(s).digest();

/** The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`; "" when malformed. */
export function presentedKey(headers: Headers): string | null {
  const auth = headers.get("authorization");
  const bearer = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth.trim()) : null;
  if (bearer) return bearer[1]!;
  const apiKey = headers.get("x-api-key");
  if (apiKey !== null) return apiKey.trim();
  return auth !== null ? "" : null;
}

/** Host names that always mean this machine. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || isLoopback(host);
}

/**
 * Admin endpoints refuse what a web page in a browser could send them, in every auth mode: a
 * request marked cross-site (Sec-Fetch-Site), or from an Origin other than the service's own or
 * one in CORS_ORIGINS. Without ADMIN_API_KEY the loopback rule is the only protection, so the
 * Host must also be a name of this service (a loopback name, BASE_URL's host or ALLOWED_HOSTS):
 * a page on a host name that resolves to 127.0.0.1 (DNS rebinding) is refused.
 */
export function checkBrowserContext(
  config: { adminApiKey: string | null; corsOrigins: readonly string[]; baseUrl: string; allowedHosts: readonly string[] },
  request: Request,
): void {
  const url = new URL(request.url);
  if (config.adminApiKey === null) {
    const hostname = url.hostname.toLowerCase();
    const known = isLoopbackHost(hostname) || hostname === new URL(config.baseUrl).hostname.toLowerCase() || config.allowedHosts.includes(hostname);
    if (!known)
      throw new ApiError(
        "forbidden",
        `admin endpoints answer to Host ${hostname.slice(0, 100)} only when it is a loopback name, the host of BASE_URL or listed in ALLOWED_HOSTS (or ADMIN_API_KEY is set)`,
      );
  }
  if (request.headers.get("sec-fetch-site")?.toLowerCase() === "cross-site")
    throw new ApiError("forbidden", "admin endpoints do not answer cross-site browser requests");
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== url.origin && !config.corsOrigins.includes(origin) && !config.corsOrigins.includes("*"))
    throw new ApiError("forbidden", `admin endpoints do not answer requests from origin ${origin.slice(0, 200)}; CORS_ORIGINS lists the origins that may`);
}

export function isLoopback(ip: string | null | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.toLowerCase().replace(/^::ffff:/, "");
  return ip === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Set by a reverse proxy: such a request comes from someone else even when the proxy runs on
 * this machine and so connects over loopback.
 */
export function isForwarded(headers: Headers): boolean {
  return headers.has("forwarded") || headers.has("x-forwarded-for") || headers.has("x-real-ip");
}

/**
 * Throws 401/403 unless the request may use admin endpoints.
 * `clientIp` null: an in-process request (`app.handle`), treated as loopback.
 */
export function checkAdmin(adminApiKey: string | null, headers: Headers, clientIp: string | null): void {
  if (adminApiKey === null) {
    if ((clientIp === null || isLoopback(clientIp)) && !isForwarded(headers)) return;
    throw new ApiError(
      "forbidden",
      "admin endpoints answer only to loopback clients while ADMIN_API_KEY is not set (requests through a proxy do not count); set ADMIN_API_KEY (at least 16 characters) on the service and send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
    );
  }
  const key = presentedKey(headers);
  if (!key) throw new ApiError("unauthorized", "this endpoint needs the admin key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'");
  if (!timingSafeEqual(digest(key), digest(adminApiKey))) throw new ApiError("forbidden", "the admin key is not valid");
}
