// API tokens and the `gatehouse` CLI against the harness (real API server, real PostgreSQL):
// a CI-style script — the real CLI spawned as a child process with GATEHOUSE_TOKEN — creates and
// deletes a `ci-` tenant with a scoped token and is refused a fourth tenant above a limit of 3;
// expired, revoked, malformed and wrong-checksum tokens are refused and audited; a token outside
// its tenant or command scope is refused; JSON output parses; exit codes follow the error code.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { createRouter, type Router } from '../../src-main/ipc/router';
import { EXIT_CODES } from '../../src-main/cli/exit-codes';
import { deleteNamespace, harness, pgClient, uniqueNamespace } from './harness-fixture';

const h = harness();
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PASSPHRASE = 'cli tokens passphrase';
let ns: string;
let root: string;
let dataDir: string;
let engine: Engine;
let router: Router;
const suffix = Math.random().toString(36).slice(2, 6);

async function call<T = unknown>(name: string, input: unknown = {}): Promise<T> {
  const r = await router.invoke('cli-tokens', name, input);
  if (!r.ok) throw Object.assign(new Error(`${name}: ${r.error.message}`), r.error);
  return r.value as T;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI, as a CI job runs it: a child process, the token in its environment. */
function cli(args: string[], token: string | undefined, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KUBECONFIG: h.kubeconfigs.operator,
      GATEHOUSE_SECRET_STORE: 'encrypted-file',
      GATEHOUSE_SECRET_PASSPHRASE: PASSPHRASE,
      HOME: root,
    };
    delete env.GATEHOUSE_TOKEN;
    if (token !== undefined) env.GATEHOUSE_TOKEN = token;
    const child = spawn(process.execPath, [path.join(repo, 'bin/gatehouse.mjs'), '--data-dir', dataDir, ...args], {
      env,
      cwd: root,
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const errorOf = (r: Run) =>
  (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string; details?: { reason?: string } } }).error;

interface AuditRow {
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  error_code: string | null;
  after: Record<string, unknown> | null;
  via?: { kind: string; token_id: string; token_name: string };
}

/** Entries of the cluster's shared log (gatehouse_control) matching a condition, oldest first. */
async function sharedAudit(where: string, params: unknown[]): Promise<AuditRow[]> {
  const c = await pgClient('gatehouse_control');
  try {
    const rows = (await c.query<{ entry: string }>(`SELECT entry FROM audit_log WHERE ${where} ORDER BY seq`, params)).rows;
    return rows.map((r) => JSON.parse(r.entry) as AuditRow);
  } finally {
    await c.end();
  }
}

async function createToken(
  name: string,
  scopes: { commands: string[]; tenants: string[] },
  limits: unknown[] = [],
  expiresInDays?: number,
) {
  return call<{ token: string; view: { id: string; name: string } }>('tokens.create', {
    name,
    scopes,
    limits,
    ...(expiresInDays ? { expiresInDays } : {}),
  });
}

beforeAll(async () => {
  ns = await uniqueNamespace('cli-tokens');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-tokens-'));
  dataDir = path.join(root, 'data');
  engine = createEngine({
    mode: 'browser',
    dataDir,
    identity: 'os-user',
    clusters: {
      env: { KUBECONFIG: h.kubeconfigs.operator },
      home: root,
      watch: false,
      autoStart: false,
      secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: PASSPHRASE },
    },
    backups: { schedulerEveryMs: 0 },
    tokens: { pruneEveryMs: 0 },
  });
  router = createRouter(engine);
  const ctx = (await call<{ contexts: { id: string }[] }>('clusters.list')).contexts[0]!;
  await call('clusters.select', { clusterId: ctx.id });
  const { host, port, user, password, database } = h.postgres;
  await call('clusters.profile.save', {
    clusterId: ctx.id,
    namespace: ns,
    database: { host, port, user, database, sslMode: 'disable', allowInsecureTls: true, password },
    expectedOffline: false,
  });
});

