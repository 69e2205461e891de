import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src-main/engine';
import { createRouter } from '../../../src-main/ipc/router';
import { memorySecrets, tempDir } from './helpers';

// The second of two clusters, selected but never reached (offline since the console
// started): its audit log is unknown here, and the error must say that, not "no cluster is selected".
const PW = 'Correct-Horse-42';
const dir = tempDir('gatehouse-audit-unreached-');
const kubeconfig = path.join(dir, 'kubeconfig');
fs.writeFileSync(
  kubeconfig,
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
    'users: [{name: u, user: {token: t}}]',
    'contexts: [{name: far-away, context: {cluster: c, user: u}}]',
  ].join('\n'),
);
const engine = createEngine({
  mode: 'browser',
  dataDir: dir,
  identity: 'sign-in',
  audit: { secrets: memorySecrets() },
  clusters: { autoStart: false, watch: false, env: { KUBECONFIG: kubeconfig }, home: dir },
});
const router = createRouter(engine);
const call = (conn: string, name: string, input: unknown) => router.invoke(conn, name, input);

beforeAll(async () => {
  await engine.operators.setupFirstAdmin('admin', { username: 'root', password: PW });
  expect((await call('admin', 'operators.create', { username: 'vera', role: 'viewer', password: PW })).ok).toBe(true);
  expect((await call('viewer', 'operators.signIn', { username: 'vera', password: PW })).ok).toBe(true);
});
afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('audit of a cluster that was never reached', () => {
  it('with no cluster selected, says so; with an unreached one selected, names it and says to reconnect', async () => {
    expect(await call('viewer', 'audit.verify', { source: 'cluster' })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION', message: expect.stringContaining('No cluster is selected') },
    });
    await call('viewer', 'clusters.select', { clusterId: `${kubeconfig}#far-away` });
    const r = await call('viewer', 'audit.verify', { source: 'cluster' });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'UNAVAILABLE', message: expect.stringContaining('far-away has not been reached') },
    });
    expect(r.ok ? '' : r.error.message).toContain('Reconnect');
    // the workstation log is there all the same
    expect(await call('viewer', 'audit.verify', { source: 'workstation' })).toMatchObject({ ok: true });
  });
});
