// Fill a MongoDB (or FerretDB) database with the deterministic sample catalog of scripts/catalog.ts.
//   bun scripts/seed.ts [--uri URI] [--db NAME] [--origins N] [--suppliers N] [--seed N] [--batch N] [--no-messy]
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { seedCatalog } from "./catalog.ts";

const USAGE =
  "usage: bun scripts/seed.ts [--uri URI] [--db NAME] [--origins N] [--suppliers N] [--seed N] [--batch N] [--no-messy]\n" +
  "  --origins    origin documents per type (default 1000)\n" +
  "  --suppliers  supplier documents per origin, on average (default 2)\n" +
  "  --uri        default $MONGODB_URI, then $HOST, then mongodb://127.0.0.1:27027\n" +
  "  --db         default $DB_NAME, then search_sync_sample";

function fail(message: string): never {
  console.error(`seed: ${message}\n${USAGE}`);
  process.exit(2);
}

function num(value: string | undefined, name: string, integer = true): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
    fail(`--${name} must be a non-negative ${integer ? "integer" : "number"}, got "${value}"`);
  return n;
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        uri: { type: "string" },
        db: { type: "string" },
        origins: { type: "string" },
        suppliers: { type: "string" },
        seed: { type: "string" },
        batch: { type: "string" },
        "no-messy": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();
const v = parsed.values;
if (v.help) {
  console.log(USAGE);
  process.exit(0);
}

const host = process.env.HOST ?? "";
const uri = v.uri ?? process.env.MONGODB_URI ?? (/^mongodb(\+srv)?:\/\//.test(host) ? host : "mongodb://127.0.0.1:27027");
const dbName = v.db ?? process.env.DB_NAME ?? "search_sync_sample";
const batchSize = num(v.batch, "batch");
if (batchSize === 0) fail("--batch must be at least 1");

const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
const started = performance.now();
try {
  const counts = await seedCatalog(client.db(dbName), {
    seed: num(v.seed, "seed"),
    originsPerType: num(v.origins, "origins"),
    suppliersPerOrigin: num(v.suppliers, "suppliers", false),
    messy: !v["no-messy"],
    batchSize,
  });
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const seconds = (performance.now() - started) / 1000;
  console.log(`seeded database "${dbName}":`);
  for (const [name, n] of Object.entries(counts)) console.log(`  ${name.padEnd(20)} ${n}`);
  console.log(`  ${"total".padEnd(20)} ${total}`);
  console.log(`elapsed ${seconds.toFixed(1)} s (${Math.round(total / seconds)} docs/s)`);
} catch (err) {
  console.error(`seed: failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
