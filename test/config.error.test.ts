// Bad configuration (SPEC §5): one clear line naming the variable, its value and what is expected;
// through the real entry point, exit code 2 and exactly that line on stderr.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCommand } from "../scripts/lib/binary.ts";
import { ConfigError, parseConfig } from "../src/platform/config.ts";
import { MONGODB_URI, REDIS_ENV } from "./env.ts";

function configError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

// [variable, bad value, what the message must say is expected]
const cases: [string, string, string][] = [
  ["REDIS_PORT", "abc", "an integer from 1 to 65535"],
  ["REDIS_PORT", "0", "an integer from 1 to 65535"],
  ["REDIS_PORT", "65536", "an integer from 1 to 65535"],
  ["REDIS_PORT", "6379.5", "an integer from 1 to 65535"],
  ["REDIS_DB", "x", "an integer from 0 to 15"],
  ["REDIS_DB", "16", "an integer from 0 to 15"],
  ["REDIS_DB", "-1", "an integer from 0 to 15"],
  ["PORT", "70000", "an integer from 0 to 65535"],
  ["PORT", "-1", "an integer from 0 to 65535"],
  ["PORT", "eighty", "an integer from 0 to 65535"],
  ["SYNC_INTERVAL_HOURS", "-3", "a number from 1 to 168"],
  ["SYNC_INTERVAL_HOURS", "0", "a number from 1 to 168"],
  ["SYNC_INTERVAL_HOURS", "169", "a number from 1 to 168"],
  ["SYNC_INTERVAL_HOURS", "24h", "a number from 1 to 168"],
  ["SYNC_INTERVAL_HOURS", "Infinity", "a number from 1 to 168"],
  ["SYNC_INTERVAL_HOURS", "0x10", "a number from 1 to 168"],
  ["ENABLE_SCHEDULER", "maybe", "true or false"],
  ["ENABLE_SCHEDULER", "enabled", "true or false"],
  ["NOTIFY_ON_SUCCESS", "2", "true or false"],
  ["SYNC_MAX_SHRINK_PERCENT", "150", "a number from 0 to 100"],
  ["SYNC_MAX_SHRINK_PERCENT", "-5", "a number from 0 to 100"],
  ["SYNC_BATCH_SIZE", "5", "an integer from 10 to 100000"],
  ["SYNC_BATCH_SIZE", "1e3", "an integer from 10 to 100000"],
  ["SYNC_LOCK_TTL_SECONDS", "1", "an integer from 2 to 3600"],
  ["SHUTDOWN_TIMEOUT_SECONDS", "soon", "a number from 0 to 3600"],
  ["SEARCH_CACHE_MB", "-1", "an integer from 0 to 4096"],
  ["SEARCH_CACHE_MB", "lots", "an integer from 0 to 4096"],
  ["HOST", "localhost", "a URL starting with mongodb:// or mongodb+srv://"],
  ["HOST", "localhost:27017", "a URL starting with mongodb:// or mongodb+srv://"],
  ["HOST", "http://db.example:27017", "a URL starting with mongodb:// or mongodb+srv://"],
  ["MONGODB_URI", "mongodb://db.example:notaport", "a valid URL"],
  ["REDIS_URL", "localhost:6379", "a URL starting with redis:// or rediss://"],
  ["REDIS_URL", "http://cache:6379", "a URL starting with redis:// or rediss://"],
  ["REDIS_URL", "redis://cache:99999", "a valid URL"],
  ["BASE_URL", "localhost:8000", "a URL starting with http:// or https://"],
  ["ALERT_WEBHOOK_URL", "ftp://hooks.example/alert", "a URL starting with http:// or https://"],
  ["REDIS_HOST", "redis://cache.example", "a host name or IP address"],
  ["REDIS_HOST", "cache.example:6379", "a host name or IP address"],
  ["LISTEN_HOST", "0.0.0.0:8000", "a host name or IP address"],
  ["LISTEN_HOST", "999.999.999.999", "a host name or IP address"],
  ["REDIS_HOST", "10.0.0", "a host name or IP address"],
  ["REDIS_URL", "redis://cache:6379/abc", "a database number from 0 to 15 as its path, or none, e.g. redis://cache:6379/0"],
  ["REDIS_URL", "redis://cache:6379/16", "a database number from 0 to 15 as its path, or none, e.g. redis://cache:6379/0"],
  ["HISTORY_DB_PATH", ":memory:", "a file path (the history is kept across restarts)"],
  ["CORS_ORIGINS", "http://[::1", "a comma-separated list of origins like https://shop.example"],
  ["REDIS_SENTINELS", "s1", "a comma-separated list of host:port"],
  ["REDIS_SENTINELS", "s1:26379,s2:0", "a comma-separated list of host:port"],
  ["REDIS_CLUSTER_NODES", "n1:7000,n2", "a comma-separated list of host:port"],
  ["REDIS_KEY_PREFIX", "has space:", "1-64 characters of letters, digits, ':', '_', '.', '-'"],
  ["REDIS_KEY_PREFIX", "star*", "1-64 characters of letters, digits, ':', '_', '.', '-'"],
  ["HISTORY_STREAM_MAXLEN", "5", "an integer from 10 to 1000000"],
  ["REPLICA_NAME", "search 2", "1-100 characters of letters, digits, '.', '_', ':', '-'"],
  ["DB_NAME", "shop/prod", 'a MongoDB database name (1-63 characters, none of /\\. "$*<>:|?)'],
  ["DB_NAME", "shop.prod", 'a MongoDB database name (1-63 characters, none of /\\. "$*<>:|?)'],
  ["SYNC_CRON", "every day", "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *'"],
  ["SYNC_CRON", "0 0 0 * * * *", "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *'"],
  // Five fields that croner (what the scheduler runs) refuses, or that never fire.
  ["SYNC_CRON", "99 99 * * *", "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *' (minute value out of range: '99')"],
  ["SYNC_CRON", "0 61 * * *", "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *' (hour value out of range: '61')"],
  ["SYNC_CRON", "0 2 * * 8", "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *' (dayOfWeek value out of range: '8')"],
  ["SYNC_CRON", "0 2 30 2 *", "a cron pattern of 5 or 6 fields, e.g. '0 2 * * *' (it never fires)"],
  ["SYNC_TIMEZONE", "Mars/Olympus_Mons", "an IANA time zone such as Europe/Amsterdam or UTC"],
  ["LOG_FORMAT", "xml", "one of text, json"],
  ["LOG_LEVEL", "trace", "one of debug, info, warn, error"],
  ["CORS_ORIGINS", "shop.example", "a comma-separated list of origins like https://shop.example"],
  ["BOXES_COLLECTION", "system.boxes", "a collection name of letters, digits, '_', '.', '-'"],
  ["SUPPLIER_OPTIONS_COLLECTION", "supplier options", "a collection name of letters, digits, '_', '.', '-'"],
];

