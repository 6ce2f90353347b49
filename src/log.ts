// Logging: the old service's human lines by default, one JSON object per line with LOG_FORMAT=json.
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  opts: { format: "text" | "json"; level: LogLevel },
  write: (line: string, level: LogLevel) => void = (line, level) =>
    (level === "error" || level === "warn" ? process.stderr : process.stdout).write(`${line}\n`),
): Logger {
  const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (RANK[level] < RANK[opts.level]) return;
    if (opts.format === "json") {
      write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }), level);
      return;
    }
    const detail = fields?.error !== undefined ? `: ${String(fields.error)}` : "";
    write(`${msg}${detail}`, level);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Local time as the guide's log lines show it: `2024-01-15 02:00:00`. */
export function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
