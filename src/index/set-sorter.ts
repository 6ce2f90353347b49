// The members of a run's phrase and word sets, gathered as the run reads its documents and given
// back per set in the order Redis keeps them (by their UTF-8 bytes), so that the run writes each
// set's pieces once, in order, without Redis sorting them. Memory stays bounded: past `budget`
// members, every set's members are sorted and written to a temporary file as one run, and the
// runs of a set are merged when it is read.
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MEMBER_SEPARATOR } from "./scripts.ts";

/** Members kept in memory before they go to the temporary file (about 150 bytes each in memory). */
const MEMBERS_IN_MEMORY = 30_000;
/** Members per block of a run in the file (read whole when merging): joined by MEMBER_SEPARATOR, which no member holds. */
const BLOCK = 256;

// JavaScript compares strings by UTF-16 code units, Redis by UTF-8 bytes: they differ only where
// a character above U+FFFF (a surrogate pair, D800-DFFF) meets one in E000-FFFF. Members holding
// either are compared as keys with those units moved (E000-FFFF down to D800-F7FF, surrogates up
// to F800-FFFF), which orders them by code point, as UTF-8 does; the others are their own keys.
const HIGH_UNIT = /[\uD800-\uFFFF]/;

function mapUnits(text: string, map: (unit: number) => number): string {
  if (!HIGH_UNIT.test(text)) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) out += String.fromCharCode(map(text.charCodeAt(i)));
  return out;
}
const unitToKey = (c: number) => (c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c);
const unitFromKey = (c: number) => (c >= 0xf800 ? c - 0x2000 : c >= 0xd800 ? c + 0x800 : c);
const toKey = (member: string) => mapUnits(member, unitToKey);
const fromKey = (key: string) => mapUnits(key, unitFromKey);

/** A sorter's directory in TMPDIR: this prefix, the process id, "-", a random part. */
const DIR_PREFIX = "search-sync-sets-";

/**
 * Removes the temporary directories sorters left behind in `dir`: those of processes that are gone
 * (killed during a run), and with `mine` also this process's (its build worker was terminated).
 * Best effort: a directory that cannot be read or removed is left, and the run goes on.
 */
