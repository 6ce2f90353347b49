// The progress of `search-sync sync`: a bar redrawn in place on a terminal, plain log lines
// elsewhere. Fed by the engine's onProgress (each time it writes the status key).

import type { Logger } from "../platform/log.ts";
import type { ActiveRun } from "../runs/model.ts";

interface ProgressFigures {
  stage: string;
  read: number;
  /** Estimated documents to read (0: unknown). */
  total: number;
  entries: number;
  entriesPerSecond: number;
  /** null while unknown. */
  etaSeconds: number | null;
}

const BAR_CELLS = 20;
const MIN_BAR_CELLS = 5;
const PLAIN_EVERY_MS = 5_000;

/** Sums the types of a run, with rates over the time since it started. */
function progressFigures(active: ActiveRun, now: number): ProgressFigures {
  const types = Object.values(active.progress);
  const read = types.reduce((sum, p) => sum + (p?.documents_read ?? 0), 0);
  const total = types.reduce((sum, p) => sum + (p?.documents_total ?? 0), 0);
  const entries = types.reduce((sum, p) => sum + (p?.entries_written ?? 0), 0);
  const seconds = Math.max(0.001, (now - Date.parse(active.started_at)) / 1000);
  const readPerSecond = read / seconds;
  const etaSeconds = total > 0 && readPerSecond > 0 ? Math.max(0, (total - read) / readPerSecond) : null;
  return { stage: active.stage, read, total, entries, entriesPerSecond: entries / seconds, etaSeconds };
}

const n = (v: number) => Math.round(v).toLocaleString("en-US");

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (v: number) => String(v).padStart(2, "0");
  return hms[0] ? `${hms[0]}:${pad(hms[1]!)}:${pad(hms[2]!)}` : `${hms[1]}:${pad(hms[2]!)}`;
}

/**
 * One terminal line: `boxes: suppliers  [██████░░░…]  31%  1,550/5,000 docs  2,340 entries/s  ETA 0:42`.
 * On a narrow terminal the bar narrows, then goes, then the rate, the ETA and the stage: numbers
 * are never cut (only a line too narrow for the documents alone is).
 */
function formatBar(f: ProgressFigures, columns = 100): string {
  const width = columns - 1; // writing the last column would wrap the cursor to the next line
  const ratio = f.total > 0 ? Math.min(1, f.read / f.total) : null;
  const docs = ratio === null ? [`${n(f.read)} docs`] : [`${String(Math.floor(ratio * 100)).padStart(3)}%`, `${n(f.read)}/${n(f.total)} docs`];
  const rate = `${n(f.entriesPerSecond)} entries/s`;
  const eta = `ETA ${f.etaSeconds === null ? "-" : formatDuration(f.etaSeconds)}`;
  const bar = (cells: number) => {
    const full = Math.round((ratio ?? 0) * cells);
    return `[${"█".repeat(full)}${"░".repeat(cells - full)}]`;
  };
  const line = (parts: string[]) => parts.join("  ");
  if (ratio !== null) {
    const cells = Math.min(BAR_CELLS, width - line([f.stage, "[]", ...docs, rate, eta]).length);
    if (cells >= MIN_BAR_CELLS) return line([f.stage, bar(cells), ...docs, rate, eta]);
  }
  const shorter = [[f.stage, ...docs, rate, eta], [f.stage, ...docs, eta], [f.stage, ...docs], docs].map(line);
  const fitting = shorter.find((text) => text.length <= width);
  return fitting ?? `${shorter.at(-1)!.slice(0, Math.max(0, width - 1))}…`;
}

/** One log line: `Progress: boxes: suppliers — 1,550/5,000 documents (31%), 2,340 entries/s, ETA 0:42`. */
function formatLine(f: ProgressFigures): string {
  const docs = f.total > 0 ? `${n(f.read)}/${n(f.total)} documents (${Math.floor(Math.min(1, f.read / f.total) * 100)}%)` : `${n(f.read)} documents`;
  return `Progress: ${f.stage} — ${docs}, ${n(f.entriesPerSecond)} entries/s, ETA ${f.etaSeconds === null ? "-" : formatDuration(f.etaSeconds)}`;
}

export class ProgressDisplay {
  private drawn = false;
  private lastLine = 0;
  private readonly stages = new Set<string>();

  /** `terminal`: the stream to draw the bar on (stderr when it is a TTY), else null for log lines. */
  constructor(
    private readonly terminal: (NodeJS.WriteStream & { columns?: number }) | null,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  update(active: ActiveRun): void {
    const figures = progressFigures(active, this.now());
    if (this.terminal) {
      this.terminal.write(`\r\x1b[2K${formatBar(figures, this.terminal.columns || 100)}`);
      this.drawn = true;
      return;
    }
    // A line per new stage, and one every few seconds in between.
    if (this.stages.has(figures.stage) && this.now() - this.lastLine < PLAIN_EVERY_MS) return;
    this.stages.add(figures.stage);
    this.lastLine = this.now();
    this.logger.info(formatLine(figures), {
      run_id: active.run_id,
      stage: figures.stage,
      documents_read: figures.read,
      documents_total: figures.total,
      entries_written: figures.entries,
    });
  }

  /** Erases the bar (before a log line, and at the end). */
  clear(): void {
    if (!this.drawn) return;
    this.terminal?.write("\r\x1b[2K");
    this.drawn = false;
  }
}
