// The systemd unit and readiness: `systemd-analyze verify` accepts deploy/search-sync.service with
// no warning; the hardening the unit promises is there; every system call the binary makes is in
// @system-service (traced with strace); and sd_notify reaches $NOTIFY_SOCKET (READY=1 once the
// service listens, STOPPING=1 on SIGTERM), read here from a Unix datagram socket of our own.

import { dlopen, FFIType, ptr } from "bun:ffi";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureBinary, installBinary, type RunningBinary, serviceEnv, startBinary } from "../scripts/lib/binary.ts";
import { notifySystemd } from "../src/platform/systemd.ts";
import { createContext, type TestContext } from "./helpers.ts";

const UNIT = resolve(import.meta.dir, "../deploy/search-sync.service");
const systemdAnalyze = Bun.which("systemd-analyze");
// strace where it is installed and ptrace is allowed (some containers forbid it).
const strace = ((path) => (path && Bun.spawnSync([path, "-qq", "-o", "/dev/null", "true"]).exitCode === 0 ? path : null))(Bun.which("strace"));

/** A Unix datagram socket bound to `path` (`@name`: abstract), read without blocking. */
function listen(path: string) {
  const libc = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  }).symbols;
  const SOCK_NONBLOCK = 0o4000;
  const fd = libc.socket(1, 2 | SOCK_NONBLOCK, 0);
  const name = Buffer.from(path.startsWith("@") ? `\0${path.slice(1)}` : path);
  const address = new Uint8Array(110);
  new DataView(address.buffer).setUint16(0, 1, true);
  address.set(name, 2);
  if (libc.bind(fd, ptr(address), 2 + name.length + (path.startsWith("@") ? 0 : 1)) !== 0) throw new Error(`bind ${path} failed`);
  const buffer = new Uint8Array(4096);
  return {
    /** Messages received so far. */
    drain(): string[] {
      const out: string[] = [];
      for (;;) {
        const n = Number(libc.recv(fd, ptr(buffer), buffer.length, 0));
        if (n < 0) return out;
        out.push(Buffer.from(buffer.subarray(0, n)).toString());
      }
    },
    close: () => libc.close(fd),
  };
}

async function receive(socket: ReturnType<typeof listen>, until: (messages: string[]) => boolean, ms = 10_000): Promise<string[]> {
  const messages: string[] = [];
  const deadline = Date.now() + ms;
  while (!until(messages)) {
    if (Date.now() > deadline) throw new Error(`no matching notification; got ${JSON.stringify(messages)}`);
    await Bun.sleep(20);
    messages.push(...socket.drain());
  }
  return messages;
}

describe("sd_notify", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createContext("systemd");
  });
  afterAll(async () => {
    await ctx.cleanup();
  });

  test("a datagram to a socket path and to an abstract name; nothing without NOTIFY_SOCKET or a listener", async () => {
    const path = join(ctx.dir, "notify.sock");
    const socket = listen(path);
    expect(notifySystemd("READY=1\nSTATUS=testing", path)).toBe(true);
    expect(await receive(socket, (m) => m.length === 1)).toEqual(["READY=1\nSTATUS=testing"]);
    socket.close();

    const abstract = `@search-sync-test-${process.pid}-${Date.now()}`;
    const named = listen(abstract);
    expect(notifySystemd("STOPPING=1", abstract)).toBe(true);
    expect(await receive(named, (m) => m.length === 1)).toEqual(["STOPPING=1"]);
    named.close();

    expect(notifySystemd("READY=1", undefined)).toBe(false);
    expect(notifySystemd("READY=1", "")).toBe(false);
    expect(notifySystemd("READY=1", join(ctx.dir, "nobody-listens.sock"))).toBe(false);
    expect(notifySystemd("READY=1", `/${"x".repeat(200)}`)).toBe(false);
  });

  describe("the binary", () => {
    let running: RunningBinary | null = null;
    afterEach(async () => {
      await running?.stop();
      running = null;
    });

    test("READY=1 with its address once it listens, STOPPING=1 on SIGTERM", async () => {
      const path = join(ctx.dir, "binary-notify.sock");
      rmSync(path, { force: true });
      const socket = listen(path);
      try {
        running = await startBinary(installBinary(ctx.dir), ctx.dir, serviceEnv(ctx, { NOTIFY_SOCKET: path }), 15_000);
        const ready = await receive(socket, (m) => m.length >= 1);
        expect(ready).toEqual([`READY=1\nSTATUS=listening on ${running.url}`]);
        expect(await running.stop()).toBe(0);
        running = null;
        expect(await receive(socket, (m) => m.length >= 1)).toEqual(["STOPPING=1\nSTATUS=stopping (SIGTERM)"]);
      } finally {
        socket.close();
      }
    });
  });
});

