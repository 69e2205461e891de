import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contextId, discoverKubeconfigFiles, KubeconfigCache, loadKubeconfigs } from '../../../src-main/engine/clusters/kubeconfig';
import { kubeconfigDoc } from './fixtures';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-kubeconfig-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};

describe('kubeconfig discovery', () => {
  it('reads KUBECONFIG as a path list in order, without duplicates, and skips empty entries', () => {
    const refs = discoverKubeconfigFiles(
      { KUBECONFIG: `/a/one${path.delimiter}${path.delimiter}/b/two${path.delimiter}/a/one` },
      ['/c/added', '/b/two'],
      '/home/op',
    );
    expect(refs).toEqual([
      { path: '/a/one', origin: 'env' },
      { path: '/b/two', origin: 'env' },
      { path: '/c/added', origin: 'added' },
    ]);
  });

  it('falls back to ~/.kube/config when KUBECONFIG is unset or empty', () => {
    expect(discoverKubeconfigFiles({}, [], '/home/op')).toEqual([{ path: '/home/op/.kube/config', origin: 'default' }]);
    expect(discoverKubeconfigFiles({ KUBECONFIG: '' }, [], '/home/op')[0]?.origin).toBe('default');
  });
});

describe('loading kubeconfigs', () => {
  it('lists every context with id, names, server, user and namespace, also when context ≠ cluster name', () => {
    const file = write(
      'prod.yaml',
      kubeconfigDoc({
        clusters: [{ name: 'prod-eu-1', server: 'https://10.0.0.1:6443/' }],
        users: [{ name: 'ops-admin', token: 'abc' }],
        contexts: [
          { name: 'prod', cluster: 'prod-eu-1', user: 'ops-admin', namespace: 'iam-system' },
          { name: 'prod-readonly', cluster: 'prod-eu-1', user: 'ops-admin' },
        ],
        current: 'prod',
      }),
    );
    const snap = loadKubeconfigs([{ path: file, origin: 'env' }]);
    expect(snap.sources).toEqual([{ path: file, origin: 'env', error: null, contextCount: 2 }]);
    expect(snap.contexts.map((c) => ({ ...c, config: c.config !== null, fingerprint: c.fingerprint !== '' }))).toEqual([
      {
        id: contextId(file, 'prod'),
        contextName: 'prod',
        clusterName: 'prod-eu-1',
        server: 'https://10.0.0.1:6443/',
        userName: 'ops-admin',
        namespace: 'iam-system',
        sourceFile: file,
        current: true,
        error: null,
        config: true,
        fingerprint: true,
      },
      expect.objectContaining({ id: `${file}#prod-readonly`, contextName: 'prod-readonly', namespace: null, current: false, error: null }),
    ]);
    const config = snap.contexts[0]!.config!;
    expect(config.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect(config.getCurrentUser()?.token).toBe('abc');
  });

  it('shows a broken file as an error entry and still lists the good one beside it', () => {
    const good = write(
      'good.yaml',
      kubeconfigDoc({
        clusters: [{ name: 'c', server: 'https://a' }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'ok', cluster: 'c', user: 'u' }],
      }),
    );
    const broken = write('broken.yaml', 'clusters: [\n  - name: x\n  bad: : indentation\n');
    const notKube = write('pod.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n');
    const missing = path.join(dir, 'nope.yaml');
    const snap = loadKubeconfigs([
      { path: broken, origin: 'env' },
      { path: good, origin: 'env' },
      { path: notKube, origin: 'env' },
      { path: missing, origin: 'env' },
    ]);
    expect(snap.contexts.map((c) => c.contextName)).toEqual(['ok']);
    const byPath = Object.fromEntries(snap.sources.map((s) => [s.path, s.error]));
    expect(byPath[broken]).toMatch(/is not valid YAML/);
    expect(byPath[notKube]).toMatch(/"Pod", not a kubeconfig/);
    expect(byPath[missing]).toMatch(/does not exist/);
    expect(byPath[good]).toBeNull();
  });

  it('does not report a missing default ~/.kube/config', () => {
    const snap = loadKubeconfigs([{ path: path.join(dir, 'absent'), origin: 'default' }]);
    expect(snap.sources).toEqual([]);
  });

  it('marks a broken context with its reason and keeps the others usable', () => {
    const file = write(
      'mixed.yaml',
      kubeconfigDoc({
        clusters: [{ name: 'c', server: 'https://a' }, { name: 'no-server' }],
        users: [{ name: 'u', token: 't' }],
        contexts: [
          { name: 'good', cluster: 'c', user: 'u' },
          { name: 'dangling', cluster: 'nowhere', user: 'u' },
          { name: 'serverless', cluster: 'no-server', user: 'u' },
          { name: 'ghost-user', cluster: 'c', user: 'ghost' },
        ],
      }),
    );
    const snap = loadKubeconfigs([{ path: file, origin: 'added' }]);
    const errors = Object.fromEntries(snap.contexts.map((c) => [c.contextName, c.error]));
    expect(errors.good).toBeNull();
    expect(errors.dangling).toMatch(/cluster "nowhere" is not defined/);
    expect(errors.serverless).toMatch(/has no server URL/);
    expect(errors['ghost-user']).toMatch(/user "ghost" is not defined/);
    expect(snap.contexts.filter((c) => c.config).map((c) => c.contextName)).toEqual(['good']);
  });

  it('resolves a cluster or user defined in another file, as kubectl merging does', () => {
    const clusters = write('clusters.yaml', kubeconfigDoc({ clusters: [{ name: 'shared', server: 'https://shared:6443' }], contexts: [] }));
    const users = write(
      'users.yaml',
      kubeconfigDoc({ users: [{ name: 'me', token: 'x' }], contexts: [{ name: 'mine', cluster: 'shared', user: 'me' }] }),
    );
    const snap = loadKubeconfigs([
      { path: clusters, origin: 'env' },
      { path: users, origin: 'env' },
    ]);
    expect(snap.contexts).toHaveLength(1);
    expect(snap.contexts[0]).toMatchObject({ contextName: 'mine', server: 'https://shared:6443', error: null });
    expect(snap.sources[0]?.error).toMatch(/defines no contexts/);
  });

  it('makes certificate, key and token-file paths absolute against the file and watches them', () => {
    fs.mkdirSync(path.join(dir, 'pki'));
    fs.writeFileSync(path.join(dir, 'pki', 'token'), 'file-token\n');
    const file = write(
      'rel.yaml',
      kubeconfigDoc({
        clusters: [{ name: 'c', server: 'https://a', ca: 'pki/ca.crt' }],
        users: [
          { name: 'u', tokenFile: 'pki/token' },
          { name: 'cert-user', cert: 'pki/op.crt', key: 'pki/op.key' },
        ],
        contexts: [
          { name: 'tok', cluster: 'c', user: 'u' },
          { name: 'cert', cluster: 'c', user: 'cert-user' },
        ],
      }),
    );
    const snap = loadKubeconfigs([{ path: file, origin: 'env' }]);
    expect(snap.watchedFiles.sort()).toEqual(
      [file, ...['ca.crt', 'op.crt', 'op.key', 'token'].map((f) => path.join(dir, 'pki', f))].sort(),
    );
    const tok = snap.contexts.find((c) => c.contextName === 'tok')!;
    expect(tok.error).toBeNull();
    expect(tok.config?.getCurrentUser()?.token).toBe('file-token\n');
    expect(tok.config?.getCurrentCluster()?.caFile).toBe(path.join(dir, 'pki', 'ca.crt'));
    expect(snap.contexts.find((c) => c.contextName === 'cert')?.config?.getCurrentUser()?.keyFile).toBe(path.join(dir, 'pki', 'op.key'));
  });

  it('reports a token-file that does not exist on the context', () => {
    const file = write(
      't.yaml',
      kubeconfigDoc({
        clusters: [{ name: 'c', server: 'https://a' }],
        users: [{ name: 'u', tokenFile: 'missing-token' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      }),
    );
    expect(loadKubeconfigs([{ path: file, origin: 'env' }]).contexts[0]?.error).toMatch(
      /token file .*missing-token of user "u" does not exist/,
    );
  });

  it('reuses parsed files and built configs while nothing changed', () => {
    const file = write(
      'c.yaml',
      kubeconfigDoc({
        clusters: [{ name: 'c', server: 'https://a' }],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      }),
    );
    const cache = new KubeconfigCache();
    const first = loadKubeconfigs([{ path: file, origin: 'env' }], cache).contexts[0]!;
    expect(loadKubeconfigs([{ path: file, origin: 'env' }], cache).contexts[0]!.config).toBe(first.config);
    fs.writeFileSync(
      file,
      kubeconfigDoc({
        clusters: [{ name: 'c', server: 'https://b' }],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      }),
    );
    const edited = loadKubeconfigs([{ path: file, origin: 'env' }], cache).contexts[0]!;
    expect(edited.server).toBe('https://b');
    expect(edited.config).not.toBe(first.config);
  });
});
