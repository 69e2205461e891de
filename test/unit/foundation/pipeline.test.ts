import { describe, expect, it } from 'vitest';
import { commands, isCommandName, type CommandName, type OperatorIdentity } from '../../../src-shared/contract';
import { memoryRecorder, type AuditRecord } from '../../../src-main/engine/audit/recorder';
import { createPipeline, PUBLIC_COMMANDS, type Handlers } from '../../../src-main/ipc/pipeline';
import { clusterDeps } from '../helpers/pipeline-deps';
import { sample } from '../helpers/sample-input';
import type { CommandContext } from '../../../src-main/engine/core/context';

const admin: OperatorIdentity = { id: 'local:alice', displayName: 'Alice', role: 'admin', via: 'local-account' };
const viewer: OperatorIdentity = { id: 'local:victor', displayName: 'Victor', role: 'viewer', via: 'local-account' };

/** Fakes of our own handler table: every command answers a fixed value or throws. */
function fakeHandlers(behaviour: 'throw' | 'ok', value: unknown = {}): Handlers {
  const table: Record<string, () => unknown> = {};
  for (const name of Object.keys(commands)) {
    table[name] = () => {
      if (behaviour === 'throw') throw new Error('boom with secret hunter2');
      return value;
    };
  }
  return table as unknown as Handlers;
}

function pipeline(opts: { operator?: OperatorIdentity | null; online?: boolean; handlers?: Handlers } = {}) {
  const records: AuditRecord[] = [];
  const errors: unknown[] = [];
  const p = createPipeline({
    handlers: opts.handlers ?? fakeHandlers('ok'),
    identify: () => (opts.operator === undefined ? admin : opts.operator),
    audit: memoryRecorder(records),
    ...clusterDeps({ online: opts.online ?? true, lastSyncAt: '2026-11-23T10:00:00Z' }),
    consoleVersion: 'test',
    logError: (_c, e) => errors.push(e),
  });
  return { p, records, errors };
}

