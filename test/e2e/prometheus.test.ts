// Prometheus' own checker on what we ship: `promtool check rules` and `promtool test rules` on
// deploy/prometheus-rules.yml, and `promtool check metrics` on a scrape of the running binary.
// promtool comes from Debian's prometheus package (scripts/bootstrap.sh installs it); where it is
// missing and cannot be installed here, these tests are skipped and say so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { installBinary, type RunningBinary, serviceEnv, startBinary } from "../../scripts/lib/binary.ts";
import { createContext, type TestContext } from "../helpers.ts";
import { parseExposition } from "../metrics.fixtures.ts";

const ROOT = resolve(import.meta.dir, "../..");

function findPromtool(): string | null {
  const found = Bun.which("promtool");
  if (found) return found;
  // As scripts/bootstrap.sh would, when this machine lets us.
  if (process.getuid?.() === 0 && Bun.which("apt-get"))
    Bun.spawnSync(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdout: "ignore",
      stderr: "ignore",
    });
  return Bun.which("promtool");
}

const promtool = findPromtool();
if (!promtool) console.warn("promtool is not installed and could not be installed (apt-get install prometheus): skipping the promtool checks");

function run(args: string[], stdin?: string): { code: number; out: string } {
  const proc = Bun.spawnSync([promtool!, ...args], { cwd: ROOT, stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode, out: `${proc.stdout.toString()}${proc.stderr.toString()}` };
}

describe.skipIf(!promtool)("promtool", () => {
  test("check rules: deploy/prometheus-rules.yml is valid", () => {
    const { code, out } = run(["check", "rules", "deploy/prometheus-rules.yml"]);
    expect({ code, out }).toEqual({ code: 0, out: "Checking deploy/prometheus-rules.yml\n  SUCCESS: 8 rules found\n\n" });
  });

  test("test rules: each alert fires when it should and not before (test/prometheus-rules.test.yml)", () => {
    const { code, out } = run(["test", "rules", "test/prometheus-rules.test.yml"]);
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: "Unit Testing:  test/prometheus-rules.test.yml\n  SUCCESS" });
  });

  describe("check metrics on a scrape of the binary", () => {
    let ctx: TestContext;
    let svc: RunningBinary;
    beforeAll(async () => {
      ctx = await createContext("promtool");
      svc = await startBinary(installBinary(ctx.dir), ctx.dir, serviceEnv(ctx), 15_000);
    });
    afterAll(async () => {
      await svc?.stop();
      await ctx.cleanup();
    });

    test("every family passes promtool's lint, with the metrics the rules use", async () => {
      // Traffic first, so the request families have samples.
      for (const path of ["/healthz", "/category-search?query=a", "/nowhere", "/info"]) await (await fetch(`${svc.url}${path}`)).text();
      // Requests are counted after their answer: scrape until the last one is in.
      let scrape = "";
      for (const until = Date.now() + 5_000; Date.now() < until && !scrape.includes('route="/info"'); await Bun.sleep(50))
        scrape = await (await fetch(`${svc.url}/metrics`)).text();
      const { code, out } = run(["check", "metrics"], scrape);
      expect({ code, out }).toEqual({ code: 0, out: "" });
      const exp = parseExposition(scrape);
      for (const name of [
        "sync_runs_total",
        "sync_last_success_timestamp_seconds",
        "redis_up",
        "mongodb_up",
        "search_requests_total",
        "http_requests_total",
        "search_sync_build_info",
      ])
        expect({ name, present: exp.types.has(name) }).toEqual({ name, present: true });
      expect(exp.samples.get("redis_up")).toBe(1);
      expect(exp.samples.get("mongodb_up")).toBe(1);
      expect(exp.samples.get('http_requests_total{method="GET",route="/info",status_class="2xx"}')).toBe(1);
    });
  });
});
