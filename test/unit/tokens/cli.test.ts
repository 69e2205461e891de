// The CLI without a cluster: the launcher refuses an old Node, help and usage errors never load
// the engine, the exit-code table, how the context is chosen, table output.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src-shared/contract';
import type { ClustersList } from '../../../src-shared/contract/clusters';
import { EXIT_CODES, exitCodeOf } from '../../../src-main/cli/exit-codes';
import { table } from '../../../src-main/cli/output';
import { chooseContext } from '../../../src-main/cli/session';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/gatehouse.mjs');

describe('the gatehouse launcher', () => {
  it('refuses Node older than 24 with one clear sentence, whatever the command', () => {
    for (const args of [['tenants', 'list'], ['serve']]) {
      const r = spawnSync(
        process.execPath,
        ['--import', "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.11.0'})", bin, ...args],
        { encoding: 'utf8' },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('Node.js 24 or newer is required; this is Node.js 20.11.0');
    }
  });

  it('--help lists the commands; a usage error exits 2', () => {
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 120_000 });
    expect(help.status, help.stderr).toBe(0);
    for (const c of ['tenants', 'backups', 'license', 'audit', 'operations', 'login']) expect(help.stdout).toContain(c);
    const usage = spawnSync(process.execPath, [bin, 'tenants', 'frobnicate'], { encoding: 'utf8', timeout: 120_000 });
    expect(usage.status).toBe(EXIT_CODES.USAGE);
  });
});

describe('exit codes', () => {
  it('every contract error code has its own exit status, distinct from success and usage', () => {
    const codes = ErrorCode.options.map(exitCodeOf);
    expect(new Set(codes).size).toBe(ErrorCode.options.length);
    expect(codes).not.toContain(0);
    expect(codes).not.toContain(EXIT_CODES.USAGE);
    expect(exitCodeOf('SOMETHING_NEW')).toBe(EXIT_CODES.INTERNAL);
  });
});

describe('choosing the cluster context', () => {
  const ctx = (id: string, contextName: string, extra: Partial<ClustersList['contexts'][number]> = {}) =>
    ({
      id,
      contextName,
      clusterName: 'c',
      server: 'https://x',
      userName: 'u',
      namespace: null,
      sourceFile: '/k',
      status: 'ok',
      error: null,
      current: false,
      selected: false,
      clusterUid: null,
      identityChange: null,
      ...extra,
    }) as ClustersList['contexts'][number];
  const list = (...contexts: ClustersList['contexts']): ClustersList => ({ sources: [], contexts, selectedId: null, approvals: [] });

  it('--cluster by name or id; ambiguous and unknown names are refused', () => {
    const l = list(ctx('/a#prod', 'prod'), ctx('/a#staging', 'staging', { current: true }));
    expect(chooseContext(l, 'prod', null)).toBe('/a#prod');
    expect(chooseContext(l, '/a#staging', null)).toBe('/a#staging');
    expect(() => chooseContext(l, 'nope', null)).toThrow(/No kubeconfig context "nope"/);
    const twice = list(ctx('/a#prod', 'prod'), ctx('/b#prod', 'prod'));
    expect(() => chooseContext(twice, 'prod', null)).toThrow(/Several kubeconfig files/);
    expect(chooseContext(twice, '/b#prod', null)).toBe('/b#prod');
  });

  it('without --cluster: the last choice, else current-context, else the only one', () => {
    const l = list(ctx('/a#prod', 'prod'), ctx('/a#staging', 'staging', { current: true }));
    expect(chooseContext(l, undefined, '/a#prod')).toBe('/a#prod');
    expect(chooseContext(l, undefined, '/gone#x')).toBe('/a#staging');
    expect(chooseContext(list(ctx('/a#only', 'only')), undefined, null)).toBe('/a#only');
    expect(() => chooseContext(list(ctx('/a#x', 'x'), ctx('/a#y', 'y')), undefined, null)).toThrow(/choose one with --cluster/);
  });
});

describe('table output', () => {
  it('pads columns and marks missing values', () => {
    expect(
      table(
        [
          { slug: 'acme', tier: 'PRO' },
          { slug: 'ci-1', tier: null },
        ],
        ['slug', 'tier'],
      ),
    ).toBe('SLUG  TIER\nacme  PRO\nci-1  —');
    expect(table([], ['slug'])).toBe('(none)');
  });
});