let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe("bad values", () => {
  for (const [variable, value, expected] of cases) {
    test(`${variable}=${value}`, () => {
      const err = configError({ [variable]: value });
      expect(err.message).toBe(`Invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`);
    });
  }

  test("the message is one line even when the value holds a newline", () => {
    const err = configError({ REDIS_PORT: "63\n79" });
    expect(err.message).toBe('Invalid REDIS_PORT="63\\n79": expected an integer from 1 to 65535');
    expect(err.message).not.toContain("\n");
  });

  test("REDIS_SENTINELS and REDIS_CLUSTER_NODES together", () => {
    const err = configError({ REDIS_SENTINELS: "s1:26379", REDIS_CLUSTER_NODES: "n1:7000" });
    expect(err.message).toBe('Invalid REDIS_CLUSTER_NODES="n1:7000": expected unset when REDIS_SENTINELS is set');
  });

  test("an ADMIN_API_KEY no client can send, or short, is rejected without showing it", () => {
    // Short; 16 UTF-16 units but 8 characters; with a space (not a Bearer token); not ASCII (not a header value).
    for (const key of ["tooshort", "🔑".repeat(8), "0123456789 abcdefgh", "ключключключключключ"]) {
      const err = configError({ ADMIN_API_KEY: key });
      expect(err.message).toBe('Invalid ADMIN_API_KEY="(hidden)": expected at least 16 characters of printable ASCII, no spaces');
    }
    expect(parseConfig({ ADMIN_API_KEY: "0123456789abcdef" }).adminApiKey).toBe("0123456789abcdef");
  });

  test("REDIS_TLS=false with a rediss:// REDIS_URL", () => {
    const err = configError({ REDIS_URL: "rediss://cache:6380", REDIS_TLS: "false" });
    expect(err.message).toBe('Invalid REDIS_TLS="false": expected true or unset with a rediss:// REDIS_URL (redis:// connects without TLS)');
  });

  test("DATA_SET_FILE the history database's file, or a directory", () => {
    dir = mkdtempSync(join(tmpdir(), "ss-config-files-"));
    const history = join(dir, "history.db");
    expect(configError({ DATA_SET_FILE: history, HISTORY_DB_PATH: history }).message).toBe(
      `Invalid DATA_SET_FILE=${JSON.stringify(history)}: expected another file than HISTORY_DB_PATH`,
    );
    expect(configError({ DATA_SET_FILE: dir }).message).toBe(`Invalid DATA_SET_FILE=${JSON.stringify(dir)}: expected a file path, not a directory`);
  });
});

describe("passwords never appear in messages", () => {
  const secret = "s3cr3tP4ss";
  const bad: [string, string][] = [
    ["HOST", `mongodb://admin:${secret}@db.example:notaport/shop`],
    ["MONGODB_URI", `postgres://admin:${secret}@db.example/shop`],
    ["MONGODB_URI", `admin:${secret}@db.example:27017`],
    ["HOST", `mongodb//admin:${secret}@db.example`],
    ["REDIS_URL", `redis://:${secret}@cache.example:99999`],
    ["REDIS_URL", `rediss://user:${secret}@[cache`],
    ["REDIS_URL", `http://user:${secret}@cache.example`],
    ["ALERT_WEBHOOK_URL", `user:${secret}@hooks.example/alert`],
    ["BASE_URL", `ftp://user:${secret}@files.example`],
  ];
  for (const [variable, value] of bad) {
    test(`${variable}=${value.replace(secret, "<password>")}`, () => {
      const err = configError({ [variable]: value });
      expect(err.message.startsWith(`Invalid ${variable}=`)).toBe(true);
      expect(err.message).toContain("expected");
      expect(err.message).not.toContain(secret);
      expect(err.message).toContain("***");
    });
  }
});

