import { describe, expect, it } from 'vitest';
import { ContractError } from '../../../src-shared/contract';
import { decodeWorkerConfig, encodeWorkerConfig, readShards } from '../../../src-main/engine/workers/config-store';
import { licenseTierCheck } from '../../../src-main/engine/workers';
import { normaliseConfig, type ConfigInput } from '../../../src-main/engine/workers/service';
import type { ClusterRuntime } from '../../../src-main/engine/core/cluster-runtime';

const base: ConfigInput = {
  slug: 'acme',
  taskMode: 'inline',
  taskPool: 'ignored',
  taskConcurrency: 8,
  loginMode: 'inline',
  loginUrl: 'ignored',
  loginMaxConcurrent: 3,
};
const cluster = {} as ClusterRuntime;

describe('worker configuration entries', () => {
  it('stores only the fields of the chosen modes, in a fixed order, and reads them back', () => {
    const c = normaliseConfig(base);
    expect(c).toEqual({ task: { mode: 'inline', pool: null, concurrency: 8 }, login: { mode: 'inline', url: null, maxConcurrent: null } });
    expect(encodeWorkerConfig(c, null)).toBe('{"task":"inline","concurrency":8,"login":"inline"}');
    const shared = normaliseConfig({
      ...base,
      taskMode: 'agent',
      taskPool: 'eu',
      loginMode: 'shared',
      loginUrl: 'http://lw.iam-system.svc:8090/',
      loginMaxConcurrent: null,
    });
    const raw = encodeWorkerConfig(shared, 'op-1');
    expect(raw).toBe(
      '{"task":"agent","pool":"eu","concurrency":8,"login":"shared","url":"http://lw.iam-system.svc:8090","max":10,"op":"op-1"}',
    );
    expect(decodeWorkerConfig(raw)).toEqual({ config: shared, op: 'op-1' });
  });

  it('ignores values a reader cannot parse instead of failing the whole list', () => {
    const all = readShards([
      {
        data: { good: '{"task":"inline","concurrency":2,"login":"dedicated"}', bad: '{not json', odd: '{"task":"cron","login":"inline"}' },
      },
    ]);
    expect([...all.keys()]).toEqual(['good']);
  });

  it('refuses incomplete or unsafe modes with a message that says what to give', () => {
    const fail = (i: Partial<ConfigInput>) => {
      try {
        normaliseConfig({ ...base, ...i });
      } catch (e) {
        expect(e).toBeInstanceOf(ContractError);
        return (e as ContractError).message;
      }
      return null;
    };
    expect(fail({ taskMode: 'agent', taskPool: null })).toMatch(/needs a pool/);
    expect(fail({ loginMode: 'shared', loginUrl: null })).toMatch(/needs the shared login worker URL/);
    expect(fail({ loginMode: 'shared', loginUrl: 'javascript:alert(1)' })).toMatch(/http/);
    expect(fail({ loginMode: 'shared', loginUrl: 'http://user:pw@lw:8090' })).toMatch(/credentials/);
  });
});

describe('tier changes against the license', () => {
  const view = (tier: string, users: number | null = 10) =>
    licenseTierCheck({ effectiveTier: async () => ({ tier, freeTier: tier === 'FREE' }), users: async () => users });
  it('allows up to the license tier; the free tier counts as DEV', async () => {
    expect(await view('PRO')(cluster, { slug: 'a', tier: 'PRO', from: 'DEV' })).toBeNull();
    expect(await view('PRO')(cluster, { slug: 'a', tier: 'Enterprise', from: 'PRO' })).toMatch(/allows tenants up to PRO/);
    expect(await view('FREE')(cluster, { slug: 'a', tier: 'DEV', from: 'PRO' })).toBeNull();
    expect(await view('FREE')(cluster, { slug: 'a', tier: 'PRO', from: 'DEV' })).toMatch(/free tier/);
  });
  it("refuses a tier whose user limit is below the tenant's users", async () => {
    expect(await view('Enterprise', 250)(cluster, { slug: 'a', tier: 'DEV', from: 'PRO' })).toMatch(/has 250 users; tier DEV allows 100/);
    expect(await view('Enterprise', null)(cluster, { slug: 'a', tier: 'DEV', from: 'PRO' })).toBeNull();
  });
});
