#!/usr/bin/env bun
// The search-sync executable: `serve` (default) runs the service; the one-shot commands
// (sync, status, history, healthcheck) and argument parsing live in src/cli/.
import pkg from "../package.json";
import { type Services, waitForRedis } from "./app/container.ts";
import { createApp } from "./app/http.ts";
import { EXIT, fail, openServices } from "./cli/common.ts";
import { runCli } from "./cli/run.ts";
import type { Config } from "./platform/config.ts";
import { createLogger } from "./platform/log.ts";
import { evictionWarning } from "./platform/redis.ts";
import { notifySystemd } from "./platform/systemd.ts";
import { withTimeout } from "./platform/timeouts.ts";
import { watchInterruptedRuns } from "./runs/interrupted.ts";
import { Scheduler } from "./scheduler/scheduler.ts";

// On shutdown, how long alerts still being delivered may hold up the exit.
const ALERT_DRAIN_ON_SHUTDOWN_MS = 5_000;

async function serve(config: Config): Promise<void> {
  // A log line that cannot be written (stdout redirected to a full disk, a closed pipe) is lost, and
  // logging goes on once it can: unhandled, the stream's 'error' event would end the service.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  // Runs build in a worker: reading, transforming and writing a catalog would otherwise hold up
  // search for as long as a run lasts. The binary bundles the worker (package.json "build").
  const services = openServices(config, logger, { buildWorker: new URL("./runs/build-worker.ts", import.meta.url) });
  services.metrics.collectProcessMetrics();
  const startedAt = new Date();
  if (config.adminApiKey === null)
    logger.warn("ADMIN_API_KEY is not set: admin endpoints (sync triggers, scheduler, push updates) answer only to loopback clients");

  if (!(await waitForRedis(services.redis, 3_000))) logger.warn("Redis is not reachable yet; the service starts anyway and keeps retrying");
  else {
    const eviction = await evictionWarning(services.redis).catch(() => null);
    if (eviction) logger.warn(eviction);
  }
  // Runs a killed process left `running` are marked failed now, or once their lock has expired
  // (looked at every half lock TTL, at most 5 s apart, while the service runs).
  const interrupted = watchInterruptedRuns(services, Math.max(500, Math.min(5_000, Math.floor(config.lockTtlMs / 2))));
  await interrupted.first;
  // Runs other replicas made while this one was down are imported before it answers.
  await services.feed.start();

  const scheduler = new Scheduler(services);
  const app = createApp({ ...services, version: pkg.version, startedAt, scheduler });
  // Before listening, so /scheduler/status is right from the first request.
  await scheduler.init();
  await checkChangeStreams(services);
  try {
    app.listen({ hostname: config.listenHost, port: config.port });
  } catch (err) {
    // Exit 1, not 2: a port still held by a process on its way out is free a moment later, and systemd starts the unit again.
    const { code, message } = err as NodeJS.ErrnoException;
    fail(
      `cannot listen on ${config.listenHost}:${config.port} (LISTEN_HOST, PORT): ${code ?? message}${code === "EADDRINUSE" ? " (the port is in use)" : ""}`,
      EXIT.failed,
    );
  }
  const listening = `listening on http://${config.listenHost}:${app.server?.port}`;
  logger.info(`search-sync ${pkg.version} ${listening}`);
  // Type=notify under systemd: the unit is started once requests are answered.
  notifySystemd(`READY=1\nSTATUS=${listening}`);
  services.changes.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received: stopping`);
    notifySystemd(`STOPPING=1\nSTATUS=stopping (${signal})`);
    // Stops listening at once. Not awaited here: it settles when in-flight requests are answered,
    // and a client waiting for a run's result is answered only when the run ends (or is aborted below).
    const stopped = app.stop().catch(() => {});
    interrupted.stop();
    // Stops the jobs; a run a tick already started is in activeRunId below.
    await scheduler.close();
    await services.changes.stop();
    // A request may still be taking the run lock (Redis slow to answer): its run counts as active.
    await withTimeout(services.engine.startsSettled(), config.shutdownTimeoutSeconds * 1000, () => {});
    const running = services.engine.activeRunId;
    if (running) {
      logger.info(`Waiting up to ${config.shutdownTimeoutSeconds} s for run ${running} to finish`);
      const finished = await withTimeout(
        waitForIdle(services).then(() => true),
        config.shutdownTimeoutSeconds * 1000,
        () => false,
      );
      if (!finished) await services.engine.abortActive("shutdown");
    }
    await withTimeout(stopped, 2_000, () => {});
    await services.alerts.drain(ALERT_DRAIN_ON_SHUTDOWN_MS);
    await services.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/** SYNC_CHANGE_STREAMS=on: a server without change streams stops start-up (one line, exit 2). */
async function checkChangeStreams({ config, changes, logger }: Services): Promise<void> {
  if (config.changeStreams !== "on") return;
  let reason: string | null;
  try {
    reason = await changes.probe();
  } catch (err) {
    logger.warn("Could not ask MongoDB whether it has change streams; the follower keeps trying", { error: (err as Error).message });
    return;
  }
  if (reason)
    fail(`SYNC_CHANGE_STREAMS=on, but MongoDB does not support change streams (${reason}); use a replica set, or SYNC_CHANGE_STREAMS=auto`, EXIT.usage);
}

async function waitForIdle(services: Services): Promise<void> {
  while (services.engine.activeRunId) await Bun.sleep(100);
}

await runCli(process.argv.slice(2), serve);
