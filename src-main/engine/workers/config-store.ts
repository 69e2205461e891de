import type { V1ConfigMap } from '@kubernetes/client-node';
import { REGISTRY_LABEL_KEY, fnv1a } from '../tenants';
import type { WorkerConfig } from '../../../src-shared/contract/workers';
import { MANAGED_BY_LABEL } from '../../adapters/kube';
import { retryOnConflict as retryKubeConflict } from '../../adapters/kube';
import type { WorkersKube } from './kube';

/**
 * Per-tenant worker configuration, where the platform's backend reads it (docs/workers.md).
 * Laid out like the tenant registry: N ConfigMaps `gatehouse-workers-<n>` labelled
 * `gatehouse.io/registry=workers`, the tenant in shard FNV-1a(slug) mod N, one data key per
 * tenant holding compact JSON. Readers LIST by label (one call) and merge; writers do a
 * read-modify-write of one shard with its resourceVersion and retry on 409.
 */
export const WORKERS_SELECTOR = `${REGISTRY_LABEL_KEY}=workers`;
export const WORKERS_SHARDS = 16;
export const WORKERS_FORMAT = '1';
export const workersShardName = (n: number): string => `gatehouse-workers-${n}`;
export const workersShardOf = (slug: string, shards = WORKERS_SHARDS): string => workersShardName(fnv1a(slug) % shards);

/** Tenants with nothing stored run everything inline (what the backend does without an entry). */
export const DEFAULT_WORKER_CONFIG: WorkerConfig = {
  task: { mode: 'inline', pool: null, concurrency: 4 },
  login: { mode: 'inline', url: null, maxConcurrent: null },
};

export interface StoredWorkerConfig {
  config: WorkerConfig;
  /** The operation that last wrote the entry. */
  op: string | null;
}

/** Fixed key order, no whitespace; keys of modes that do not use them are left out. */
export function encodeWorkerConfig(c: WorkerConfig, op: string | null): string {
  return JSON.stringify({
    task: c.task.mode,
    ...(c.task.mode === 'agent' ? { pool: c.task.pool } : {}),
    concurrency: c.task.concurrency,
    login: c.login.mode,
    ...(c.login.mode === 'shared' ? { url: c.login.url, max: c.login.maxConcurrent } : {}),
    ...(op ? { op } : {}),
  });
}

export function decodeWorkerConfig(raw: string): StoredWorkerConfig | null {
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    const task = v.task === 'agent' ? 'agent' : v.task === 'inline' ? 'inline' : null;
    const login = v.login === 'shared' || v.login === 'dedicated' || v.login === 'inline' ? v.login : null;
    if (!task || !login) return null;
    return {
      config: {
        task: {
          mode: task,
          pool: task === 'agent' && typeof v.pool === 'string' ? v.pool : null,
          concurrency: typeof v.concurrency === 'number' ? v.concurrency : DEFAULT_WORKER_CONFIG.task.concurrency,
        },
        login: {
          mode: login,
          url: login === 'shared' && typeof v.url === 'string' ? v.url : null,
          maxConcurrent: login === 'shared' && typeof v.max === 'number' ? v.max : null,
        },
      },
      op: typeof v.op === 'string' ? v.op : null,
    };
  } catch {
    return null;
  }
}

/** Merges the data of every worker-config shard (what a backend does after its one LIST). */
export function readShards(configMaps: Pick<V1ConfigMap, 'data'>[]): Map<string, StoredWorkerConfig> {
  const all = new Map<string, StoredWorkerConfig>();
  for (const cm of configMaps) {
    for (const [slug, raw] of Object.entries(cm.data ?? {})) {
      const entry = decodeWorkerConfig(raw);
      if (entry) all.set(slug, entry);
    }
  }
  return all;
}

export class WorkerConfigStore {
  constructor(
    private readonly kube: WorkersKube,
    readonly shards = WORKERS_SHARDS,
  ) {}

  /** Every tenant's configuration: one LIST. */
  async readAll(): Promise<Map<string, StoredWorkerConfig>> {
    return readShards(await this.kube.listConfigMaps(WORKERS_SELECTOR));
  }

  async get(slug: string): Promise<StoredWorkerConfig | null> {
    const raw = (await this.kube.getConfigMap(workersShardOf(slug, this.shards)))?.data?.[slug];
    return raw === undefined ? null : decodeWorkerConfig(raw);
  }

  /** Writes the entry, marked with the operation that wrote it. */
  async put(slug: string, config: WorkerConfig, op: string | null): Promise<void> {
    await this.mutate(slug, () => encodeWorkerConfig(config, op));
  }

  /** Restores exactly what was there before (null: no entry), so a compensation undoes only its own write. */
  async restore(slug: string, previous: string | null, ifOp: string): Promise<'restored' | 'not-ours'> {
    let outcome: 'restored' | 'not-ours' = 'restored';
    await this.mutate(slug, (current) => {
      if (current === null || decodeWorkerConfig(current)?.op !== ifOp) {
        // Someone wrote after us (or nothing is there): never undo their change.
        if (current !== previous) outcome = 'not-ours';
        return current;
      }
      return previous;
    });
    return outcome;
  }

  async raw(slug: string): Promise<string | null> {
    return (await this.kube.getConfigMap(workersShardOf(slug, this.shards)))?.data?.[slug] ?? null;
  }

  async remove(slug: string): Promise<void> {
    await this.mutate(slug, () => null);
  }

  private async mutate(slug: string, change: (current: string | null) => string | null): Promise<void> {
    const name = workersShardOf(slug, this.shards);
    await retryKubeConflict(async () => {
      const cm = await this.kube.getConfigMap(name);
      const current = cm?.data?.[slug] ?? null;
      const next = change(current);
      if (next === current) return;
      if (!cm) {
        if (next === null) return;
        await this.kube.createConfigMap(this.newShard(name, { [slug]: next }));
        return;
      }
      const data = { ...(cm.data ?? {}) };
      if (next === null) delete data[slug];
      else data[slug] = next;
      await this.kube.replaceConfigMap(name, { ...cm, data });
    });
  }

  private newShard(name: string, data: Record<string, string>): V1ConfigMap {
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace: this.kube.namespace,
        labels: { ...MANAGED_BY_LABEL, [REGISTRY_LABEL_KEY]: 'workers' },
        annotations: { 'gatehouse.io/workers-format': WORKERS_FORMAT, 'gatehouse.io/workers-shards': String(this.shards) },
      },
      data,
    };
  }
}
