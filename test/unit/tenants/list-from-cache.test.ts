import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocalStore, type Sqlite } from '../../../src-main/adapters/sqlite';
import { SagaRunner } from '../../../src-main/engine/core/saga';
import { tenantsMigrations } from '../../../src-main/engine/tenants';
import { TenantService } from '../../../src-main/engine/tenants/service';
import { countingScope, fakeTenants } from '../helpers/counting-scope';

let db: Sqlite | null = null;
afterEach(() => db?.close());

function service() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-tenant-list-'));
  db = openLocalStore(dir, tenantsMigrations).db;
  const saga = new SagaRunner(db, null, async () => {
    throw new Error('no resume here');
  });
  return new TenantService({ db, bus: null, saga, consoleId: 'test' });
}

describe('the Tenants page is served from the cache', () => {
  it('opening it with 5,000 cached tenants makes no Kubernetes call and opens no database connection', async () => {
    const tenants = service();
    const { scope, counts } = countingScope();
    tenants.cache.save(scope.clusterId, fakeTenants(5000), [], 5);
    const list = await tenants.list(scope, { refresh: false, stats: false });
    expect(list).toMatchObject({ clusterId: scope.clusterId, fromCache: true });
    expect(list.tenants).toHaveLength(5000);
    expect(list.tenants[0]?.statsAt).toBe('2026-12-01T00:00:00.000Z'); // stats carry their age
    expect(counts).toEqual({ kubeCalls: 0, pgConnections: 0 });
    await tenants.close();
  });

  it('rows are per cluster: another cluster’s cache never answers for this one', async () => {
    const tenants = service();
    const a = countingScope('uid-a');
    const b = countingScope('uid-b');
    tenants.cache.save(a.scope.clusterId, fakeTenants(3), [], 5);
    tenants.cache.save(b.scope.clusterId, fakeTenants(1), [], 5);
    expect((await tenants.list(a.scope, { refresh: false, stats: false })).tenants).toHaveLength(3);
    expect((await tenants.list(b.scope, { refresh: false, stats: false })).tenants).toHaveLength(1);
    await tenants.close();
  });
});
