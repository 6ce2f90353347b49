// Dataset files on a disk that fills up, against the compiled binary: the service runs in its own
// mount namespace with a tiny tmpfs where DATA_SET_FILE points (a real full disk). Needs root and
// unshare(1), as on the development and CI machines.
import { afterEach, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getJson, historyRows, keysUnder, killAll, postJson, startService, startWorld, type World } from "../../scripts/lib/procs.ts";
import { gensIn } from "../sync.fixtures.ts";

afterEach(killAll);

const PAGE = 4096;
const canMount = process.getuid?.() === 0 && Bun.which("unshare") !== null;
const QUERIES = ["/category-search?query=door&limit=10", "/boxes-search?query=archive&iso=en&limit=10", "/options-search?query=rounded&limit=10"];

async function searchAll(url: string): Promise<unknown[]> {
  return Promise.all(QUERIES.map(async (q) => (await getJson(`${url}${q}`)).body));
}

/**
 * Serves with DATA_SET_FILE on a tmpfs of `size` mounted at `dir`, seen only by the service (its
 * mount namespace); with `logThere`, its stdout and stderr go to a file there too.
 */
async function serveOnTinyDisk(w: World, dir: string, size: string, logThere = false) {
  mkdirSync(dir, { recursive: true });
  const wrapper = join(w.dir, "tiny-disk.sh");
  const redirect = logThere ? ' >> "$0/search-sync.log" 2>&1' : "";
  const script = `mount -t tmpfs -o size=${size} tmpfs "$0" && exec "$1" "$2"${redirect}`;
  writeFileSync(wrapper, `#!/bin/sh\nexec unshare -m sh -c '${script}' '${dir}' '${w.binary}' "$1"\n`, { mode: 0o755 });
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
    expect(run).toMatchObject({ status: 503, body: { error: "sync_failed", status: "error", run_status: "failed", published: false } });
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
    expect(again).toMatchObject({ status: 503, body: { status: "error", run_status: "failed" } });
    expect(readdirSync(svc.disk)).toEqual([]);
    expect(await svc.stop()).toBe(0);
  },
  60_000,
);

test.skipIf(!canMount)(
  "a disk already full, the service logging to it: the run fails and is recorded, the service keeps running and logs again once there is room",
  async () => {
    const w = await startWorld({ originsPerType: 50 });
    const svc = await serveOnTinyDisk(w, join(w.dir, "full"), "256k", true);
    const [filler, logFile] = [join(svc.disk, "filler"), join(svc.disk, "search-sync.log")];
    try {
      writeFileSync(filler, Buffer.alloc(512 * 1024));
    } catch {
      // ENOSPC: it took what there was
    }
    // The log's last page is full too (tmpfs allocates whole pages): its next line needs space.
    appendFileSync(logFile, "\n".repeat(PAGE - (statSync(logFile).size % PAGE)));

    const run = await postJson(`${svc.url}/generate-data-set`);
    expect(run).toMatchObject({
      status: 503,
      body: { status: "error", run_status: "failed", message: "dataset file data_set.json: ENOSPC: no space left on device" },
    });
    await Bun.sleep(500); // the failed run's log lines, written (and refused) after the answer
    expect(svc.proc.exitCode).toBeNull();
    expect(historyRows(w.historyDbPath).find((r) => r.id === run.body.run_id)?.status).toBe("failed");

    rmSync(filler);
    expect((await postJson(`${svc.url}/generate-data-set`)).body.status).toBe("success");
    expect(readFileSync(logFile, "utf8")).toContain("Re-sync completed successfully!");
    expect(await svc.stop()).toBe(0);
  },
  60_000,
);
