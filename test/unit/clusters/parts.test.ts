import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { V1Deployment } from '@kubernetes/client-node';
import { FileSetWatcher } from '../../../src-main/engine/clusters/watcher';
import { ConnectionMonitor } from '../../../src-main/engine/clusters/monitor';
import { imageTag, summarizeDeployment } from '../../../src-main/engine/clusters/dashboard';
import { permissionChecks } from '../../../src-main/engine/clusters/permissions';
import type { ClusterState } from '../../../src-shared/contract/clusters';

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

describe('file set watcher', () => {
  it('falls back to mtime polling when the folder cannot be watched yet', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-watch-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'later', 'config');
    let calls = 0;
    const watcher = new FileSetWatcher(() => calls++, { debounceMs: 20, pollMs: 50 });
    cleanup.push(() => watcher.close());
    watcher.setFiles([file]); // folder missing: fs.watch cannot start
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, 'x');
    const end = Date.now() + 3000;
    while (calls === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
  });

  it('coalesces a burst of writes into one change', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-watch-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, '0');
    let calls = 0;
    const watcher = new FileSetWatcher(() => calls++, { debounceMs: 150, pollMs: 0 });
    cleanup.push(() => watcher.close());
    watcher.setFiles([file]);
    for (let i = 1; i <= 5; i++) fs.writeFileSync(file, String(i));
    const end = Date.now() + 3000;
    while (calls === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
  });
});

describe('connection monitor', () => {
  function monitor(opts: { fail: () => string | null; expectedOffline?: boolean; selected?: string | null }) {
    const published: ClusterState[] = [];
    const sync = new Map<string, string>();
    let selected = opts.selected === undefined ? 'ctx-a' : opts.selected;
    const m = new ConnectionMonitor({
      selected: () => (selected ? { clusterId: selected, expectedOffline: opts.expectedOffline ?? false, error: null } : null),
      check: async () => {
        const reason = opts.fail();
        if (reason) throw new Error(reason);
      },
      lastSync: (id) => sync.get(id) ?? null,
      recordSync: (id, at) => sync.set(id, at),
      publish: (s) => published.push(s),
    });
    return { m, published, select: (id: string | null) => (selected = id) };
  }

  it('goes online, then offline keeping the last sync time, then back', async () => {
    let down: string | null = null;
    const { m, published } = monitor({ fail: () => down });
    const online = await m.refresh();
    expect(online).toMatchObject({ clusterId: 'ctx-a', state: 'online', error: null });
    expect(online.lastSyncAt).not.toBeNull();
    down = 'The Kubernetes API server refused the connection';
    const offline = await m.refresh();
    expect(offline).toMatchObject({ state: 'offline', error: down, lastSyncAt: online.lastSyncAt });
    expect(m.pipelineState()).toEqual({ clusterId: 'ctx-a', online: false, lastSyncAt: online.lastSyncAt });
    down = null;
    expect((await m.refresh()).state).toBe('online');
    expect(published.map((s) => s.state)).toEqual(['online', 'offline', 'online']);
  });

  it('shares one check between concurrent callers', async () => {
    let checks = 0;
    const { m } = monitor({ fail: () => (checks++, null) });
    await Promise.all([m.refresh(), m.refresh(), m.refresh()]);
    expect(checks).toBe(1);
  });

  it('calls an unreachable VPN-only cluster expected-offline', async () => {
    const { m } = monitor({ fail: () => 'timeout', expectedOffline: true });
    expect((await m.refresh()).state).toBe('expected-offline');
  });

  it('allows mutations with no cluster selected and reports unknown for a new selection', async () => {
    const { m, select } = monitor({ fail: () => null, selected: null });
    expect(m.pipelineState()).toEqual({ clusterId: null, online: true, lastSyncAt: null });
    select('ctx-b');
    expect(m.state()).toMatchObject({ clusterId: 'ctx-b', state: 'unknown' });
  });
});

describe('dashboard summaries', () => {
  it('reads image tags', () => {
    expect(imageTag('registry.local:5000/iam/backend:1.4.2')).toBe('1.4.2');
    expect(imageTag('nginx')).toBe('latest');
    expect(imageTag('registry.local:5000/iam/frontend')).toBe('latest');
    expect(imageTag('ghcr.io/x/y:2.0@sha256:abcdef')).toBe('2.0');
    expect(imageTag('ghcr.io/x/y@sha256:0123456789abcdef0123')).toBe('@sha256:0123456789ab');
  });

  it('summarizes replicas and conditions in one word plus the reason', () => {
    const base: V1Deployment = {
      metadata: { name: 'backend' },
      spec: { replicas: 2, selector: {}, template: { spec: { containers: [{ name: 'app', image: 'iam/backend:3.1' }] } } },
    };
    expect(
      summarizeDeployment({
        ...base,
        status: {
          readyReplicas: 2,
          updatedReplicas: 2,
          availableReplicas: 2,
          conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
        },
      }),
    ).toMatchObject({ name: 'backend', desired: 2, ready: 2, condition: 'available', images: [{ container: 'app', tag: '3.1' }] });
    expect(
      summarizeDeployment({
        ...base,
        status: {
          readyReplicas: 1,
          conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' }],
        },
      }),
    ).toMatchObject({ condition: 'degraded', reason: 'ProgressDeadlineExceeded', message: 'timed out' });
    expect(summarizeDeployment({ ...base, status: {} })).toMatchObject({ condition: 'progressing', ready: 0 });
    expect(summarizeDeployment({ ...base, spec: { ...base.spec!, replicas: 0 } }).condition).toBe('scaled-down');
  });
});

describe('required permissions', () => {
  it('covers every verb Gatehouse needs, with plain sentences', () => {
    const checks = permissionChecks('iam-system');
    expect(checks).toHaveLength(7 * 3 + 3 + 3 + 7 + 1 + 1 + 2);
    const texts = checks.map((c) => c.text);
    expect(texts).toContain('cannot `delete secrets` in `iam-system`');
    expect(texts).toContain('cannot `patch deployments/scale` in `iam-system`');
    expect(texts).toContain('cannot `create leases` in `iam-system`');
    expect(texts).toContain('cannot `get namespaces` cluster-wide');
    expect(texts).toContain('cannot `watch nodes` cluster-wide');
    expect(checks.find((c) => c.resource === 'leases')?.group).toBe('coordination.k8s.io');
  });
});