describe.skipIf(!systemdAnalyze)("deploy/search-sync.service", () => {
  const unit = readFileSync(UNIT, "utf8");

  test("systemd-analyze verify: no error and no warning (ExecStart pointed at the built binary)", () => {
    const dir = `${ensureBinary()}.unit`;
    rmSync(dir, { recursive: true, force: true });
    Bun.spawnSync(["mkdir", "-p", dir]);
    const file = join(dir, "search-sync.service");
    writeFileSync(file, unit.replaceAll("/usr/local/bin/search-sync", ensureBinary()));
    const ran = Bun.spawnSync([systemdAnalyze!, "verify", "--man=no", file], { stdout: "pipe", stderr: "pipe" });
    // verify exits 0 on an unknown value too, with a warning: the output must be empty as well.
    expect({ code: ran.exitCode, out: `${ran.stdout}${ran.stderr}` }).toEqual({ code: 0, out: "" });
    rmSync(dir, { recursive: true, force: true });
  });

  test("readiness, configuration file and hardening as documented", () => {
    const directives = unit.split("\n").filter((line) => /^[A-Z]\w+=/.test(line));
    for (const expected of [
      "Type=notify",
      "NotifyAccess=main",
      "EnvironmentFile=-/etc/search-sync/search-sync.env",
      "RestartPreventExitStatus=2",
      "SystemCallFilter=@system-service",
      "SystemCallErrorNumber=EPERM",
      "ProtectProc=invisible",
      "ProcSubset=pid",
      "RemoveIPC=yes",
      "ProtectSystem=strict",
      "NoNewPrivileges=yes",
      "MemoryDenyWriteExecute=no",
    ])
      expect(directives).toContain(expected);
  });
});

describe.skipIf(!systemdAnalyze || !strace)("SystemCallFilter=@system-service", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createContext("syscalls");
  });
  afterAll(async () => {
    await ctx.cleanup();
  });

  /** The system calls of a group, its nested groups expanded. */
  function callsOf(group: string, seen = new Set<string>()): Set<string> {
    const out = new Set<string>();
    if (seen.has(group)) return out;
    seen.add(group);
    const text = Bun.spawnSync([systemdAnalyze!, "syscall-filter", group], { stdout: "pipe" }).stdout.toString();
    for (const line of text.split("\n").slice(1)) {
      const name = line.trim();
      if (!name || name.startsWith("#")) continue;
      if (name.startsWith("@")) for (const call of callsOf(name, seen)) out.add(call);
      else out.add(name);
    }
    return out;
  }

  test("every system call of the service (start, a run, search, metrics, /info, sd_notify, SIGTERM) is allowed", async () => {
    const allowed = callsOf("@system-service");
    expect(allowed.size).toBeGreaterThan(100);
    const trace = join(ctx.dir, "trace.txt");
    const notify = join(ctx.dir, "notify.sock");
    const socket = listen(notify);
    // strace as the "binary": startBinary passes its arguments on (`serve`).
    const wrapper = join(ctx.dir, "traced.sh");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${strace} -f -qq -o ${trace} ${installBinary(ctx.dir)} "$@"\n`, { mode: 0o755 });
    const svc = await startBinary(wrapper, ctx.dir, serviceEnv(ctx, { NOTIFY_SOCKET: notify, ENABLE_SCHEDULER: "true" }), 30_000);
    try {
      expect((await fetch(`${svc.url}/re-sync-all`, { method: "POST" })).status).toBe(200);
      for (const path of ["/category-search?query=a", "/metrics", "/info", "/dashboard"]) await (await fetch(`${svc.url}${path}`)).text();
    } finally {
      // SIGTERM to the traced service itself (strace's child), not to strace, which would detach.
      const child = Number(readFileSync(`/proc/${svc.proc.pid}/task/${svc.proc.pid}/children`, "utf8").trim().split(" ")[0]);
      process.kill(child, "SIGTERM");
      expect(await svc.proc.exited).toBe(0);
      socket.close();
    }
    const used = new Set([...readFileSync(trace, "utf8").matchAll(/^\d+ +([a-z_0-9]+)\(/gm)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((call) => !allowed.has(call)).sort()).toEqual([]);
  }, 60_000);
});
