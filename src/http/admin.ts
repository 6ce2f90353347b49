import type { Config } from "../config.ts";
import { checkAdmin } from "./auth.ts";

type Server = { requestIP(req: Request): { address: string } | null } | null;

/** A beforeHandle hook for admin routes. */
export function adminGuard(config: Pick<Config, "adminApiKey">) {
  return ({ request, server }: { request: Request; server: Server }) => {
    checkAdmin(config.adminApiKey, request.headers, server ? (server.requestIP(request)?.address ?? "") : null);
  };
}
