// Pieces shared by the search benchmarks: the query mix and wrk (Debian package) driving it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ItemType } from "../src/catalog/types.ts";

export const SEARCH_PATHS: Record<ItemType, string> = { categories: "/category-search", boxes: "/boxes-search", options: "/options-search" };
const TYPES: ItemType[] = ["categories", "boxes", "options"];

/** Installs Debian packages whose command is missing (apt-get; `apt-get update` first if that fails). */
export function aptInstall(
  packages: Record<string, string>,
  present: (pkg: string, probe: string) => boolean = (_p, probe) => Bun.which(probe) !== null,
): void {
  const missing = Object.entries(packages)
    .filter(([pkg, probe]) => !present(pkg, probe))
    .map(([pkg]) => pkg);
  if (!missing.length) return;
  console.log(`installing ${missing.join(", ")} (Debian packages)`);
  const install = () => Bun.spawnSync(["apt-get", "install", "-y", "-qq", ...missing], { stdout: "inherit", stderr: "inherit" }).exitCode;
  if (install() !== 0) {
    Bun.spawnSync(["apt-get", "update", "-qq"], { stdout: "inherit", stderr: "inherit" });
    if (install() !== 0) throw new Error(`apt-get install ${missing.join(" ")} failed`);
  }
}

/**
 * `count` search requests over the three endpoints, each query from its own type's words
 * (6+ letters): cycling through a 1-, 3- and 6-letter prefix, two words (the second as a
 * 3-letter prefix), and a whole word with two neighbouring letters swapped (a typo); one block
 * of five in five with `iso=nl`. Every pair of words of a type comes once before any repeats.
 */
export function queryMix(words: Record<ItemType, string[]>, count: number): string[] {
  const next: Record<ItemType, number> = { categories: 0, boxes: 0, options: 0 };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[i % 3]!;
    const list = words[type];
    if (!list.length) throw new Error(`no words of 6+ letters for ${type}`);
    const k = next[type]++;
    const w = list[k % list.length]!;
    const v = list[(Math.floor(k / list.length) + k + 1) % list.length]!;
    const swapped = `${w.slice(0, 2)}${w[3]}${w[2]}${w.slice(4)}`;
    const query = [w.slice(0, 1), w.slice(0, 3), w.slice(0, 6), `${w} ${v.slice(0, 3)}`, swapped][i % 5]!;
    out.push(`${SEARCH_PATHS[type]}?query=${encodeURIComponent(query)}${Math.floor(i / 5) % 5 === 0 ? "&iso=nl" : ""}`);
  }
  return out;
}

/** A wrk script cycling through the request paths. */
export function writeMixScript(dir: string, requests: string[]): string {
  const script = join(dir, "mix.lua");
  writeFileSync(
    script,
    `local paths = {${requests.map((p) => JSON.stringify(p)).join(",")}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`,
  );
  return script;
}

export interface WrkResult {
  connections: number;
  rps: number;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  non_2xx: number;
  raw: string;
}

/** Runs wrk against `url` with the mix script for `seconds`. */
export function runWrk(url: string, script: string, connections: number, seconds: number): WrkResult {
  const out = Bun.spawnSync([
    "wrk",
    "-t",
    connections > 1 ? "2" : "1",
    "-c",
    String(connections),
    "-d",
    `${seconds}s`,
    "--latency",
    "-s",
    script,
    url,
  ]).stdout.toString();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const latency: Record<string, number> = {};
  for (const m of out.matchAll(/(\d+)%\s+([\d.]+)(us|ms|s)/g)) latency[`p${m[1]}`] = Number(m[2]) * (m[3] === "us" ? 0.001 : m[3] === "s" ? 1000 : 1);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { connections, rps, requests, p50_ms: latency.p50 ?? Number.NaN, p99_ms: latency.p99 ?? Number.NaN, non_2xx: Number(errors), raw: out };
}
