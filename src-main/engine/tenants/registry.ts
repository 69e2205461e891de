import type { V1ConfigMap } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import { MANAGED_BY_LABEL, retryOnConflict } from '../../adapters/kube';
import type { TenantKube } from './kube-ports';

/**
 * The tenant registry the platform's backend reads (format: docs/registry.md).
 *
 * Tenants are spread over N ConfigMaps `gatehouse-registry-<n>` by FNV-1a(slug) mod N,
 * one data key per tenant holding compact JSON. Readers never need the hash: they list
 * ConfigMaps labelled `gatehouse.io/registry=tenants` and merge their data. Writers do a
 * read-modify-write of one shard with its resourceVersion and retry on 409, so two
 * consoles never lose each other's entries.
 */
export const REGISTRY_LABEL_KEY = 'gatehouse.io/registry';
export const REGISTRY_SELECTOR = `${REGISTRY_LABEL_KEY}=tenants`;
export const REGISTRY_FORMAT = '1';
export const DEFAULT_SHARDS = 16;

export interface RegistryEntry {
  name: string;
  tier: string;
  status: 'active' | 'suspended' | 'provisioning' | 'deleting';
  /** ISO time the tenant was created. */
  created: string;
  /** Tenant schema version the console last applied. */
  schema: number;
  /** User cap allocated from the license; null = no allocation (free tier limits). */
  users: number | null;
  /** The operation that created the entry: a rollback removes only its own entry. */
  op?: string | null;
}

export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export const shardIndex = (slug: string, shards: number): number => fnv1a(slug) % shards;
export const shardName = (n: number): string => `gatehouse-registry-${n}`;

/** Fixed key order, no whitespace: the bytes per tenant stay small and diffs stay readable. */
export function encodeEntry(e: RegistryEntry): string {
  return JSON.stringify({
    name: e.name,
    tier: e.tier,
    status: e.status,
    created: e.created,
    schema: e.schema,
    users: e.users,
    ...(e.op ? { op: e.op } : {}),
  });
}

export function decodeEntry(raw: string): RegistryEntry | null {
  try {
    const v = JSON.parse(raw) as Partial<RegistryEntry>;
    if (typeof v.name !== 'string' || typeof v.tier !== 'string') return null;
    return {
      name: v.name,
      tier: v.tier,
      status: (v.status ?? 'active') as RegistryEntry['status'],
      created: v.created ?? '',
      schema: typeof v.schema === 'number' ? v.schema : 0,
      users: typeof v.users === 'number' ? v.users : null,
      ...(typeof v.op === 'string' ? { op: v.op } : {}),
    };
  } catch {
    return null;
  }
}

export class TenantRegistry {
  constructor(
    private readonly kube: TenantKube,
    readonly shards = DEFAULT_SHARDS,
  ) {}

  /** One LIST for every tenant of the registry. */
  async readAll(): Promise<Map<string, RegistryEntry>> {
    const all = new Map<string, RegistryEntry>();
    for (const cm of await this.kube.listConfigMaps(REGISTRY_SELECTOR)) {
      for (const [slug, raw] of Object.entries(cm.data ?? {})) {
        const entry = decodeEntry(raw);
        if (entry) all.set(slug, entry);
      }
    }
    return all;
  }

  async get(slug: string): Promise<RegistryEntry | null> {
    const cm = await this.kube.getConfigMap(shardName(shardIndex(slug, this.shards)));
    const raw = cm?.data?.[slug];
    return raw === undefined ? null : decodeEntry(raw);
  }

  /** Adds an entry; with ifAbsent a different existing entry is a CONFLICT (someone else owns the slug). */
  async put(slug: string, entry: RegistryEntry, opts: { ifAbsent?: boolean } = {}): Promise<void> {
    await this.mutate(slug, (current) => {
      if (opts.ifAbsent && current !== null && current !== encodeEntry(entry)) {
        throw new ContractError('CONFLICT', `Tenant "${slug}" is already in the registry. Choose another slug.`);
      }
      return encodeEntry(entry);
    });
  }

  /** Changes an existing entry; NOT_FOUND when there is none. */
  async update(slug: string, change: (e: RegistryEntry) => RegistryEntry): Promise<RegistryEntry> {
    let result: RegistryEntry | null = null;
    await this.mutate(slug, (current) => {
      const entry = current === null ? null : decodeEntry(current);
      if (!entry) throw new ContractError('NOT_FOUND', `Tenant "${slug}" is not in the registry. Reconcile to see what exists.`);
      result = change(entry);
      return encodeEntry(result);
    });
    return result!;
  }

  async remove(slug: string): Promise<void> {
    await this.mutate(slug, () => null);
  }

  /** Removes the entry only if operationId created it (decided on the same read the write is conditioned on). */
  async removeIfMarked(slug: string, operationId: string): Promise<'removed' | 'absent' | 'not-ours'> {
    let outcome: 'removed' | 'absent' | 'not-ours' = 'absent';
    await this.mutate(slug, (current) => {
      if (current === null) {
        outcome = 'absent';
        return null;
      }
      if (decodeEntry(current)?.op !== operationId) {
        outcome = 'not-ours';
        return current;
      }
      outcome = 'removed';
      return null;
    });
    return outcome;
  }

  /** Applies change to one key of its shard, creating the shard on first use. */
  private async mutate(slug: string, change: (current: string | null) => string | null): Promise<void> {
    const name = shardName(shardIndex(slug, this.shards));
    await retryOnConflict(async () => {
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
      // resourceVersion from the read makes this write fail with 409 if anyone wrote in between.
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
        labels: { ...MANAGED_BY_LABEL, [REGISTRY_LABEL_KEY]: 'tenants' },
        annotations: { 'gatehouse.io/registry-format': REGISTRY_FORMAT, 'gatehouse.io/registry-shards': String(this.shards) },
      },
      data,
    };
  }
}
