import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { embeddedMigrations } from "./migrations.ts";
import * as schema from "./schema.ts";

export type HistoryDb = BunSQLiteDatabase<typeof schema> & { $client: Database };

export class HistoryDbError extends Error {
  override name = "HistoryDbError";
  /** A lock another process holds: it passes (exit 1, systemd starts the service again), unlike a path to fix (exit 2). */
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/**
 * Why a history database cannot be used by this release because a newer one migrated it (its
 * schema has a migration this release does not know), or null.
 */
export function newerSchema(sqlite: Database): string | null {
  const table = sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  if (!table) return null;
  const last = Number((sqlite.query("SELECT max(created_at) AS last FROM __drizzle_migrations").get() as { last: number | null }).last ?? 0);
  const known = Math.max(...embeddedMigrations().map((m) => m.folderMillis));
  if (last <= known) return null;
  return `its schema is newer than this release knows (a migration of ${new Date(last).toISOString()}): run the release that wrote it, or use another HISTORY_DB_PATH`;
}

export interface OpenedHistoryDb {
  db: HistoryDb;
  /** The absolute path of the database file. */
  file: string;
  /** A corrupt file found at the path, moved aside so that a fresh database could be created. */
  corrupt: { problem: string; movedTo: string } | null;
}

// Opening may wait this long for another connection's write (a migration needs the write lock);
// afterwards no statement waits at all: a locked database fails at once and writes are retried
// (repo.ts), so the event loop never stalls on SQLite.
const OPEN_BUSY_TIMEOUT_MS = 5_000;

/** A file SQLite cannot use as a database: moving it aside and starting afresh is the only way on. */
class CorruptError extends Error {}

/**
 * Opens (creating if needed) and migrates the history database. Relative paths are against the
 * working directory. A corrupt file is moved to `<file>.corrupt-<timestamp>` and replaced by a
 * fresh one; a path where no database can be opened or created at all is a HistoryDbError.
 */
export function openHistoryDb(path: string): OpenedHistoryDb {
  const file = resolve(process.cwd(), path);
  try {
    return { db: openFile(file), file, corrupt: null };
  } catch (err) {
    if (!(err instanceof CorruptError)) throw err;
    const movedTo = moveAside(file, err.message);
    return { db: openFile(file), file, corrupt: { problem: err.message, movedTo } };
  }
}

function openFile(file: string): HistoryDb {
  let sqlite: Database;
  try {
    mkdirSync(dirname(file), { recursive: true });
    sqlite = new Database(file, { create: true, strict: true });
  } catch (err) {
    throw new HistoryDbError(`cannot open history database ${file}: ${(err as Error).message}`);
  }
  try {
    sqlite.exec(`PRAGMA busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
    // Checked before anything is written, so that a corrupt file is moved aside as it was found.
    const check = sqlite.query("PRAGMA quick_check").get() as { quick_check?: string } | null;
    if (check && check.quick_check !== "ok") throw new CorruptError(`integrity check failed: ${firstProblem(String(check.quick_check))}`);
    const newer = newerSchema(sqlite);
    if (newer) throw new HistoryDbError(`history database ${file} is not usable: ${newer}`);
    sqlite.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
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
    if (err instanceof CorruptError || err instanceof HistoryDbError) throw err;
    // A migration's failure comes wrapped ("Failed to run the query …"): its cause says why.
    const cause = (err as { cause?: unknown }).cause;
    const reason = cause instanceof Error ? cause : (err as Error);
    const code = (reason as { code?: string }).code ?? (err as { code?: string }).code ?? "";
    if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) throw new CorruptError(reason.message);
    const busy = code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED");
    throw new HistoryDbError(
      `history database ${file} is not usable: ${reason.message}${busy ? " (another process holds it; try again once it is done)" : ""}`,
      busy,
    );
  }
}

/** Renames the file and its WAL and shared-memory files (they belong to it) to `<file>.corrupt-<timestamp>`. */
function moveAside(file: string, problem: string): string {
  const target = `${file}.corrupt-${new Date().toISOString().replace(/[-:]|\.\d+/g, "")}`;
  try {
    for (const suffix of ["-wal", "-shm", ""]) if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
  } catch (err) {
    throw new HistoryDbError(`history database ${file} is corrupt (${problem}) and could not be moved aside: ${(err as Error).message}`);
  }
  return target;
}

/** quick_check reports one problem per line (a damaged file: hundreds); log lines are one line. */
function firstProblem(report: string): string {
  const problems = report.split("\n").filter((line) => line.trim() && !line.startsWith("***"));
  return problems.length > 1 ? `${problems[0]} (and ${problems.length - 1} more problems)` : (problems[0] ?? report);
}
