import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src-main/engine';
import { fingerprint } from '../../../src-main/engine/audit/signing';
import { createRouter } from '../../../src-main/ipc/router';
import { memorySecrets, tempDir } from './helpers';

// Issue 10 item 6 (audit part): bundles go where a native dialog or an export root says,
// never to a path the page sends; trusting an unenrolled signer needs admin.
const PW = 'Correct-Horse-42';
const dir = tempDir('gatehouse-audit-locations-');
const engine = createEngine({
  mode: 'browser',
  dataDir: dir,
  identity: 'sign-in',
  audit: { secrets: memorySecrets() },
  clusters: { autoStart: false, watch: false, env: {}, home: dir },
});
const router = createRouter(engine);
const call = (conn: string, name: string, input: unknown) => router.invoke(conn, name, input);
const code = (r: Awaited<ReturnType<typeof call>>) => (r.ok ? 'OK' : r.error.code);
const outside = tempDir('gatehouse-audit-outside-');

beforeAll(async () => {
  await engine.operators.setupFirstAdmin('admin', { username: 'root', password: PW });
  expect(code(await call('admin', 'operators.create', { username: 'vera', role: 'viewer', password: PW }))).toBe('OK');
  expect(code(await call('viewer', 'operators.signIn', { username: 'vera', password: PW }))).toBe('OK');
});
afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('audit bundles: where they may be written and read', () => {
  it('a free path from the page is refused by the contract: export and import take a dialog or an export root, nothing else', async () => {
    expect(code(await call('viewer', 'audit.export', { source: 'workstation', path: '/tmp/evil' }))).toBe('VALIDATION');
    expect(code(await call('viewer', 'audit.import', { path: '/tmp/evil' }))).toBe('VALIDATION');
    for (const name of ['../escape', 'a/b', '..', '/etc']) {
      const r = await call('viewer', 'audit.export', { source: 'workstation', destination: { kind: 'folder', root: 'exports', name } });
      expect(code(r), name).toBe('VALIDATION');
    }
    // browser mode has no native dialog
    expect(code(await call('viewer', 'audit.export', { source: 'workstation', destination: { kind: 'dialog' } }))).toBe('UNAVAILABLE');
  });

  it('a viewer exports into <data dir>/exports and reads it back; a root outside the data directory needs admin', async () => {
    const out = await call('viewer', 'audit.export', {
      source: 'workstation',
      destination: { kind: 'folder', root: 'exports', name: 'first' },
    });
    expect(out).toMatchObject({ ok: true, value: { written: true } });
    expect(fs.existsSync(path.join(dir, 'exports', 'first', 'manifest.json'))).toBe(true);
    const listed = await call('viewer', 'audit.folders', {});
    expect(listed).toMatchObject({ ok: true, value: { dialog: false, roots: [{ id: 'exports', bundles: [{ name: 'first' }] }] } });

    expect(code(await call('viewer', 'audit.folders.set', { roots: [outside] }))).toBe('FORBIDDEN');
    const set = await call('admin', 'audit.folders.set', { roots: [outside] });
    expect(set.ok).toBe(true);
    const root = (set as { value: { roots: { id: string; outsideDataDir: boolean }[] } }).value.roots.find((r) => r.outsideDataDir)!;
    expect(
      code(await call('viewer', 'audit.export', { source: 'workstation', destination: { kind: 'folder', root: root.id, name: 'b1' } })),
    ).toBe('FORBIDDEN');
    expect(
      code(await call('admin', 'audit.export', { source: 'workstation', destination: { kind: 'folder', root: root.id, name: 'b1' } })),
    ).toBe('OK');
  });

  it('a symlink inside an export root that leads out of it is refused', async () => {
    fs.mkdirSync(path.join(outside, 'elsewhere'), { recursive: true });
    fs.symlinkSync(path.join(outside, 'elsewhere'), path.join(dir, 'exports', 'link'));
    expect(code(await call('viewer', 'audit.import', { location: { kind: 'folder', root: 'exports', name: 'link' } }))).toBe('VALIDATION');
  });

  it('importing with a fingerprint (trusting a signer that is not enrolled) needs admin', async () => {
    const other = tempDir('gatehouse-audit-other-');
    const exporter = createEngine({
      mode: 'browser',
      dataDir: other,
      identity: 'os-user',
      audit: { secrets: memorySecrets() },
      clusters: { autoStart: false, watch: false, env: {}, home: other },
    });
    try {
      const r = createRouter(exporter);
      await r.invoke('x', 'system.settings.set', { theme: 'dark' });
      expect(
        code(
          await r.invoke('x', 'audit.export', { source: 'workstation', destination: { kind: 'folder', root: 'exports', name: 'theirs' } }),
        ),
      ).toBe('OK');
      fs.cpSync(path.join(other, 'exports', 'theirs'), path.join(dir, 'exports', 'theirs'), { recursive: true });
      const fp = fingerprint((await exporter.auditLog.key()).verifier.vkey);
      const location = { kind: 'folder', root: 'exports', name: 'theirs' };
      // not enrolled here: refused, with the fingerprint to compare
      expect(await call('viewer', 'audit.import', { location })).toMatchObject({
        ok: false,
        error: { code: 'VALIDATION', details: { fingerprint: fp } },
      });
      expect(code(await call('viewer', 'audit.import', { location, trustFingerprint: fp }))).toBe('FORBIDDEN');
      expect(await call('admin', 'audit.import', { location, trustFingerprint: fp })).toMatchObject({
        ok: true,
        value: { trustedBy: 'fingerprint' },
      });
    } finally {
      await exporter.close();
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
