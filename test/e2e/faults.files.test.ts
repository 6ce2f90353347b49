// Dataset files on a disk that fills up, against the compiled binary: the service runs in its own
// mount namespace with a tiny tmpfs where DATA_SET_FILE points (a real full disk). Needs root and
// unshare(1), as on the development and CI machines.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getJson, historyRows, keysUnder, killAll, postJson, startService, startWorld, type World } from "../../scripts/lib/procs.ts";
import { gensIn } from "../sync.fixtures.ts";

afterEach(killAll);

const canMount = process.getuid?.() === 0 && Bun.which("unshare") !== null;
const QUERIES = ["/category-search?query=door&limit=10", "/boxes-search?query=archive&iso=en&limit=10", "/options-search?query=rounded&limit=10"];

async function searchAll(url: string): Promise<unknown[]> {
  return Promise.all(QUERIES.map(async (q) => (await getJson(`${url}${q}`)).body));
}

/** Serves with DATA_SET_FILE on a tmpfs of `size` mounted at `dir`, seen only by the service (its mount namespace). */
async function serveOnTinyDisk(w: World, dir: string, size: string) {
  mkdirSync(dir, { recursive: true });
  const wrapper = join(w.dir, "tiny-disk.sh");
  writeFileSync(wrapper, `#!/bin/sh\nexec unshare -m sh -c 'mount -t tmpfs -o size=${size} tmpfs "$0" && exec "$1" "$2"' '${dir}' '${w.binary}' "$1"\n`, {
    mode: 0o755,
  });
  const svc = await startService(wrapper, w.dir, { ...w.env, DATA_SET_FILE: join(dir, "data_set.json") });
  // The tmpfs as the service sees it (wrapper, unshare and sh exec the binary: one pid).
  return { ...svc, disk: `/proc/${svc.proc.pid}/root${dir}` };
}

test.skipIf(!canMount)(
  "the disk fills up while a run writes its dataset files: the run fails with the file's name and is recorded, the service and search keep running, no temp file is left",
  async () => {
    const w = await startWorld();
    const first = await w.cli(["sync", "--json"]);
    expect(first).toMatchObject({ code: 0 });
    const firstId = JSON.parse(first.stdout).run_id as string;
    const full = join(w.dir, "full");
    const svc = await serveOnTinyDisk(w, full, "256k");
    const before = await searchAll(svc.url);

    const run = await postJson(`${svc.url}/re-sync-all`);
    expect(run).toMatchObject({ status: 503, body: { error: "sync_failed", status: "failed", published: false } });
    expect(run.body.message).toMatch(/^dataset file data_set(_boxes|_options)?\.json: ENOSPC: no space left on device$/);
    expect(svc.proc.exitCode).toBeNull();

    const status = await getJson(`${svc.url}/sync-status`);
    expect(status.body).toMatchObject({ status: "failed", active: null, last_run: { run_id: run.body.run_id, status: "failed", error: run.body.message } });
    expect(JSON.stringify(status.body)).not.toContain(w.dir);
    expect(historyRows(w.historyDbPath).find((r) => r.id === run.body.run_id)).toMatchObject({ status: "failed", error: run.body.message });
    expect(await searchAll(svc.url)).toEqual(before);
    expect(gensIn(await keysUnder(w.redis.url, w.prefix))).toEqual([firstId]);
    expect(readdirSync(svc.disk)).toEqual([]);

    // Still serving runs: the next one fails the same way, cleanly.
    const again = await postJson(`${svc.url}/re-sync-all`);
    expect(again).toMatchObject({ status: 503, body: { status: "failed" } });
    expect(readdirSync(svc.disk)).toEqual([]);
    expect(await svc.stop()).toBe(0);
  },
  60_000,
);
