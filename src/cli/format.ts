// Readable text for `search-sync status` and `search-sync history`. Pure.
import { skippedTotal } from "../catalog/entries.ts";
import { ITEM_TYPES } from "../catalog/types.ts";
import { timestamp } from "../platform/log.ts";
import type { RunResult, SyncStatus } from "../runs/model.ts";

const ERROR_WIDTH = 60;
const local = (iso: string | null) => (iso ? timestamp(new Date(iso)) : "-");
const seconds = (ms: number | null) => (ms === null ? "-" : (ms / 1000).toFixed(1));
const num = (v: number) => v.toLocaleString("en-US");

/** Aligned columns, header first. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function formatStatus(status: SyncStatus): string {
  const lines: string[] = [];
  const { active, last_run: last } = status;
  lines.push(`Status:       ${active ? "running" : (last?.status ?? "never run")}`);
  if (active) {
    lines.push(`Active run:   ${active.run_id} (${active.trigger}, ${active.scope}), started ${local(active.started_at)}`, `Stage:        ${active.stage}`);
    for (const type of ITEM_TYPES) {
      const p = active.progress[type];
      if (p)
        lines.push(
          `  ${type.padEnd(11)} ${num(p.documents_read)}${p.documents_total ? `/${num(p.documents_total)}` : ""} documents read, ${num(p.entries_written)} entries`,
        );
    }
  } else lines.push("Active run:   none");
  if (!last) {
    lines.push("Last run:     none");
    return lines.join("\n");
  }
  lines.push(
    `Last run:     ${last.run_id} (${last.trigger}, ${last.scope}${last.dry_run ? ", dry run" : ""}${last.force ? ", forced" : ""}${last.replica ? `, on ${last.replica}` : ""})`,
    `Result:       ${last.status}${last.reason ? ` (${last.reason})` : ""}`,
    `Finished:     ${local(last.finished_at)}`,
    `Duration:     ${seconds(last.duration_ms)} seconds`,
  );
  if (last.error) lines.push(`Error:        ${last.error}`);
  return [...lines, ...typeLines(last)].join("\n");
}

/** A line per type of a run: entries, documents, the serving index's entries before it, skipped documents. */
function typeLines(run: RunResult): string[] {
  return ITEM_TYPES.flatMap((type) => {
    const t = run.types[type];
    if (!t) return [];
    const skipped = skippedTotal(t.skipped ?? {});
    return [
      `  ${type.padEnd(11)} ${num(t.entries)} entries from ${num(t.documents)} documents (before: ${num(t.previous_entries)}${skipped ? `, ${num(skipped)} skipped` : ""})${t.warning ? `; ${t.warning}` : ""}`,
    ];
  });
}

// Characters that move a terminal's cursor, start its escape sequences, end a line or reorder text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Catalog text for a terminal: each of those characters as its escape (\n, \u001b), so one example stays one line. */
function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => (c === "\n" ? "\\n" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

/**
 * The end of `search-sync sync` for people: the run's id and result, a line per type, the skipped
 * documents per reason; for a dry run, what would be added and removed (the examples it kept).
 */
export function formatSummary(run: RunResult): string {
  const lines = [
    `Run ${run.run_id} (${run.trigger}, ${run.scope}${run.dry_run ? ", dry run" : ""}${run.force ? ", forced" : ""}): ${run.status} in ${seconds(run.duration_ms)} seconds`,
    ...typeLines(run),
  ];
  for (const type of ITEM_TYPES) {
    const t = run.types[type];
    const reasons = Object.entries(t?.skipped ?? {}).map(([reason, slot]) => `${reason} ${num(slot?.count ?? 0)}`);
    if (reasons.length) lines.push(`  ${type} skipped: ${reasons.join(", ")}`);
  }
  for (const type of ITEM_TYPES) {
    const diff = run.types[type]?.diff;
    if (!diff) continue;
    lines.push(`${type}: ${num(diff.added)} entries would be added and ${num(diff.removed)} removed against the serving index`);
    for (const [sign, count, examples] of [
      ["+", diff.added, diff.added_examples],
      ["-", diff.removed, diff.removed_examples],
    ] as const) {
      for (const example of examples) lines.push(`  ${sign} ${printable(example)}`);
      if (count > examples.length) lines.push(`  ${sign} … and ${num(count - examples.length)} more`);
    }
  }
  return lines.join("\n");
}

export function formatHistory(runs: RunResult[]): string {
  if (!runs.length) return "No runs recorded yet.";
  const rows = runs.map((r) => [
    local(r.started_at),
    r.run_id,
    r.trigger,
    r.replica ?? "",
    r.scope,
    r.status + (r.dry_run ? " (dry run)" : ""),
    seconds(r.duration_ms),
    num(ITEM_TYPES.reduce((sum, type) => sum + (r.types[type]?.entries ?? 0), 0)),
    oneLine(r.error ?? (r.status === "skipped" ? (r.reason ?? "") : "")),
  ]);
  return table(["started", "run_id", "trigger", "replica", "scope", "status", "seconds", "entries", "error"], rows);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= ERROR_WIDTH ? flat : `${flat.slice(0, ERROR_WIDTH - 1)}…`;
}
