// Dataset files: the synced entries of each type as a JSON array, written to a temp file and
// renamed into place only when the run publishes, so a reader never sees half a file.

import { mkdirSync } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import type { FileSink } from "bun";
import type { Entry, ItemType } from "../catalog/types.ts";

/** categories → DATA_SET_FILE itself; boxes/options → the same name with _boxes/_options. */
export function datasetPath(dataSetFile: string, type: ItemType): string {
  const file = resolve(process.cwd(), dataSetFile);
  if (type === "categories") return file;
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}_${type}${ext || ".json"}`);
}

export class DatasetWriter {
  private readonly sink: FileSink;
  private count = 0;
  private readonly tmpPath: string;

  constructor(
    private readonly path: string,
    runId: string,
  ) {
    this.tmpPath = `${path}.${runId}.tmp`;
    // Like the history database: a missing directory is created, not a reason for every run to fail.
    mkdirSync(dirname(path), { recursive: true });
    this.sink = Bun.file(this.tmpPath).writer();
    this.sink.write("[");
  }

  /** Appends one batch; flushed at once so memory does not grow with the file. */
  async write(entries: Entry[]): Promise<void> {
    if (!entries.length) return;
    let chunk = "";
    for (const entry of entries) chunk += `${this.count++ === 0 ? "\n" : ",\n"}${JSON.stringify(entry)}`;
    this.sink.write(chunk);
    await this.sink.flush();
  }

  /** Finishes the temp file (does not move it into place). */
  async close(): Promise<void> {
    this.sink.write(this.count ? "\n]\n" : "]\n");
    await this.sink.end();
  }

  async commit(): Promise<void> {
    await rename(this.tmpPath, this.path);
  }

  async discard(): Promise<void> {
    try {
      await this.sink.end();
    } catch {
      // already closed
    }
    await unlink(this.tmpPath).catch(() => {});
  }
}
