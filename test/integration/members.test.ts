// Members of a cluster in gatehouse_control, against the harness (real API server, real PostgreSQL):
// two consoles (two engines, two data directories) on one cluster see the same members; an
// invitation accepted on one console creates a member the other lists; a code reused or expired is
// refused with the reason and audited; two consoles changing one member's role at once: one wins,
// the other is refused with who changed it; a role changed on one console applies to the member's
// session on the other at its next command; a tenant-scoped operator acts on its tenants only and
// sees only them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src-main/engine';
import { createRouter, type Router } from '../../src-main/ipc/router';
import { chromium, type Browser } from 'playwright-core';
import { deleteNamespace, harness, pgClient, uniqueNamespace } from './harness-fixture';
import { CHROMIUM, signInInBrowser, startProvider } from './oidc-provider';

const h = harness();
const PASSPHRASE = 'members passphrase';
const PASSWORD = 'Correct-Horse-9-battery';
const suffix = Math.random().toString(36).slice(2, 7);
const name = (n: string) => `${n}-${suffix}`;
let ns: string;
let root: string;
let context: string;
let clusterUid: string;
/** Console A's clock for invitations (moved forward to expire one). */
let clockA = Date.now();

interface Console {
  engine: Engine;
  router: Router;
}
let A: Console;
let B: Console;

function makeConsole(dir: string, now?: () => Date): Console {
  const engine = createEngine({
    mode: 'browser',
    dataDir: path.join(root, dir),
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
    ...(now ? { members: { now } } : {}),
  });
  return { engine, router: createRouter(engine) };
}

type Err = Error & { code: string; details?: Record<string, unknown> };
async function call<T = unknown>(c: Console, connection: string, command: string, input: unknown = {}): Promise<T> {
  const r = await c.router.invoke(connection, command, input);
  if (!r.ok) throw Object.assign(new Error(`${command}: ${r.error.message}`), r.error);
  return r.value as T;
}
async function refusal(c: Console, connection: string, command: string, input: unknown = {}): Promise<Err> {
  const r = await c.router.invoke(connection, command, input);
  if (r.ok) throw new Error(`${command} was expected to be refused`);
  return Object.assign(new Error(r.error.message), r.error) as Err;
}

interface AuditRow {
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  error_code: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  cluster: string | null;
}
/** Entries of the cluster's shared log (gatehouse_control), oldest first, once both consoles flushed. */
async function sharedAudit(where: string, params: unknown[]): Promise<AuditRow[]> {
  A.engine.auditLog.kick(clusterUid);
  B.engine.auditLog.kick(clusterUid);
  const c = await pgClient('gatehouse_control');
  try {
    const rows = (await c.query<{ entry: string }>(`SELECT entry FROM audit_log WHERE ${where} ORDER BY seq`, params)).rows;
    return rows.map((r) => JSON.parse(r.entry) as AuditRow);
  } finally {
    await c.end();
  }
}
/** Waits until the shared log holds what the outboxes flush (the flush runs in the background). */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 100; i++) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last!;
}

interface Member {
  username: string;
  globalRole: string | null;
  grants: { role: string; tenants: string[] }[];
  version: number;
  updatedBy: string;
}
const listMembers = async (c: Console) => (await call<{ members: Member[] }>(c, 'admin', 'members.list')).members;
const member = async (c: Console, username: string) => (await listMembers(c)).find((m) => m.username === username);

async function invite(c: Console, input: Record<string, unknown>): Promise<{ id: string; code: string }> {
  const out = await call<{ invitation: { id: string }; code: string | null }>(c, 'admin', 'members.invite', { delivery: 'code', ...input });
  return { id: out.invitation.id, code: out.code! };
}
const accept = (c: Console, connection: string, code: string, username: string) =>
  c.router.invoke(connection, 'members.invitations.accept', { context, secretCode: code, username, password: PASSWORD });

