// Logging. Text (the default): the old service's lines, each behind a timestamp and a level, so the
// guide's greps still match and every line says when and how bad:
//   2026-01-15T02:00:45.120+01:00 INFO  [2026-01-15 02:00:45] Re-sync completed successfully!
// With LOG_FORMAT=json one JSON object per line ({ level, time, msg, ...fields }), formatted by
// pino; an error goes in `err` as { type, message, stack }. Both write warn/error to stderr and the
// rest to stdout, so `sync --json` keeps stdout for its result. Every line passes redactUri.
import pino from "pino";
import { redactUri } from "./redact.ts";

type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Lines that follow the message in text logs only: one event logged as the guide's block of
 * lines (the run's summary), while JSON logs carry the same figures as fields of one object.
 */
export const TEXT_LINES = Symbol("text lines");

export type LogFields = Record<string, unknown> & {
  /** The error: JSON logs serialise it as { type, message, stack }, text logs show its message. */
  err?: unknown;
  [TEXT_LINES]?: string[];
};

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO ", warn: "WARN ", error: "ERROR" };

/** What a text line starts with; tests strip it to compare messages. */
export const TEXT_PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|[+-]\d\d:\d\d) (?:DEBUG|INFO |WARN |ERROR) /;

/** Where log lines go unless told otherwise. */
export function writeLine(line: string, level: LogLevel): void {
  (level === "error" || level === "warn" ? process.stderr : process.stdout).write(`${line}\n`);
}

export function createLogger(opts: { format: "text" | "json"; level: LogLevel }, output: (line: string, level: LogLevel) => void = writeLine): Logger {
  // Whatever a driver's error message holds, no URI password reaches a log line.
  const write = (line: string, level: LogLevel) => output(redactUri(line), level);
  if (opts.format === "json") return jsonLogger(opts.level, write);
  const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (RANK[level] < RANK[opts.level]) return;
    const prefix = `${localIsoTime()} ${LABEL[level]} `;
    const err = fields?.err;
    const said = err !== undefined ? errorMessage(err) : fields?.error !== undefined ? String(fields.error) : "";
    // A message that already quotes the error ("Re-sync failed: <error>") does not repeat it.
    const detail = said && !redactUri(msg).includes(redactUri(said)) ? `: ${said}` : "";
    const lines = `${msg}${detail}`.split("\n");
    lines.push(...(fields?.[TEXT_LINES] ?? []));
    // The stack is for whoever asked for debug output; the message above is for everyone.
    if (opts.level === "debug" && err instanceof Error && err.stack) lines.push(...err.stack.split("\n").slice(1));
    write(lines.map((line) => prefix + line).join("\n"), level);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function jsonLogger(level: LogLevel, write: (line: string, level: LogLevel) => void): Logger {
  // pino writes each line whole, with its level label first: `{"level":"warn",...}\n`.
  const stream = { write: (line: string) => write(line.replace(/\n$/, ""), (/^\{"level":"(\w+)"/.exec(line)?.[1] ?? "info") as LogLevel) };
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  const fieldsOf = (fields: LogFields | undefined): Record<string, unknown> => {
    if (!fields) return {};
    const { [TEXT_LINES]: _lines, ...rest } = fields;
    // pino's err serializer ({ type, message, stack }) only takes Error objects.
    if (rest.err !== undefined && !(rest.err instanceof Error)) rest.err = new Error(String(rest.err));
    return rest;
  };
  return {
    debug: (msg, fields) => log.debug(fieldsOf(fields), msg),
    info: (msg, fields) => log.info(fieldsOf(fields), msg),
    warn: (msg, fields) => log.warn(fieldsOf(fields), msg),
    error: (msg, fields) => log.error(fieldsOf(fields), msg),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Local time as the re-sync guide's log lines show it (docs/re-sync-guide.md): `2024-01-15 02:00:00`. */
export function timestamp(d = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** ISO 8601 in local time with its offset, to the millisecond: `2024-01-15T02:00:00.120+01:00`. */
function localIsoTime(d = new Date()): string {
  const offset = -d.getTimezoneOffset();
  const zone = offset === 0 ? "Z" : `${offset > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${timestamp(d).replace(" ", "T")}.${pad(d.getMilliseconds(), 3)}${zone}`;
}
