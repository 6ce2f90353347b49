// The Dockerfile and the compose file, read (this machine has no Docker daemon to run them):
// pinned-by-argument base images and OCI labels, healthchecks and start order, ports on loopback,
// and the compose file's demo seed, run here against MongoDB and then synced.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ObjectId } from "mongodb";
import pkg from "../package.json";
import { createContext, type TestContext } from "./helpers.ts";

const ROOT = resolve(import.meta.dir, "..");
const dockerfile = readFileSync(resolve(ROOT, "Dockerfile"), "utf8");
const bootstrap = readFileSync(resolve(ROOT, "scripts/bootstrap.sh"), "utf8");

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  restart?: string;
  stop_grace_period?: string;
}
const compose = Bun.YAML.parse(readFileSync(resolve(ROOT, "deploy/docker-compose.yml"), "utf8")) as { services: Record<string, ComposeService> };

/** The default of a Dockerfile ARG. */
const argDefault = (name: string) => new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(dockerfile)?.[1];

describe("Dockerfile", () => {
  test("base images come from arguments (a digest can be passed whole); their defaults match the Bun of bootstrap.sh", () => {
    expect(dockerfile).toMatch(/^FROM \$\{BUN_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
    expect(argDefault("BUN_IMAGE")).toBe(`oven/bun:${/^BUN_VERSION="([^"]+)"$/m.exec(bootstrap)?.[1]}`);
    expect(argDefault("BASE_IMAGE")).toBe("debian:bookworm-slim");
  });

  test("OCI labels, the version of package.json; a non-root user; the healthcheck through the binary", () => {
    expect(argDefault("VERSION")).toBe(pkg.version);
    for (const label of ["title", "description", "version", "revision", "created", "base.name"])
      expect({ label, present: dockerfile.includes(`org.opencontainers.image.${label}=`) }).toEqual({ label, present: true });
    expect(dockerfile).toMatch(/^USER search-sync$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .* CMD \["search-sync", "healthcheck"\]$/m);
  });
});

describe("deploy/docker-compose.yml", () => {
  const services = compose.services;

  test("published ports are bound to 127.0.0.1; MongoDB and Redis publish none", () => {
    const ports = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p}`));
    expect(ports).toEqual(["search-sync 127.0.0.1:8000:8000"]);
  });

  test("healthchecks, and every dependency waits for a healthy or completed service", () => {
    expect(services.mongo!.healthcheck!.test).toEqual(["CMD", "mongosh", "--quiet", "--eval", "db.runCommand({ ping: 1 }).ok"]);
    expect(services.redis!.healthcheck!.test).toEqual(["CMD", "redis-cli", "ping"]);
    expect(services["search-sync"]!.healthcheck!.test).toEqual(["CMD", "search-sync", "healthcheck"]);
    for (const [name, s] of Object.entries(services))
      for (const [on, dep] of Object.entries(s.depends_on ?? {}))
        expect({ dependency: `${name} → ${on}`, condition: dep.condition }).toEqual({
          dependency: `${name} → ${on}`,
          condition: services[on]!.healthcheck ? "service_healthy" : "service_completed_successfully",
        });
  });

  test("a one-shot first sync before the service; the demo seed before it, only with --profile demo", () => {
    expect(services["first-sync"]).toMatchObject({ command: ["sync"], restart: "no", image: "search-sync:local" });
    expect(services["search-sync"]).toMatchObject({ command: ["serve"], image: "search-sync:local" });
    expect(services["search-sync"]!.depends_on!["first-sync"]).toEqual({ condition: "service_completed_successfully" });
    expect(services.seed!.profiles).toEqual(["demo"]);
    expect(services["first-sync"]!.depends_on!.seed).toEqual({ condition: "service_completed_successfully", required: false });
    // Longer than SHUTDOWN_TIMEOUT_SECONDS (25 s): an active run may finish before the container stops.
    expect(services["search-sync"]!.stop_grace_period).toBe("40s");
  });

  describe("the demo seed", () => {
    let ctx: TestContext;
    beforeEach(async () => {
      ctx = await createContext("deployseed");
    });
    afterEach(async () => {
      await ctx.cleanup();
    });

    /** Runs the seed's mongosh script against a stand-in of mongosh's synchronous `db`; returns what it inserted. */
    function runSeed(existingCategories: number): { inserted: Record<string, Record<string, unknown>[]>; printed: string[] } {
      const script = services.seed!.command!.at(-1)!;
      const inserted: Record<string, Record<string, unknown>[]> = {};
      const printed: string[] = [];
      const collection = (name: string) => ({
        countDocuments: () => (name === "categories" ? existingCategories : 0),
        insertMany: (docs: Record<string, unknown>[]) => {
          const withIds = docs.map((doc) => ({ _id: new ObjectId(), ...doc }));
          inserted[name] = [...(inserted[name] ?? []), ...withIds];
          return { insertedIds: Object.fromEntries(withIds.map((doc, i) => [i, doc._id])) };
        },
      });
      const db = new Proxy({}, { get: (_, name) => collection(String(name)) });
      class Quit extends Error {}
      try {
        new Function("db", "print", "quit", script)(
          db,
          (text: string) => printed.push(text),
          () => {
            throw new Quit();
          },
        );
      } catch (err) {
        if (!(err instanceof Quit)) throw err;
      }
      return { inserted, printed };
    }

    test("fills an empty database with a catalog a sync indexes; leaves a database with categories alone", async () => {
      const { inserted, printed } = runSeed(0);
      expect(printed).toEqual(["seed: sample catalog inserted into shop"]);
      for (const [name, docs] of Object.entries(inserted)) await ctx.db.collection(name).insertMany(docs);
      const services = await ctx.services();
      const run = await services.engine.run("all", "cli");
      expect(run.status).toBe("success");
      expect(Object.fromEntries(Object.entries(run.types).map(([type, t]) => [type, { entries: t!.entries, skipped: t!.skipped }]))).toEqual({
        categories: { entries: 6, skipped: {} },
        boxes: { entries: 4, skipped: {} },
        options: { entries: 4, skipped: {} },
      });

      expect(runSeed(3)).toEqual({ inserted: {}, printed: ["seed: shop already has categories; nothing inserted"] });
    });
  });
});
