// The source layout's rules (README "Where things live"): imports run one way down the folder
// table, and only src/index/ names the index's Redis keys.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../src");
// A folder may import from folders of a lower rank only.
const RANK: Record<string, number> = {
  platform: 0,
  catalog: 1,
  source: 2,
  index: 2,
  runs: 3,
  search: 3,
  items: 3,
  changes: 4,
  scheduler: 5,
  ops: 6,
  app: 7,
  cli: 8,
  "main.ts": 9,
  "types.d.ts": 0,
};

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (path.endsWith(".ts")) out.push(path);
  }
  return out;
}

const folderOf = (path: string) => relative(SRC, path).split("/")[0]!;
const files = sourceFiles(SRC);
const importsOf = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/^import[^"]*"(\.[^"]+)"/gm)].map((m) => resolve(dirname(file), m[1]!)).filter((p) => p.startsWith(SRC));

describe("source layout", () => {
  test("every folder has a rank", () => {
    expect(files.map(folderOf).filter((f) => RANK[f] === undefined)).toEqual([]);
  });

  test("imports run one way: from a folder to folders of a lower rank only", () => {
    const uphill: string[] = [];
    for (const file of files)
      for (const target of importsOf(file)) {
        const from = folderOf(file);
        const to = folderOf(target);
        if (from !== to && RANK[to]! >= RANK[from]!) uphill.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    expect(uphill).toEqual([]);
  });

  test("no import cycles between files", () => {
    const graph = new Map(files.map((f) => [f, importsOf(f).map((t) => (t.endsWith(".ts") ? t : `${t}.ts`))]));
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
        return;
      }
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  test("only src/index/ names the index's keys or reaches the store's Redis client", () => {
    const INDEX_KEYS = /\b(?:keys\.(?:gen|typeBase|current|gens|owner|building|journal)\(|store\.(?:client|keys)\b|gen_keys)/;
    const outside = files.filter((f) => folderOf(f) !== "index" && INDEX_KEYS.test(readFileSync(f, "utf8")));
    expect(outside.map((f) => relative(SRC, f))).toEqual([]);
  });
});
