// Runs the compiled binary (dist/search-sync) as a real process for end-to-end tests.
import { copyFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const BINARY = resolve(import.meta.dir, "../../dist/search-sync");

/** Builds dist/search-sync if it is not there (scripts/test.sh builds it before the suite). */
export function ensureBinary(): string {
  if (!existsSync(BINARY)) {
    const build = Bun.spawnSync(["bun", "run", "build"], { cwd: resolve(import.meta.dir, "../.."), stderr: "inherit", stdout: "inherit" });
    if (build.exitCode !== 0) throw new Error("bun run build failed");
  }
  return BINARY;
}

/** Copies the binary alone into `dir`, as an operator would install it. */
export function installBinary(dir: string): string {
  const target = join(dir, "search-sync");
  copyFileSync(ensureBinary(), target);
  Bun.spawnSync(["chmod", "+x", target]);
  return target;
}

/** The environment that points a binary at a test context's services, key prefix and database. */
export function serviceEnv(ctx: { env: Record<string, string>; dbName: string; prefix: string }, extra: Record<string, string> = {}): Record<string, string> {
  const redis: Record<string, string> = ctx.env.REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: ctx.env.REDIS_CLUSTER_NODES } : { REDIS_URL: ctx.env.REDIS_URL! };
  return { ...redis, MONGODB_URI: ctx.env.MONGODB_URI!, DB_NAME: ctx.dbName, REDIS_KEY_PREFIX: ctx.prefix, ENABLE_SCHEDULER: "false", ...extra };
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end with only `env` (plus PATH and HOME); SIGKILL after `timeoutMs`. */
export async function runCommand(argv: string[], cwd: string, env: Record<string, string>, timeoutMs = 25_000): Promise<Ran> {
  const proc = Bun.spawn(argv, {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? cwd, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

export interface RunningBinary {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * Starts `binary serve` in `cwd` with only the given environment (plus PATH/HOME), and waits until it
 * answers /healthz: a deadline for a loaded machine, not a measure (it returns as soon as it answers).
 */
export async function startBinary(binary: string, cwd: string, env: Record<string, string>, readyWithinMs = 30_000): Promise<RunningBinary> {
  const port = freePort();
  const proc = Bun.spawn([binary, "serve"], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LISTEN_HOST: "127.0.0.1", PORT: String(port), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) out += new TextDecoder().decode(chunk);
  };
  void drain(proc.stdout);
  void drain(proc.stderr);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`binary did not serve /healthz within ${readyWithinMs} ms (exit ${proc.exitCode}):\n${out}`);
    }
    await Bun.sleep(25);
  }
  return {
    url,
    proc,
    output: () => out,
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      return await proc.exited;
    },
  };
}
