// Configuration (SPEC §5): every variable with its default and with a set value; `.env` loading.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnv, parseConfig, parseDotEnv } from "../src/platform/config.ts";
import { redactUri, redactValue } from "../src/platform/redact.ts";

/** The value at a dotted path of the config. */
function at(config: unknown, path: string): unknown {
  return path.split(".").reduce((v: any, k) => v?.[k], config);
}

describe("defaults", () => {
  test("an empty environment gives the documented defaults", () => {
    const config = parseConfig({});
    expect(config).toEqual({
      mongoUri: "mongodb://localhost:27017",
      dbName: "admin",
      redis: {
        mode: "standalone",
        url: null,
        host: "localhost",
        port: 6379,
        db: 0,
        sentinels: [],
        sentinelName: "mymaster",
        clusterNodes: [],
        username: null,
        password: null,
        sentinelPassword: null,
        tls: null,
      },
      keyPrefix: "search-sync:",
      baseUrl: "http://localhost:8000",
      dataSetFile: "data_set.json",
      historyDbPath: "search-sync-history.db",
      historyStreamMaxLen: 1000,
      replicaName: hostname(),
      listenHost: "0.0.0.0",
      port: 8000,
      enableScheduler: true,
      syncIntervalHours: 24,
      syncCron: "0 2 * * *",
      syncTimezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      syncMaxShrinkPercent: 50,
      syncBatchSize: 1000,
      lockTtlMs: 30_000,
      changeStreams: "auto",
      changeStreamMaxLagMs: 60_000,
      changeStreamResyncAfterMs: "auto",
      adminApiKey: null,
      corsOrigins: [],
      allowedHosts: [],
      shutdownTimeoutSeconds: 25,
      searchCacheBytes: 64 * 1024 * 1024,
      alertWebhookUrl: null,
      notifyOnSuccess: false,
      logFormat: "text",
      logLevel: "info",
      logRequests: false,
      collections: {
        categories: { origin: "categories", supplier: "supplier_categories" },
        boxes: { origin: "boxes", supplier: "supplier_boxes" },
        options: { origin: "options", supplier: "supplier_options" },
      },
    });
  });

  test("empty and blank values count as unset", () => {
    expect(parseConfig({ PORT: "", REDIS_PORT: "   ", ENABLE_SCHEDULER: "", HOST: "" })).toEqual(parseConfig({}));
  });

  test("the config is frozen, nested objects included", () => {
    const config = parseConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.redis)).toBe(true);
    expect(Object.isFrozen(config.redis.sentinels)).toBe(true);
    expect(Object.isFrozen(config.collections.boxes)).toBe(true);
  });
});

