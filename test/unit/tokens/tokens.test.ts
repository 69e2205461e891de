// API tokens without a database: the format and its checksum, redaction, scope matching,
// which limits a use counts against, and what the pipeline does with a token identity.
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { commands, type OperatorIdentity } from '../../../src-shared/contract';
import { TokenScopes, tokensCommands } from '../../../src-shared/contract/tokens';
import {
  applicableLimits,
  checkScope,
  checkTokenFormat,
  commandMatches,
  generateToken,
  tenantMatches,
  tokenHash,
  TOKEN_PATTERN,
} from '../../../src-main/engine/tokens';
import { checksumOf } from '../../../src-main/engine/tokens/format';
import { maskTokensDeep, redactSecrets, redactTokens } from '../../../src-main/engine/core/redact';
import { createPipeline, type Handlers, type TokenGate } from '../../../src-main/ipc/pipeline';
import { tenantsForToken, tokenGate } from '../../../src-main/ipc/tokens';
import type { Engine } from '../../../src-main/engine';
import type { CommandContext } from '../../../src-main/engine/core/context';
import { memoryRecorder, type AuditRecord } from '../../../src-main/engine/audit/recorder';
import { chainEntry, GENESIS_HASH } from '../../../src-main/engine/audit/chain';
import { clusterDeps } from '../helpers/pipeline-deps';