describe("the real entry point", () => {
  const main = resolve(import.meta.dir, "../src/main.ts");

  async function start(env: Record<string, string>, dotEnv?: string) {
    dir = mkdtempSync(join(tmpdir(), "ss-config-main-"));
    if (dotEnv !== undefined) writeFileSync(join(dir, ".env"), dotEnv);
    return runCommand([process.execPath, main], dir, { HOME: dir, ...env }, 10_000);
  }

  test("REDIS_PORT=abc: exit code 2, exactly one line on stderr", async () => {
    const { code, stdout, stderr } = await start({ REDIS_PORT: "abc" });
    expect({ code, stdout, stderr }).toEqual({
      code: 2,
      stdout: "",
      stderr: 'search-sync: Invalid REDIS_PORT="abc": expected an integer from 1 to 65535\n',
    });
  });

  test("a bad URI with a password: exit code 2, one line, no password", async () => {
    const { code, stderr } = await start({ MONGODB_URI: "mongodb://admin:hunter2hunter2@db:notaport" });
    expect(code).toBe(2);
    expect(stderr).toBe('search-sync: Invalid MONGODB_URI="mongodb://admin:***@db:notaport": expected a valid URL\n');
  });

  test("a bad value in .env of the working directory: exit code 2, one line", async () => {
    const { code, stderr } = await start({}, "# scheduler\nENABLE_SCHEDULER=maybe\n");
    expect(code).toBe(2);
    expect(stderr).toBe('search-sync: Invalid ENABLE_SCHEDULER="maybe": expected true or false\n');
  });

  test("SYNC_CRON that croner refuses: exit code 2 with the reason, before anything starts", async () => {
    const { code, stdout, stderr } = await start({ SYNC_CRON: "99 99 * * *" });
    expect({ code, stdout, stderr }).toEqual({
      code: 2,
      stdout: "",
      stderr: `search-sync: Invalid SYNC_CRON="99 99 * * *": expected a cron pattern of 5 or 6 fields, e.g. '0 2 * * *' (minute value out of range: '99')\n`,
    });
  });

  test("an unknown SYNC_TIMEZONE: exit code 2, one line", async () => {
    const { code, stderr } = await start({ SYNC_TIMEZONE: "Europe/Atlantis" });
    expect(code).toBe(2);
    expect(stderr).toBe('search-sync: Invalid SYNC_TIMEZONE="Europe/Atlantis": expected an IANA time zone such as Europe/Amsterdam or UTC\n');
  });

  test("a .env that cannot be read: exit code 2, one line naming it", async () => {
    dir = mkdtempSync(join(tmpdir(), "ss-config-main-"));
    mkdirSync(join(dir, ".env"));
    const { code, stdout, stderr } = await runCommand([process.execPath, main], dir, { HOME: dir }, 10_000);
    expect({ code, stdout, stderr }).toEqual({
      code: 2,
      stdout: "",
      stderr: `search-sync: Invalid .env=${JSON.stringify(join(dir, ".env"))}: expected a readable file (EISDIR)\n`,
    });
  });

  test("a port another process holds: exit code 1 (systemd starts it again), one line naming LISTEN_HOST and PORT", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    try {
      const { code, stderr } = await start({
        ...REDIS_ENV,
        MONGODB_URI,
        REDIS_KEY_PREFIX: "config-listen:",
        HISTORY_DB_PATH: "history.db",
        ENABLE_SCHEDULER: "false",
        SYNC_CHANGE_STREAMS: "off",
        LISTEN_HOST: "127.0.0.1",
        PORT: String(holder.port),
      });
      expect(code).toBe(1);
      // After the start's log lines, that one line and no stack trace.
      expect(stderr.endsWith(`\nsearch-sync: cannot listen on 127.0.0.1:${holder.port} (LISTEN_HOST, PORT): EADDRINUSE (the port is in use)\n`)).toBe(true);
      expect(stderr).not.toMatch(/^\s+at /m);
    } finally {
      holder.stop(true);
    }
  });

  test("the environment wins over a bad value in .env", async () => {
    // The environment's SYNC_INTERVAL_HOURS=-3 is used, not the file's valid 12.
    const { code, stderr } = await start({ SYNC_INTERVAL_HOURS: "-3" }, "SYNC_INTERVAL_HOURS=12\n");
    expect(code).toBe(2);
    expect(stderr).toBe('search-sync: Invalid SYNC_INTERVAL_HOURS="-3": expected a number from 1 to 168\n');
  });
});