export function removeLeftSortFiles(mine: boolean, dir = tmpdir()): void {
  try {
    for (const name of readdirSync(dir)) {
      const pid = name.startsWith(DIR_PREFIX) ? Number.parseInt(name.slice(DIR_PREFIX.length), 10) : Number.NaN;
      if (!pid || (pid === process.pid ? !mine : alive(pid))) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
    }
  } catch {
    // TMPDIR unreadable: a sorter that needs it fails its run with the reason.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Where one block of a run is in the file. */
interface Block {
  offset: number;
  bytes: number;
}

export class SetSorter {
  private readonly inMemory = new Map<string, string[]>();
  /** The sets with a member whose key is not the member itself: only theirs are mapped back and forth. */
  private readonly mapped = new Set<string>();
  private count = 0;
  /** Per set, its runs in the file, each a list of blocks. */
  private readonly runs = new Map<string, Block[][]>();
  private file: { dir: string; fd: number; size: number } | null = null;
  /** Where blocks are read, reused: buffers are outside the heap the collector watches, and pile up if each read had its own. */
  private scratch = Buffer.alloc(0);

  constructor(private readonly budget = MEMBERS_IN_MEMORY) {}

  add(set: string, member: string): void {
    const key = toKey(member);
    if (key !== member) this.mapped.add(set);
    const members = this.inMemory.get(set);
    if (members) members.push(key);
    else this.inMemory.set(set, [key]);
    if (++this.count >= this.budget) this.spill();
  }

  /** Every set given members, in the order first given. */
  sets(): string[] {
    return [...new Set([...this.runs.keys(), ...this.inMemory.keys()])];
  }

  /** A set's members in Redis's order, each once, a block at a time: a generator step per member cost a run a measurable share of its CPU. */
  *sorted(set: string): Generator<string[]> {
    const mapped = this.mapped.has(set);
    const cursors: Cursor[] = [];
    for (const run of this.runs.get(set) ?? []) cursors.push(new Cursor((i) => (i < run.length ? this.readBlock(run[i]!, mapped) : null)));
    const members = this.inMemory.get(set);
    if (members) cursors.push(new Cursor((i) => (i === 0 ? members.sort() : null)));
    const heap = new CursorHeap(cursors.filter((c) => c.key !== null));
    let last: string | null = null;
    let out: string[] = [];
    for (let c = heap.top(); c; c = heap.top()) {
      const key = c.key!;
      if (key !== last && out.push(mapped ? fromKey(key) : key) === BLOCK) {
        yield out;
        out = [];
      }
      last = key;
      c.next();
      heap.settle();
    }
    if (out.length) yield out;
  }

  /** Removes the temporary file; the sorter is empty after. */
  close(): void {
    this.inMemory.clear();
    this.runs.clear();
    this.mapped.clear();
    this.count = 0;
    if (!this.file) return;
    closeSync(this.file.fd);
    rmSync(this.file.dir, { recursive: true, force: true });
    this.file = null;
  }

  private spill(): void {
    if (!this.file) {
      const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
      this.file = { dir, fd: openSync(join(dir, "runs"), "w+"), size: 0 };
    }
    const file = this.file;
    for (const [set, members] of this.inMemory) {
      members.sort();
      const mapped = this.mapped.has(set);
      const run: Block[] = [];
      for (let i = 0; i < members.length; i += BLOCK) {
        const block = members.slice(i, i + BLOCK);
        const bytes = writeSync(file.fd, (mapped ? block.map(fromKey) : block).join(MEMBER_SEPARATOR), file.size);
        run.push({ offset: file.size, bytes });
        file.size += bytes;
      }
      const runs = this.runs.get(set) ?? [];
      runs.push(run);
      this.runs.set(set, runs);
    }
    this.inMemory.clear();
    this.count = 0;
  }

  /** The keys of a block (`mapped`: its set's keys are not all its members). */
  private readBlock({ offset, bytes }: Block, mapped: boolean): string[] {
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.max(bytes, 2 * this.scratch.length));
    let read = 0;
    while (read < bytes) read += readSync(this.file!.fd, this.scratch, read, bytes - read, offset + read);
    const members = this.scratch.toString("utf8", 0, bytes).split(MEMBER_SEPARATOR);
    return mapped ? members.map(toKey) : members;
  }
}

/** A sorted run read a block at a time: `key` is its current member's key, null when it is done. */
class Cursor {
  key: string | null = null;
  private block: string[] = [];
  private at = 0;
  private blocks = 0;
  constructor(private readonly blockAt: (i: number) => string[] | null) {
    this.load();
  }
  next(): void {
    if (++this.at < this.block.length) this.key = this.block[this.at]!;
    else this.load();
  }
  private load(): void {
    for (let block = this.blockAt(this.blocks++); block; block = this.blockAt(this.blocks++)) {
      if (!block.length) continue;
      [this.block, this.at, this.key] = [block, 0, block[0]!];
      return;
    }
    this.key = null;
  }
}

/** A min-heap of cursors by key; a cursor done leaves it. */
class CursorHeap {
  constructor(private readonly items: Cursor[]) {
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }
  top(): Cursor | undefined {
    return this.items[0];
  }
  /** After the top cursor moved on. */
  settle(): void {
    if (this.items[0]!.key === null) {
      const last = this.items.pop()!;
      if (!this.items.length) return;
      this.items[0] = last;
    }
    this.down(0);
  }
  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= items.length) return;
      const r = l + 1;
      const child = r < items.length && items[r]!.key! < items[l]!.key! ? r : l;
      if (items[child]!.key! >= items[i]!.key!) return;
      [items[i], items[child]] = [items[child]!, items[i]!];
      i = child;
    }
  }
}
