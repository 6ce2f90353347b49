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
