import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SagaRunner, sagaMigrations, type SagaDefinition } from '../../../src-main/engine/core/saga';
import { EventBus } from '../../../src-main/engine/core/events';
import { ContractError, type OperationProgress } from '../../../src-shared/contract';
import type { KubeClients } from '../../../src-main/adapters/kube';
import { ClusterScope } from '../../../src-main/engine/clusters/scope';
import type { ClusterRuntime } from '../../../src-main/engine/core/cluster-runtime';

const cluster = (uid: string, name: string) =>
  new ClusterScope(uid, {
    contextId: `ctx-${name}`,
    contextName: name,
    kube: {} as KubeClients,
    namespace: 'iam-system',
    pgAdmin: async () => null,
  });
const clusterA = cluster('uid-a', 'staging');
const clusterB = cluster('uid-b', 'production');
/** Resolves clusters by identity; `down` ones are unreachable. */
function resolver(down = new Set<string>()) {
  return async (uid: string): Promise<ClusterRuntime> => {
    if (down.has(uid)) throw new ContractError('UNAVAILABLE', `cluster ${uid} cannot be reached right now`);
    const found = [clusterA, clusterB].find((c) => c.clusterId === uid);
    if (!found) throw new ContractError('UNAVAILABLE', `unknown cluster ${uid}`);
    return found;
  };
}

function journalDb() {
  const db = new Database(':memory:');
  for (const m of sagaMigrations) db.exec(m.sql);
  return db;
}

/** A saga over an in-memory "world" whose steps can be told to fail. */
function worldSaga(
  world: Set<string>,
  failAt: { run?: string; compensate?: string } = {},
): SagaDefinition<{ name: string }, { name: string }> {
  const step = (name: string) => ({
    name,
    run: async () => {
      world.add(name);
      if (failAt.run === name) throw new Error(`${name} broke`);
    },
    compensate: async () => {
      if (failAt.compensate === name) throw new Error(`cannot undo ${name}`);
      world.delete(name);
    },
  });
  return { kind: 'test.world', target: (p) => p.name, context: (p) => ({ name: p.name }), steps: [step('a'), step('b'), step('c')] };
}