describe('token format', () => {
  it('has the prefix, 32 base62 characters, and a base62 CRC-32 of the rest', () => {
    const t = generateToken();
    expect(t).toMatch(/^ghct_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    const body = t.slice(0, 37);
    // the checksum is the CRC-32 of the body, in base62 (6 digits hold 2^32)
    const digits = t.slice(38);
    const value = [...digits].reduce((n, ch) => n * 62 + '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.indexOf(ch), 0);
    expect(value).toBe(crc32(Buffer.from(body)));
    expect(checkTokenFormat(t)).toEqual({ ok: true });
  });

  it('is random: 2,000 tokens, all different, every base62 character used', () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 2000; i += 1) {
      const t = generateToken();
      seen.add(t);
      for (const c of t.slice(5, 37)) chars.add(c);
    }
    expect(seen.size).toBe(2000);
    expect(chars.size).toBe(62);
  });

  it('refuses malformed tokens and wrong checksums before anything else', () => {
    const t = generateToken();
    expect(checkTokenFormat('')).toEqual({ ok: false, problem: 'malformed' });
    expect(checkTokenFormat('ghp_abcdefghijklmnopqrstuvwxyz0123456789')).toEqual({ ok: false, problem: 'malformed' });
    expect(checkTokenFormat(t.slice(0, -1))).toEqual({ ok: false, problem: 'malformed' });
    expect(checkTokenFormat(` ${t}`)).toEqual({ ok: false, problem: 'malformed' });
    // one character changed in the random part: the checksum catches it
    const i = 10;
    const flipped = t.slice(0, i) + (t[i] === 'a' ? 'b' : 'a') + t.slice(i + 1);
    expect(checkTokenFormat(flipped)).toEqual({ ok: false, problem: 'checksum' });
    // a made-up token with the right shape
    expect(checkTokenFormat(`ghct_${'A'.repeat(32)}_000000`)).toEqual({
      ok: false,
      problem: checksumOf(`ghct_${'A'.repeat(32)}`) === '000000' ? 'malformed' : 'checksum',
    });
  });

  it('is stored as SHA-256 hex', () => {
    const t = generateToken();
    expect(tokenHash(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenHash(t)).not.toContain(t.slice(5, 37));
    expect(tokenHash(t)).toBe(tokenHash(t));
  });
});

describe('redaction finds tokens anywhere', () => {
  it('in strings, whatever the key, and in log fields', () => {
    const t = generateToken();
    expect(redactTokens(`curl -H "Authorization: Bearer ${t}" x`)).toBe('curl -H "Authorization: Bearer ghct_[redacted]" x');
    const out = redactSecrets({ note: `use ${t} for ci`, nested: [{ comment: t }], token: t }) as Record<string, unknown>;
    expect(JSON.stringify(out)).not.toContain(t.slice(5, 37));
    expect(out.note).toBe('use ghct_[redacted] for ci');
    const err = new Error(`bad ${t}`);
    const masked = maskTokensDeep({ err, msg: t, n: 3 }) as { err: Error; msg: string; n: number };
    expect(masked.err).toBe(err);
    expect(masked.err.message).toBe('bad ghct_[redacted]');
    expect(masked.msg).toBe('ghct_[redacted]');
    expect(masked.n).toBe(3);
    expect(`x ${t} y ${t}`.match(TOKEN_PATTERN)).toHaveLength(2);
  });
});

describe('scope matching', () => {
  it('commands: exact names, "x.*" prefixes, "*"', () => {
    expect(commandMatches('tenants.create', 'tenants.create')).toBe(true);
    expect(commandMatches('tenants.create', 'tenants.delete')).toBe(false);
    expect(commandMatches('tenants.*', 'tenants.delete')).toBe(true);
    expect(commandMatches('tenants.*', 'tenants.schema.apply')).toBe(true);
    expect(commandMatches('tenants.*', 'tenantsx.create')).toBe(false);
    expect(commandMatches('tenants.*', 'tenants')).toBe(false);
    expect(commandMatches('*', 'license.clear')).toBe(true);
  });

  it('tenants: slugs, "ci-*" prefixes, "*"', () => {
    expect(tenantMatches('acme', 'acme')).toBe(true);
    expect(tenantMatches('acme', 'acme2')).toBe(false);
    expect(tenantMatches('ci-*', 'ci-42')).toBe(true);
    expect(tenantMatches('ci-*', 'cia')).toBe(false);
    expect(tenantMatches('*', 'anything')).toBe(true);
  });

  const ci: TokenScopes = { commands: ['tenants.*', 'backups.list'], tenants: ['ci-*', 'sandbox'] };
  it('allows inside, refuses outside with the reason', () => {
    expect(checkScope(ci, 'tenants.create', ['ci-1'])).toBeNull();
    expect(checkScope(ci, 'tenants.get', ['sandbox'])).toBeNull();
    expect(checkScope(ci, 'tenants.list', null)).toBeNull();
    expect(checkScope(ci, 'backups.take', ['ci-1'])).toMatchObject({ reason: 'command' });
    expect(checkScope(ci, 'tenants.delete', ['acme'])).toMatchObject({ reason: 'tenant', tenants: ['acme'] });
    expect(checkScope(ci, 'tenants.delete', ['ci-1', 'acme'])).toMatchObject({ reason: 'tenant', tenants: ['acme'] });
    // a fleet-wide command needs every tenant
    expect(checkScope(ci, 'tenants.reconcile', 'fleet')).toMatchObject({ reason: 'tenant' });
    expect(checkScope({ commands: ['*'], tenants: ['*'] }, 'tenants.reconcile', 'fleet')).toBeNull();
  });

  it('which tenants a command names, as a token scope sees it', () => {
    expect(tenantsForToken('tenants.create', { slug: 'ci-1', name: 'x' })).toEqual(['ci-1']);
    expect(tenantsForToken('tenants.delete', { slug: 'ci-1', confirm: 'ci-1' })).toEqual(['ci-1']);
    expect(tenantsForToken('rotation.fleet.rotate', { kind: 'jwt', slugs: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(tenantsForToken('backups.take', { all: true })).toBe('fleet');
    expect(tenantsForToken('backups.take', { slug: 'ci-1', all: false })).toEqual(['ci-1']);
    // a backup or an operation named by id does not say whose data it is
    expect(tenantsForToken('backups.restore.clone', { backupId: 'b1', slug: 'ci-1' })).toBe('fleet');
    expect(tenantsForToken('operations.resume', { operationId: 'op' })).toBe('fleet');
    // a mutation naming no tenant reaches every tenant
    expect(tenantsForToken('license.activate', { license: 'x' })).toBe('fleet');
    expect(tenantsForToken('pools.scale', { pool: 'p', replicas: 1 })).toBe('fleet');
    // reads naming no tenant need only the command scope
    expect(tenantsForToken('license.status', {})).toBeNull();
    expect(tenantsForToken('tenants.list', { refresh: false })).toBe('fleet');
  });
});

describe('limit counting', () => {
  const rules = [
    { idx: 0, command: 'tenants.create', tenantPrefix: 'ci-', max: 3 },
    { idx: 1, command: 'backups.*', tenantPrefix: '', max: 10 },
  ];
  it('a use counts against the limits it matches, once per matching tenant', () => {
    expect(applicableLimits(rules, 'tenants.create', ['ci-1'])).toEqual([{ rule: rules[0], count: 1 }]);
    expect(applicableLimits(rules, 'tenants.create', ['prod-1'])).toEqual([]);
    expect(applicableLimits(rules, 'tenants.delete', ['ci-1'])).toEqual([]);
    expect(applicableLimits(rules, 'backups.take', ['ci-1'])).toEqual([{ rule: rules[1], count: 1 }]);
    expect(applicableLimits(rules, 'backups.take', 'fleet')).toEqual([{ rule: rules[1], count: 1 }]);
    expect(applicableLimits(rules, 'rotation.fleet.rotate', ['ci-1', 'ci-2'])).toEqual([]);
    const multi = [{ idx: 0, command: 'rotation.*', tenantPrefix: 'ci-', max: 5 }];
    expect(applicableLimits(multi, 'rotation.fleet.rotate', ['ci-1', 'ci-2', 'prod'])).toEqual([{ rule: multi[0], count: 2 }]);
  });
});

describe('the pipeline with a token identity', () => {
  const viaToken: OperatorIdentity = {
    id: 'local:alice',
    displayName: 'Alice',
    role: 'operator',
    via: 'token',
    token: { id: 'tok-1', name: 'ci' },
  };

  function build(gate: TokenGate | undefined, handlerFails = false) {
    const records: AuditRecord[] = [];
    const ran: string[] = [];
    const handlers = new Proxy({} as Handlers, {
      get: (_t, name: string) => () => {
        ran.push(name);
        if (handlerFails) throw new Error('crash');
        return { theme: 'dark' };
      },
    });
    const pipeline = createPipeline({
      handlers,
      identify: () => viaToken,
      audit: memoryRecorder(records),
      ...clusterDeps(),
      ...(gate ? { tokenGate: gate } : {}),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    return { pipeline, records, ran };
  }

  it('refuses a token identity when no gate is wired (fails closed)', async () => {
    const { pipeline, ran } = build(undefined);
    const r = await pipeline.invoke('c', 'tenants.suspend', { slug: 'ci-1' });
    expect(r.ok ? 'OK' : r.error.code).toBe('UNAUTHENTICATED');
    expect(ran).toEqual([]);
  });

  it('asks the gate with the parsed input; a refusal is audited as denied, as the owner via the token', async () => {
    const asked: unknown[] = [];
    const { pipeline, records, ran } = build({
      admit: async (_op, name, input) => {
        asked.push([name, input]);
        throw Object.assign(new (await import('../../../src-shared/contract')).ContractError('FORBIDDEN', 'outside', { reason: 'tenant' }));
      },
    });
    const r = await pipeline.invoke('c', 'tenants.suspend', { slug: 'acme' });
    expect(r.ok ? 'OK' : r.error.code).toBe('FORBIDDEN');
    expect(ran).toEqual([]);
    expect(asked).toEqual([['tenants.suspend', { slug: 'acme' }]]);
    expect(records.at(-1)).toMatchObject({
      actor: 'local:alice',
      outcome: 'denied',
      errorCode: 'FORBIDDEN',
      via: { kind: 'token', tokenId: 'tok-1', tokenName: 'ci' },
    });
  });

  it('a failed command gives its limit reservation back; a successful one keeps it', async () => {
    let released = 0;
    const gate: TokenGate = { admit: async () => ({ release: async () => void (released += 1) }) };
    const failing = build(gate, true);
    await failing.pipeline.invoke('c', 'tenants.suspend', { slug: 'ci-1' });
    expect(released).toBe(1);
    expect(failing.records.at(-1)).toMatchObject({ outcome: 'failure', via: { tokenName: 'ci' } });
    const ok = build(gate, false);
    const r = await ok.pipeline.invoke('c', 'system.settings.set', { theme: 'dark' });
    expect(r.ok).toBe(true);
    expect(released).toBe(1);
  });

  it('the audit chain keeps "via" and hashes entries without it exactly as before', () => {
    const base: AuditRecord = {
      actor: 'local:alice',
      actorRole: 'operator',
      action: 'tenants.create',
      target: 'tenant:ci-1',
      params: {},
      before: null,
      after: null,
      outcome: 'success',
      errorCode: null,
      at: '2026-01-01T00:00:00.000Z',
      cluster: 'u',
      consoleVersion: 't',
    };
    const plain = chainEntry(base, 1, GENESIS_HASH);
    expect(plain.canonical).not.toContain('via');
    const via = chainEntry({ ...base, via: { kind: 'token', tokenId: 'tok-1', tokenName: 'ci' } }, 1, GENESIS_HASH);
    expect(JSON.parse(via.canonical).via).toEqual({ kind: 'token', token_id: 'tok-1', token_name: 'ci' });
    expect(via.entry.hash).not.toBe(plain.entry.hash);
  });

  it('tokens.* are in the contract; creating one needs a sign-in, signing in with one is public', () => {
    for (const name of Object.keys(tokensCommands)) expect(name in commands).toBe(true);
    expect(tokensCommands['tokens.create'].mutating).toBe(true);
    expect(tokensCommands['tokens.settings.set'].role).toBe('admin');
  });

  it('an unauthenticated public command reaching a cluster (token sign-in) is not the OS user: admission is not asked', async () => {
    const admitted: string[] = [];
    const pipeline = createPipeline({
      handlers: new Proxy({} as Handlers, {
        get: () => async (_i: unknown, ctx: { cluster(): Promise<unknown> }) => {
          await ctx.cluster();
          throw new Error('stop');
        },
      }),
      identify: () => null,
      audit: memoryRecorder(),
      ...clusterDeps(),
      admitToCluster: (op) => void admitted.push(op.id),
      consoleVersion: 'test',
      logError: () => undefined,
    });
    await pipeline.invoke('c', 'tokens.signIn', { token: 'x' });
    expect(admitted).toEqual([]);
  });
});

describe('the token gate (ipc/tokens.ts)', () => {
  function gateWith(tenants: string[]) {
    const asked: [string, unknown][] = [];
    const engine = {
      tokens: {
        admit: async (_cluster: unknown, _id: string, command: string, named: unknown) => {
          asked.push([command, named]);
          return { release: async () => undefined, tenants };
        },
      },
    } as unknown as Engine;
    const ctx = { audit: {}, cluster: async () => ({}) } as unknown as CommandContext;
    const operator: OperatorIdentity = { id: 'local:a', displayName: 'A', role: 'admin', via: 'token', token: { id: 't', name: 'ci' } };
    return { gate: tokenGate(engine), asked, ctx, operator };
  }

  it('a tenant-scoped token reads fleet lists filtered to its tenants; an unrestricted one unfiltered', async () => {
    const { gate, asked, ctx, operator } = gateWith(['ci-*', 'sandbox']);
    const admission = await gate.admit(operator, 'tenants.list', { refresh: false }, ctx);
    // the list itself names no tenant for the scope check
    expect(asked).toEqual([['tenants.list', null]]);
    const out = { tenants: [{ slug: 'ci-1' }, { slug: 'acme' }, { slug: 'sandbox' }], drift: [{ slug: 'acme' }] };
    expect(admission.output?.(out)).toEqual({ tenants: [{ slug: 'ci-1' }, { slug: 'sandbox' }], drift: [] });
    const all = gateWith(['*']);
    expect((await all.gate.admit(all.operator, 'tenants.list', { refresh: false }, all.ctx)).output).toBeUndefined();
  });

  it('mutations naming no tenant and fleet mutations are asked as the whole fleet', async () => {
    const { gate, asked, ctx, operator } = gateWith(['ci-*']);
    await gate.admit(operator, 'license.activate', { license: 'x' }, ctx);
    await gate.admit(operator, 'backups.take', { all: true }, ctx);
    await gate.admit(operator, 'tenants.create', { slug: 'ci-1', name: 'x', tier: 'DEV' }, ctx);
    expect(asked).toEqual([
      ['license.activate', 'fleet'],
      ['backups.take', 'fleet'],
      ['tenants.create', ['ci-1']],
    ]);
  });
});
