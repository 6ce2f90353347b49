// Load during publish (issue 6), with CI-sized numbers: 32 clients search the compiled binary while
// three full syncs publish a 5,100-origin catalog. bench/load.ts has the figures and bigger sizes.
import { afterAll, expect, test } from "bun:test";
import { runLoad, summary } from "../../bench/load.ts";
import { killAll } from "../../scripts/lib/procs.ts";

afterAll(killAll);

test("search under load while three full syncs publish: no errors, no empty answer for a query that exists before and after", async () => {
  const report = await runLoad({ originsPerType: 1_700, connections: 32, runs: 3, baselineSeconds: 2 });
  const figures = summary(report);
  expect({ errors: report.errors, empty: report.empty, examples: report.error_examples }).toEqual({ errors: 0, empty: 0, examples: [] });
  expect({ errors: report.baseline.errors, empty: report.baseline.empty }).toEqual({ errors: 0, empty: 0 });
  expect(report.runs.map((r) => [r.status, r.published])).toEqual([
    ["success", true],
    ["success", true],
    ["success", true],
  ]);
  expect(report.requests, figures).toBeGreaterThan(500);
  expect(report.queries).toBeGreaterThanOrEqual(10);
}, 120_000);
