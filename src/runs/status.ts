// The status key: the active run's progress and the last finished run, shared by every replica.
import type { RedisClient } from "../platform/redis.ts";
import type { SyncStatus } from "./model.ts";

export class StatusStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  async get(): Promise<SyncStatus> {
    const raw = await this.redis.get(this.key);
    if (!raw) return { active: null, last_run: null };
    try {
      return JSON.parse(raw) as SyncStatus;
    } catch {
      return { active: null, last_run: null };
    }
  }

  async set(status: SyncStatus): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(status));
  }
}
