import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { embeddedMigrations } from "./migrations.ts";
import * as schema from "./schema.ts";

export type HistoryDb = BunSQLiteDatabase<typeof schema> & { $client: Database };

export class HistoryDbError extends Error {
  override name = "HistoryDbError";
}

// Opening may wait this long for another connection's write (a migration needs the write lock);
// afterwards no statement waits at all: a locked database fails at once and writes are retried
// (repo.ts), so the event loop never stalls on SQLite.
const OPEN_BUSY_TIMEOUT_MS = 5_000;

/** Opens (creating if needed) and migrates the history database. Relative paths are against the working directory. */
export function openHistoryDb(path: string): HistoryDb {
  const file = path === ":memory:" ? path : resolve(process.cwd(), path);
  let sqlite: Database;
  try {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    sqlite = new Database(file, { create: true, strict: true });
    sqlite.exec(`PRAGMA busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;`);
  } catch (err) {
    throw new HistoryDbError(`cannot open history database ${file}: ${(err as Error).message}`);
  }
  try {
    const check = sqlite.query("PRAGMA quick_check").get() as { quick_check?: string } | null;
    if (check && check.quick_check !== "ok") throw new Error(`integrity check failed: ${firstProblem(String(check.quick_check))}`);
    const db = drizzle({ client: sqlite, schema });
    // drizzle's public migrate() reads a folder; the dialect's migrate takes the embedded list.
    (db as unknown as { dialect: { migrate(m: unknown, s: unknown, c: unknown): void }; session: unknown }).dialect.migrate(
      embeddedMigrations(),
      (db as unknown as { session: unknown }).session,
      {},
    );
    sqlite.exec("PRAGMA busy_timeout = 0");
    return db as HistoryDb;
  } catch (err) {
    sqlite.close();
    throw new HistoryDbError(`history database ${file} is not usable: ${(err as Error).message}`);
  }
}

/** quick_check reports one problem per line (a damaged file: hundreds); start-up errors are one line. */
function firstProblem(report: string): string {
  const problems = report.split("\n").filter((line) => line.trim() && !line.startsWith("***"));
  return problems.length > 1 ? `${problems[0]} (and ${problems.length - 1} more problems)` : (problems[0] ?? report);
}
