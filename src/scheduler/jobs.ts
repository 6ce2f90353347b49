// The scheduler's jobs, built through @elysiajs/cron (croner underneath).
//
// The plugin creates its croner job when it is applied to an Elysia instance and keeps it in
// that instance's store. Each job gets its own small instance here, not the HTTP app: the
// scheduler must stop and rebuild a job at run time (POST /scheduler/stop and /start, a new
// interval) without rebuilding the app, and several schedulers must coexist in one process
// (two replicas in a test). A stopped job is killed, not paused, so it holds no timer.
import { cron } from "@elysiajs/cron";
import type { Cron } from "croner";
import { Elysia } from "elysia";

export type Job = Cron;

interface JobSpec {
  name: string;
  /** A croner pattern: 5 fields, or 6 with seconds first. */
  pattern: string;
  timezone?: string;
  run: () => Promise<void> | void;
  /** Last resort: run() catches its own errors, but an unhandled rejection would kill the process. */
  onError: (err: unknown) => void;
}

/** Schedules a job; throws when the pattern or the timezone is not valid. */
export function scheduleJob(spec: JobSpec): Job {
  const host = new Elysia().use(
    cron({
      name: spec.name,
      pattern: spec.pattern,
      ...(spec.timezone ? { timezone: spec.timezone } : {}),
      catch: (err: unknown) => spec.onError(err),
      // The HTTP server keeps the service alive; a job alone must not keep a process (or a test) running.
      unref: true,
      run: () => spec.run(),
    }),
  );
  return host.store.cron[spec.name]!;
}
