import { describe, expect, it } from 'vitest';
import { commands, type OperatorIdentity } from '../../../src-shared/contract';
import { memoryRecorder, type AuditRecord } from '../../../src-main/engine/audit/recorder';
import type { Engine } from '../../../src-main/engine';
import { licenseHandlers } from '../../../src-main/ipc/license';
import { createPipeline, type Handlers } from '../../../src-main/ipc/pipeline';
import { makeLicense } from '../../fixtures/license/helpers';
import { makeService } from './fakes';
import { clusterDeps } from '../helpers/pipeline-deps';

const who = (role: OperatorIdentity['role']): OperatorIdentity => ({ id: `local:${role}`, displayName: role, role, via: 'local-account' });

function setup(role: OperatorIdentity['role'] = 'admin') {
  const { service, cluster } = makeService();
  cluster.addTenants(2);
  const table: Record<string, unknown> = Object.fromEntries(Object.keys(commands).map((n) => [n, () => ({})]));
  Object.assign(table, licenseHandlers({ license: () => service } as unknown as Engine));
  const records: AuditRecord[] = [];
  const p = createPipeline({
    handlers: table as unknown as Handlers,
    identify: () => who(role),
    audit: memoryRecorder(records),
    ...clusterDeps({ contextId: 'fake-cluster' }),
    consoleVersion: 'test',
    logError: () => undefined,
  });
  return { p, records, cluster };
}

describe('license commands through the pipeline', () => {
  it('activates, audits without the license text, and reports status', async () => {
    const { p, records } = setup();
    const { jws, claims } = await makeLicense();
    const r = await p.invoke('c', 'license.activate', { license: jws });
    expect(r).toMatchObject({
      ok: true,
      value: { status: { state: 'valid', license: { lid: claims.lid, trust: 'test' } }, fanout: { status: 'done' } },
    });
    expect(records[0]).toMatchObject({
      action: 'license.activate',
      outcome: 'success',
      target: 'license',
      params: { license: '[redacted]' },
    });
    expect(JSON.stringify(records[0])).not.toContain(jws.slice(0, 40));
  });

  it('returns LICENSE_INVALID with the reason code to the renderer', async () => {
    const { p, records, cluster } = setup();
    const r = await p.invoke('c', 'license.activate', { license: 'eyJhbGciOiJub25lIn0.e30.' });
    expect(r).toMatchObject({ ok: false, error: { code: 'LICENSE_INVALID', details: { reason: 'ALG_NONE' } } });
    expect(records[0]?.outcome).toBe('failure');
    expect(cluster.record).toBeNull();
  });

  it('clear needs admin and the customer name typed exactly', async () => {
    const admin = setup();
    await admin.p.invoke('c', 'license.activate', { license: (await makeLicense({ customer: 'Acme Corp' })).jws });
    expect(await admin.p.invoke('c', 'license.clear', { customer: 'Acme Corp', confirm: 'acme corp' })).toMatchObject({
      ok: false,
      error: { code: 'CONFIRMATION_REQUIRED' },
    });
    expect(await admin.p.invoke('c', 'license.clear', { customer: 'Acme Corp', confirm: 'Acme Corp' })).toMatchObject({
      ok: true,
      value: { status: { state: 'none' } },
    });
    const operator = setup('operator');
    expect(await operator.p.invoke('c', 'license.clear', { customer: 'x', confirm: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    expect(await operator.p.invoke('c', 'license.activate', { license: 'x' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it("activating another customer's license over the active one answers CONFIRMATION_REQUIRED naming the id to type, and the typed id is audited", async () => {
    const { p, records, cluster } = setup();
    const ours = await makeLicense({ customer: 'Acme Corp' });
    const theirs = await makeLicense({ customer: 'Evil Inc', iat: ours.claims.iat + 1 });
    await p.invoke('c', 'license.activate', { license: ours.jws });
    const refused = await p.invoke('c', 'license.activate', { license: theirs.jws });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'CONFIRMATION_REQUIRED', details: { field: 'confirmReplace', expected: theirs.claims.lid } },
    });
    expect(cluster.record?.jws).toBe(ours.jws);
    const confirmed = await p.invoke('c', 'license.activate', { license: theirs.jws, confirmReplace: theirs.claims.lid });
    expect(confirmed).toMatchObject({ ok: true, value: { status: { license: { lid: theirs.claims.lid, customer: 'Evil Inc' } } } });
    expect(records.at(-1)).toMatchObject({
      action: 'license.activate',
      outcome: 'success',
      params: { confirmReplace: theirs.claims.lid },
      before: { customer: 'Acme Corp' },
    });
  });

  it('oversize input is LICENSE_INVALID/TOO_LARGE, not a validation error', async () => {
    const { p } = setup();
    const r = await p.invoke('c', 'license.activate', { license: 'A'.repeat(70 * 1024) });
    expect(r).toMatchObject({ ok: false, error: { code: 'LICENSE_INVALID', details: { reason: 'TOO_LARGE' } } });
  });
});
