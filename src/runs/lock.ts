// The run lock: one run at a time across every replica sharing this Redis.
import { randomBytes } from "node:crypto";
import { type RedisClient, runScript } from "../platform/redis.ts";

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface HeldLock {
  runId: string;
  token: string;
}

/** What the lock key holds while `lock` has it (scripts elsewhere compare it to fence their writes). */
export function lockValue(lock: HeldLock): string {
  return `${lock.runId} ${lock.token}`;
}

/** How often a lock that expires while it is being taken is tried again. */
const ACQUIRE_ATTEMPTS = 3;

export class RunLock {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lock for `runId`, or returns the run id that holds it. */
  async acquire(runId: string): Promise<{ lock: HeldLock } | { heldBy: string }> {
    const token = randomBytes(16).toString("hex");
    // A lock that expires between the refused SET and the read of its holder is free: try again.
    for (let attempt = 1; ; attempt++) {
      const ok = await this.redis.set(this.key, `${runId} ${token}`, "PX", this.ttlMs, "NX");
      if (ok === "OK") return { lock: { runId, token } };
      const holder = await this.holder();
      if (holder !== null || attempt === ACQUIRE_ATTEMPTS) return { heldBy: holder ?? "unknown" };
    }
  }

  /** Extends the expiry; false when the lock is no longer ours. */
  async renew(lock: HeldLock): Promise<boolean> {
    return (await runScript(this.redis, RENEW, 1, this.key, lockValue(lock), this.ttlMs)) === 1;
  }

  async release(lock: HeldLock): Promise<boolean> {
    return (await runScript(this.redis, RELEASE, 1, this.key, lockValue(lock))) === 1;
  }

  /** The run id holding the lock, or null. */
  async holder(): Promise<string | null> {
    const value = await this.redis.get(this.key);
    return value ? value.split(" ")[0]! : null;
  }
}
