// Entity sync figures: plan and apply for N tenants (default 500) with 20 roles and 5 resource
// servers (8 scopes each, 6 permissions per role): wall time and statements per tenant, for the
// first sync (everything created), a one-field edit, and an apply with nothing to change.
// Real tenant databases on a private PostgreSQL (created here, dropped at the end) and the
// harness API server for the tenant Leases (`npm run cluster:up`).
// Usage: npx tsx bench/entities.ts [tenants=500] [concurrency=8]
import type pg from 'pg';
import { PostgresAdmin } from '../src-main/adapters/postgres';
import { mapLimit } from '../src-main/engine/core/limit';
import { buildEntitiesEngine, createTenantDatabase } from '../test/integration/entities-env';
import { harnessOrReason, operatorNamespace, privatePostgres, tempDataDir } from '../test/integration/tenants-env';
import { report, timeIt, type Row } from './lib';

const h = harnessOrReason();
if ('reason' in h) {
  console.error(h.reason);
  process.exit(1);
}
const N = Number(process.argv[2] ?? 500);
const CONCURRENCY = Number(process.argv[3] ?? 8);
const server = await privatePostgres();
const ns = await operatorNamespace(h.state, 'gh-bench-entities');
const admin = new PostgresAdmin(server.config);
const slugs = Array.from({ length: N }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
const rows: Row[] = [];
try {
  const setup = await timeIt(() => mapLimit(slugs, 4, (slug) => createTenantDatabase(admin, slug, 'bench-password')));
  rows.push({ metric: `setup: ${N} tenant databases at schema v4`, value: setup / 1000, unit: 's', note: 'not part of the figures' });

  const eng = buildEntitiesEngine({
    kubeconfig: h.state.kubeconfigs.operator,
    namespace: ns.namespace,
    pg: server.config,
    dataDir: tempDataDir(),
    consoleId: 'bench',
  });
  // Count every statement sent to tenant databases (the service's own connections).
  const pool = (await eng.runtime.postgres())!;
  const counts = { tenant: 0, other: 0 };
  const original = pool.withDatabase.bind(pool);
  pool.withDatabase = (<T>(database: string, fn: (c: pg.Client) => Promise<T>, doing?: string) =>
    original(
      database,
      (c) => {
        const query = c.query.bind(c) as (...a: unknown[]) => unknown;
        (c as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
          if (database.startsWith('tenant_')) counts.tenant++;
          else counts.other++;
          return query(...a);
        };
        return fn(c);
      },
      doing,
    )) as typeof pool.withDatabase;

  for (let r = 0; r < 5; r++) {
    await eng.entities.createResourceServer(
      eng.runtime,
      {
        identifier: `https://api-${r}.bench.test`,
        name: `API ${r}`,
        scopes: Array.from({ length: 8 }, (_, s) => ({ value: `scope:${s}`, description: `Scope ${s} of API ${r}` })),
      },
      'bench',
    );
  }
  for (let i = 0; i < 20; i++) {
    await eng.entities.createRole(
      eng.runtime,
      {
        name: `Role ${String(i).padStart(2, '0')}`,
        description: `Bench role ${i}`,
        permissions: Array.from({ length: 6 }, (_, k) => ({
          resourceServer: `https://api-${(i + k) % 5}.bench.test`,
          scope: `scope:${(i * 3 + k) % 8}`,
        })),
      },
      'bench',
    );
  }

  const measure = async (label: string, fn: () => Promise<unknown>, note = '', concurrency = CONCURRENCY) => {
    counts.tenant = 0;
    let out: unknown;
    const ms = await timeIt(async () => (out = await fn()));
    rows.push({
      metric: `${label}: wall time`,
      value: ms / 1000,
      unit: 's',
      note: `${N} tenants, concurrency ${concurrency}${note ? `; ${note}` : ''}`,
    });
    rows.push({ metric: `${label}: statements per tenant`, value: counts.tenant / N, unit: 'stmts' });
    return out;
  };
  const plan = () => eng.entities.plan(eng.runtime, {});
  const apply = async () =>
    eng.entities.apply(eng.runtime, { revision: (await eng.entities.list(eng.runtime)).revision, concurrency: CONCURRENCY });

  const first = (await measure('plan, nothing synced yet', plan, '', 8)) as Awaited<ReturnType<typeof plan>>;
  rows.push({
    metric: 'plan, nothing synced yet: changes per tenant',
    value: first.tenants[0]!.changes.length,
    unit: 'rows',
    note: '5 resource servers + 40 scopes + 20 roles',
  });
  const a1 = (await measure('apply, first sync (all created)', apply, 'one transaction and one Lease per tenant')) as Awaited<
    ReturnType<typeof apply>
  >;
  rows.push({
    metric: 'apply, first sync: rows written per tenant',
    value: a1.results.reduce((s, r) => s + r.changes, 0) / N,
    unit: 'rows',
    note: `status ${a1.status}, ${a1.summary.failed} failed`,
  });

  const defs = await eng.entities.list(eng.runtime);
  const role = defs.roles[0]!;
  await eng.entities.updateRole(
    eng.runtime,
    {
      id: role.id,
      version: role.version,
      name: role.name,
      description: 'edited once',
      permissions: role.permissions.map((p) => ({ resourceServer: p.resourceServer, scope: p.scope })),
    },
    'bench',
  );
  const p2 = (await measure('plan after one field edit', plan, '', 8)) as Awaited<ReturnType<typeof plan>>;
  rows.push({
    metric: 'plan after one field edit: changes per tenant',
    value: p2.tenants.reduce((s, t) => s + t.changes.length, 0) / N,
    unit: 'rows',
  });
  await measure('apply one field edit', apply);
  await measure('apply, nothing to change', apply, 'one read, no Lease, no write');
  await measure('plan, all in sync', plan, '', 8);
  await eng.close();
} finally {
  await admin.close();
  await ns.remove();
  await server.destroy();
}
report('entities', rows);
