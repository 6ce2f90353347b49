// An unusable history database stops start-up with exit code 2 and one clear line, never a stack
// trace (SPEC §2 history, §5 "one clear line"). Tests run as root, so permissions cannot make a
// path unwritable: a regular file where a directory should be, or a directory where the file should
// be, can. Nothing here reaches Redis or MongoDB: the history database is opened first.

import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, type Ran, runCommand } from "../../scripts/lib/binary.ts";
import { killAll, tempDir } from "../../scripts/lib/procs.ts";

let dir: string;
let binary: string;
beforeEach(() => {
  dir = tempDir("history");
  binary = ensureBinary();
});
afterEach(killAll);

function run(args: string[], historyDbPath: string): Promise<Ran> {
  const env = {
    HISTORY_DB_PATH: historyDbPath,
    // Closed ports: start-up must stop at the history database before trying them.
    REDIS_URL: "redis://127.0.0.1:1",
    MONGODB_URI: "mongodb://127.0.0.1:1",
    ENABLE_SCHEDULER: "false",
    LISTEN_HOST: "127.0.0.1",
    PORT: "0",
  };
  return runCommand([binary, ...args], dir, env, 10_000);
}

function expectOneLine(out: Ran, ...mentions: string[]): void {
  expect({ code: out.code, stdout: out.stdout }).toEqual({ code: 2, stdout: "" });
  const lines = out.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("search-sync: ");
  for (const m of mentions) expect(lines[0]).toContain(m);
  expect(out.stderr).not.toMatch(/\n\s+at |Error:|\^/);
}

const CASES: [string, (dir: string) => { path: string; mentions: string[] }][] = [
  [
    "a path through a regular file (as if it were a directory)",
    (d) => {
      writeFileSync(join(d, "not-a-dir"), "x");
      return { path: join(d, "not-a-dir", "history.db"), mentions: [join(d, "not-a-dir", "history.db"), "cannot open"] };
    },
  ],
  [
    "a directory where the database file should be",
    (d) => {
      mkdirSync(join(d, "history.db"));
      return { path: join(d, "history.db"), mentions: [join(d, "history.db")] };
    },
  ],
  [
    "a file of garbage bytes",
    (d) => {
      const bytes = new Uint8Array(16_384);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 251;
      writeFileSync(join(d, "history.db"), bytes);
      return { path: "history.db", mentions: [join(d, "history.db"), "file is not a database"] };
    },
  ],
  [
    "an SQLite header followed by garbage pages",
    (d) => {
      const bytes = new Uint8Array(16_384).fill(0xa5);
      bytes.set(new TextEncoder().encode("SQLite format 3\0"));
      bytes.set([0x10, 0x00, 0x01, 0x01], 16); // page size 4096, file format versions 1
      writeFileSync(join(d, "history.db"), bytes);
      return { path: "history.db", mentions: [join(d, "history.db"), "file is not a database"] };
    },
  ],
  [
    "a real database whose data pages were overwritten",
    (d) => {
      const file = join(d, "history.db");
      const db = new Database(file, { create: true });
      db.exec("PRAGMA journal_mode = DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v);");
      const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
      db.transaction(() => {
        for (let i = 0; i < 2_000; i++) insert.run(`value ${i} `.repeat(10));
      })();
      db.close();
      const bytes = readFileSync(file);
      for (let i = 3 * 4096; i < bytes.length - 4096; i++) bytes[i] = (i * 31) % 256;
      writeFileSync(file, bytes);
      return { path: "history.db", mentions: [file, "is not usable: integrity check failed", "more problems"] };
    },
  ],
];

for (const [name, make] of CASES) {
  test(`history DB: ${name} → serve and sync stop with exit code 2 and one line`, async () => {
    const { path, mentions } = make(dir);
    const serve = await run(["serve"], path);
    expectOneLine(serve, ...mentions);
    const sync = await run(["sync"], path);
    expectOneLine(sync, ...mentions);
    expect(sync.stderr).toBe(serve.stderr);
  }, 30_000);
}
