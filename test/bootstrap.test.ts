// scripts/lib/go.sh: which Go bootstrap.sh installs to build FerretDB v1.24.2 (Go 1.21 or newer,
// which fetches the 1.24 toolchain its go.mod asks for), decided on stand-ins of go, mongod and
// apt-cache so that every Debian release's answer can be tried on one machine.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const GO_SH = resolve(import.meta.dir, "../scripts/lib/go.sh");

let dir: string;
let bin: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ss-bootstrap-"));
  bin = join(dir, "bin");
  mkdirSync(bin);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fake(name: string, script: string, where = bin): string {
  const path = join(where, name);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

const fakeGo = (version: string, where = bin) => fake("go", `[ "$1 $2" = "env GOVERSION" ] && echo go${version}`, where);

/** apt-cache answering `policy golang-go` with `candidate` and `search` with the versioned packages. */
function fakeAptCache(candidate: string, versioned: string[]): void {
  const search = versioned.map((v) => `golang-${v}-go - Go programming language compiler, linker, compiled stdlib`).join("\\n");
  fake(
    "apt-cache",
    `case "$1" in
  policy) printf 'golang-go:\\n  Installed: (none)\\n  Candidate: ${candidate}\\n  Version table:\\n' ;;
  search) printf '${search}\\n' ;;
esac`,
  );
}

function plan(env: Record<string, string> = {}): string {
  const ran = Bun.spawnSync(["bash", "-c", `source ${GO_SH}; go_plan`], {
    env: { PATH: `${bin}:/usr/bin:/bin`, GO_DIRS: join(dir, "nowhere"), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(ran.stderr.toString()).toBe("");
  return ran.stdout.toString().trim();
}

describe("go_plan", () => {
  test("a MongoDB given, or mongod installed: no Go needed", () => {
    expect(plan({ MONGODB_URI: "mongodb://db.example:27017" })).toBe("skip: MONGODB_URI names a MongoDB");
    fake("mongod", "exit 0");
    expect(plan()).toBe("skip: mongod is on the PATH");
    // The URI of the local server the scripts start is not "a MongoDB given".
    expect(plan({ MONGODB_URI: "mongodb://127.0.0.1:27027" })).toBe("skip: mongod is on the PATH");
  });

  test("a Go of 1.21 or newer on the PATH or in /usr/local/go or Debian's /usr/lib/go-1.N is used", () => {
    fakeAptCache("2:1.19~1", ["1.19"]);
    const go = fakeGo("1.21.0");
    expect(plan()).toBe(`have ${go} (go1.21)`);
    rmSync(go);
    const debian = join(dir, "go-1.22", "bin");
    mkdirSync(debian, { recursive: true });
    const versioned = fakeGo("1.22.5", debian);
    expect(plan({ GO_DIRS: `${join(dir, "nowhere")} ${debian}` })).toBe(`have ${versioned} (go1.22)`);
  });

  test("Debian 13 (golang-go 1.24): installs golang-go; an old Go on the PATH does not count", () => {
    fakeGo("1.19.8");
    fakeAptCache("2:1.24~2", ["1.24"]);
    expect(plan()).toBe("install golang-go 1.24");
  });

  test("Debian 12 with bookworm-backports: golang-go is 1.19, so the newest golang-1.N-go", () => {
    fakeAptCache("2:1.19~1", ["1.19", "1.22", "1.21", "1.23"]);
    expect(plan()).toBe("install golang-1.23-go");
  });

  test("Debian 12 alone (golang-go 1.19 only): nothing Debian offers will do, and the line says why", () => {
    fakeAptCache("2:1.19~1", ["1.19"]);
    expect(plan()).toBe("none: Debian offers golang-go 1.19 here; FerretDB v1.24.2 needs Go 1.21 or newer");
  });

  test("FerretDB's pinned version is the one services.sh builds", () => {
    const services = readFileSync(resolve(import.meta.dir, "../scripts/services.sh"), "utf8");
    expect(/^FERRETDB_VERSION="([^"]+)"$/m.exec(services)?.[1]).toBe("v1.24.2");
    expect(readFileSync(GO_SH, "utf8")).toMatch(/^: "\$\{FERRETDB_VERSION:=v1\.24\.2\}"$/m);
  });
});