afterAll(async () => {
  await engine?.close();
  await deleteNamespace(ns).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a CI script with a scoped token', () => {
  it('creates and deletes a ci- tenant, and is refused a fourth tenant above its limit of 3', async () => {
    const { token, view } = await createToken(`ci ${suffix}`, { commands: ['tenants.*'], tenants: ['ci-*'] }, [
      { command: 'tenants.create', tenantPrefix: 'ci-', max: 3 },
    ]);
    expect(token).toMatch(/^ghct_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    const slugs = ['a', 'b', 'c', 'd'].map((x) => `ci-${suffix}-${x}`);

    const created = await cli(['--output', 'json', 'tenants', 'create', slugs[0]!, '--name', 'CI A'], token);
    expect(created.code, created.stderr).toBe(0);
    const out = JSON.parse(created.stdout) as { slug: string; adminPassword: string; steps: { name: string; status: string }[] };
    expect(out.slug).toBe(slugs[0]);
    expect(out.steps.every((s) => s.status === 'done' || s.status === 'skipped')).toBe(true);
    // saga progress went to stderr, never into the JSON on stdout
    expect(created.stderr).toContain(`[tenant.create ${slugs[0]}]`);

    // destructive: without --confirm it is refused before anything changes
    const unconfirmed = await cli(['--output', 'json', '--yes', 'tenants', 'delete', slugs[0]!], token);
    expect(unconfirmed.code).toBe(EXIT_CODES.CONFIRMATION_REQUIRED);
    const wrongName = await cli(['--output', 'json', '--yes', 'tenants', 'delete', slugs[0]!, '--confirm', 'ci-other'], token);
    expect(wrongName.code).toBe(EXIT_CODES.CONFIRMATION_REQUIRED);
    const deleted = await cli(
      ['--output', 'json', '--yes', 'tenants', 'delete', slugs[0]!, '--confirm', slugs[0]!, '--no-final-backup'],
      token,
    );
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((JSON.parse(deleted.stdout) as { slug: string }).slug).toBe(slugs[0]);

    for (const slug of slugs.slice(1, 3)) {
      const r = await cli(['--output', 'json', 'tenants', 'create', slug, '--name', 'CI'], token);
      expect(r.code, r.stderr).toBe(0);
    }
    const fourth = await cli(['--output', 'json', 'tenants', 'create', slugs[3]!, '--name', 'CI D'], token);
    expect(fourth.code).toBe(EXIT_CODES.FORBIDDEN);
    expect(errorOf(fourth)).toMatchObject({ code: 'FORBIDDEN', details: { reason: 'limit' } });
    const list = await cli(['--output', 'json', 'tenants', 'list', '--refresh'], token);
    expect(list.code, list.stderr).toBe(0);
    const names = (JSON.parse(list.stdout) as { tenants: { slug: string }[] }).tenants.map((t) => t.slug);
    expect(names).toEqual(expect.arrayContaining(slugs.slice(1, 3)));
    expect(names).not.toContain(slugs[3]);
    expect(names).not.toContain(slugs[0]);

    // the counter is in the database: the token's view shows 3 of 3 used
    const mine = await call<{ tokens: { id: string; limits: { used: number; max: number }[]; lastUsedAt: string | null }[] }>(
      'tokens.list',
      {},
    );
    const v = mine.tokens.find((t) => t.id === view.id)!;
    expect(v.limits).toEqual([{ command: 'tenants.create', tenantPrefix: 'ci-', max: 3, used: 3 }]);
    expect(v.lastUsedAt).not.toBeNull();

    // every use is on the shared log as the human owner, via the token; the refusal too
    const entries = await sharedAudit(`action IN ('tenants.create', 'tenants.delete') AND (entry::jsonb -> 'via' ->> 'token_id') = $1`, [
      view.id,
    ]);
    expect(entries.map((e) => [e.action, e.outcome])).toEqual([
      ['tenants.create', 'success'],
      ['tenants.delete', 'success'],
      ['tenants.create', 'success'],
      ['tenants.create', 'success'],
      ['tenants.create', 'denied'],
    ]);
    expect(entries[0]!.target).toBe(`tenant:${slugs[0]}`);
    // the wrong confirmation was refused before any cluster was touched: on this workstation's log, via the token too
    const local = await call<{ entries: AuditRow[] }>('audit.query', { source: 'workstation', action: 'tenants.delete', limit: 50 });
    expect(local.entries.filter((e) => e.via?.token_id === view.id).map((e) => [e.outcome, e.error_code])).toEqual([
      ['invalid', 'CONFIRMATION_REQUIRED'],
    ]);
    for (const e of entries) {
      expect(e.actor).toBe(engine.sessions.identify('cli-tokens')!.id);
      expect(e.via).toEqual({ kind: 'token', token_id: view.id, token_name: `ci ${suffix}` });
    }
    expect(entries.at(-1)).toMatchObject({ outcome: 'denied', error_code: 'FORBIDDEN', after: { refused: 'limit' } });
    expect(JSON.stringify(entries)).not.toContain(token.slice(5, 37));
    expect(JSON.stringify(entries)).not.toContain(out.adminPassword);

    for (const slug of slugs.slice(1, 3)) await call('tenants.delete', { slug, confirm: slug, finalBackup: false });
  });

  it('a token is refused outside its tenant scope and its command scope, and that is audited', async () => {
    const { token, view } = await createToken(`scoped ${suffix}`, { commands: ['tenants.*'], tenants: ['ci-*'] });
    const tenant = await cli(['--output', 'json', 'tenants', 'get', `acme-${suffix}`], token);
    expect(tenant.code).toBe(EXIT_CODES.FORBIDDEN);
    expect(errorOf(tenant)).toMatchObject({ code: 'FORBIDDEN', details: { reason: 'tenant' } });
    const command = await cli(['--output', 'json', 'license', 'status'], token);
    expect(command.code).toBe(EXIT_CODES.FORBIDDEN);
    expect(errorOf(command).details?.reason).toBe('command');
    // a mutation outside the scope is on the record as denied (reads are not audited)
    const outside = await cli(['--output', 'json', '--yes', 'tenants', 'delete', `prod-${suffix}`, '--confirm', `prod-${suffix}`], token);
    expect(outside.code).toBe(EXIT_CODES.FORBIDDEN);
    const [denied] = await sharedAudit(`action = 'tenants.delete' AND (entry::jsonb -> 'via' ->> 'token_id') = $1`, [view.id]);
    expect(denied).toMatchObject({ outcome: 'denied', error_code: 'FORBIDDEN', after: { refused: 'tenant' } });
    // tenants.list names no tenant: inside the command scope
    const list = await cli(['--output', 'json', 'tenants', 'list'], token);
    expect(list.code, list.stderr).toBe(0);
    expect(Array.isArray((JSON.parse(list.stdout) as { tenants: unknown[] }).tenants)).toBe(true);
  });

  it('a member scoped to one tenant is refused on another tenant through the CLI (the pipeline’s role check, not only the token scope)', async () => {
    // Stands in for a member whose role is scoped to one tenant (members and grants in gatehouse_control are
    // another part of issue 16): the connection is signed in with that identity directly.
    const conn = `scoped-member-${suffix}`;
    const own = `ci-${suffix}-own`;
    const other = `ci-${suffix}-other`;
    engine.sessions.signIn(conn, {
      id: `local:scoped-${suffix}`,
      displayName: 'Scoped Operator',
      role: 'viewer',
      via: 'local-account',
      globalRole: false,
      grants: [{ role: 'operator', tenants: [own] }],
    });
    const selected = await router.invoke(conn, 'clusters.select', { clusterId: engine.selections.get('cli-tokens')! });
    expect(selected.ok).toBe(true);
    // the token itself is unrestricted: only the owner's scoped role limits it
    const made = await router.invoke(conn, 'tokens.create', {
      name: `member ${suffix}`,
      scopes: { commands: ['*'], tenants: ['*'] },
      limits: [],
    });
    if (!made.ok) throw new Error(made.error.message);
    const { token, view } = made.value as { token: string; view: { id: string } };

    const created = await cli(['--output', 'json', 'tenants', 'create', own, '--name', 'Own'], token);
    expect(created.code, created.stderr).toBe(0);
    const refused = await cli(['--output', 'json', 'tenants', 'create', other, '--name', 'Other'], token);
    expect(refused.code).toBe(EXIT_CODES.FORBIDDEN);
    expect(errorOf(refused)).toMatchObject({ code: 'FORBIDDEN', details: { tenants: [other] } });
    expect(errorOf(refused).message).toContain(other);
    const get = await cli(['--output', 'json', 'tenants', 'get', other], token);
    expect(get.code).toBe(EXIT_CODES.FORBIDDEN);
    // the list shows the member's tenant only
    const list = await cli(['--output', 'json', 'tenants', 'list', '--refresh'], token);
    expect(list.code, list.stderr).toBe(0);
    const visible = (JSON.parse(list.stdout) as { tenants: { slug: string }[] }).tenants.map((t) => t.slug);
    expect(visible).toContain(own);
    expect(visible.every((slug) => slug === own)).toBe(true);
    const entries = await sharedAudit(`action = 'tenants.create' AND (entry::jsonb -> 'via' ->> 'token_id') = $1`, [view.id]);
    expect(entries.map((e) => [e.actor, e.outcome, e.error_code])).toEqual([
      [`local:scoped-${suffix}`, 'success', null],
      [`local:scoped-${suffix}`, 'denied', 'FORBIDDEN'],
    ]);
    await call('tenants.delete', { slug: own, confirm: own, finalBackup: false });
  });

  it('expired, revoked, malformed and wrong-checksum tokens are refused with the reason, and audited', async () => {
    const expired = await createToken(`expired ${suffix}`, { commands: ['*'], tenants: ['*'] });
    const c = await pgClient('gatehouse_control');
    await c.query(`UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expired.view.id]);
    await c.end();
    const revoked = await createToken(`revoked ${suffix}`, { commands: ['*'], tenants: ['*'] });
    await call('tokens.revoke', { id: revoked.view.id });
    const good = await createToken(`good ${suffix}`, { commands: ['*'], tenants: ['*'] });
    const flipped = good.token.slice(0, 12) + (good.token[12] === 'x' ? 'y' : 'x') + good.token.slice(13);

    const cases: [string, string, string][] = [
      ['expired', expired.token, 'expired'],
      ['revoked', revoked.token, 'revoked'],
      ['malformed', 'not-a-token', 'malformed'],
      ['wrong checksum', flipped, 'checksum'],
    ];
    for (const [what, token, reason] of cases) {
      const r = await cli(['--output', 'json', 'tenants', 'list'], token);
      expect(r.code, what).toBe(EXIT_CODES.UNAUTHENTICATED);
      expect(errorOf(r), what).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason } });
      expect(r.stderr).not.toContain(token.slice(5, 37) || token);
    }
    const refusals = await sharedAudit(`action = 'tokens.signIn' AND at > now() - interval '10 minutes'`, []);
    const reasons = refusals.filter((e) => e.outcome === 'denied').map((e) => e.after?.refused);
    expect(reasons).toEqual(expect.arrayContaining(['expired', 'revoked']));
    expect(refusals.find((e) => e.after?.refused === 'expired')).toMatchObject({
      target: `token:${expired.view.id}`,
      error_code: 'UNAUTHENTICATED',
    });
    // malformed and wrong-checksum tokens are refused before any cluster is touched: on the workstation log
    const local = await call<{ entries: AuditRow[] }>('audit.query', { source: 'workstation', action: 'tokens.signIn', limit: 50 });
    const all = [...refusals, ...local.entries];
    expect(all.map((e) => e.after?.refused)).toEqual(expect.arrayContaining(['malformed', 'checksum']));
    expect(JSON.stringify(all)).not.toContain(good.token.slice(5, 37));

    // the good one works, and whoami says who acts and how
    const me = await cli(['--output', 'json', 'whoami'], good.token);
    expect(me.code, me.stderr).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ operator: { via: 'token', token: { id: good.view.id, name: `good ${suffix}` } } });
  });

  it('exit codes: usage errors, not signed in, unknown cluster', async () => {
    const usage = await cli(['tenants', 'create'], undefined);
    expect(usage.code).toBe(EXIT_CODES.USAGE);
    const unsigned = await cli(['--output', 'json', 'tenants', 'list'], undefined);
    expect(unsigned.code).toBe(EXIT_CODES.UNAUTHENTICATED);
    const unknownCluster = await cli(['--output', 'json', '--cluster', 'no-such-context', 'tenants', 'list'], undefined);
    expect(unknownCluster.code).toBe(EXIT_CODES.NOT_FOUND);
    // a token cannot make tokens: the CLI has no such command, and the pipeline refuses it for token identities
    const help = await cli(['--help'], undefined);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('tenants');
  });

  it('limits are counted atomically in the database: 12 concurrent uses of a limit of 3 let exactly 3 through', async () => {
    const { view } = await createToken(`race ${suffix}`, { commands: ['tenants.*'], tenants: ['ci-*'] }, [
      { command: 'tenants.create', tenantPrefix: 'ci-', max: 3 },
    ]);
    const ctxId = engine.selections.get('cli-tokens')!;
    const cluster = await engine.directory.forContext(ctxId);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => engine.tokens.admit(cluster, view.id, 'tenants.create', [`ci-race-${i}`])),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(9);
    for (const r of refused) expect((r.reason as { details?: { reason?: string } }).details?.reason).toBe('limit');
    // a failed command gives its reservation back: one more use fits
    const admitted = results.find(
      (r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof engine.tokens.admit>>> => r.status === 'fulfilled',
    )!.value!;
    await admitted.release();
    await expect(engine.tokens.admit(cluster, view.id, 'tenants.create', ['ci-race-x'])).resolves.not.toBeNull();
    await expect(engine.tokens.admit(cluster, view.id, 'tenants.create', ['ci-race-y'])).rejects.toMatchObject({
      details: { reason: 'limit' },
    });
  });

  it('a token cannot create tokens; revoking one ends the connections signed in with it', async () => {
    const { token, view } = await createToken(`session ${suffix}`, { commands: ['*'], tenants: ['*'] });
    const conn = `token-conn-${suffix}`;
    const signIn = await router.invoke(conn, 'tokens.signIn', { token });
    expect(signIn.ok).toBe(true);
    expect(engine.sessions.identify(conn)).toMatchObject({ via: 'token', token: { id: view.id } });
    const made = await router.invoke(conn, 'tokens.create', {
      name: 'from a token',
      scopes: { commands: ['*'], tenants: ['*'] },
      limits: [],
    });
    expect(made.ok ? 'OK' : made.error.code).toBe('FORBIDDEN');
    await call('tokens.revoke', { id: view.id });
    // the session is gone (the OS-user fallback of this test engine answers instead, not the token)
    expect(engine.sessions.identify(conn)?.via).not.toBe('token');
  });

  it('the maximum expiry is enforced by the engine; expired tokens stay listed a week, then are pruned', async () => {
    await call('tokens.settings.set', { maxExpiryDays: 5 });
    try {
      const tooLong = await router.invoke('cli-tokens', 'tokens.create', {
        name: `long ${suffix}`,
        expiresInDays: 10,
        scopes: { commands: ['*'], tenants: ['*'] },
        limits: [],
      });
      expect(tooLong.ok ? 'OK' : tooLong.error.code).toBe('VALIDATION');
      // without an expiry the default (30 days) is capped by the maximum
      const capped = await createToken(`capped ${suffix}`, { commands: ['*'], tenants: ['*'] });
      const days = (Date.parse((capped.view as unknown as { expiresAt: string }).expiresAt) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(4.9);
      expect(days).toBeLessThanOrEqual(5);
    } finally {
      await call('tokens.settings.set', { maxExpiryDays: 365 });
    }
    const recent = await createToken(`recent ${suffix}`, { commands: ['*'], tenants: ['*'] });
    const old = await createToken(`old ${suffix}`, { commands: ['*'], tenants: ['*'] });
    const c = await pgClient('gatehouse_control');
    await c.query(`UPDATE api_tokens SET expires_at = now() - interval '1 day' WHERE id = $1`, [recent.view.id]);
    await c.query(`UPDATE api_tokens SET expires_at = now() - interval '8 days' WHERE id = $1`, [old.view.id]);
    await c.end();
    const cluster = await engine.directory.forContext(engine.selections.get('cli-tokens')!);
    expect(await engine.tokens.prune(cluster)).toBeGreaterThanOrEqual(1);
    const listed = (await call<{ tokens: { id: string; status: string }[] }>('tokens.list', {})).tokens;
    expect(listed.find((t) => t.id === recent.view.id)?.status).toBe('expired');
    expect(listed.find((t) => t.id === old.view.id)).toBeUndefined();
    // the pruned one is now unknown to the cluster
    const gone = await cli(['--output', 'json', 'tenants', 'list'], old.token);
    expect(errorOf(gone).details?.reason).toBe('unknown');
  });

  it('license, audit and operations commands answer JSON; `gatehouse login` keeps a token for the context', async () => {
    const { token, view } = await createToken(`ops ${suffix}`, {
      commands: ['license.*', 'audit.*', 'operations.*', 'tokens.signIn'],
      tenants: ['*'],
    });
    const status = await cli(['--output', 'json', 'license', 'status'], token);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toHaveProperty('effective');
    const ops = await cli(['--output', 'json', 'operations', 'list'], token);
    expect(ops.code, ops.stderr).toBe(0);
    expect(Array.isArray((JSON.parse(ops.stdout) as { operations: unknown[] }).operations)).toBe(true);
    const verify = await cli(['--output', 'json', 'audit', 'verify'], token);
    expect([0, 12], verify.stderr).toContain(verify.code);
    expect(JSON.parse(verify.stdout)).toHaveProperty('findings');
    const exported = await cli(['--output', 'json', 'audit', 'export', `cli-${suffix}`], token);
    expect(exported.code, exported.stderr).toBe(0);
    const bundle = JSON.parse(exported.stdout) as { path: string; count: number; written: boolean };
    expect(bundle.written).toBe(true);
    expect(bundle.count).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(bundle.path, 'manifest.json'))).toBe(true);

    // login reads the token from stdin, checks it, keeps it in the secret store; later commands need no variable
    const login = await cli(['--output', 'json', 'login'], undefined, `${token}\n`);
    expect(login.code, login.stderr).toBe(0);
    const me = await cli(['--output', 'json', 'whoami'], undefined);
    expect(me.code, me.stderr).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ operator: { via: 'token', token: { id: view.id } } });
    const logout = await cli(['--output', 'json', 'logout'], undefined);
    expect(logout.code, logout.stderr).toBe(0);
    const after = await cli(['--output', 'json', 'whoami'], undefined);
    expect(after.code).toBe(EXIT_CODES.UNAUTHENTICATED);
  });
});
