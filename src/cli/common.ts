// What every command shares: exit codes, the one-line failure, loading the config and the services.

import { createServices, type ServiceOptions, type Services } from "../app/container.ts";
import { type Config, ConfigError, loadEnv, parseConfig } from "../platform/config.ts";
import type { Logger } from "../platform/log.ts";
import { HistoryDbError } from "../runs/history/db.ts";

export const EXIT = { ok: 0, failed: 1, usage: 2, rejected: 3, skipped: 4 } as const;

export function fail(message: string, code: number = EXIT.usage): never {
  process.stderr.write(`search-sync: ${message}\n`);
  process.exit(code);
}

export function loadConfig(code: number = EXIT.usage): Config {
  try {
    return parseConfig(loadEnv());
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, code);
    throw err;
  }
}

export function openServices(config: Config, logger: Logger, opts: ServiceOptions = {}): Services {
  try {
    return createServices(config, logger, opts);
  } catch (err) {
    if (err instanceof HistoryDbError) fail(err.message, err.transient ? EXIT.failed : EXIT.usage);
    throw err;
  }
}
