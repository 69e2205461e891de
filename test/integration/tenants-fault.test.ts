// PostgreSQL going away mid-create, on a private throwaway server so no other test is disturbed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../src-shared/contract';
import { killGroupSync } from '../harness/processes';
import {
  buildTenantEngine,
  harnessOrReason,
  operatorNamespace,
  privatePostgres,
  tempDataDir,
  uniqueSlug,
  type TenantTestEngine,
} from './tenants-env';

const h = harnessOrReason();
if ('reason' in h) console.warn(h.reason);
const describeH = 'state' in h ? describe : describe.skip;

describeH('tenant create when PostgreSQL goes away', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  let ns: { namespace: string; remove(): Promise<void> };
  let pgServer: Awaited<ReturnType<typeof privatePostgres>>;
  let eng: TenantTestEngine;

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-tenants-fault');
    pgServer = await privatePostgres();
    eng = buildTenantEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      pg: pgServer.config,
      dataDir: tempDataDir(),
      consoleId: 'fault-console',
    });
  });
  afterAll(async () => {
    await eng?.close();
    await pgServer?.destroy();
    await ns?.remove();
  });

  it('stops, names the step and why, keeps the Lease until a later rollback cleans up', async () => {
    const slug = uniqueSlug('pgdown');
    // Kill the server the moment the database step is journaled done, before the schema step starts.
    const off = eng.bus.subscribe('operation.progress', (e) => {
      if (e.step === 'database' && e.status === 'done') {
        const proc = pgServer.current();
        if (proc) killGroupSync(proc);
        // give the kernel a moment to close the listening socket
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      }
    });
    const err = await eng.service.create(eng.runtime, { slug, name: 'Unlucky', tier: 'DEV' }).then(
      () => null,
      (e: unknown) => e,
    );
    off();
    expect(err).toBeInstanceOf(ContractError);
    const e = err as ContractError;
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toContain('failed at step "schema"');
    expect(e.message).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+ is unreachable/);
    // The database step could not be undone while the server was down: the operation waits, Lease held.
    expect(e.details).toMatchObject({ status: 'failed', step: 'schema' });
    const [op] = eng.service.unfinished().filter((o) => o.target === slug);
    expect(op?.steps.find((s) => s.name === 'database')?.status).toBe('failed');
    const lease = await eng.runtime.kube.coordination.readNamespacedLease({ name: `gatehouse-tenant-${slug}`, namespace: ns.namespace });
    expect(lease.spec?.holderIdentity).toBe(`fault-console/${op!.id}`);

    await pgServer.start();
    const rolled = await eng.service.rollbackOperation(op!.id);
    expect(rolled.status).toBe('rolled-back');
    expect(await eng.service.leftovers(eng.runtime, slug)).toEqual([]);
  });
});
