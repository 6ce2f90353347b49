// The one place that reads the environment. The old service's variable names are kept
// (HOST is the MongoDB URI there); clearer aliases take precedence when both are set.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

export type RedisMode = "standalone" | "sentinel" | "cluster";

export interface Config {
  mongoUri: string;
  dbName: string;
  redis: {
    mode: RedisMode;
    url: string | null;
    host: string;
    port: number;
    db: number;
    sentinels: { host: string; port: number }[];
    sentinelName: string;
    clusterNodes: { host: string; port: number }[];
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
  listenHost: string;
  port: number;
  enableScheduler: boolean;
  syncIntervalHours: number;
  syncCron: string;
  syncTimezone: string;
  syncMaxShrinkPercent: number;
  syncBatchSize: number;
  lockTtlMs: number;
  adminApiKey: string | null;
  corsOrigins: string[];
  shutdownTimeoutSeconds: number;
  /** Memory for finished search responses (0: no cache). */
  searchCacheBytes: number;
  alertWebhookUrl: string | null;
  notifyOnSuccess: boolean;
  logFormat: "text" | "json";
  logLevel: "debug" | "info" | "warn" | "error";
  collections: {
    categories: { origin: string; supplier: string };
    boxes: { origin: string; supplier: string };
    options: { origin: string; supplier: string };
  };
}

/** TLS to Redis; the files are PEM paths, read when the client is made. */
export interface RedisTls {
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
}

export class ConfigError extends Error {
  constructor(variable: string, value: string, expected: string) {
    super(`Invalid ${variable}=${JSON.stringify(redactUri(value))}: expected ${expected}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

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

/** Process environment over `.env` in the working directory (the environment wins). */
export function loadEnv(cwd = process.cwd(), processEnv: Env = process.env): Env {
  const file = resolve(cwd, ".env");
  const fromFile = existsSync(file) ? parseDotEnv(readFileSync(file, "utf8")) : {};
  return { ...fromFile, ...processEnv };
}

/** Replaces the password of any URI in `text` with `***` (also of a `user:password@host` without a scheme). */
export function redactUri(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, "$1***@").replace(/(^|[\s"'=(,])([^:@\s"'=(,]+:)(?!\/\/)[^@\s"']*@/g, "$1$2***@");
}

// A host name, IPv4 or IPv6 address (bare or in brackets), without port or scheme.
const HOST_RE = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[?[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?)$/;

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
    if (!hp || !HOST_RE.test(hp[1]!)) return false;
    if (hp[2] === undefined) return true;
    return !m[1] && Number(hp[2]) >= 1 && Number(hp[2]) <= 65535;
  });
}

/** Freezes an object and everything in it. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export function parseConfig(env: Env): Config {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const str = (name: string, fallback: string) => get(name) ?? fallback;

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new ConfigError(name, v, `an integer from ${min} to ${max}`);
    return Number(v);
  };
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^[0-9.eE+-]+$/.test(v) || !Number.isFinite(n) || n < min || n > max) throw new ConfigError(name, v, `a number from ${min} to ${max}`);
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = get(name);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase();
    if (["true", "1", "yes", "on"].includes(lower)) return true;
    if (["false", "0", "no", "off"].includes(lower)) return false;
    throw new ConfigError(name, v, "true or false");
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const v = get(name);
    if (v === undefined) return fallback;
    if (!allowed.includes(v.toLowerCase() as T)) throw new ConfigError(name, v, `one of ${allowed.join(", ")}`);
    return v.toLowerCase() as T;
  };
  const hostPorts = (name: string): { host: string; port: number }[] => {
    const v = get(name);
    if (v === undefined) return [];
    return v.split(",").map((part) => {
      const m = /^\s*([^\s:]+):(\d{1,5})\s*$/.exec(part);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError(name, v, "a comma-separated list of host:port");
      return { host: m[1]!, port: Number(m[2]) };
    });
  };
  const url = (name: string, schemes: string[]): string | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    if (!schemes.some((s) => v.startsWith(`${s}://`))) throw new ConfigError(name, v, `a URL starting with ${schemes.map((s) => `${s}://`).join(" or ")}`);
    if (schemes.includes("mongodb")) {
      if (!validMongoUri(v)) throw new ConfigError(name, v, "a valid URL");
      return v;
    }
    try {
      new URL(v);
    } catch {
      throw new ConfigError(name, v, "a valid URL");
    }
    return v;
  };
  const host = (name: string, fallback: string): string => {
    const v = str(name, fallback);
    if (!HOST_RE.test(v)) throw new ConfigError(name, v, "a host name or IP address");
    return v;
  };

  const mongoUri = url("MONGODB_URI", ["mongodb", "mongodb+srv"]) ?? url("HOST", ["mongodb", "mongodb+srv"]) ?? "mongodb://localhost:27017";

  const redisUrl = url("REDIS_URL", ["redis", "rediss"]) ?? null;
  const sentinels = hostPorts("REDIS_SENTINELS");
  const clusterNodes = hostPorts("REDIS_CLUSTER_NODES");
  if (sentinels.length && clusterNodes.length) throw new ConfigError("REDIS_CLUSTER_NODES", get("REDIS_CLUSTER_NODES")!, "unset when REDIS_SENTINELS is set");
  const mode: RedisMode = clusterNodes.length ? "cluster" : sentinels.length ? "sentinel" : "standalone";
  const pemFile = (name: string): string | null => {
    const v = get(name);
    if (v === undefined) return null;
    let text = "";
    try {
      text = readFileSync(v, "utf8");
    } catch {
      throw new ConfigError(name, v, "the path of a readable PEM file");
    }
    if (!text.includes("-----BEGIN ")) throw new ConfigError(name, v, "a PEM file (-----BEGIN …)");
    return v;
  };
  const tlsFiles: RedisTls = { caFile: pemFile("REDIS_TLS_CA_FILE"), certFile: pemFile("REDIS_TLS_CERT_FILE"), keyFile: pemFile("REDIS_TLS_KEY_FILE") };
  if (!tlsFiles.certFile !== !tlsFiles.keyFile)
    throw new ConfigError(
      tlsFiles.certFile ? "REDIS_TLS_KEY_FILE" : "REDIS_TLS_CERT_FILE",
      "",
      "set together with the other of REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE",
    );
  const tls = bool("REDIS_TLS", redisUrl?.startsWith("rediss://") ?? false) || Object.values(tlsFiles).some(Boolean) ? tlsFiles : null;
  if (tls && redisUrl?.startsWith("redis://")) throw new ConfigError("REDIS_URL", redisUrl, "a rediss:// URL when REDIS_TLS or a REDIS_TLS_* file is set");

  const keyPrefix = str("REDIS_KEY_PREFIX", "search-sync:");
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(keyPrefix))
    throw new ConfigError("REDIS_KEY_PREFIX", keyPrefix, "1-64 characters of letters, digits, ':', '_', '.', '-'");

