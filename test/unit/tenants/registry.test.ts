import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ContractError } from '../../../src-shared/contract';
import type { TenantKube } from '../../../src-main/engine/tenants/kube-ports';
import { DEFAULT_SHARDS, TenantRegistry, encodeEntry, shardIndex, type RegistryEntry } from '../../../src-main/engine/tenants/registry';

/** In-memory ConfigMaps honouring resourceVersion (a fake of our own port, unit tests only). */
function fakeConfigMaps(opts: { interfere?: () => void } = {}) {
  const store = new Map<string, V1ConfigMap>();
  let rv = 1;
  const conflict = () => Object.assign(new ContractError('CONFLICT', 'stale'), { kubeStatus: 409 });
  const port: Partial<TenantKube> = {
    namespace: 'ns',
    calls: { count: 0 },
    getConfigMap: async (name) => structuredClone(store.get(name) ?? null),
    createConfigMap: async (body) => {
      if (store.has(body.metadata!.name!)) throw conflict();
      const cm = { ...body, metadata: { ...body.metadata, resourceVersion: String(rv++) } };
      store.set(body.metadata!.name!, cm);
      return cm;
    },
    replaceConfigMap: async (name, body) => {
      opts.interfere?.();
      if (store.get(name)?.metadata?.resourceVersion !== body.metadata?.resourceVersion) throw conflict();
      const cm = { ...body, metadata: { ...body.metadata, resourceVersion: String(rv++) } };
      store.set(name, cm);
      return cm;
    },
    listConfigMaps: async () => [...store.values()],
  };
  return { store, port: port as TenantKube };
}

const entry = (i: number): RegistryEntry => ({
  name: `Customer number ${i} GmbH`,
  tier: i % 3 === 0 ? 'Enterprise' : 'PRO',
  status: 'active',
  created: '2026-11-23T10:00:00.000Z',
  schema: 3,
  users: 2500,
});

describe('TenantRegistry', () => {
  it('holds 5,000 tenants with every shard far below the 1 MiB object cap', async () => {
    const { store, port } = fakeConfigMaps();
    const reg = new TenantRegistry(port);
    for (let i = 0; i < 5000; i++) await reg.put(`tenant-${String(i).padStart(4, '0')}-${'x'.repeat(20)}`, entry(i));
    const sizes = [...store.values()].map((cm) => Buffer.byteLength(JSON.stringify(cm)));
    expect(store.size).toBe(DEFAULT_SHARDS);
    expect(Math.max(...sizes)).toBeLessThan(256 * 1024);
    expect((await reg.readAll()).size).toBe(5000);
  });

  it('spreads slugs evenly enough over the shards', () => {
    const counts = new Array(DEFAULT_SHARDS).fill(0);
    for (let i = 0; i < 5000; i++) counts[shardIndex(`t${i}`, DEFAULT_SHARDS)]++;
    expect(Math.max(...counts)).toBeLessThan((5000 / DEFAULT_SHARDS) * 1.3);
  });

  it('retries on 409 so concurrent writers never lose an entry', async () => {
    const fake = fakeConfigMaps();
    const reg = new TenantRegistry(fake.port, 1);
    await reg.put('first', entry(1));
    // Another console writes the same shard between our read and our write, twice.
    let interfered = 0;
    const racingPort: TenantKube = {
      ...fake.port,
      replaceConfigMap: async (name, body) => {
        if (interfered < 2) {
          interfered++;
          const cm = fake.store.get(name)!;
          fake.store.set(name, {
            ...cm,
            data: { ...cm.data, [`other${interfered}`]: encodeEntry(entry(9)) },
            metadata: { ...cm.metadata, resourceVersion: `x${interfered}` },
          });
        }
        return fake.port.replaceConfigMap(name, body);
      },
    };
    await new TenantRegistry(racingPort, 1).put('second', entry(2));
    expect(interfered).toBe(2);
    expect([...(await reg.readAll()).keys()].sort()).toEqual(['first', 'other1', 'other2', 'second']);
  });

  it('refuses to overwrite a different entry when asked ifAbsent, but accepts the same one (resume)', async () => {
    const reg = new TenantRegistry(fakeConfigMaps().port);
    await reg.put('acme', entry(1), { ifAbsent: true });
    await reg.put('acme', entry(1), { ifAbsent: true });
    await expect(reg.put('acme', entry(2), { ifAbsent: true })).rejects.toMatchObject({ code: 'CONFLICT' });
    await reg.remove('acme');
    expect(await reg.get('acme')).toBeNull();
  });

  it('measures a compact entry', () => {
    expect(Buffer.byteLength(encodeEntry(entry(1)))).toBeLessThan(160);
  });
});