describe("each variable with a set value", () => {
  // [variable, value, config path, parsed value]
  const cases: [string, string, string, unknown][] = [
    ["HOST", "mongodb://db.example:27017", "mongoUri", "mongodb://db.example:27017"],
    ["HOST", "mongodb+srv://user:pw@cluster0.example.net/shop", "mongoUri", "mongodb+srv://user:pw@cluster0.example.net/shop"],
    ["MONGODB_URI", "mongodb://mongo-1:27018,mongo-2:27018/?replicaSet=rs0", "mongoUri", "mongodb://mongo-1:27018,mongo-2:27018/?replicaSet=rs0"],
    ["DB_NAME", "shop_production", "dbName", "shop_production"],
    ["REDIS_HOST", "redis.internal", "redis.host", "redis.internal"],
    ["REDIS_PORT", "6380", "redis.port", 6380],
    ["REDIS_DB", "3", "redis.db", 3],
    ["REDIS_DB", "15", "redis.db", 15],
    ["REDIS_URL", "redis://:pw@cache.example:6379/2", "redis.url", "redis://:pw@cache.example:6379/2"],
    ["REDIS_SENTINEL_NAME", "shop-master", "redis.sentinelName", "shop-master"],
    ["BASE_URL", "https://search.shop.example", "baseUrl", "https://search.shop.example"],
    ["DATA_SET_FILE", "/var/lib/search/data_set.json", "dataSetFile", "/var/lib/search/data_set.json"],
    ["ENABLE_SCHEDULER", "false", "enableScheduler", false],
    ["ENABLE_SCHEDULER", "FALSE", "enableScheduler", false],
    ["ENABLE_SCHEDULER", "0", "enableScheduler", false],
    ["ENABLE_SCHEDULER", "no", "enableScheduler", false],
    ["ENABLE_SCHEDULER", "off", "enableScheduler", false],
    ["ENABLE_SCHEDULER", "True", "enableScheduler", true],
    ["ENABLE_SCHEDULER", "1", "enableScheduler", true],
    ["ENABLE_SCHEDULER", "yes", "enableScheduler", true],
    ["ENABLE_SCHEDULER", "on", "enableScheduler", true],
    ["SYNC_INTERVAL_HOURS", "12", "syncIntervalHours", 12],
    ["SYNC_INTERVAL_HOURS", "1.5", "syncIntervalHours", 1.5],
    ["SYNC_INTERVAL_HOURS", "168", "syncIntervalHours", 168],
    ["SYNC_INTERVAL_HOURS", "1", "syncIntervalHours", 1],
    ["PORT", "9000", "port", 9000],
    ["PORT", "0", "port", 0],
    ["LISTEN_HOST", "127.0.0.1", "listenHost", "127.0.0.1"],
    ["LISTEN_HOST", "::", "listenHost", "::"],
    ["REDIS_KEY_PREFIX", "shop:search:", "keyPrefix", "shop:search:"],
    ["HISTORY_DB_PATH", "/var/lib/search/history.db", "historyDbPath", "/var/lib/search/history.db"],
    ["HISTORY_STREAM_MAXLEN", "50000", "historyStreamMaxLen", 50_000],
    ["REPLICA_NAME", "search-2.internal", "replicaName", "search-2.internal"],
    ["SYNC_CRON", "30 3 * * 1-5", "syncCron", "30 3 * * 1-5"],
    ["SYNC_CRON", "0 0 2 * * *", "syncCron", "0 0 2 * * *"],
    ["SYNC_TIMEZONE", "Europe/Amsterdam", "syncTimezone", "Europe/Amsterdam"],
    ["SYNC_TIMEZONE", "UTC", "syncTimezone", "UTC"],
    ["SYNC_MAX_SHRINK_PERCENT", "20", "syncMaxShrinkPercent", 20],
    ["SYNC_MAX_SHRINK_PERCENT", "0", "syncMaxShrinkPercent", 0],
    ["SYNC_MAX_SHRINK_PERCENT", "100", "syncMaxShrinkPercent", 100],
    ["SYNC_BATCH_SIZE", "250", "syncBatchSize", 250],
    ["SYNC_LOCK_TTL_SECONDS", "2", "lockTtlMs", 2_000],
    ["SYNC_CHANGE_STREAMS", "off", "changeStreams", "off"],
    ["SYNC_CHANGE_STREAMS", "ON", "changeStreams", "on"],
    ["SYNC_LOCK_TTL_SECONDS", "90", "lockTtlMs", 90_000],
    ["ADMIN_API_KEY", "0123456789abcdef0123", "adminApiKey", "0123456789abcdef0123"],
    ["CORS_ORIGINS", "https://shop.example, http://localhost:3000", "corsOrigins", ["https://shop.example", "http://localhost:3000"]],
    ["CORS_ORIGINS", "*", "corsOrigins", ["*"]],
    // As browsers send an Origin: lower case, no default port.
    [
      "CORS_ORIGINS",
      "https://Shop.Example,https://b.example:443,http://c.example:8080",
      "corsOrigins",
      ["https://shop.example", "https://b.example", "http://c.example:8080"],
    ],
    ["SHUTDOWN_TIMEOUT_SECONDS", "5", "shutdownTimeoutSeconds", 5],
    ["SEARCH_CACHE_MB", "0", "searchCacheBytes", 0],
    ["SEARCH_CACHE_MB", "1", "searchCacheBytes", 1048576],
    ["ALERT_WEBHOOK_URL", "https://hooks.example/alert", "alertWebhookUrl", "https://hooks.example/alert"],
    ["NOTIFY_ON_SUCCESS", "true", "notifyOnSuccess", true],
    ["LOG_FORMAT", "json", "logFormat", "json"],
    ["LOG_FORMAT", "JSON", "logFormat", "json"],
    ["LOG_REQUESTS", "true", "logRequests", true],
    ["LOG_LEVEL", "debug", "logLevel", "debug"],
    ["LOG_LEVEL", "Error", "logLevel", "error"],
    ["CATEGORIES_COLLECTION", "cats", "collections.categories.origin", "cats"],
    ["SUPPLIER_CATEGORIES_COLLECTION", "sup_cats", "collections.categories.supplier", "sup_cats"],
    ["BOXES_COLLECTION", "box.v2", "collections.boxes.origin", "box.v2"],
    ["SUPPLIER_BOXES_COLLECTION", "sup-boxes", "collections.boxes.supplier", "sup-boxes"],
    ["OPTIONS_COLLECTION", "opts", "collections.options.origin", "opts"],
    ["SUPPLIER_OPTIONS_COLLECTION", "sup_opts", "collections.options.supplier", "sup_opts"],
  ];

  for (const [variable, value, path, expected] of cases) {
    test(`${variable}=${value}`, () => {
      const config = parseConfig({ [variable]: value });
      expect(at(config, path)).toEqual(expected);
      // Nothing else changes.
      const rest = structuredClone(parseConfig({})) as unknown as Record<string, unknown>;
      const got = structuredClone(config) as unknown as Record<string, unknown>;
      const parts = path.split(".");
      const clear = (o: any) => {
        let v = o;
        for (const p of parts.slice(0, -1)) v = v[p];
        delete v[parts[parts.length - 1]!];
      };
      clear(rest);
      clear(got);
      expect(got).toEqual(rest);
    });
  }

  test("MongoDB URIs: seed lists, options, IPv6 and credentials are valid; a bad host or port is not", () => {
    const good = [
      "mongodb://localhost",
      "mongodb://u:p%40ss@h1.example:27017,h2.example:27018,h3.example/shop?replicaSet=rs0&authSource=admin",
      "mongodb://[::1]:27017/",
      "mongodb://10.0.0.5:27017/?directConnection=true",
      "mongodb+srv://user:pw@cluster0.abcde.mongodb.net/shop?retryWrites=true",
    ];
    for (const uri of good) expect(parseConfig({ MONGODB_URI: uri }).mongoUri).toBe(uri);
    const bad = [
      "mongodb://",
      "mongodb://h1:27017,",
      "mongodb://h1:0",
      "mongodb://h1:70000",
      "mongodb+srv://h1:27017",
      "mongodb+srv://a.example,b.example",
      "mongodb://h 1",
    ];
    for (const uri of bad) expect(() => parseConfig({ MONGODB_URI: uri }), uri).toThrow(`Invalid MONGODB_URI=${JSON.stringify(uri)}: expected a valid URL`);
  });

  test("values are trimmed", () => {
    expect(parseConfig({ PORT: " 9001 ", DB_NAME: "\tshop\t" })).toMatchObject({ port: 9001, dbName: "shop" });
  });

  test("MONGODB_URI wins over HOST, which is then not even checked", () => {
    expect(parseConfig({ HOST: "mongodb://old:27017", MONGODB_URI: "mongodb://new:27017" }).mongoUri).toBe("mongodb://new:27017");
    // A shell that exports HOST=<machine name> must not break a config that uses MONGODB_URI.
    expect(parseConfig({ HOST: "buildbox-7", MONGODB_URI: "mongodb://new:27017" }).mongoUri).toBe("mongodb://new:27017");
  });

  test("REDIS_URL is kept beside REDIS_HOST/PORT/DB (the client uses the URL); rediss:// turns TLS on", () => {
    const config = parseConfig({ REDIS_URL: "rediss://cache:6380/1", REDIS_HOST: "other", REDIS_PORT: "7000", REDIS_DB: "4" });
    expect(config.redis).toEqual({
      mode: "standalone",
      url: "rediss://cache:6380/1",
      host: "other",
      port: 7000,
      db: 4,
      sentinels: [],
      sentinelName: "mymaster",
      clusterNodes: [],
      username: null,
      password: null,
      sentinelPassword: null,
      tls: { caFile: null, certFile: null, keyFile: null },
    });
  });

  test("Redis credentials and TLS files: for host/port, Cluster and Sentinel; PEM files checked at start", () => {
    const dir = mkdtempSync(join(tmpdir(), "ss-tls-"));
    const pem = join(dir, "ca.pem");
    writeFileSync(pem, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const notPem = join(dir, "ca.txt");
    writeFileSync(notPem, "hello");
    try {
      const config = parseConfig({ REDIS_CLUSTER_NODES: "n1:7000", REDIS_USERNAME: "app", REDIS_PASSWORD: "pw", REDIS_TLS_CA_FILE: pem });
      expect(config.redis).toMatchObject({ mode: "cluster", username: "app", password: "pw", tls: { caFile: pem, certFile: null, keyFile: null } });
      expect(parseConfig({ REDIS_TLS: "true" }).redis.tls).toEqual({ caFile: null, certFile: null, keyFile: null });
      expect(parseConfig({ REDIS_URL: "redis://cache:6379" }).redis.tls).toBeNull();
      expect(() => parseConfig({ REDIS_TLS_CA_FILE: join(dir, "missing.pem") })).toThrow("expected the path of a readable PEM file");
      expect(() => parseConfig({ REDIS_TLS_CA_FILE: notPem })).toThrow("expected a PEM file");
      expect(() => parseConfig({ REDIS_TLS_CERT_FILE: pem })).toThrow("Invalid REDIS_TLS_KEY_FILE");
      expect(() => parseConfig({ REDIS_URL: "redis://cache:6379", REDIS_TLS: "yes" })).toThrow("expected a rediss:// URL");
      expect(() => parseConfig({ REDIS_TLS: "maybe" })).toThrow("expected true or false");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("REDIS_SENTINELS selects Sentinel mode", () => {
    const config = parseConfig({ REDIS_SENTINELS: "s1:26379, s2:26380", REDIS_SENTINEL_NAME: "shop" });
    expect(config.redis.mode).toBe("sentinel");
    expect(config.redis.sentinels).toEqual([
      { host: "s1", port: 26379 },
      { host: "s2", port: 26380 },
    ]);
    expect(config.redis.sentinelName).toBe("shop");
  });

  test("REDIS_CLUSTER_NODES selects Cluster mode", () => {
    const config = parseConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2:7001" });
    expect(config.redis.mode).toBe("cluster");
    expect(config.redis.clusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "10.0.0.2", port: 7001 },
    ]);
  });

  test("the guide's example .env parses as documented", () => {
    const text = `# MongoDB Configuration
HOST=mongodb://localhost:27017
DB_NAME=admin

# Redis Configuration
REDIS_HOST=localhost
REDIS_PORT=6379
REDIS_DB=0

# Application Configuration
BASE_URL=http://localhost:8000
DATA_SET_FILE=data_set.json

# Scheduler Configuration
ENABLE_SCHEDULER=true
SYNC_INTERVAL_HOURS=24
`;
    expect(parseConfig(parseDotEnv(text))).toEqual(parseConfig({}));
  });
});

describe(".env file", () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  test("parseDotEnv: comments, blank lines, quotes, export, inline comments, '=' in values", () => {
    const text = [
      "# a comment",
      "",
      "   # an indented comment",
      "PLAIN=value",
      "SPACED = spaced value  ",
      'DOUBLE="double # not a comment"',
      "SINGLE='single $HOME'",
      "export EXPORTED=yes",
      "INLINE=value # a trailing comment",
      'QUOTED_INLINE="quoted value" # a trailing comment',
      "HASH=abc#def",
      "URI=mongodb://u:p@h:27017/db?replicaSet=rs0&w=majority",
      "EMPTY=",
      "not a line",
      "CRLF=crlf\r",
      "UNICODE=Papier à lettres",
    ].join("\n");
    expect(parseDotEnv(text)).toEqual({
      PLAIN: "value",
      SPACED: "spaced value",
      DOUBLE: "double # not a comment",
      SINGLE: "single $HOME",
      EXPORTED: "yes",
      INLINE: "value",
      QUOTED_INLINE: "quoted value",
      HASH: "abc#def",
      URI: "mongodb://u:p@h:27017/db?replicaSet=rs0&w=majority",
      EMPTY: "",
      CRLF: "crlf",
      UNICODE: "Papier à lettres",
    });
  });

  test("loadEnv reads .env from the working directory; the environment wins", () => {
    dir = mkdtempSync(join(tmpdir(), "ss-config-"));
    writeFileSync(
      join(dir, ".env"),
      ["# settings", "DB_NAME=from_file", "REDIS_PORT=6390", 'BASE_URL="http://file.example"', "SYNC_INTERVAL_HOURS=6 # every six hours"].join("\n"),
    );
    const env = loadEnv(dir, { DB_NAME: "from_env", PATH: "/bin" });
    expect(env).toEqual({
      DB_NAME: "from_env",
      REDIS_PORT: "6390",
      BASE_URL: "http://file.example",
      SYNC_INTERVAL_HOURS: "6",
      PATH: "/bin",
    });
    expect(parseConfig(env)).toMatchObject({ dbName: "from_env", redis: { port: 6390 }, baseUrl: "http://file.example", syncIntervalHours: 6 });
  });

  test("a variable empty or blank in the environment leaves the .env value", () => {
    dir = mkdtempSync(join(tmpdir(), "ss-config-"));
    writeFileSync(join(dir, ".env"), ["DB_NAME=from_file", 'SYNC_CRON="30 4 * * *"'].join("\n"));
    const env = loadEnv(dir, { DB_NAME: "", SYNC_CRON: " ", REDIS_PORT: "" });
    expect(parseConfig(env)).toMatchObject({ dbName: "from_file", syncCron: "30 4 * * *", redis: { port: 6379 } });
  });

  test("no .env file: only the environment", () => {
    dir = mkdtempSync(join(tmpdir(), "ss-config-"));
    expect(loadEnv(dir, { PORT: "1234" })).toEqual({ PORT: "1234" });
  });
});

describe("redactUri", () => {
  test("hides passwords of URIs, keeps the rest", () => {
    expect(redactUri("mongodb://admin:s3cret@db:27017/shop")).toBe("mongodb://admin:***@db:27017/shop");
    expect(redactUri("redis://:s3cret@cache:6379")).toBe("redis://:***@cache:6379");
    expect(redactUri("failed: rediss://u:p%40ss@cache and mongodb+srv://a:b@c.example")).toBe("failed: rediss://u:***@cache and mongodb+srv://a:***@c.example");
    expect(redactUri("mongodb://db:27017/shop")).toBe("mongodb://db:27017/shop");
    expect(redactUri("mongodb://user@db:27017")).toBe("mongodb://user@db:27017");
    expect(redactUri("connect ECONNREFUSED 127.0.0.1:27017")).toBe("connect ECONNREFUSED 127.0.0.1:27017");
    // Without a scheme (a common mistake in HOST), the password is hidden too.
    expect(redactUri("admin:s3cret@db.example:27017")).toBe("admin:***@db.example:27017");
    expect(redactUri('Invalid HOST="mongodb//admin:s3cret@db"')).toBe('Invalid HOST="mongodb//admin:***@db"');
    expect(redactUri("see 10:30 user@example.com")).toBe("see 10:30 user@example.com");
  });

  test("a password holding '@' or a space shows no part of itself", () => {
    expect(redactUri("mongodb://admin:hunter@2secret@h:27017/db")).toBe("mongodb://admin:***@h:27017/db");
    expect(redactValue("mongodb://admin:hunter@2secret@h")).toBe("mongodb://admin:***@h");
    expect(redactValue("mongodb://admin:pass word@h")).toBe("mongodb://admin:***@h");
    expect(redactValue("admin:pa ss@w@rd@h:1")).toBe("admin:***@h:1");
  });

  test("secrets of a parsed configuration are masked wherever they appear, also URL-encoded", () => {
    parseConfig({
      MONGODB_URI: "mongodb://admin:M0ngo%20pw%40x@db:27017/shop",
      REDIS_PASSWORD: "redis pass word 1",
      REDIS_SENTINEL_PASSWORD: "sentinel-secret-2",
      ADMIN_API_KEY: "admin-key-secret-0123",
      BASE_URL: "http://docs:base-secret-3@search.internal",
      ALERT_WEBHOOK_URL: "https://hook:hook-secret-4@hooks.example/alert",
    });
    for (const secret of ["M0ngo pw@x", "redis pass word 1", "sentinel-secret-2", "admin-key-secret-0123", "base-secret-3", "hook-secret-4"]) {
      const text = `error: ${secret} and ${encodeURIComponent(secret)} in a message`;
      expect(redactUri(text)).toBe("error: *** and *** in a message");
    }
  });

  test("an invalid URI value names the variable without its password", () => {
    for (const uri of ["mongodb://admin:hunter@2secret@h:notaport", "mongodb://admin:pass word@h:x"]) {
      let message = "";
      try {
        parseConfig({ MONGODB_URI: uri });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toStartWith('Invalid MONGODB_URI="mongodb://admin:***@h');
      for (const part of ["hunter", "2secret", "pass", "word"]) expect(message).not.toContain(part);
    }
  });
});

describe("documentation", () => {
  test("every variable the configuration reads is in the README's configuration table", async () => {
    const source = await Bun.file(join(import.meta.dir, "../src/platform/config.ts")).text();
    const readme = await Bun.file(join(import.meta.dir, "../README.md")).text();
    const variables = [
      ...new Set([...source.matchAll(/\b(?:get|str|int|num|bool|oneOf|hostPorts|url|host|pemFile|collection)\("([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!)),
    ];
    const tableRows = readme.split("\n").filter((line) => line.startsWith("| `"));
    expect(variables.length).toBeGreaterThan(30);
    expect(variables.filter((v) => !tableRows.some((row) => row.includes(`\`${v}\``)))).toEqual([]);
  });
});
