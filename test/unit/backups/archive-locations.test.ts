import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src-main/engine';
import { createRouter } from '../../../src-main/ipc/router';
import { memorySecrets, tempDir } from '../audit/helpers';

// A backup archive is written or read where a native dialog or an export root says, never
// at a path the page sends: an operator cannot overwrite a file of the engine's user.
const PW = 'Correct-Horse-42';
const dir = tempDir('gatehouse-backup-locations-');
const outside = tempDir('gatehouse-backup-outside-');
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
const backupId = '20261201T214500Z-1a2b3c4d';

beforeAll(async () => {
  await engine.operators.setupFirstAdmin('admin', { username: 'root', password: PW });
  expect(code(await call('admin', 'operators.create', { username: 'otto', role: 'operator', password: PW }))).toBe('OK');
  expect(code(await call('op', 'operators.signIn', { username: 'otto', password: PW }))).toBe('OK');
});
afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('backup archives: where they may be written and read', () => {
  it('a free path is refused by the contract (download and import), and so is a name that is not one .tar file', async () => {
    expect(code(await call('op', 'backups.download', { backupId, path: path.join(os_home(), '.bashrc') }))).toBe('VALIDATION');
    expect(code(await call('op', 'backups.import', { path: '/etc/passwd' }))).toBe('VALIDATION');
    for (const name of ['../x.tar', 'a/b.tar', '..', '/etc/x.tar', 'notes.txt']) {
      expect(code(await call('op', 'backups.download', { backupId, destination: { kind: 'folder', root: 'exports', name } })), name).toBe(
        'VALIDATION',
      );
    }
    // browser mode has no native dialog
    expect(code(await call('op', 'backups.download', { backupId, destination: { kind: 'dialog' } }))).toBe('UNAVAILABLE');
  });

  it('lists the export roots with the archives in them (and nothing else)', async () => {
    fs.mkdirSync(path.join(dir, 'exports'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'exports', 'acme-1.gatehouse-backup.tar'), 'x');
    fs.writeFileSync(path.join(dir, 'exports', 'other.txt'), 'x');
    const r = await call('op', 'backups.archives', {});
    expect(r).toMatchObject({
      ok: true,
      value: { dialog: false, roots: [{ id: 'exports', archives: [{ name: 'acme-1.gatehouse-backup.tar', bytes: 1 }] }] },
    });
    expect((r as { value: { roots: { archives: unknown[] }[] } }).value.roots[0]!.archives).toHaveLength(1);
  });

  it('writing into a root outside the data directory needs admin; an existing file is never overwritten', async () => {
    const set = await call('admin', 'audit.folders.set', { roots: [outside] });
    const root = (set as { value: { roots: { id: string; outsideDataDir: boolean }[] } }).value.roots.find((x) => x.outsideDataDir)!;
    expect(code(await call('op', 'backups.download', { backupId, destination: { kind: 'folder', root: root.id, name: 'a.tar' } }))).toBe(
      'FORBIDDEN',
    );
    expect(
      code(
        await call('op', 'backups.download', {
          backupId,
          destination: { kind: 'folder', root: 'exports', name: 'acme-1.gatehouse-backup.tar' },
        }),
      ),
    ).toBe('CONFLICT');
    // reading from an admin-added root is allowed (it reaches the cluster step: none is selected here)
    fs.writeFileSync(path.join(outside, 'b.gatehouse-backup.tar'), 'x');
    expect(code(await call('op', 'backups.import', { source: { kind: 'folder', root: root.id, name: 'b.gatehouse-backup.tar' } }))).toBe(
      'VALIDATION',
    );
  });

  it('a symlink inside an export root that leads out of it is refused on import', async () => {
    fs.writeFileSync(path.join(outside, 'secret.tar'), 'x');
    fs.symlinkSync(path.join(outside, 'secret.tar'), path.join(dir, 'exports', 'link.tar'));
    const r = await call('op', 'backups.import', { source: { kind: 'folder', root: 'exports', name: 'link.tar' } });
    expect(r).toMatchObject({ ok: false, error: { code: 'VALIDATION', message: expect.stringMatching(/leads outside/) } });
  });
});

function os_home(): string {
  return process.env.HOME ?? '/root';
}