  const dbName = str("DB_NAME", "admin");
  if (!/^[^\s/\\."$*<>:|?]{1,63}$/.test(dbName)) throw new ConfigError("DB_NAME", dbName, 'a MongoDB database name (1-63 characters, none of /\\. "$*<>:|?)');

  const syncCron = str("SYNC_CRON", "0 2 * * *");
  if (!/^\S+( \S+){4,5}$/.test(syncCron)) throw new ConfigError("SYNC_CRON", syncCron, "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *'");

  const syncTimezone = str("SYNC_TIMEZONE", Intl.DateTimeFormat().resolvedOptions().timeZone);
  try {
    new Intl.DateTimeFormat("en", { timeZone: syncTimezone });
  } catch {
    throw new ConfigError("SYNC_TIMEZONE", syncTimezone, "an IANA time zone such as Europe/Amsterdam or UTC");
  }

  const collection = (name: string, fallback: string) => {
    const v = str(name, fallback);
    if (!/^[A-Za-z0-9_.-]{1,120}$/.test(v) || v.startsWith("system.")) throw new ConfigError(name, v, "a collection name of letters, digits, '_', '.', '-'");
    return v;
  };

  const corsOrigins = (get("CORS_ORIGINS") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const origin of corsOrigins)
    if (origin !== "*" && !/^https?:\/\/[^\s/]+$/.test(origin))
      throw new ConfigError("CORS_ORIGINS", get("CORS_ORIGINS")!, "a comma-separated list of origins like https://shop.example");

  const adminApiKey = get("ADMIN_API_KEY") ?? null;
  if (adminApiKey !== null && adminApiKey.length < 16) throw new ConfigError("ADMIN_API_KEY", "(hidden)", "at least 16 characters");

  return deepFreeze({
    mongoUri,
    dbName,
    redis: {
      mode,
      url: redisUrl,
      host: host("REDIS_HOST", "localhost"),
      port: int("REDIS_PORT", 6379, 1, 65535),
      db: int("REDIS_DB", 0, 0, 15),
      sentinels,
      sentinelName: str("REDIS_SENTINEL_NAME", "mymaster"),
      clusterNodes,
      username: get("REDIS_USERNAME") ?? null,
      password: get("REDIS_PASSWORD") ?? null,
      sentinelPassword: get("REDIS_SENTINEL_PASSWORD") ?? null,
      tls,
    },
    keyPrefix,
    baseUrl: url("BASE_URL", ["http", "https"]) ?? "http://localhost:8000",
    dataSetFile: str("DATA_SET_FILE", "data_set.json"),
    historyDbPath: str("HISTORY_DB_PATH", "search-sync-history.db"),
    listenHost: host("LISTEN_HOST", "0.0.0.0"),
    port: int("PORT", 8000, 0, 65535),
    enableScheduler: bool("ENABLE_SCHEDULER", true),
    syncIntervalHours: num("SYNC_INTERVAL_HOURS", 24, 1, 168),
    syncCron,
    syncTimezone,
    syncMaxShrinkPercent: num("SYNC_MAX_SHRINK_PERCENT", 50, 0, 100),
    syncBatchSize: int("SYNC_BATCH_SIZE", 1000, 10, 100_000),
    lockTtlMs: int("SYNC_LOCK_TTL_SECONDS", 30, 2, 3600) * 1000,
    adminApiKey,
    corsOrigins,
    shutdownTimeoutSeconds: num("SHUTDOWN_TIMEOUT_SECONDS", 25, 0, 3600),
    searchCacheBytes: int("SEARCH_CACHE_MB", 64, 0, 4096) * 1024 * 1024,
    alertWebhookUrl: url("ALERT_WEBHOOK_URL", ["http", "https"]) ?? null,
    notifyOnSuccess: bool("NOTIFY_ON_SUCCESS", false),
    logFormat: oneOf("LOG_FORMAT", "text", ["text", "json"] as const),
    logLevel: oneOf("LOG_LEVEL", "info", ["debug", "info", "warn", "error"] as const),
    collections: {
      categories: {
        origin: collection("CATEGORIES_COLLECTION", "categories"),
        supplier: collection("SUPPLIER_CATEGORIES_COLLECTION", "supplier_categories"),
      },
      boxes: {
        origin: collection("BOXES_COLLECTION", "boxes"),
        supplier: collection("SUPPLIER_BOXES_COLLECTION", "supplier_boxes"),
      },
      options: {
        origin: collection("OPTIONS_COLLECTION", "options"),
        supplier: collection("SUPPLIER_OPTIONS_COLLECTION", "supplier_options"),
      },
    },
  });
}
