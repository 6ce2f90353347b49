// Logging: the old service's human lines by default; with LOG_FORMAT=json one JSON object per line
// ({ level, time, msg, ...fields }), formatted by pino. Both write warn/error to stderr and the
// rest to stdout, so `sync --json` keeps stdout for its result.
import pino from "pino";
import { redactUri } from "./redact.ts";

type LogLevel = "debug" | "info" | "warn" | "error";
type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
    const detail = fields?.error !== undefined ? `: ${String(fields.error)}` : "";
    write(`${msg}${detail}`, level);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
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
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Local time as the re-sync guide's log lines show it (docs/re-sync-guide.md): `2024-01-15 02:00:00`. */
export function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