describe('command pipeline', () => {
  it('refuses an unknown command', async () => {
    const { p } = pipeline();
    const r = await p.invoke('c', 'tenants.dropEverything', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('refuses a wrong input shape before running the handler, naming the field', async () => {
    let ran = false;
    const handlers = fakeHandlers('ok');
    (handlers as Record<string, unknown>)['system.settings.set'] = () => {
      ran = true;
      return { theme: 'dark' };
    };
    const { p, records } = pipeline({ handlers });
    const r = await p.invoke('c', 'system.settings.set', { theme: 42, extra: true });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('VALIDATION');
      expect(r.error.message).toMatch(/theme|extra/);
    }
    expect(ran).toBe(false);
    expect(records[0]?.outcome).toBe('invalid');
  });

  it('refuses a viewer calling a command that needs a higher role, in the engine', async () => {
    const higher = (Object.keys(commands) as CommandName[]).filter((n) => commands[n].role !== 'viewer');
    const { p } = pipeline({ operator: viewer });
    for (const name of higher) {
      const r = await p.invoke('c', name, {});
      expect(r, name).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
  });

  it('refuses every non-public command when nobody is signed in', async () => {
    const { p } = pipeline({ operator: null });
    const r = await p.invoke('c', 'system.settings.get', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    const info = await p.invoke('c', 'system.info', {});
    expect(info.ok).toBe(false); // fake handler returns {}, which fails output validation: proves output is checked
  });

  it('validates outputs: a handler answering the wrong shape is an INTERNAL error, logged', async () => {
    const { p, errors } = pipeline({ handlers: fakeHandlers('ok', { unexpected: true }) });
    const r = await p.invoke('c', 'system.settings.get', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(errors.length).toBe(1);
  });

  it('never leaks an unexpected error message or stack to the caller', async () => {
    const { p, errors } = pipeline({ handlers: fakeHandlers('throw') });
    const r = await p.invoke('c', 'system.settings.get', {});
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('INTERNAL');
      expect(JSON.stringify(r.error)).not.toMatch(/hunter2|at .*\.ts/);
    }
    expect(errors.length).toBe(1);
  });

  it('audits every mutating command of the contract, on success and on failure', async () => {
    const mutating = (Object.keys(commands) as CommandName[]).filter((n) => commands[n].mutating);
    expect(mutating.length).toBeGreaterThan(0);
    for (const behaviour of ['ok', 'throw'] as const) {
      const { p, records } = pipeline({ handlers: fakeHandlers(behaviour) });
      for (const name of mutating) await p.invoke('c', name, {});
      expect(records.map((r) => r.action).sort()).toEqual([...mutating].sort());
      for (const r of records) {
        expect(r.actor).toBe(admin.id);
        // the fake handlers touch no cluster: each record is a workstation record
        expect(r.cluster).toBeNull();
      }
    }
    const { p, records } = pipeline();
    for (const name of (Object.keys(commands) as CommandName[]).filter((n) => !commands[n].mutating)) await p.invoke('c', name, {});
    expect(records).toHaveLength(0);
  });

  it('refuses every cluster-bound mutation with OFFLINE while the cluster is offline (valid inputs, handler never reached)', async () => {
    const clusterBound = (Object.keys(commands) as CommandName[]).filter((n) => commands[n].mutating && !commands[n].offline);
    expect(clusterBound.length).toBeGreaterThan(10);
    const reached: string[] = [];
    const handlers = new Proxy({} as Handlers, { get: (_t, name) => () => void reached.push(String(name)) });
    const { p } = pipeline({ online: false, handlers });
    for (const name of clusterBound) {
      const def = commands[name];
      const input: Record<string, unknown> = {
        ...(sample(def.input) as Record<string, unknown>),
        ...(name === 'tenants.create' ? { adminEmail: 'ops@acme.test' } : {}),
      };
      // a password or an OIDC flow, not both
      if (name === 'members.invitations.accept') delete input.oidcFlowId;
      if (def.confirmField) input.confirm = input[def.confirmField];
      expect(def.input.safeParse(input).success, `${name}: the sampled input must be valid, or this test proves nothing`).toBe(true);
      const r = await p.invoke('c', name, input);
      expect(r.ok ? 'OK' : r.error.code, name).toBe('OFFLINE');
    }
    expect(reached).toEqual([]);
    const settings = await p.invoke('c', 'system.settings.set', { theme: 'dark' });
    expect(settings.ok).toBe(false); // fake returns {} → output invalid, but it was allowed to run offline
    if (!settings.ok) expect(settings.error.code).not.toBe('OFFLINE');
  });

  it('binds each record to the cluster the command acted on; workstation actions stay unbound', async () => {
    const records: AuditRecord[] = [];
    const base = { identify: () => admin, audit: memoryRecorder(records), consoleVersion: 'test', logError: () => undefined };
    const handlers = new Proxy({} as Handlers, {
      get: (_t, name) => async (_input: unknown, ctx: CommandContext) => {
        if (name === 'tenants.suspend') await ctx.cluster(); // acts on the selected cluster
        if (name === 'operations.rollback') ctx.audit.cluster = 'uid-of-the-operation'; // acts on another one
        return {};
      },
    });
    const p = createPipeline({ ...base, handlers, ...clusterDeps({ contextId: 'staging', uid: 'uid-staging' }) });
    await p.invoke('c', 'tenants.suspend', { slug: 'acme' });
    await p.invoke('c', 'operations.rollback', { operationId: 'op-1' });
    await p.invoke('c', 'system.settings.set', { theme: 'dark' });
    expect(records.map((r) => [r.action, r.cluster])).toEqual([
      ['tenants.suspend', 'uid-staging'],
      ['operations.rollback', 'uid-of-the-operation'],
      ['system.settings.set', null],
    ]);
  });

  it('resolves the cluster from the session selection once, at the start of the command', async () => {
    let selected = 'staging';
    const resolved: string[] = [];
    const deps = clusterDeps();
    const handlers = new Proxy({} as Handlers, {
      get: () => async (_input: unknown, ctx: CommandContext) => {
        const first = await ctx.cluster();
        selected = 'production'; // the operator switches while the command runs
        const again = await ctx.cluster();
        resolved.push(ctx.contextId ?? 'none');
        expect(again).toBe(first);
        return {};
      },
    });
    const p = createPipeline({
      handlers,
      identify: () => admin,
      audit: memoryRecorder(),
      ...deps,
      selectedContext: () => selected,
      consoleVersion: 'test',
      logError: () => undefined,
    });
    await p.invoke('c', 'tenants.suspend', { slug: 'acme' });
    expect(resolved).toEqual(['staging']);
  });

  it('lists public (pre-sign-in) commands by exact name: OIDC configuration is not reachable anonymously', async () => {
    const { p } = pipeline({ operator: null });
    for (const name of [
      'operators.oidc.get',
      'operators.oidc.configure',
      'operators.oidc.remove',
      'operators.oidc.refresh',
      'system.settings.set',
    ]) {
      const r = await p.invoke('c', name, {});
      expect(r.ok ? 'OK' : r.error.code, name).toBe('UNAUTHENTICATED');
    }
    for (const name of PUBLIC_COMMANDS) expect(isCommandName(name), name).toBe(true);
  });

  it('fail-closed: a mutation whose record of intent cannot be stored does not run, and says why', async () => {
    let ran = false;
    const handlers = new Proxy({} as Handlers, { get: () => async () => ((ran = true), {}) });
    const recorder = memoryRecorder();
    recorder.intend = () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    };
    const p = createPipeline({
      handlers,
      identify: () => admin,
      audit: recorder,
      ...clusterDeps({ contextId: 'staging', uid: 'uid-staging' }),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    const r = await p.invoke('c', 'tenants.suspend', { slug: 'acme' });
    expect(ran).toBe(false);
    expect(r.ok ? 'OK' : r.error.code).toBe('UNAVAILABLE');
    if (!r.ok) expect(r.error.message).toMatch(/was not run.*disk/);
    // reads need no intent: they still answer
    const read = await p.invoke('c', 'tenants.list', {});
    expect(ran).toBe(true);
    expect(read.ok ? 'OK' : read.error.code).not.toBe('UNAVAILABLE');
  });

  it('fail-closed with the real outbox: a full disk (SQLite refuses the write) stops the mutation before it runs', async () => {
    const { AuditOutbox } = await import('../../../src-main/engine/audit/outbox');
    const { tempCache } = await import('../audit/helpers');
    const { db } = tempCache();
    const workstation: AuditRecord[] = [];
    const outbox = new AuditOutbox(db, { deliver: null, workstation: (r) => void workstation.push(r) });
    db.exec("CREATE TRIGGER full BEFORE INSERT ON audit_intents BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    let ran = false;
    const handlers = new Proxy({} as Handlers, { get: () => async () => ((ran = true), {}) });
    const p = createPipeline({
      handlers,
      identify: () => admin,
      audit: outbox,
      ...clusterDeps({ contextId: 'staging', uid: 'uid-staging' }),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    const r = await p.invoke('c', 'tenants.delete', { slug: 'acme', confirm: 'acme', finalBackup: false });
    expect(ran).toBe(false);
    expect(r.ok ? 'OK' : r.error.code).toBe('UNAVAILABLE');
    // the refusal itself is on the record (it touched no cluster: the workstation log)
    expect(workstation.map((w) => [w.action, w.outcome, w.errorCode])).toEqual([['tenants.delete', 'failure', 'UNAVAILABLE']]);
    outbox.close();
  });

  it('writes the intent before the handler runs and closes it with the outcome', async () => {
    const recorder = memoryRecorder();
    const seen: number[] = [];
    const handlers = new Proxy({} as Handlers, { get: () => async () => (seen.push(recorder.intents.size), {}) });
    const p = createPipeline({
      handlers,
      identify: () => admin,
      audit: recorder,
      ...clusterDeps({ contextId: 'staging', uid: 'uid-staging' }),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    await p.invoke('c', 'tenants.suspend', { slug: 'acme' });
    expect(seen).toEqual([1]); // open while the mutation ran
    expect(recorder.intents.size).toBe(0);
    expect(recorder.records.map((r) => r.action)).toEqual(['tenants.suspend']);
  });

  it('redacts secrets in audited parameters', async () => {
    const { p, records } = pipeline();
    await p.invoke('c', 'system.settings.set', { theme: 'dark' });
    expect(records[0]?.params).toEqual({ theme: 'dark' });
    const { redactSecrets } = await import('../../../src-main/engine/core/redact');
    expect(
      redactSecrets({ slug: 'acme', password: 'x', nested: { apiToken: 'y' }, list: [{ DATABASE_URL: 'postgres://u:p@h/db' }] }),
    ).toEqual({
      slug: 'acme',
      password: '[redacted]',
      nested: { apiToken: '[redacted]' },
      list: [{ DATABASE_URL: '[redacted]' }],
    });
  });
});
