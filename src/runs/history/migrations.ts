// Migration SQL embedded in the bundle: drizzle's own migrate() reads a folder at run time,
// which does not exist next to the compiled binary. Every file of drizzle/ must be listed here
// (a test checks it).
import { createHash } from "node:crypto";
import type { MigrationMeta } from "drizzle-orm/migrator";
import m0000 from "../../../drizzle/0000_init.sql" with { type: "text" };
import m0001 from "../../../drizzle/0001_replica.sql" with { type: "text" };
import journal from "../../../drizzle/meta/_journal.json";

export const MIGRATION_SQL: Record<string, string> = {
  "0000_init": m0000,
  "0001_replica": m0001,
};

export function embeddedMigrations(): MigrationMeta[] {
  return journal.entries.map((entry) => {
    const query = MIGRATION_SQL[entry.tag];
    if (query === undefined) throw new Error(`migration ${entry.tag} is not embedded in src/runs/history/migrations.ts`);
    return {
      sql: query.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: createHash("sha256").update(query).digest("hex"),
    };
  });
}
