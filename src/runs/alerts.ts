// Alerts: a JSON POST to ALERT_WEBHOOK_URL for every failed or rejected run (and successful
// ones with NOTIFY_ON_SUCCESS=true), and from the change follower when it starts a full run
// or its lag passes CHANGE_STREAM_MAX_LAG_SECONDS. Fire and forget: a slow or broken receiver never holds up
// or fails a run; each delivery times out, is retried with backoff, and a failure is logged.
import { skippedTotal } from "../catalog/entries.ts";
import { ITEM_TYPES, type ItemType } from "../catalog/types.ts";
import type { Logger } from "../platform/log.ts";
import { redactUri } from "../platform/redact.ts";
import { withTimeout } from "../platform/timeouts.ts";
import type { RunReason, RunResult, RunStatus, Scope, Trigger } from "./model.ts";

export const ALERT_DEFAULTS = { timeoutMs: 5_000, retries: 3, backoffMs: 1_000 };

interface AlertOptions {
  url: string | null;
  notifyOnSuccess: boolean;
  /** The service's public URL, for a link to the dashboard. */
  baseUrl: string;
  logger: Logger;
  timeoutMs?: number;
  /** Attempts after the first one. */
  retries?: number;
  /** Wait before the first retry; doubled before each further one. */
  backoffMs?: number;
}

interface AlertPayload {
  text: string;
  service: "search-sync";
  event: "run";
  run_id: string;
  status: RunStatus;
  trigger: Trigger;
  scope: Scope;
  dry_run: boolean;
  force: boolean;
  started_at: string;
  finished_at: string | null;
  duration_seconds: number | null;
  counts: Partial<Record<ItemType, { documents: number; entries: number; previous_entries: number; skipped: number }>>;
  reason: RunReason | null;
  error: string | null;
  dashboard_url: string;
}

/** What the change follower reports: it started a full run instead of following (resync), or fell behind (lag). */
export type ChangeStreamAlert =
  | { event: "change_stream_resync"; reason: string }
  | { event: "change_stream_lag"; lag_seconds: number; max_lag_seconds: number };

const ICON: Partial<Record<RunStatus, string>> = { success: "✅", failed: "❌", rejected: "⚠️" };

/** The JSON body of an alert; `text` is for Slack-compatible receivers. No configuration goes in. */
export function alertPayload(run: RunResult, baseUrl: string): AlertPayload {
  const counts: AlertPayload["counts"] = {};
  for (const type of ITEM_TYPES) {
    const t = run.types[type];
    if (t)
      counts[type] = {
        documents: t.documents,
        entries: t.entries,
        previous_entries: t.previous_entries,
        skipped: skippedTotal(t.skipped),
      };
  }
  const seconds = run.duration_ms === null ? null : Math.round(run.duration_ms / 100) / 10;
  const error = run.error ? redactUri(run.error) : null;
  const dashboard = dashboardUrl(baseUrl);
  const entries = Object.entries(counts).map(([type, c]) => `${type} ${c!.entries}`);
  const text = [
    `${ICON[run.status] ?? "ℹ️"} search-sync${run.dry_run ? " dry run" : " re-sync"} ${run.status}: ${run.scope}, ${run.trigger}, run ${run.run_id}`,
    seconds === null ? null : `Duration: ${seconds.toFixed(1)} seconds`,
    entries.length ? `Entries: ${entries.join(", ")}` : null,
    error ? `Error: ${error}` : null,
    `Dashboard: ${dashboard}`,
  ]
    .filter(Boolean)
    .join("\n");
  return {
    text,
    service: "search-sync",
    event: "run",
    run_id: run.run_id,
    status: run.status,
    trigger: run.trigger,
    scope: run.scope,
    dry_run: run.dry_run,
    force: run.force,
    started_at: run.started_at,
    finished_at: run.finished_at,
    duration_seconds: seconds,
    counts,
    reason: run.reason ?? null,
    error,
    dashboard_url: dashboard,
  };
}

export class Alerter {
  private readonly pending = new Set<Promise<void>>();
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(private readonly opts: AlertOptions) {
    this.timeoutMs = opts.timeoutMs ?? ALERT_DEFAULTS.timeoutMs;
    this.retries = opts.retries ?? ALERT_DEFAULTS.retries;
    this.backoffMs = opts.backoffMs ?? ALERT_DEFAULTS.backoffMs;
  }

  private wants(run: RunResult): boolean {
    if (!this.opts.url) return false;
    return run.status === "failed" || run.status === "rejected" || (run.status === "success" && this.opts.notifyOnSuccess);
  }

  /** The engine's onFinished: starts the delivery and returns at once. */
  notify(run: RunResult): void {
    if (!this.wants(run)) return;
    this.start(alertPayload(run, this.opts.baseUrl), `run ${run.run_id}`);
  }

  /** The change follower's alerts: sent whenever a webhook is set. */
  notifyChangeStream(alert: ChangeStreamAlert): void {
    if (!this.opts.url) return;
    // A reason can quote a MongoDB error, and with it a connection string.
    const safe = alert.event === "change_stream_resync" ? { ...alert, reason: redactUri(alert.reason) } : alert;
    const text =
      safe.event === "change_stream_resync"
        ? `⚠️ search-sync change streams: starting a full run (${safe.reason})`
        : `⚠️ search-sync change streams: ${safe.lag_seconds} s behind MongoDB (alert above ${safe.max_lag_seconds} s)`;
    const dashboard = dashboardUrl(this.opts.baseUrl);
    const payload = { text: `${text}\nDashboard: ${dashboard}`, service: "search-sync", ...safe, at: new Date().toISOString(), dashboard_url: dashboard };
    this.start(payload, `the ${alert.event} alert`);
  }

  private start(payload: object, what: string): void {
    const delivery = this.deliver(payload, what).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Waits for deliveries under way, at most `maxMs` (a CLI run or a shutdown calls this before exiting). */
  async drain(maxMs: number): Promise<void> {
    if (!this.pending.size) return;
    await withTimeout(Promise.allSettled([...this.pending]), maxMs, () => {});
  }

  private async deliver(payload: object, what: string): Promise<void> {
    const url = this.opts.url!;
    let problem = "";
    let attempts = 0;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await Bun.sleep(this.backoffMs * 2 ** (attempt - 1));
      attempts++;
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "search-sync" },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.body?.cancel().catch(() => {});
        if (res.ok) return;
        problem = `HTTP ${res.status}`;
        // A client error other than 429 will not change on a retry.
        if (res.status < 500 && res.status !== 429) break;
      } catch (err) {
        problem = (err as Error).name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : (err as Error).message;
      }
    }
    // The webhook URL itself is a secret (Slack puts its token in the path): only its origin is logged.
    this.opts.logger.warn(`Alert webhook ${safeOrigin(url)} failed for ${what} after ${attempts} attempt(s)`, {
      ...("run_id" in payload ? { run_id: payload.run_id } : {}),
      attempts,
      error: problem.replaceAll(url, safeOrigin(url)),
    });
  }
}

const dashboardUrl = (baseUrl: string) => `${redactUri(baseUrl).replace(/\/+$/, "")}/dashboard`;

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}
