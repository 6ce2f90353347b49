// Admin endpoints: with ADMIN_API_KEY set they need the key; without it, only loopback clients.
import { createHash, timingSafeEqual } from "node:crypto";
import { ApiError } from "./errors.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

export function presentedKey(headers: Headers): string | null {
  const auth = headers.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    return m ? m[1]!.trim() : "";
  }
  return headers.get("x-api-key");
}

export function isLoopback(ip: string | null | undefined): boolean {
  if (!ip) return false;
  return ip === "::1" || ip.startsWith("127.") || ip.startsWith("::ffff:127.");
}

/** Throws 401/403 unless the request may use admin endpoints. `clientIp` null: in-process request. */
export function checkAdmin(adminApiKey: string | null, headers: Headers, clientIp: string | null): void {
  if (adminApiKey === null) {
    if (clientIp === null || isLoopback(clientIp)) return;
    throw new ApiError("forbidden", "admin endpoints answer only to loopback clients while ADMIN_API_KEY is not set; set ADMIN_API_KEY and send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'");
  }
  const key = presentedKey(headers);
  if (!key) throw new ApiError("unauthorized", "this endpoint needs the admin key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'");
  if (!timingSafeEqual(digest(key), digest(adminApiKey))) throw new ApiError("forbidden", "the admin key is not valid");
}
