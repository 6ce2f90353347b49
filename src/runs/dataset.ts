// Dataset files: the synced entries of each type as a JSON array, written to a temp file and
// renamed into place only when the run publishes, so a reader never sees half a file.

import { type FileHandle, mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { type Entry, ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import { RUN_ID } from "./model.ts";

/** categories → DATA_SET_FILE itself; boxes/options → the same name with _boxes/_options. */
export function datasetPath(dataSetFile: string, type: ItemType): string {
  const file = resolve(process.cwd(), dataSetFile);
  if (type === "categories") return file;
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}_${type}${ext || ".json"}`);
}

function tempPath(path: string, runId: string): string {
  return `${path}.${runId}.tmp`;
}

/** Removes the temp files of the dataset files whose run `over(runId)` says is over; nothing else. */
export async function removeTempFiles(dataSetFile: string, over: (runId: string) => boolean): Promise<void> {
  for (const type of ITEM_TYPES) {
    const path = datasetPath(dataSetFile, type);
    const [dir, prefix] = [dirname(path), `${basename(path)}.`];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const runId = name.startsWith(prefix) && name.endsWith(".tmp") ? name.slice(prefix.length, -".tmp".length) : "";
      if (RUN_ID.test(runId) && over(runId)) await unlink(join(dir, name)).catch(() => {});
    }
  }
}

/** Puts the temp file a run's DatasetWriter closed in place of the dataset file. */
export async function commitDataset(path: string, runId: string): Promise<void> {
  await onFile(path, () => rename(tempPath(path, runId), path));
}

/**
 * A failed file operation, named by the file's name alone: run errors are shown on public
 * endpoints, and the machine's directories are nobody's business.
 */
function fileError(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  // Node's message is "<CODE>: <reason>, <syscall> '<absolute path>'": keep the code and the reason.
  const reason = e?.syscall ? e.message.split(", ")[0] : String(e?.message ?? err);
  return new Error(`dataset file ${basename(path)}: ${reason}`);
}

async function onFile<T>(path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw fileError(path, err);
  }
}

export class DatasetWriter {
  private count = 0;

  private constructor(
    private readonly path: string,
    private readonly tmpPath: string,
    private readonly file: FileHandle,
  ) {}

  static async open(path: string, runId: string): Promise<DatasetWriter> {
    const tmpPath = tempPath(path, runId);
    // Like the history database: a missing directory is created, not a reason for every run to fail.
    await onFile(path, () => mkdir(dirname(path), { recursive: true }));
    return new DatasetWriter(path, tmpPath, await onFile(path, () => open(tmpPath, "w")));
  }

  /** Appends one batch, written at once so memory does not grow with the file. */
  async write(entries: Entry[]): Promise<void> {
    if (!entries.length) return;
    let chunk = "";
    for (const entry of entries) chunk += `${this.count++ === 0 ? "[\n" : ",\n"}${JSON.stringify(entry)}`;
    await this.append(chunk);
  }

  /** Finishes the temp file: complete, on disk and closed (it is not moved into place). */
  async close(): Promise<void> {
    await this.append(this.count ? "\n]\n" : "[]\n");
    // On disk before the rename, or a crash could leave the final name holding a cut-off file.
    await onFile(this.path, () => this.file.datasync());
    await onFile(this.path, () => this.file.close());
  }

  /** Closes and removes the temp file; never throws (it cleans up after a failure). */
  async discard(): Promise<void> {
    await this.file.close().catch(() => {});
    await unlink(this.tmpPath).catch(() => {});
  }

  private async append(text: string): Promise<void> {
    const bytes = Buffer.from(text);
    await onFile(this.path, async () => {
      // A write may take fewer bytes than given (a disk filling up): the rest goes in the next one.
      for (let at = 0; at < bytes.length; ) at += (await this.file.write(bytes, at)).bytesWritten;
    });
  }
}
