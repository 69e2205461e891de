import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readTar, tarStream } from '../../../src-main/engine/backups/tar';
import { BACKUP_FORMAT, macOf, manifestBytes, openManifest, type Manifest } from '../../../src-main/engine/backups/manifest';
import { readmeText } from '../../../src-main/engine/backups/service';
import { DirectoryStorage, bufferStream, readAll } from '../../../src-main/engine/backups/storage';

const collect = async (s: Readable) => Buffer.concat(await s.toArray());

describe('download archive (ustar)', () => {
  const files = [
    { name: 'acme-20261201T000000Z-00000000/manifest.json', data: Buffer.from('{"x":1}\n') },
    { name: 'acme-20261201T000000Z-00000000/data/0001.copy.age', data: crypto.randomBytes(70_001) },
    { name: 'acme-20261201T000000Z-00000000/empty', data: Buffer.alloc(0) },
  ];
  const archive = () => tarStream(files.map((f) => ({ name: f.name, size: f.data.length, open: async () => bufferStream(f.data) })));

  it('round-trips, and the system tar reads it', async () => {
    const tar = await collect(archive());
    const back: { name: string; data: Buffer }[] = [];
    for await (const e of readTar(Readable.from([tar]))) back.push({ name: e.name, data: await readAll(e.stream) });
    expect(back).toEqual(files);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tar-'));
    fs.writeFileSync(path.join(dir, 'b.tar'), tar);
    execFileSync('tar', ['xf', 'b.tar'], { cwd: dir });
    expect(fs.readFileSync(path.join(dir, files[1]!.name))).toEqual(files[1]!.data);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a truncated or corrupted archive is refused with the reason', async () => {
    const tar = await collect(archive());
    const read = async (buf: Buffer) => {
      for await (const e of readTar(Readable.from([buf]))) await readAll(e.stream);
    };
    await expect(read(tar.subarray(0, 600))).rejects.toThrow(/truncated/);
    await expect(read(tar.subarray(0, tar.length - 1024))).rejects.toThrow(/truncated|ends in the middle/);
    const bad = Buffer.from(tar);
    bad[10]! ^= 0x20;
    await expect(read(bad)).rejects.toThrow(/checksum/);
  });
});

describe('manifest authentication', () => {
  const key = crypto.randomBytes(32);
  const m: Manifest = {
    format: BACKUP_FORMAT,
    id: '20261201T000000Z-0a0b0c0d',
    tenant: { slug: 'acme', name: 'Acme', tier: 'PRO', database: 'tenant_acme', role: 'tenant_acme' },
    cluster: { id: 'uid-a', name: 'prod', namespace: 'iam-system' },
    createdAt: '2026-12-01T00:00:00Z',
    finishedAt: '2026-12-01T00:00:01Z',
    takenBy: { actor: 'os:root', reason: 'manual', note: null, console: 'c', consoleVersion: '0.1.0' },
    postgres: { serverVersion: '15.18', serverVersionNum: 150018, pgDump: 'pg_dump 15.18', encoding: 'UTF8', snapshot: '00000003-1' },
    schemaVersion: 3,
    encryption: { format: 'age-v1', recipients: ['age1x'] },
    tables: [{ schema: 'public', name: 'users', columns: ['id'], file: 'data/0001.copy.age', rows: 1, tagsSha256: 'a'.repeat(64) }],
    sequences: 0,
    files: [{ name: 'data/0001.copy.age', kind: 'table-data', size: 10, sha256: 'b'.repeat(64), plainBytes: 1 }],
    totals: { rows: 1, plainBytes: 1, storedBytes: 10 },
  };
  const bytes = manifestBytes(m);

  it('opens with its MAC, refuses an edited manifest, a missing MAC and a foreign key', () => {
    expect(openManifest(bytes, macOf(key, bytes), [key]).id).toBe(m.id);
    const edited = Buffer.from(bytes.toString().replace('"rows": 1,', '"rows": 2,'));
    expect(() => openManifest(edited, macOf(key, bytes), [key])).toThrow(/not authenticated/);
    expect(() => openManifest(bytes, null, [key])).toThrow(/no valid manifest.mac/);
    expect(() => openManifest(bytes, macOf(crypto.randomBytes(32), bytes), [key])).toThrow(/another cluster/);
    expect(() => openManifest(Buffer.from('{"format":"pg_dump"}'), 'x', [key])).toThrow(/known format/);
    expect(() => openManifest(bytes.subarray(0, 100), macOf(key, bytes), [key])).toThrow(/not valid JSON/);
  });

  it('reads both formats, each with its own content checksum only', () => {
    const table = m.tables[0]!;
    const sign = (x: Manifest) => {
      const b = manifestBytes(x);
      return () => openManifest(b, macOf(key, b), [key]);
    };
    // A backup of the first format (sha256 of the COPY text) still opens.
    const v1 = { ...m, format: 'gatehouse-backup/1' as const, tables: [{ ...table, tagsSha256: undefined, sha256: 'c'.repeat(64) }] };
    expect(sign(v1)().tables[0]!.sha256).toBe('c'.repeat(64));
    // Neither may carry the other's checksum in its place, or none.
    expect(sign({ ...v1, tables: [{ ...table }] })).toThrow(/no sha256 of its own format/);
    expect(sign({ ...m, tables: [{ ...table, tagsSha256: undefined, sha256: 'c'.repeat(64) }] })).toThrow(
      /no tagsSha256 of its own format/,
    );
    expect(sign({ ...m, tables: [{ ...table, tagsSha256: undefined }] })).toThrow(/no tagsSha256 of its own format/);
    expect(sign({ ...m, format: 'gatehouse-backup/3' as never })).toThrow(/known format/);
  });

  it("the archive's README describes the content checksum of the backup's own format", () => {
    const v1 = {
      ...m,
      format: 'gatehouse-backup/1' as const,
      tables: [{ ...m.tables[0]!, tagsSha256: undefined, sha256: 'c'.repeat(64) }],
    };
    expect(readmeText(m)).toMatch(/content checksum: the sha256 of the Poly1305 tags/);
    expect(readmeText(m)).not.toMatch(/sha256 of its COPY text/);
    expect(readmeText(v1)).toMatch(/row count and the sha256 of its COPY text \(age -d … \| sha256sum\)/);
    expect(readmeText(v1)).not.toMatch(/Poly1305/);
  });
});

