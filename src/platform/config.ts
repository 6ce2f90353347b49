// The one place that reads the environment. The old service's variable names are kept
// (HOST is the MongoDB URI there); clearer aliases take precedence when both are set.
import { existsSync, readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { FormatRegistry, Kind, type Static, type TOptional, type TSchema, Type } from "@sinclair/typebox";
import { Value, type ValueError, ValueErrorType } from "@sinclair/typebox/value";
import { Cron } from "croner";
import { redactValue, registerSecret, uriPassword } from "./redact.ts";

export class ConfigError extends Error {
  constructor(variable: string, value: string, expected: string) {
    super(`Invalid ${variable}=${JSON.stringify(redactValue(value))}: expected ${expected}`);
    this.name = "ConfigError";
  }
}

type Environment = Record<string, string | undefined>;

/** Parses a `.env` file: KEY=VALUE lines, `#` comments, optional quotes, optional `export `. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const quoted = /^(['"])(.*?)\1\s*(?:#.*)?$/.exec(value);
    if (quoted) value = quoted[2]!;
    else value = value.replace(/\s+#.*$/, "").trim();
    out[m[1]!] = value;
  }
  return out;
}

/**
 * Process environment over `.env` in the working directory (the environment wins). A variable
 * empty or blank in the environment counts as unset (setVariables), so the file's value stands.
 */
export function loadEnv(cwd = process.cwd(), processEnv: Environment = process.env): Environment {
  const file = resolve(cwd, ".env");
  let fromFile: Record<string, string> = {};
  if (existsSync(file)) {
    try {
      fromFile = parseDotEnv(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ConfigError(".env", file, `a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const set = Object.entries(processEnv).filter(([name, value]) => value?.trim() || !(name in fromFile));
  return { ...fromFile, ...Object.fromEntries(set) };
}

/** Replaces the password of any URI in `text` with `***` (also of a `user:password@host` without a scheme). */

/** BASE_URL unless set; the OpenAPI document names BASE_URL as its server only when it is another. */
export const DEFAULT_BASE_URL = "http://localhost:8000";
const CRON_EXPECTED = "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *'";

// A host name, IPv4 or IPv6 address (bare or in brackets), without port or scheme.
const HOST_RE = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[?[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?)$/;
const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** HOST_RE, and a name of digits and dots only is an IPv4 address (999.1.1.1 is neither). */
function validHost(value: string): boolean {
  return HOST_RE.test(value) && (!/^[\d.]+$/.test(value) || IPV4_RE.test(value));
}

/**
 * Checks a MongoDB connection string's shape. Not through `new URL()`: a replica-set seed list
 * (`mongodb://h1:27017,h2:27017/?replicaSet=rs0`) is a valid MongoDB URI but not a valid URL.
 */
function validMongoUri(value: string): boolean {
  const m = /^mongodb(\+srv)?:\/\/(?:[^@/?#\s]*@)?([^@/?#\s]+)(?:\/[^?#\s]*)?(?:\?[^#\s]*)?$/.exec(value);
  if (!m) return false;
  const hosts = m[2]!.split(",");
  if (m[1] && hosts.length !== 1) return false;
  return hosts.every((part) => {
    const hp = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(part);
    if (!hp || !validHost(hp[1]!)) return false;
    if (hp[2] === undefined) return true;
    return !m[1] && Number(hp[2]) >= 1 && Number(hp[2]) <= 65535;
  });
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const systemTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

// Checks a pattern cannot express, each with what a value failing it is told to be. TypeBox finds
// formats by name in a registry of the whole process, hence names no library uses.
const FORMATS = {
  "mongodb-uri": { check: validMongoUri, expected: "a valid URL" },
  "parsable-url": { check: (value) => URL.canParse(value), expected: "a valid URL" },
  "iana-time-zone": { check: validTimeZone, expected: "an IANA time zone such as Europe/Amsterdam or UTC" },
  host: { check: validHost, expected: "a host name or IP address" },
} satisfies Record<string, { check: (value: string) => boolean; expected: string }>;
for (const [name, { check }] of Object.entries(FORMATS)) FormatRegistry.Set(name, check);

// Each helper below declares one variable: its name, the schema of its value (with `expected`, the
// words of the error line) and its default. A variable without a default is optional.
type Declared<S extends TSchema, D> = undefined extends D ? TOptional<S> : S;

function variable<const N extends string, S extends TSchema, D extends Static<S> | (() => Static<S>) | undefined>(name: N, schema: S, fallback: D) {
  const declared = fallback === undefined ? Type.Optional(schema) : { ...schema, default: fallback };
  return { [name]: declared } as Record<N, Declared<S, D>>;
}

interface StringRule {
  pattern?: RegExp;
  minLength?: number;
  format?: keyof typeof FORMATS;
  expected?: string;
  /** The value is not repeated in the error line. */
  secret?: boolean;
}

const str = <const N extends string, D extends string | (() => string) | undefined = undefined>(name: N, fallback?: D, rule: StringRule = {}) =>
  variable(name, Type.String({ ...rule, pattern: rule.pattern?.source }), fallback as D);

const int = <const N extends string>(name: N, minimum: number, maximum: number, fallback: number) =>
  variable(name, Type.Integer({ minimum, maximum, expected: `an integer from ${minimum} to ${maximum}` }), fallback);

const num = <const N extends string>(name: N, minimum: number, maximum: number, fallback: number) =>
  variable(name, Type.Number({ minimum, maximum, expected: `a number from ${minimum} to ${maximum}` }), fallback);

const bool = <const N extends string, D extends boolean | undefined = undefined>(name: N, fallback?: D) =>
  variable(name, Type.Boolean({ expected: "true or false" }), fallback as D);

const oneOf = <const N extends string, const V extends [string, ...string[]]>(name: N, values: V, fallback: V[number]) => {
  const union = Type.Union(
    values.map((value) => Type.Literal(value)),
    { expected: `one of ${values.join(", ")}` },
  );
  // Unsafe only gives the union its literal type (a mapped array loses it); the check is still the union's.
  return variable(name, Type.Unsafe<V[number]>(union), fallback);
};

const host = <const N extends string>(name: N, fallback: string) => str(name, fallback, { format: "host" });

const url = <const N extends string, D extends string | undefined = undefined>(name: N, schemes: string[], fallback?: D) =>
  str(name, fallback as D, {
    pattern: new RegExp(`^(?:${schemes.map((s) => s.replace(/[+.]/g, "\\$&")).join("|")})://`),
    format: schemes.includes("mongodb") ? "mongodb-uri" : "parsable-url",
    expected: `a URL starting with ${schemes.map((s) => `${s}://`).join(" or ")}`,
  });

const HostPort = Type.Object({ host: Type.String(), port: Type.Integer({ minimum: 1, maximum: 65535 }) });

const hostPorts = <const N extends string>(name: N) => variable(name, Type.Array(HostPort, { expected: "a comma-separated list of host:port" }), []);

// The file's contents are checked once the schema has passed (see `pemPath`).
const pemFile = <const N extends string>(name: N) => str(name);

const collection = <const N extends string>(name: N, fallback: string) =>
  str(name, fallback, { pattern: /^(?!system\.)[A-Za-z0-9_.-]{1,120}$/, expected: "a collection name of letters, digits, '_', '.', '-'" });

// "*" or origins; empty items (a trailing comma) are ignored.
const ORIGIN = String.raw`\s*(?:\*|https?://[^\s/,]+)?\s*`;

/** The environment the service reads: every variable, what its value must be, its default. */
const EnvSchema = Type.Object({
  ...url("HOST", ["mongodb", "mongodb+srv"], "mongodb://localhost:27017"),
  ...url("MONGODB_URI", ["mongodb", "mongodb+srv"]),
  ...str("DB_NAME", "admin", { pattern: /^[^\s/\\."$*<>:|?]{1,63}$/, expected: 'a MongoDB database name (1-63 characters, none of /\\. "$*<>:|?)' }),
  ...host("REDIS_HOST", "localhost"),
  ...int("REDIS_PORT", 1, 65535, 6379),
  ...int("REDIS_DB", 0, 15, 0),
  ...url("REDIS_URL", ["redis", "rediss"]),
  ...hostPorts("REDIS_SENTINELS"),
  ...str("REDIS_SENTINEL_NAME", "mymaster"),
  ...hostPorts("REDIS_CLUSTER_NODES"),
  ...str("REDIS_USERNAME"),
  ...str("REDIS_PASSWORD", undefined, { secret: true }),
  ...str("REDIS_SENTINEL_PASSWORD", undefined, { secret: true }),
  ...bool("REDIS_TLS"),
  ...pemFile("REDIS_TLS_CA_FILE"),
  ...pemFile("REDIS_TLS_CERT_FILE"),
  ...pemFile("REDIS_TLS_KEY_FILE"),
  ...str("REDIS_KEY_PREFIX", "search-sync:", { pattern: /^[A-Za-z0-9:_.-]{1,64}$/, expected: "1-64 characters of letters, digits, ':', '_', '.', '-'" }),
  ...url("BASE_URL", ["http", "https"], DEFAULT_BASE_URL),
  ...str("DATA_SET_FILE", "data_set.json"),
  ...str("HISTORY_DB_PATH", "search-sync-history.db"),
  ...int("HISTORY_STREAM_MAXLEN", 10, 1_000_000, 1000),
  ...str("REPLICA_NAME", hostname, { pattern: /^[A-Za-z0-9._:-]{1,100}$/, expected: "1-100 characters of letters, digits, '.', '_', ':', '-'" }),
  ...int("PORT", 0, 65535, 8000),
  ...host("LISTEN_HOST", "0.0.0.0"),
  ...bool("ENABLE_SCHEDULER", true),
  ...str("SYNC_CRON", "0 2 * * *", { pattern: /^\S+( \S+){4,5}$/, expected: CRON_EXPECTED }),
  ...str("SYNC_TIMEZONE", systemTimeZone, { format: "iana-time-zone" }),
  ...num("SYNC_INTERVAL_HOURS", 1, 168, 24),
  ...num("SYNC_MAX_SHRINK_PERCENT", 0, 100, 50),
  ...int("SYNC_BATCH_SIZE", 10, 100_000, 1000),
  ...int("SYNC_LOCK_TTL_SECONDS", 2, 3600, 30),
  ...num("SHUTDOWN_TIMEOUT_SECONDS", 0, 3600, 25),
  ...int("SEARCH_CACHE_MB", 0, 4096, 64),
  // Sent in a header (Authorization: Bearer, X-API-Key): printable ASCII without spaces.
  ...str("ADMIN_API_KEY", undefined, { pattern: /^[!-~]{16,}$/, secret: true, expected: "at least 16 characters of printable ASCII, no spaces" }),
  ...str("CORS_ORIGINS", "", { pattern: new RegExp(`^${ORIGIN}(?:,${ORIGIN})*$`), expected: "a comma-separated list of origins like https://shop.example" }),
  ...str("ALLOWED_HOSTS", "", {
    pattern: /^\s*[A-Za-z0-9.-]*(\s*,\s*[A-Za-z0-9.-]*)*\s*$/,
    expected: "a comma-separated list of host names or IP addresses without ports, e.g. search.internal,10.0.0.5",
  }),
  ...url("ALERT_WEBHOOK_URL", ["http", "https"]),
  ...bool("NOTIFY_ON_SUCCESS", false),
  ...oneOf("LOG_FORMAT", ["text", "json"], "text"),
  ...oneOf("LOG_LEVEL", ["debug", "info", "warn", "error"], "info"),
  ...oneOf("SYNC_CHANGE_STREAMS", ["auto", "on", "off"], "auto"),
  ...int("CHANGE_STREAM_MAX_LAG_SECONDS", 1, 86_400, 60),
  ...str("CHANGE_STREAM_RESYNC_AFTER_SECONDS", "auto", { pattern: /^(auto|\d{1,6})$/, expected: "auto, or a number of seconds (0: never)" }),
  ...bool("LOG_REQUESTS", false),
  ...collection("CATEGORIES_COLLECTION", "categories"),
  ...collection("SUPPLIER_CATEGORIES_COLLECTION", "supplier_categories"),
  ...collection("BOXES_COLLECTION", "boxes"),
  ...collection("SUPPLIER_BOXES_COLLECTION", "supplier_boxes"),
  ...collection("OPTIONS_COLLECTION", "options"),
  ...collection("SUPPLIER_OPTIONS_COLLECTION", "supplier_options"),
});

type Env = typeof EnvSchema.static;
type HostPort = typeof HostPort.static;
const variables: Record<string, TSchema> = EnvSchema.properties;

type RedisMode = "standalone" | "sentinel" | "cluster";

/** TLS to Redis; the files are PEM paths, read when the client is made. */
interface RedisTls {
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
}

export interface Config {
  mongoUri: string;
  dbName: string;
  redis: {
    mode: RedisMode;
    url: string | null;
    host: string;
    port: number;
    db: number;
    sentinels: HostPort[];
    sentinelName: string;
    clusterNodes: HostPort[];
    /** For REDIS_HOST, cluster nodes and the master Sentinel names (a REDIS_URL carries its own). */
    username: string | null;
    password: string | null;
    sentinelPassword: string | null;
    tls: RedisTls | null;
  };
  keyPrefix: string;
  baseUrl: string;
  dataSetFile: string;
  historyDbPath: string;
  /** Finished runs the shared history stream keeps (XADD MAXLEN ~), for replicas to import. */
  historyStreamMaxLen: number;
  /** Names this process in the runs it records (`replica`); the host name by default. */
  replicaName: string;
  listenHost: string;
  port: number;
  enableScheduler: boolean;
  syncIntervalHours: number;
  syncCron: string;
  syncTimezone: string;
  syncMaxShrinkPercent: number;
  syncBatchSize: number;
  lockTtlMs: number;
  /** Follow MongoDB's change streams: auto (where the server has them), on (required), off. */
  changeStreams: Env["SYNC_CHANGE_STREAMS"];
  /** Lag of the change follower above which an alert is sent. */
  changeStreamMaxLagMs: number;
  /** How long the follower may stay behind before a full run catches up instead: "auto" (half the last full run's duration), or ms (0: never). */
  changeStreamResyncAfterMs: number | "auto";
  adminApiKey: string | null;
  corsOrigins: string[];
  /** Host names admin endpoints answer to without ADMIN_API_KEY, besides loopback names and BASE_URL's host. */
  allowedHosts: string[];
  shutdownTimeoutSeconds: number;
  /** Memory for finished search responses (0: no cache). */
  searchCacheBytes: number;
  alertWebhookUrl: string | null;
  notifyOnSuccess: boolean;
  logFormat: Env["LOG_FORMAT"];
  logLevel: Env["LOG_LEVEL"];
  /** One access log line per HTTP request. */
  logRequests: boolean;
  collections: {
    categories: { origin: string; supplier: string };
    boxes: { origin: string; supplier: string };
    options: { origin: string; supplier: string };
  };
}

/** The variables of the schema that are set, trimmed; empty and blank values count as unset. */
function setVariables(env: Environment): Record<string, string> {
  const set: Record<string, string> = {};
  for (const name of Object.keys(variables)) {
    const value = env[name]?.trim();
    if (value) set[name] = value;
  }
  // A shell that exports HOST=<machine name> must not break a config that uses MONGODB_URI.
  if (set.MONGODB_URI !== undefined) delete set.HOST;
  return set;
}

const BOOLEANS = new Map([...["true", "1", "yes", "on"].map((w) => [w, true] as const), ...["false", "0", "no", "off"].map((w) => [w, false] as const)]);

/** The value the schema describes, read from its text; text that does not read stays text, so the check fails. */
function coerce(schema: TSchema, text: string): unknown {
  // Number() alone would also read "0x10", "1e3" as an integer, and "Infinity".
  switch (schema[Kind]) {
    case "Integer":
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case "Number":
      return /^[0-9.eE+-]+$/.test(text) && Number.isFinite(Number(text)) ? Number(text) : text;
    case "Boolean":
      return BOOLEANS.get(text.toLowerCase()) ?? text;
    case "Union":
      return text.toLowerCase();
    case "Array":
      return text.split(",").map((part) => coerce(schema.items, part));
    case "Object": {
      // The only object is a HostPort item.
      const m = /^\s*([^\s:]+):(\d{1,5})\s*$/.exec(text);
      return m ? { host: m[1], port: Number(m[2]) } : text;
    }
    default:
      return text;
  }
}

/** The first value the schema rejects, as the one line that names it. */
function invalid(error: ValueError, set: Record<string, string>): ConfigError {
  const name = error.path.split("/")[1]!;
  const schema = variables[name]!;
  const expected = error.type === ValueErrorType.StringFormat ? FORMATS[schema.format as keyof typeof FORMATS].expected : schema.expected;
  return new ConfigError(name, schema.secret ? "(hidden)" : (set[name] ?? ""), expected);
}

function validate(set: Record<string, string>): Env {
  const values = Object.fromEntries(Object.entries(set).map(([name, text]) => [name, coerce(variables[name]!, text)]));
  const env = Value.Default(EnvSchema, values);
  const error = Value.Errors(EnvSchema, env).First();
  if (error) throw invalid(error, set);
  return env as Env;
}

/** A PEM file's path, its contents checked now so that a wrong file fails at start, not at the first connection. */
function pemPath(env: Env, name: "REDIS_TLS_CA_FILE" | "REDIS_TLS_CERT_FILE" | "REDIS_TLS_KEY_FILE"): string | null {
  const path = env[name];
  if (path === undefined) return null;
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(name, path, "the path of a readable PEM file");
  }
  if (!text.includes("-----BEGIN ")) throw new ConfigError(name, path, "a PEM file (-----BEGIN …)");
  return path;
}

function redisTls(env: Env): RedisTls | null {
  const files: RedisTls = {
    caFile: pemPath(env, "REDIS_TLS_CA_FILE"),
    certFile: pemPath(env, "REDIS_TLS_CERT_FILE"),
    keyFile: pemPath(env, "REDIS_TLS_KEY_FILE"),
  };
  if (!files.certFile !== !files.keyFile)
    throw new ConfigError(
      files.certFile ? "REDIS_TLS_KEY_FILE" : "REDIS_TLS_CERT_FILE",
      "",
      "set together with the other of REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE",
    );
  if (env.REDIS_TLS === false && env.REDIS_URL?.startsWith("rediss://"))
    throw new ConfigError("REDIS_TLS", "false", "true or unset with a rediss:// REDIS_URL (redis:// connects without TLS)");
  const on = env.REDIS_TLS ?? env.REDIS_URL?.startsWith("rediss://") ?? false;
  if (!on && !Object.values(files).some(Boolean)) return null;
  if (env.REDIS_URL?.startsWith("redis://")) throw new ConfigError("REDIS_URL", env.REDIS_URL, "a rediss:// URL when REDIS_TLS or a REDIS_TLS_* file is set");
  return files;
}

/** A REDIS_URL's database is its path: none, or a number as REDIS_DB takes (the client would send SELECT with any text). */
function checkRedisUrlDb(url: string | undefined): void {
  if (url === undefined) return;
  const db = new URL(url).pathname.replace(/^\//, "");
  if (db !== "" && !(/^\d{1,2}$/.test(db) && Number(db) <= 15))
    throw new ConfigError("REDIS_URL", url, "a database number from 0 to 15 as its path, or none, e.g. redis://cache:6379/0");
}

function redisConfig(env: Env, set: Record<string, string>): Config["redis"] {
  checkRedisUrlDb(env.REDIS_URL);
  const sentinels = env.REDIS_SENTINELS;
  const clusterNodes = env.REDIS_CLUSTER_NODES;
  if (sentinels.length && clusterNodes.length) throw new ConfigError("REDIS_CLUSTER_NODES", set.REDIS_CLUSTER_NODES!, "unset when REDIS_SENTINELS is set");
  return {
    mode: clusterNodes.length ? "cluster" : sentinels.length ? "sentinel" : "standalone",
    url: env.REDIS_URL ?? null,
    host: env.REDIS_HOST,
    port: env.REDIS_PORT,
    db: env.REDIS_DB,
    sentinels,
    sentinelName: env.REDIS_SENTINEL_NAME,
    clusterNodes,
    username: env.REDIS_USERNAME ?? null,
    password: env.REDIS_PASSWORD ?? null,
    sentinelPassword: env.REDIS_SENTINEL_PASSWORD ?? null,
    tls: redisTls(env),
  };
}

function toConfig(env: Env, set: Record<string, string>): Config {
  return {
    mongoUri: env.MONGODB_URI ?? env.HOST,
    dbName: env.DB_NAME,
    redis: redisConfig(env, set),
    keyPrefix: env.REDIS_KEY_PREFIX,
    baseUrl: env.BASE_URL,
    dataSetFile: env.DATA_SET_FILE,
    historyDbPath: env.HISTORY_DB_PATH,
    historyStreamMaxLen: env.HISTORY_STREAM_MAXLEN,
    replicaName: env.REPLICA_NAME,
    listenHost: env.LISTEN_HOST,
    port: env.PORT,
    enableScheduler: env.ENABLE_SCHEDULER,
    syncIntervalHours: env.SYNC_INTERVAL_HOURS,
    syncCron: env.SYNC_CRON,
    syncTimezone: env.SYNC_TIMEZONE,
    syncMaxShrinkPercent: env.SYNC_MAX_SHRINK_PERCENT,
    syncBatchSize: env.SYNC_BATCH_SIZE,
    lockTtlMs: env.SYNC_LOCK_TTL_SECONDS * 1000,
    changeStreams: env.SYNC_CHANGE_STREAMS,
    changeStreamMaxLagMs: env.CHANGE_STREAM_MAX_LAG_SECONDS * 1000,
    changeStreamResyncAfterMs: env.CHANGE_STREAM_RESYNC_AFTER_SECONDS === "auto" ? "auto" : Number(env.CHANGE_STREAM_RESYNC_AFTER_SECONDS) * 1000,
    adminApiKey: env.ADMIN_API_KEY ?? null,
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    allowedHosts: env.ALLOWED_HOSTS.split(",")
      .map((host) => host.trim().toLowerCase())
      .filter(Boolean),
    shutdownTimeoutSeconds: env.SHUTDOWN_TIMEOUT_SECONDS,
    searchCacheBytes: env.SEARCH_CACHE_MB * 1024 * 1024,
    alertWebhookUrl: env.ALERT_WEBHOOK_URL ?? null,
    notifyOnSuccess: env.NOTIFY_ON_SUCCESS,
    logFormat: env.LOG_FORMAT,
    logLevel: env.LOG_LEVEL,
    logRequests: env.LOG_REQUESTS,
    collections: {
      categories: { origin: env.CATEGORIES_COLLECTION, supplier: env.SUPPLIER_CATEGORIES_COLLECTION },
      boxes: { origin: env.BOXES_COLLECTION, supplier: env.SUPPLIER_BOXES_COLLECTION },
      options: { origin: env.OPTIONS_COLLECTION, supplier: env.SUPPLIER_OPTIONS_COLLECTION },
    },
  };
}

/** CORS_ORIGINS as browsers send an Origin: scheme and host in lower case, no default port. */
function corsOrigins(value: string): string[] {
  return value
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean)
    .map((origin) => {
      if (origin === "*") return origin;
      try {
        return new URL(origin).origin;
      } catch {
        throw new ConfigError("CORS_ORIGINS", value, "a comma-separated list of origins like https://shop.example");
      }
    });
}

/**
 * The history database and the dataset files are files the service writes: the history must
 * outlive the process (an in-memory database would not), and neither may be the other.
 */
function checkFiles(env: Env): void {
  if (env.HISTORY_DB_PATH === ":memory:") throw new ConfigError("HISTORY_DB_PATH", env.HISTORY_DB_PATH, "a file path (the history is kept across restarts)");
  const dataset = resolve(env.DATA_SET_FILE);
  if (dataset === resolve(env.HISTORY_DB_PATH)) throw new ConfigError("DATA_SET_FILE", env.DATA_SET_FILE, "another file than HISTORY_DB_PATH");
  if (existsSync(dataset) && statSync(dataset).isDirectory()) throw new ConfigError("DATA_SET_FILE", env.DATA_SET_FILE, "a file path, not a directory");
}

/**
 * SYNC_CRON as the scheduler will use it: croner (what @elysiajs/cron runs) must accept it in
 * SYNC_TIMEZONE and it must fire at least once, or the service would start with its scheduler
 * broken ("Failed to start scheduler") instead of stopping here with the variable named.
 */
function checkCron(env: Env): void {
  let job: Cron | undefined;
  try {
    job = new Cron(env.SYNC_CRON, { paused: true, timezone: env.SYNC_TIMEZONE });
    if (!job.nextRun()) throw new Error("it never fires");
  } catch (err) {
    const reason = (err as Error).message.replace(/^CronPattern: /, "");
    // croner checks the zone with Intl too; one it refuses that Intl took is still the zone's fault.
    if (err instanceof RangeError && /time ?zone/i.test(reason)) throw new ConfigError("SYNC_TIMEZONE", env.SYNC_TIMEZONE, `an IANA time zone (${reason})`);
    throw new ConfigError("SYNC_CRON", env.SYNC_CRON, `${CRON_EXPECTED} (${reason})`);
  } finally {
    job?.stop();
  }
}

/** Freezes an object and everything in it. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export function parseConfig(env: Environment): Config {
  const set = setVariables(env);
  const valid = validate(set);
  checkCron(valid);
  checkFiles(valid);
  const config = deepFreeze(toConfig(valid, set));
  const { redis } = config;
  const uris = [config.mongoUri, redis.url, config.baseUrl, config.alertWebhookUrl];
  for (const secret of [...uris.map((uri) => uri && uriPassword(uri)), redis.password, redis.sentinelPassword, config.adminApiKey]) registerSecret(secret);
  return config;
}