beforeAll(async () => {
  ns = await uniqueNamespace('members');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-members-'));
  A = makeConsole('console-a', () => new Date(clockA));
  B = makeConsole('console-b');
  for (const c of [A, B]) {
    context = (await call<{ contexts: { id: string }[] }>(c, 'admin', 'clusters.list')).contexts[0]!.id;
    await call(c, 'admin', 'clusters.select', { clusterId: context });
    const { host, port, user, password, database } = h.postgres;
    await call(c, 'admin', 'clusters.profile.save', {
      clusterId: context,
      namespace: ns,
      database: { host, port, user, database, sslMode: 'disable', allowInsecureTls: true, password },
      expectedOffline: false,
    });
  }
  clusterUid = (await call<{ clusterId: string }>(A, 'admin', 'members.list')).clusterId;
});

afterAll(async () => {
  await A?.engine.close();
  await B?.engine.close();
  await deleteNamespace(ns).catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('two consoles on one cluster', () => {
  it('see the same members: invited on A, accepted on B, listed by both, signed in on either', async () => {
    const alice = name('alice');
    const { code } = await invite(A, { globalRole: 'operator' });
    expect(code).toMatch(/^ghinv_[A-Za-z0-9_-]{32}$/);
    const accepted = await accept(B, 'alice-b', code, alice);
    expect(accepted).toMatchObject({ ok: true, value: { member: { username: alice, globalRole: 'operator' } } });
    // the accepting window is signed in as the new member
    const session = await call<{ operator: { id: string; via: string; member: { cluster: string } } }>(B, 'alice-b', 'system.session');
    expect(session.operator).toMatchObject({ id: `member:${alice}`, via: 'member', member: { cluster: clusterUid } });

    expect(await member(A, alice)).toMatchObject({ globalRole: 'operator', version: 1 });
    expect(await member(B, alice)).toMatchObject({ globalRole: 'operator', version: 1 });

    // the password set on B signs in on A (a console that never saw the invitation)
    const signIn = await call<{ operator: { id: string; role: string } }>(A, 'alice-a', 'operators.signIn', {
      username: alice,
      password: PASSWORD,
      context,
    });
    expect(signIn.operator).toMatchObject({ id: `member:${alice}`, role: 'operator' });
    const wrong = await refusal(A, 'alice-a2', 'operators.signIn', { username: alice, password: 'Wrong-password-123', context });
    expect(wrong.code).toBe('UNAUTHENTICATED');

    // the acceptance is audited with the new member as the actor, bound to the cluster
    const entries = await eventually(
      () => sharedAudit(`action = 'members.invitations.accept' AND entry::jsonb -> 'after' ->> 'member' = $1`, [alice]),
      (rows) => rows.length > 0,
    );
    expect(entries[0]).toMatchObject({ actor: `member:${alice}`, outcome: 'success', cluster: clusterUid });
  });

  it('a role changed on A applies to the member’s session on B at its next command; removal signs it out', async () => {
    const bob = name('bob');
    const { code } = await invite(A, { globalRole: 'operator' });
    expect((await accept(B, 'bob-b', code, bob)).ok).toBe(true);
    const before = (await member(A, bob))!;
    await call(A, 'admin', 'members.setRole', { username: bob, globalRole: 'viewer', grants: [], expectedVersion: before.version });
    const refused = await refusal(B, 'bob-b', 'tenants.suspend', { slug: 'nothing-here' });
    expect(refused.code).toBe('FORBIDDEN');
    const now = await call<{ operator: { role: string; member: { version: number } } }>(B, 'bob-b', 'system.session');
    expect(now.operator).toMatchObject({ role: 'viewer', member: { version: before.version + 1 } });

    const v = (await member(A, bob))!.version;
    await call(A, 'admin', 'members.remove', { username: bob, confirm: bob, expectedVersion: v });
    const gone = await refusal(B, 'bob-b', 'system.session');
    expect(gone.code).toBe('UNAUTHENTICATED');
    expect(gone.message).toMatch(/no longer a member/);
  });
});

describe('invitations', () => {
  it('a code works once: reuse is refused with the reason and audited', async () => {
    const { id, code } = await invite(A, { globalRole: 'viewer' });
    expect((await accept(A, 'carol', code, name('carol'))).ok).toBe(true);
    const again = await accept(B, 'mallory', code, name('mallory'));
    expect(again).toMatchObject({ ok: false, error: { code: 'CONFLICT', details: { reason: 'used' } } });
    if (!again.ok) expect(again.error.message).toMatch(/already used \(by member:carol-/);
    expect(await member(A, name('mallory'))).toBeUndefined();
    const rows = await eventually(
      () =>
        sharedAudit(`action = 'members.invitations.accept' AND target = $1 AND entry::jsonb ->> 'outcome' = 'denied'`, [
          `invitation:${id}`,
        ]),
      (r) => r.length > 0,
    );
    expect(rows[0]).toMatchObject({ outcome: 'denied', error_code: 'CONFLICT', after: { refused: 'used' } });
  });

  it('an expired invitation is refused with the reason and audited; a revoked one too', async () => {
    const { id, code } = await invite(A, { globalRole: 'viewer', expiresInHours: 1 });
    clockA += 2 * 3600_000;
    try {
      const late = await accept(A, 'dave', code, name('dave'));
      expect(late).toMatchObject({ ok: false, error: { code: 'CONFLICT', details: { reason: 'expired' } } });
      if (!late.ok) expect(late.error.message).toMatch(/expired at .*Ask an admin for a new one/);
      const list = await call<{ invitations: { id: string; status: string }[] }>(A, 'admin', 'members.invitations.list');
      expect(list.invitations.find((i) => i.id === id)?.status).toBe('expired');
    } finally {
      clockA -= 2 * 3600_000;
    }
    const rows = await eventually(
      () => sharedAudit(`action = 'members.invitations.accept' AND target = $1`, [`invitation:${id}`]),
      (r) => r.length > 0,
    );
    expect(rows[0]).toMatchObject({ outcome: 'denied', after: { refused: 'expired' } });

    const second = await invite(A, { globalRole: 'viewer' });
    await call(B, 'admin', 'members.invitations.revoke', { id: second.id });
    const revoked = await accept(A, 'erin', second.code, name('erin'));
    expect(revoked).toMatchObject({ ok: false, error: { details: { reason: 'revoked' } } });
    const unknown = await accept(A, 'erin', 'ghinv_notacodeatallnotacodeatall0', name('erin'));
    expect(unknown).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', details: { reason: 'unknown' } } });
  });

  it('an e-mail invitation without SMTP configured is refused, naming the page to fix it', async () => {
    const r = await refusal(A, 'admin', 'members.invite', { delivery: 'email', email: 'new@example.test', globalRole: 'viewer' });
    expect(r.code).toBe('VALIDATION');
    expect(r.message).toMatch(/Settings → SMTP/);
  });
});

describe('optimistic concurrency', () => {
  it('two consoles changing one member’s role at once: one wins, the other is refused with who changed it, both audited', async () => {
    const frank = name('frank');
    const { code } = await invite(A, { globalRole: 'viewer' });
    expect((await accept(A, 'frank', code, frank)).ok).toBe(true);
    const v = (await member(A, frank))!.version;
    const [ra, rb] = await Promise.all([
      A.router.invoke('admin', 'members.setRole', { username: frank, globalRole: 'operator', grants: [], expectedVersion: v }),
      B.router.invoke('admin', 'members.setRole', { username: frank, globalRole: 'admin', grants: [], expectedVersion: v }),
    ]);
    const results = [ra, rb];
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const loser = results.find((r) => !r.ok)!;
    expect(loser).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    if (!loser.ok)
      expect(loser.error.message).toMatch(
        /was changed by os:.* \(version 2; your change was made against version 1\)\. Reload the Operators page/,
      );
    const after = (await member(B, frank))!;
    expect(after.version).toBe(v + 1);
    expect(after.globalRole).toBe(ra.ok ? 'operator' : 'admin');
    const rows = await eventually(
      () => sharedAudit(`action = 'members.setRole' AND target = $1`, [`member:${frank}`]),
      (r) => r.length >= 2,
    );
    expect(rows.map((r) => r.outcome).sort()).toEqual(['failure', 'success']);
    expect(rows.every((r) => r.actor.startsWith('os:'))).toBe(true);
  });
});

describe('a member scoped to two tenants', () => {
  it('creates and acts on its tenants only, is refused another, and lists only its own', async () => {
    const sam = name('sam');
    const mine = `acme-${suffix}`;
    const theirs = `initech-${suffix}`;
    const { code } = await invite(A, { globalRole: null, grants: [{ role: 'operator', tenants: [mine, `globex-${suffix}`] }] });
    expect((await accept(B, 'sam', code, sam)).ok).toBe(true);
    await call(A, 'admin', 'tenants.create', { slug: theirs, name: 'Initech', tier: 'DEV' });
    await call(B, 'sam', 'tenants.create', { slug: mine, name: 'Acme', tier: 'DEV' });

    const other = await refusal(B, 'sam', 'tenants.suspend', { slug: theirs });
    expect(other.code).toBe('FORBIDDEN');
    expect(other.message).toMatch(new RegExp(`"${theirs}"`));
    const del = await refusal(B, 'sam', 'tenants.delete', { slug: mine, confirm: mine });
    expect(del.code).toBe('FORBIDDEN'); // delete needs admin there

    const list = await call<{ tenants: { slug: string }[] }>(B, 'sam', 'tenants.list', { refresh: true });
    expect(list.tenants.map((t) => t.slug)).toEqual([mine]);
    const full = await call<{ tenants: { slug: string }[] }>(A, 'admin', 'tenants.list', { refresh: true });
    expect(full.tenants.map((t) => t.slug)).toEqual(expect.arrayContaining([mine, theirs]));

    const rows = await eventually(
      () => sharedAudit(`action = 'tenants.suspend' AND actor = $1`, [`member:${sam}`]),
      (r) => r.length > 0,
    );
    expect(rows[0]).toMatchObject({ outcome: 'denied', error_code: 'FORBIDDEN' });

    for (const slug of [mine, theirs]) await call(A, 'admin', 'tenants.delete', { slug, confirm: slug, finalBackup: false });
  });
});

describe("a member's API token", () => {
  it('follows the member record: a demotion refuses the signed-in token connection until it signs in again, then acts with the lower role; removal refuses the token', async () => {
    const dora = name('dora');
    const { code } = await invite(A, { globalRole: 'operator' });
    expect((await accept(A, 'dora', code, dora)).ok).toBe(true);
    const made = await call<{ token: string }>(A, 'dora', 'tokens.create', {
      name: `dora ${suffix}`,
      scopes: { commands: ['*'], tenants: ['*'] },
      limits: [],
    });
    await call(B, 'dora-token', 'clusters.select', { clusterId: context });
    const signedIn = await call<{ operator: { role: string } }>(B, 'dora-token', 'tokens.signIn', { token: made.token });
    expect(signedIn.operator.role).toBe('operator');

    const m = await member(A, dora);
    await call(A, 'admin', 'members.setRole', { username: dora, globalRole: 'viewer', grants: [], expectedVersion: m!.version });
    const stale = await refusal(B, 'dora-token', 'tenants.suspend', { slug: name('nobody') });
    expect(stale.code).toBe('UNAUTHENTICATED');
    expect(stale.details).toMatchObject({ reason: 'owner-changed' });
    // signed in again, the token acts as the viewer she is now
    const again = await call<{ operator: { role: string } }>(B, 'dora-token2', 'tokens.signIn', { token: made.token });
    expect(again.operator.role).toBe('viewer');

    const demoted = await member(A, dora);
    await call(A, 'admin', 'members.remove', { username: dora, confirm: dora, expectedVersion: demoted!.version });
    const gone = await refusal(B, 'dora-token3', 'tokens.signIn', { token: made.token });
    expect(gone.code).toBe('UNAUTHENTICATED');
    expect(gone.message).toMatch(/no longer a member/);
  });
});

// The invitee links their identity at a real oidc-provider (Chromium types into its login form)
// instead of choosing a password; that identity then signs in as the member on any console of the
// cluster, with the member's role, even though its groups map to no role.
describe.skipIf(!fs.existsSync(CHROMIUM))('an invitation accepted through OIDC', () => {
  let provider: Awaited<ReturnType<typeof startProvider>>;
  let browser: Browser;
  const roleMapping = { admin: [], operator: [], viewer: [] };
  beforeAll(async () => {
    provider = await startProvider();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    for (const c of [A, B])
      await call(c, 'admin', 'operators.oidc.configure', {
        issuer: provider.issuer,
        clientId: 'gatehouse',
        scopes: ['openid', 'profile', 'groups'],
        roleMapping,
      });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await provider?.close();
  });

  async function browserFlow<T>(
    c: Console,
    connection: string,
    purpose: 'sign-in' | 'link',
    login: string,
    finish: (flowId: string) => Promise<T>,
  ) {
    const begin = await call<{ flowId: string; authorizationUrl: string }>(c, connection, 'operators.oidc.begin', { purpose, context });
    const [page, done] = await Promise.all([signInInBrowser(browser, begin.authorizationUrl, login), finish(begin.flowId)]);
    return { page, done };
  }

  it('links the identity to the new member; it signs in as that member on the other console; a second link is refused', async () => {
    const bob = name('oidc-bob');
    const { id, code } = await invite(A, { globalRole: 'operator' });
    const { page, done } = await browserFlow(B, 'bob-b', 'link', 'bob', (flowId) =>
      B.router.invoke('bob-b', 'members.invitations.accept', { context, secretCode: code, username: bob, oidcFlowId: flowId }),
    );
    expect(page).toMatch(/confirmed you as BOB/);
    expect(done).toMatchObject({ ok: true, value: { member: { username: bob, globalRole: 'operator', hasPassword: false } } });
    const linked = (await member(A, bob)) as unknown as { oidcLinks: { issuer: string; subject: string }[] };
    expect(linked.oidcLinks).toEqual([{ issuer: provider.issuer, subject: 'bob' }]);
    // the accepting window is the member now
    expect((await call<{ operator: { id: string } }>(B, 'bob-b', 'system.session')).operator.id).toBe(`member:${bob}`);

    // on console A, OIDC sign-in (bob's groups map to no role) is the member, with the member's role
    const signIn = await browserFlow(A, 'bob-a', 'sign-in', 'bob', (flowId) =>
      A.router.invoke('bob-a', 'operators.oidc.complete', { flowId, timeoutMs: 60_000, context }),
    );
    expect(signIn.done).toMatchObject({ ok: true, value: { operator: { id: `member:${bob}`, role: 'operator' } } });
    // a role changed by an admin applies to that OIDC session too (the member record decides)
    const m = await member(A, bob);
    await call(A, 'admin', 'members.setRole', { username: bob, globalRole: 'viewer', grants: [], expectedVersion: m!.version });
    expect((await call<{ operator: { role: string } }>(A, 'bob-a', 'system.session')).operator.role).toBe('viewer');

    // the same identity cannot be linked to a second member; that invitation stays unused
    const again = await invite(A, { globalRole: 'viewer' });
    const second = await browserFlow(B, 'bob-b2', 'link', 'bob', (flowId) =>
      B.router.invoke('bob-b2', 'members.invitations.accept', {
        context,
        secretCode: again.code,
        username: name('oidc-bob2'),
        oidcFlowId: flowId,
      }),
    );
    expect(second.done).toMatchObject({ ok: false, error: { code: 'CONFLICT', details: { linkedTo: bob } } });
    const invitations = await call<{ invitations: { id: string; status: string }[] }>(A, 'admin', 'members.invitations.list');
    expect(invitations.invitations.find((i) => i.id === again.id)?.status).toBe('pending');
    expect(invitations.invitations.find((i) => i.id === id)?.status).toBe('accepted');
  });

  it('an identity linked to no member and mapped to no role is refused; a sign-in flow cannot accept an invitation', async () => {
    const carol = await browserFlow(A, 'carol-a', 'sign-in', 'carol', (flowId) =>
      A.router.invoke('carol-a', 'operators.oidc.complete', { flowId, timeoutMs: 60_000, context }),
    );
    expect(carol.done).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(!carol.done.ok && carol.done.error.message).toMatch(/linked to no member/);

    const { code } = await invite(A, { globalRole: 'viewer' });
    const wrongPurpose = await browserFlow(B, 'carol-b', 'sign-in', 'carol', (flowId) =>
      B.router.invoke('carol-b', 'members.invitations.accept', {
        context,
        secretCode: code,
        username: name('oidc-carol'),
        oidcFlowId: flowId,
      }),
    );
    expect(wrongPurpose.done).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
    expect(await member(A, name('oidc-carol'))).toBeUndefined();
  });
});
