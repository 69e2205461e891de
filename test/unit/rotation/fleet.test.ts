import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ContractError } from '../../../src-shared/contract';
import type { KubeClients } from '../../../src-main/adapters/kube';
import { ClusterScope } from '../../../src-main/engine/clusters/scope';
import { SagaRunner, sagaMigrations, type SagaDefinition } from '../../../src-main/engine/core/saga';
import { FleetRotation, rotationMigrations } from '../../../src-main/engine/rotation/fleet';
import type { RotationParams } from '../../../src-main/engine/rotation/saga';

const clusterA = new ClusterScope('uid-a', {
  contextId: 'ctx-a',
  contextName: 'staging',
  kube: {} as KubeClients,
  namespace: 'iam-system',
  pgAdmin: async () => null,
});
const clusterB = new ClusterScope('uid-b', {
  contextId: 'ctx-b',
  contextName: 'production',
  kube: {} as KubeClients,
  namespace: 'iam-system',
  pgAdmin: async () => null,
});

function journal() {
  const db = new Database(':memory:');
  for (const m of [...sagaMigrations, ...rotationMigrations]) db.exec(m.sql);
  return db;
}

/** Stands in for a tenant's rotation saga (our own SagaDefinition): a step that fails for the slugs in `broken`. */
function fakeRotation(broken: Set<string>, rotated: string[], gone = new Set<string>()): SagaDefinition<RotationParams, { slug: string }> {
  return {
    kind: 'rotation.jwt',
    target: (p) => p.slug,
    context: (p) => ({ slug: p.slug }),
    steps: [
      {
        name: 'reserve',
        run: async (ctx) => {
          if (gone.has(ctx.slug)) throw new ContractError('NOT_FOUND', `Tenant "${ctx.slug}" has no Secret`);
        },
      },
      {
        name: 'roll-staged',
        run: async (ctx) => {
          if (broken.has(ctx.slug)) throw new ContractError('UNAVAILABLE', `rollout of login-worker-${ctx.slug} did not complete`);
        },
        // held at a safe phase (as the real rollout steps do): the operation stays unfinished
        compensate: async (ctx) => {
          if (broken.has(ctx.slug)) throw new ContractError('UNAVAILABLE', 'held at a safe phase');
        },
      },
      { name: 'release', run: async (ctx) => void rotated.push(ctx.slug) },
    ],
  };
}

describe('fleet rotation journal', () => {
  it('one failure never stops the others; resume retries only the unfinished tenant by resuming its own operation', async () => {
    const db = journal();
    const broken = new Set(['t07']);
    const rotated: string[] = [];
    const saga = new SagaRunner(db, null, async () => clusterA);
    saga.register(fakeRotation(broken, rotated));
    const fleet = new FleetRotation(db, null, saga);
    const slugs = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    const first = await fleet.start(clusterA, { kind: 'jwt', concurrency: 4, algorithm: null, slugs }, 'local:alice');
    expect(first).toMatchObject({ status: 'partial', total: 20, done: 19, failed: 1 });
    const failed = first.items.find((i) => i.slug === 't07')!;
    expect(failed.error).toMatch(/failed at step "roll-staged": rollout of login-worker-t07/);
    expect(saga.get(failed.operationId!).status).toBe('failed');

    broken.clear();
    rotated.length = 0;
    const again = await fleet.resume(first.fleetId, clusterA, 'local:alice');
    expect(again).toMatchObject({ status: 'done', done: 20, failed: 0 });
    expect(rotated).toEqual(['t07']);
    expect(again.items.find((i) => i.slug === 't07')!.operationId).toBe(failed.operationId);
  });

  it('a run left "running" by a killed console is interrupted; resume finishes it without redoing done tenants', async () => {
    const db = journal();
    const rotated: string[] = [];
    const saga = new SagaRunner(db, null, async () => clusterA);
    saga.register(fakeRotation(new Set(), rotated));
    // What a SIGKILL mid-run leaves: the fleet row running, some items done, one running, the rest pending.
    const now = new Date().toISOString();
    db.prepare(`INSERT INTO rotation_fleets VALUES ('f-1', 'uid-a', 'staging', 'jwt', NULL, 2, 'local:bob', 'running', ?, ?)`).run(
      now,
      now,
    );
    const item = db.prepare('INSERT INTO rotation_fleet_items (fleet_id, slug, status, updated_at) VALUES (?, ?, ?, ?)');
    item.run('f-1', 'a', 'done', now);
    item.run('f-1', 'b', 'running', now);
    item.run('f-1', 'c', 'pending', now);
    const fleet = new FleetRotation(db, null, saga);
    expect(fleet.get('f-1')).toMatchObject({ status: 'interrupted', done: 1 });
    // Bound to its cluster: another cluster's session cannot resume it.
    await expect(fleet.resume('f-1', clusterB, null)).rejects.toThrow(/belongs to cluster staging \(uid-a\); select that cluster/);
    const out = await fleet.resume('f-1', clusterA, 'local:bob');
    expect(out).toMatchObject({ status: 'done', done: 3, total: 3 });
    expect(rotated.sort()).toEqual(['b', 'c']);
  });

  it('a tenant whose Secret is gone is skipped, not failed', async () => {
    const db = journal();
    const saga = new SagaRunner(db, null, async () => clusterA);
    saga.register(fakeRotation(new Set(), [], new Set(['gone'])));
    const fleet = new FleetRotation(db, null, saga);
    const out = await fleet.start(clusterA, { kind: 'jwt', concurrency: 2, algorithm: null, slugs: ['here', 'gone'] }, null);
    expect(out).toMatchObject({ status: 'done', done: 1, skipped: 1, failed: 0 });
  });
});
