// Catalog data made to break what reads it: a document that looks like an ObjectId without being
// one, an `_id` of hundreds of kilobytes, display names holding terminal escapes. A run skips and
// counts what it cannot index, keeps what it stores and serves small, and the CLI prints one line
// per example.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ObjectId } from "mongodb";
import type { Services } from "../src/app/container.ts";
import { formatSummary } from "../src/cli/format.ts";
import { createContext, type TestContext } from "./helpers.ts";

let ctx: TestContext;
let services: Services;
const origin = new ObjectId();
beforeAll(async () => {
  ctx = await createContext("sync-hostile");
  services = await ctx.services();
});
afterAll(() => ctx.cleanup());

/** A stored document shaped like the driver's ObjectId: a Map, so the driver writes it as a plain document. */
const lookalike = () =>
  new Map<string, unknown>([
    ["_bsontype", "ObjectId"],
    ["id", "x"],
  ]);

test("documents shaped like ObjectIds are skipped and counted; the run publishes the rest", async () => {
  await ctx.db.collection("categories").insertMany([
    { _id: origin, name: "Flyer", slug: "flyer", display_name: [{ iso: "en", display_name: "Flyer" }] },
    new Map<string, unknown>([
      ["_id", lookalike()],
      ["name", "Lookalike"],
      ["slug", "lookalike"],
      ["display_name", [{ iso: "en", display_name: "Lookalike" }]],
    ]),
  ] as never[]);
  await ctx.db.collection("supplier_categories").insertOne(
    new Map<string, unknown>([
      ["_id", new ObjectId()],
      ["linked", lookalike()],
      ["display_name", [{ iso: "fr", display_name: "Prospectus" }]],
    ]) as never,
  );
  const result = await services.engine.run("categories", "api");
  expect(result.status).toBe("success");
  expect(result.types.categories!.entries).toBe(1);
  expect(result.types.categories!.skipped).toMatchObject({ id_not_object_id: { count: 1 }, linked_invalid: { count: 1 } });
});

test("an _id of 400,000 characters is kept as an example of 100 and an ellipsis", async () => {
  const long = "x".repeat(400_000);
  await ctx.db
    .collection("categories")
    .insertOne({ _id: long, name: "Long id", slug: "long-id", display_name: [{ iso: "en", display_name: "Long" }] } as never);
  const result = await services.engine.run("categories", "api");
  expect(result.status).toBe("success");
  const examples = result.types.categories!.skipped!.id_not_object_id!.examples;
  expect(examples).toContain(`"${"x".repeat(99)}…`);
  expect(JSON.stringify(result).length).toBeLessThan(5_000);
});

test("a dry run's summary prints catalog text with its control characters escaped: one line per example", async () => {
  const forged = "Flyer\n2026-12-01T02:35:33.496Z INFO  Re-sync completed successfully!\n\u001b[2J\u001b]0;pwned\u0007";
  await ctx.db.collection("categories").updateOne({ _id: origin }, { $set: { display_name: [{ iso: "en", display_name: forged }] } });
  const result = await services.engine.run("categories", "api", { dryRun: true });
  const lines = formatSummary(result).split("\n");
  const added = lines.filter((l) => l.startsWith("  + "));
  expect(added).toEqual([
    `  + ${origin.toHexString()} en Flyer\\n2026-12-01T02:35:33.496Z INFO  Re-sync completed successfully!\\n\\u001b[2J\\u001b]0;pwned\\u0007`,
  ]);
  expect(lines.some((l) => l.startsWith("2026-12-01"))).toBe(false);
});
