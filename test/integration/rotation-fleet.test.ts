// Fleet rotation over 50 tenants on the real API server, one of them broken (its workload's
// pods can never be scheduled): the other 49 complete, the broken one is reported and held at a
// safe phase, and a resume after the fix finishes it. Plus key age against the max-age policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationProgress } from '../../src-shared/contract';
import { harnessOrReason, operatorNamespace, tempDataDir, uniqueSlug } from './tenants-env';
import {
  TEST_LIFETIMES,
  apis,
  buildRotationEngine,
  createTenantSecret,
  createWorkload,
  readSecretData,
  waitAvailable,
  type RotationTestEngine,
} from './rotation-env';

const h = harnessOrReason();
const state = 'state' in h ? h.state : (undefined as never);

describe('fleet rotation', () => {
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: RotationTestEngine;
  let core: ReturnType<typeof apis>['core'];
  let apps: ReturnType<typeof apis>['apps'];

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-rot-fleet');
    ({ core, apps } = apis(state.kubeconfigs.operator));
    eng = buildRotationEngine({
      kubeconfig: state.kubeconfigs.operator,
      namespace: ns.namespace,
      dataDir: tempDataDir(),
      consoleId: 'rot-fleet',
      options: { rolloutTimeoutMs: 5_000 },
    });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  it('50 tenants, one broken: 49 rotate, the broken one is reported and held; resume after the fix completes it', async () => {
    const slugs = Array.from({ length: 50 }, (_, i) => `${uniqueSlug('f')}${String(i).padStart(2, '0')}`).sort();
    const broken = slugs[17]!;
    for (const [i, slug] of slugs.entries()) {
      await createTenantSecret(core, ns.namespace, slug, {
        TENANT_SLUG: slug,
        JWT_CURRENT_KID: `k-legacy-${i}`,
        JWT_CURRENT_SECRET: `legacy-secret-${i}-${'x'.repeat(40)}`,
        LOGIN_WORKER_TOKEN: `lw-${i}`,
        TOKEN_POLICY: JSON.stringify(TEST_LIFETIMES),
      });
    }
    // A few tenants have a dedicated workload that really rolls; the broken one's pods can never be scheduled.
    const withWorkload = [slugs[3]!, slugs[25]!, slugs[40]!];
    for (const slug of withWorkload) await createWorkload(apps, ns.namespace, `login-worker-${slug}`, slug);
    await createWorkload(apps, ns.namespace, `login-worker-${broken}`, broken, {
      nodeSelector: { 'gatehouse.test/no-such-node': 'anywhere' },
    });
    for (const slug of withWorkload) await waitAvailable(apps, ns.namespace, `login-worker-${slug}`);

    const events: OperationProgress[] = [];
    const unsubscribe = eng.bus.subscribe('operation.progress', (e) => {
      if (e.kind === 'rotation.fleet') events.push(e);
    });
    const summary = await eng.service.fleetRotate(eng.runtime, { kind: 'jwt', concurrency: 8 }, 'local:alice');
    unsubscribe();
    expect(summary).toMatchObject({
      kind: 'jwt',
      status: 'partial',
      total: 50,
      done: 49,
      failed: 1,
      skipped: 0,
      concurrency: 8,
      actor: 'local:alice',
    });
    const failed = summary.items.filter((i) => i.status === 'failed');
    expect(failed.map((i) => i.slug)).toEqual([broken]);
    expect(failed[0]!.error).toMatch(/failed at step "roll-staged".*Pods not ready: login-worker-\S+ \(Pending, Unschedulable/);
    // Live progress: every tenant reported running then its end, and done counts up to the total.
    expect(
      events
        .filter((e) => e.status === 'done' && e.target !== '*')
        .map((e) => e.target)
        .sort(),
    ).toEqual(slugs.filter((s) => s !== broken));
    expect(events.filter((e) => e.status === 'failed' && e.target === broken)).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ target: '*', status: 'failed', done: 50, total: 50 });
    // The 49 carry a new current key; the broken one is at its safe phase (staged, the old key signs).
    for (const slug of slugs) {
      const keys = (JSON.parse((await readSecretData(core, ns.namespace, slug)).JWT_KEYS!) as { keys: { state: string }[] }).keys.map(
        (k) => k.state,
      );
      expect(keys, slug).toEqual(slug === broken ? ['current', 'next'] : ['previous', 'current']);
    }
    expect(eng.service.fleetList(eng.runtime).map((f) => f.fleetId)).toEqual([summary.fleetId]);

    // Fixed (the workload now schedules): resume retries only the broken tenant, resuming its own held operation.
    const d = await apps.readNamespacedDeployment({ name: `login-worker-${broken}`, namespace: ns.namespace });
    await apps.replaceNamespacedDeployment({
      name: `login-worker-${broken}`,
      namespace: ns.namespace,
      body: { ...d, spec: { ...d.spec!, template: { ...d.spec!.template, spec: { ...d.spec!.template.spec!, nodeSelector: {} } } } },
    });
    const progress: OperationProgress[] = [];
    const stop = eng.bus.subscribe('operation.progress', (e) => {
      if (e.kind === 'rotation.fleet' && e.target !== '*') progress.push(e);
    });
    const resumed = await eng.service.fleetResume(eng.runtime, summary.fleetId, 'local:alice');
    stop();
    expect(resumed).toMatchObject({ status: 'done', total: 50, done: 50, failed: 0 });
    expect([...new Set(progress.map((e) => e.target))]).toEqual([broken]);
    expect(resumed.items.find((i) => i.slug === broken)!.operationId).toBe(failed[0]!.operationId);
    expect(
      (JSON.parse((await readSecretData(core, ns.namespace, broken)).JWT_KEYS!) as { keys: { state: string }[] }).keys.map((k) => k.state),
    ).toEqual(['previous', 'current']);
    expect(eng.saga.listUnfinished().filter((o) => slugs.includes(o.target))).toEqual([]);

    // Key age per tenant in one LIST; a max-age policy raises alerts once keys are older.
    const status = await eng.service.fleetStatus(eng.runtime);
    expect(status.tenants.filter((t) => slugs.includes(t.slug))).toHaveLength(50);
    expect(status.alerts.filter((a) => slugs.includes(a.slug))).toEqual([]);
    await eng.service.setPolicy(eng.runtime, { jwt: 1, 'login-worker': 30, proxy: null, cp: null, database: null, bootstrap: null });
    eng.clock.offsetMs = 2 * 86_400_000;
    const later = await eng.service.fleetStatus(eng.runtime);
    eng.clock.offsetMs = 0;
    const mine = later.alerts.filter((a) => slugs.includes(a.slug));
    expect(mine.map((a) => a.kind)).toEqual(slugs.map(() => 'jwt'));
    expect(mine[0]!.message).toMatch(/jwt is 2 days old \(policy: 1 days\)\. Rotate it\./);
    expect(later.policy.jwt).toBe(1);
  });
});
