// The status key: the active run's progress and the last finished run, shared by every replica.
import type { ItemType } from "../catalog/types.ts";
import type { RedisClient } from "../platform/redis.ts";
import type { RunResult, Scope, Trigger } from "./model.ts";

export interface TypeProgress {
  documents_read: number;
  documents_total: number;
  entries_written: number;
}

export interface ActiveRun {
  run_id: string;
  scope: Scope;
  trigger: Trigger;
  started_at: string;
  stage: string;
  progress: Partial<Record<ItemType, TypeProgress>>;
  updated_at: string;
}

export interface SyncStatus {
  active: ActiveRun | null;
  last_run: RunResult | null;
}

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
