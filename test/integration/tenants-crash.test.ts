// Crash safety: the create saga runs in a child process that is SIGKILLed at every step
// boundary (before a step runs, and after it ran but before the journal says so). This
// process then finds the unfinished operation and rolls it back (nothing left) or
// resumes it (the tenant is complete and works).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTenantEngine,
  harnessOrReason,
  harnessPg,
  operatorNamespace,
  tempDataDir,
  uniqueSlug,
  type TenantTestEngine,
} from './tenants-env';

const h = harnessOrReason();
if ('reason' in h) console.warn(h.reason);
const describeH = 'state' in h ? describe : describe.skip;
const here = path.dirname(fileURLToPath(import.meta.url));
const STEPS = ['reserve', 'database', 'schema', 'admin-user', 'secret', 'registry', 'license', 'release'];

describeH('create saga survives SIGKILL at every step boundary', () => {
  const state = 'state' in h ? h.state : (undefined as never);
  let ns: { namespace: string; remove(): Promise<void> };
  let eng: TenantTestEngine;
  const dataDir = tempDataDir();
  const consoleId = 'crash-console';

  beforeAll(async () => {
    ns = await operatorNamespace(state, 'gh-tenants-crash');
    eng = buildTenantEngine({ kubeconfig: state.kubeconfigs.operator, namespace: ns.namespace, pg: harnessPg(state), dataDir, consoleId });
  });
  afterAll(async () => {
    await eng?.close();
    await ns?.remove();
  });

  function runChildUntilKilled(slug: string, crash: string): void {
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'tenants-crash-child.ts')], {
      env: {
        ...process.env,
        GATEHOUSE_SAGA_CRASH: crash,
        TENANTS_CRASH_CHILD: JSON.stringify({
          kubeconfig: state.kubeconfigs.operator,
          namespace: ns.namespace,
          pg: harnessPg(state),
          dataDir,
          consoleId,
          slug,
        }),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.signal, `child should die by SIGKILL at ${crash}; stderr: ${child.stderr}`).toBe('SIGKILL');
  }

  const boundaries = STEPS.flatMap((_, i) => [`${i}:before`, `${i}:after`]);

  it.each(boundaries)('kill at %s → roll back leaves nothing', async (boundary) => {
    const slug = uniqueSlug('crb');
    runChildUntilKilled(slug, `tenant.create:${boundary}`);
    const unfinished = eng.service.unfinished().filter((o) => o.target === slug);
    expect(unfinished).toHaveLength(1);
    expect(unfinished[0]!.status).toBe('interrupted');
    const op = await eng.service.rollbackOperation(unfinished[0]!.id);
    // a kill after "release" ran leaves only the journal behind: roll back then undoes the whole tenant
    expect(op.status).toBe('rolled-back');
    expect(await eng.service.leftovers(eng.runtime, slug)).toEqual([]);
    expect(eng.service.unfinished().filter((o) => o.target === slug)).toEqual([]);
  });

  it.each(boundaries)('kill at %s → resume completes a working tenant', async (boundary) => {
    const slug = uniqueSlug('crr');
    runChildUntilKilled(slug, `tenant.create:${boundary}`);
    const [op] = eng.service.unfinished().filter((o) => o.target === slug);
    expect(op).toBeDefined();
    const done = await eng.service.resumeOperation(op!.id);
    expect(done.status).toBe('done');
    expect((await eng.service.leftovers(eng.runtime, slug)).map((l) => l.kind).sort()).toEqual([
      'database',
      'registry-entry',
      'role',
      'secret',
    ]);
    // The credentials in the Secret work even though the process that generated some of them died.
    const { password } = await eng.service.maintenance.revealAdminPassword(eng.runtime, slug);
    const secret = await eng.runtime.kube.core.readNamespacedSecret({ name: `tenant-${slug}`, namespace: ns.namespace });
    const url = Buffer.from(secret.data!.DATABASE_URL!, 'base64').toString();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const hash = (await client.query(`SELECT password_hash FROM users WHERE username = 'admin'`)).rows[0].password_hash as string;
      expect(await argon2.verify(hash, password)).toBe(true);
    } finally {
      await client.end();
    }
    await eng.service.delete(eng.runtime, slug, false);
  });
});