describe('SagaRunner', () => {
  it('runs every step, journals it and publishes progress', async () => {
    const db = journalDb();
    const bus = new EventBus();
    const events: OperationProgress[] = [];
    bus.subscribe('operation.progress', (e) => events.push(e));
    const runner = new SagaRunner(db, bus, resolver());
    const world = new Set<string>();
    runner.register(worldSaga(world));
    const out = await runner.start('test.world', { name: 't1' }, clusterA);
    expect(out.error).toBeNull();
    expect(out.operation.status).toBe('done');
    expect(out.operation.steps.map((s) => s.status)).toEqual(['done', 'done', 'done']);
    expect([...world]).toEqual(['a', 'b', 'c']);
    expect(events.map((e) => `${e.step}:${e.status}`)).toEqual(['a:running', 'a:done', 'b:running', 'b:done', 'c:running', 'c:done']);
    expect(runner.listUnfinished()).toEqual([]);
  });

  it('compensates the failed step and the completed ones in reverse, naming the step', async () => {
    const db = journalDb();
    const runner = new SagaRunner(db, null, resolver());
    const world = new Set<string>();
    runner.register(worldSaga(world, { run: 'b' }));
    const out = await runner.start('test.world', { name: 't2' }, clusterA);
    expect((out.error as Error).message).toBe('b broke');
    expect(out.operation.status).toBe('rolled-back');
    expect(out.operation.failedStep).toBe('b');
    expect(out.operation.steps.map((s) => s.status)).toEqual(['compensated', 'compensated', 'pending']);
    expect(world.size).toBe(0);
  });

  it('stops at a failing compensation, lists the operation, and rollback continues later', async () => {
    const db = journalDb();
    const runner = new SagaRunner(db, null, resolver());
    const world = new Set<string>();
    const failAt: { run?: string; compensate?: string } = { run: 'c', compensate: 'b' };
    runner.register(worldSaga(world, failAt));
    const out = await runner.start('test.world', { name: 't3' }, clusterA);
    expect(out.operation.status).toBe('failed');
    expect(out.operation.failedStep).toBe('c');
    // a is kept (reverse order stopped at b), so the first reservation stays held
    expect([...world].sort()).toEqual(['a', 'b']);
    expect(runner.listUnfinished().map((o) => o.id)).toEqual([out.operation.id]);
    delete failAt.compensate;
    const rb = await runner.rollback(out.operation.id);
    expect(rb.operation.status).toBe('rolled-back');
    expect(world.size).toBe(0);
    expect(runner.listUnfinished()).toEqual([]);
  });

  it('resumes from the first step that is not done', async () => {
    const db = journalDb();
    const runner = new SagaRunner(db, null, resolver());
    const world = new Set<string>();
    const runs: string[] = [];
    const def = worldSaga(world);
    def.steps = def.steps.map((s) => ({
      ...s,
      run: async (c) => {
        runs.push(s.name);
        await s.run(c);
      },
    }));
    runner.register(def);
    const first = await runner.start('test.world', { name: 't4' }, clusterA);
    // simulate a crash after step a: rewrite the journal as a killed process would leave it
    db.prepare(
      `UPDATE operation_steps SET status = CASE idx WHEN 0 THEN 'done' WHEN 1 THEN 'running' ELSE 'pending' END WHERE operation_id = ?`,
    ).run(first.operation.id);
    db.prepare(`UPDATE operations SET status = 'running' WHERE id = ?`).run(first.operation.id);
    expect(runner.listUnfinished()[0]?.status).toBe('interrupted');
    runs.length = 0;
    const resumed = await runner.resume(first.operation.id);
    expect(resumed.operation.status).toBe('done');
    expect(runs).toEqual(['b', 'c']);
  });

  it('refuses params that would put a secret in the journal', async () => {
    const runner = new SagaRunner(journalDb(), null, resolver());
    runner.register(worldSaga(new Set()));
    await expect(runner.start('test.world', { name: 'x', password: 'hunter2' }, clusterA)).rejects.toThrow(/secret/);
  });

  it('refuses to roll back a forward-only saga', async () => {
    const db = journalDb();
    const runner = new SagaRunner(db, null, resolver());
    runner.register({ ...worldSaga(new Set(), { run: 'a', compensate: 'a' }), forwardOnly: true });
    const out = await runner.start('test.world', { name: 'x' }, clusterA);
    await expect(runner.rollback(out.operation.id)).rejects.toThrow(/cannot be undone/);
  });

  it('journals the cluster, context and actor; resume and rollback run on that cluster whatever else exists', async () => {
    const db = journalDb();
    const seen: string[] = [];
    const runner = new SagaRunner(db, null, resolver());
    const def = worldSaga(new Set(), { run: 'b', compensate: 'a' });
    runner.register({ ...def, context: (p, _op, c) => (seen.push(c.clusterId), { name: p.name }) });
    const out = await runner.start('test.world', { name: 'x' }, clusterA, { actor: 'alice' });
    expect(out.operation).toMatchObject({ clusterId: 'uid-a', clusterName: 'staging', actor: 'alice', status: 'failed' });
    // Another cluster exists and may be the one the operator looks at: the rollback still goes to A.
    await runner.rollback(out.operation.id).catch(() => undefined);
    expect(seen).toEqual(['uid-a', 'uid-a']);
    expect(seen).not.toContain(clusterB.clusterId);
  });

  it('a rollback whose cluster is unreachable runs nothing, says so, and the operation waits', async () => {
    const db = journalDb();
    const down = new Set<string>();
    const world = new Set<string>();
    const runner = new SagaRunner(db, null, resolver(down));
    const failAt: { run?: string; compensate?: string } = { run: 'c', compensate: 'b' };
    runner.register(worldSaga(world, failAt));
    const out = await runner.start('test.world', { name: 'w' }, clusterA);
    expect(out.operation.status).toBe('failed');
    down.add('uid-a');
    delete failAt.compensate;
    await expect(runner.rollback(out.operation.id)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect([...world].sort()).toEqual(['a', 'b']); // nothing undone anywhere
    expect(runner.listUnfinished().map((o) => [o.id, o.clusterId])).toEqual([[out.operation.id, 'uid-a']]);
    down.delete('uid-a');
    expect((await runner.rollback(out.operation.id)).operation.status).toBe('rolled-back');
  });

  it('a guard that throws (Lease lost) stops the saga before its next step and compensates', async () => {
    const db = journalDb();
    const world = new Set<string>();
    const runner = new SagaRunner(db, null, resolver());
    const lost = { value: false };
    const def = worldSaga(world);
    def.steps[0] = {
      ...def.steps[0]!,
      run: async () => {
        world.add('a');
        lost.value = true;
      },
    };
    runner.register({
      ...def,
      guard: () => {
        if (lost.value) throw new ContractError('CONFLICT', 'lost its lock');
      },
    });
    const out = await runner.start('test.world', { name: 'g' }, clusterA);
    expect(out.operation.status).toBe('rolled-back');
    expect(out.operation.failedStep).toBe('b');
    expect(out.operation.steps.map((s) => s.status)).toEqual(['compensated', 'compensated', 'pending']);
    expect(world.size).toBe(0);
  });
});
