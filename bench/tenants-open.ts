// Tenants page open with 5,000 tenants: the engine answers from its cache (kept live by
// WATCH), so opening the page costs no Kubernetes call and no PostgreSQL connection.
// Counted with a cluster whose every call is counted (test/unit/helpers/counting-scope.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLocalStore } from '../src-main/adapters/sqlite';
import { SagaRunner } from '../src-main/engine/core/saga';
import { tenantsMigrations } from '../src-main/engine/tenants';
import { TenantService } from '../src-main/engine/tenants/service';
import { countingScope, fakeTenants } from '../test/unit/helpers/counting-scope';
import { percentile, report, timeIt, type Row } from './lib';

const N = 5000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-open-'));
const { db } = openLocalStore(dir, tenantsMigrations);
const saga = new SagaRunner(db, null, async () => {
  throw new Error('not used');
});
const tenants = new TenantService({ db, bus: null, saga, consoleId: 'bench' });
const { scope, counts } = countingScope();
tenants.cache.save(scope.clusterId, fakeTenants(N), [], 5);

const times: number[] = [];
let rows = 0;
for (let i = 0; i < 50; i++) {
  times.push(await timeIt(async () => (rows = (await tenants.list(scope, { refresh: false, stats: false })).tenants.length)));
}
times.sort((a, b) => a - b);
const out: Row[] = [
  {
    metric: `tenants page open, ${N.toLocaleString()} tenants: first rows p50`,
    value: percentile(times, 50),
    unit: 'ms',
    note: `${rows} rows from the cache`,
  },
  { metric: `tenants page open, ${N.toLocaleString()} tenants: first rows p95`, value: percentile(times, 95), unit: 'ms' },
  {
    metric: 'Kubernetes API calls per open',
    value: counts.kubeCalls / times.length,
    unit: 'calls',
    note: 'goal 0 (before: a reconcile, 5 calls)',
  },
  {
    metric: 'PostgreSQL connections per open',
    value: counts.pgConnections / times.length,
    unit: 'conns',
    note: `goal 0 (before: 1 admin + ${N.toLocaleString()} tenant databases for stats)`,
  },
];
report('tenants-open', out);
await tenants.close();
db.close();
fs.rmSync(dir, { recursive: true, force: true });