describe('directory target', () => {
  it('a failed upload leaves nothing visible; keys cannot escape the root', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-dir-'));
    const s = new DirectoryStorage(root);
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('ENOSPC: no space left on device'));
      },
    });
    await expect(s.put('acme/20261201T000000Z-00000000/data/0001.copy.age', failing)).rejects.toThrow();
    expect(await s.list('')).toEqual([]);
    await expect(s.put('../evil', bufferStream('x'))).rejects.toThrow(/Invalid backup object name/);
    await expect(s.put('acme/../../evil', bufferStream('x'))).rejects.toThrow(/Invalid backup object name/);
    await s.put('acme/x/manifest.json', bufferStream('{}'));
    expect(await s.list('acme/')).toEqual([{ key: 'acme/x/manifest.json', size: 2 }]);
    await s.delete('acme/x/manifest.json');
    expect(await s.list('')).toEqual([]);
    expect(fs.existsSync(path.join(root, 'acme/x'))).toBe(false);
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('pg_dump sections split into entries (parallel post-data)', () => {
  const dump = [
    '--',
    '-- PostgreSQL database dump',
    '--',
    '',
    '\\restrict abc123',
    '',
    'SET statement_timeout = 0;',
    "SELECT pg_catalog.set_config('search_path', '', false);",
    '',
    '--',
    '-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -',
    '--',
    '',
    'ALTER TABLE ONLY public.users',
    '    ADD CONSTRAINT users_pkey PRIMARY KEY (id);',
    '',
    '',
    '--',
    '-- Name: sign_ins_at; Type: INDEX; Schema: public; Owner: -',
    '--',
    '',
    'CREATE INDEX sign_ins_at ON public.sign_ins USING btree (at);',
    '',
    '',
    '--',
    '-- Name: memberships memberships_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -',
    '--',
    '',
    'ALTER TABLE ONLY public.memberships',
    '    ADD CONSTRAINT memberships_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);',
    '',
    '',
    '--',
    '-- PostgreSQL database dump complete',
    '--',
    '',
    '\\unrestrict abc123',
    '',
  ].join('\n');

  it('keeps the session preamble, one entry per object with its type, drops \\restrict', async () => {
    const { splitDump } = await import('../../../src-main/engine/backups/load');
    const { preamble, entries } = splitDump(dump, 'post-data');
    expect(preamble).toContain("set_config('search_path'");
    expect(preamble).not.toContain('restrict');
    expect(entries.map((e) => e.type)).toEqual(['CONSTRAINT', 'INDEX', 'FK CONSTRAINT']);
    expect(entries[2]!.sql).toBe(
      'ALTER TABLE ONLY public.memberships\n    ADD CONSTRAINT memberships_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);',
    );
  });

  it('refuses a psql meta-command pg_dump never writes (a planted "\\! rm -rf")', async () => {
    const { splitDump } = await import('../../../src-main/engine/backups/load');
    expect(() => splitDump(dump.replace('SET statement_timeout = 0;', '\\! rm -rf /'), 'post-data')).toThrow(/psql command/);
  });
});
