import type { Config } from "../config.ts";
import { checkAdmin, checkBrowserContext } from "./auth.ts";

export type Server = { requestIP(req: Request): { address: string } | null } | null;

/** The client's IP address; null for an in-process request (`app.handle`, no server). */
export type ClientIp = (request: Request, server: Server) => string | null;

export const serverClientIp: ClientIp = (request, server) => (server ? (server.requestIP(request)?.address ?? "") : null);

const ADMIN = Symbol("admin guard");
type Guard = ((ctx: { request: Request; server: Server }) => void) & { [ADMIN]: true };

export type AdminConfig = Pick<Config, "adminApiKey" | "corsOrigins" | "baseUrl" | "allowedHosts">;

// Requests that passed the admin check: the request guards check admin routes before the body is
// read, and the route's own guard (kept as a second line of defence) then does not check again.
const admitted = new WeakSet<Request>();

/** Throws 401/403 unless the request may use admin endpoints; checks a request once. */
export function admitAdmin(config: AdminConfig, request: Request, clientIp: string | null): void {
  if (admitted.has(request)) return;
  checkBrowserContext(config, request);
  checkAdmin(config.adminApiKey, request.headers, clientIp);
  admitted.add(request);
}

/** A beforeHandle hook for admin routes. `clientIp` replaceable for tests (a non-loopback client). */
export function adminGuard(config: AdminConfig, clientIp: ClientIp = serverClientIp): Guard {
  const guard = ({ request, server }: { request: Request; server: Server }) => admitAdmin(config, request, clientIp(request, server));
  return Object.assign(guard, { [ADMIN]: true as const });
}

export type RouteLike = { method: string; path: string; hooks?: { beforeHandle?: unknown } };

/** Whether a route carries an admin guard (from `adminGuard`) among its beforeHandle hooks. */
export function isAdminRoute(route: RouteLike): boolean {
  const hooks = route.hooks?.beforeHandle;
  const list = Array.isArray(hooks) ? hooks : hooks ? [hooks] : [];
  return list.some((h) => {
    const fn = typeof h === "function" ? h : (h as { fn?: unknown })?.fn;
    return typeof fn === "function" && ADMIN in fn;
  });
}
