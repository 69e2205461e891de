import { memoryRecorder } from '../../../src-main/engine/audit/recorder';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src-main/engine';
import { osUserOperator } from '../../../src-main/engine/operators/sessions';
import { engineClusterDeps } from '../../../src-main/ipc/router';
import { createPipeline, type Handlers } from '../../../src-main/ipc/pipeline';
import type { CommandContext } from '../../../src-main/engine/core/context';
import { countingScope } from '../helpers/counting-scope';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-dev-identity-'));
const engine = createEngine({ mode: 'browser', dataDir: dir, identity: 'os-user', clusters: { autoStart: false, env: {}, home: dir } });
afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function pipelineOn(uid: string) {
  const { scope } = countingScope(uid);
  const handlers = new Proxy({} as Handlers, { get: () => async (_i: unknown, ctx: CommandContext) => (await ctx.cluster(), {}) });
  return createPipeline({
    handlers,
    identify: () => osUserOperator(),
    audit: memoryRecorder(),
    ...engineClusterDeps(engine),
    selectedContext: () => 'ctx',
    resolveCluster: async () => scope,
    consoleVersion: 'test',
    logError: () => undefined,
  });
}

describe('the OS user as admin (development identity) in browser mode', () => {
  it('is refused on a cluster that is not the local harness', async () => {
    const r = await pipelineOn('uid-production').invoke('c', 'tenants.list', {});
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', message: expect.stringMatching(/only on the local development harness/) },
    });
  });

  it('works on a cluster seen answering as the harness (labelled kube-system, loopback API server)', async () => {
    engine.db.prepare('INSERT INTO cluster_dev_harness (uid, seen_at) VALUES (?, ?)').run('uid-harness', new Date().toISOString());
    const r = await pipelineOn('uid-harness').invoke('c', 'tenants.list', {});
    // the fake handler answers {}: past the identity check, the output schema refuses it (INTERNAL), not FORBIDDEN
    expect(r.ok ? 'OK' : r.error.code).not.toBe('FORBIDDEN');
  });
});
