import { describe, expect, it } from 'vitest';
import { commands, type OperatorIdentity } from '../../../src-shared/contract';
import { memoryRecorder, type AuditRecord } from '../../../src-main/engine/audit/recorder';
import type { Engine } from '../../../src-main/engine';
import { createPipeline, type Handlers } from '../../../src-main/ipc/pipeline';
import { rotationHandlers } from '../../../src-main/ipc/rotation';
import { clusterDeps } from '../helpers/pipeline-deps';

const who = (role: OperatorIdentity['role']): OperatorIdentity => ({ id: `local:${role}`, displayName: role, role, via: 'local-account' });
const TOKEN = 'gbt_THIS-IS-THE-ONE-TIME-SECRET-VALUE-0123456789';

/** A fake of our own RotationService: answers like the real one, so the handlers' audit notes can be checked. */
function fakeRotation() {
  const calls: string[] = [];
  const kinds = [{ kind: 'jwt', currentId: 'k-old', phase: 'stable' }];
  return {
    calls,
    service: {
      status: async () => ({ kinds }),
      rotate: async (_c: unknown, input: { slug: string; kind: string }) => {
        calls.push(`rotate ${input.slug} ${input.kind}`);
        return {
          slug: input.slug,
          kind: input.kind,
          operationId: 'op-1',
          status: 'done',
          steps: [
            { name: 'stage', status: 'done', error: null },
            { name: 'promote', status: 'done', error: null },
          ],
          id: 'k-new',
          retireAfter: '2026-12-01T00:00:00.000Z',
          notices: [],
        };
      },
      revoke: async (_c: unknown, input: { slug: string; kind: string; id: string }) => {
        calls.push(`revoke ${input.id}`);
        return {
          before: 'current',
          slug: input.slug,
          kind: input.kind,
          operationId: 'op-2',
          status: 'done',
          steps: [],
          id: null,
          retireAfter: null,
          notices: [],
        };
      },
      issueBootstrap: async (_c: unknown, slug: string) => ({
        result: { slug, id: 'bt-1', token: TOKEN, expires: '2027-01-01T00:00:00.000Z', rollout: [] },
        replaced: 'legacy-aaaa',
      }),
    },
  };
}

function setup(role: OperatorIdentity['role']) {
  const fake = fakeRotation();
  const table: Record<string, unknown> = Object.fromEntries(Object.keys(commands).map((n) => [n, () => ({})]));
  Object.assign(table, rotationHandlers({ rotation: fake.service } as unknown as Engine));
  const records: AuditRecord[] = [];
  const p = createPipeline({
    handlers: table as unknown as Handlers,
    identify: () => who(role),
    audit: memoryRecorder(records),
    ...clusterDeps({ contextId: 'prod' }),
    consoleVersion: 'test',
    logError: () => undefined,
  });
  return { p, records, calls: fake.calls };
}

describe('rotation commands through the pipeline', () => {
  it('audits a rotation with kind, old and new kid and the phases, against the cluster', async () => {
    const { p, records } = setup('operator');
    const r = await p.invoke('c', 'rotation.rotate', { slug: 'acme', kind: 'jwt' });
    expect(r.ok).toBe(true);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      action: 'rotation.rotate',
      target: 'tenant:acme:jwt',
      outcome: 'success',
      cluster: 'uid-prod',
      before: { kind: 'jwt', currentId: 'k-old', phase: 'stable' },
      after: {
        kind: 'jwt',
        newId: 'k-new',
        operationId: 'op-1',
        phases: ['stage:done', 'promote:done'],
        retireAfter: '2026-12-01T00:00:00.000Z',
      },
    });
  });

  it('shows the bootstrap token once to the caller and never puts it in the audit record', async () => {
    const { p, records } = setup('admin');
    const r = await p.invoke('c', 'rotation.bootstrap.issue', { slug: 'acme', expiresInDays: 7 });
    expect(r.ok && (r.value as { token: string }).token).toBe(TOKEN);
    expect(JSON.stringify(records)).not.toContain(TOKEN);
    expect(records[0]).toMatchObject({
      action: 'rotation.bootstrap.issue',
      before: { replacedId: 'legacy-aaaa' },
      after: { id: 'bt-1', expires: '2027-01-01T00:00:00.000Z' },
    });
  });

  it('emergency revoke needs admin and the kid typed again; refused attempts are audited and change nothing', async () => {
    const op = setup('operator');
    const denied = await op.p.invoke('c', 'rotation.revoke', { slug: 'acme', kind: 'jwt', id: 'k-old', confirm: 'k-old' });
    expect(denied).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(op.calls).toEqual([]);
    const admin = setup('admin');
    const mistyped = await admin.p.invoke('c', 'rotation.revoke', { slug: 'acme', kind: 'jwt', id: 'k-old', confirm: 'k-ol' });
    expect(mistyped).toMatchObject({ ok: false, error: { code: 'CONFIRMATION_REQUIRED' } });
    expect(admin.calls).toEqual([]);
    const ok = await admin.p.invoke('c', 'rotation.revoke', { slug: 'acme', kind: 'jwt', id: 'k-old', confirm: 'k-old' });
    expect(ok.ok).toBe(true);
    expect(admin.calls).toEqual(['revoke k-old']);
    expect(admin.records.map((r) => r.outcome)).toEqual(['invalid', 'success']);
    expect(admin.records[1]).toMatchObject({
      before: { id: 'k-old', state: 'current' },
      after: { id: 'k-old', state: 'retired', emergency: true },
    });
  });
});
