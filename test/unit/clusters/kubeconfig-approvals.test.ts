import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLocalStore, type Sqlite } from '../../../src-main/adapters/sqlite';
import { EventBus } from '../../../src-main/engine/core/events';
import { settingsMigrations } from '../../../src-main/engine/settings/service';
import { clustersMigrations, ProfileStore } from '../../../src-main/engine/clusters/profiles';
import { ClustersService } from '../../../src-main/engine/clusters/service';
import { SecretStoreManager } from '../../../src-main/engine/secrets-store/manager';
import { makeCa, makeServerCert } from './tls-certs';

// Issue 10 item 9: what a kubeconfig ADDED THROUGH THE CONSOLE names (exec, auth-provider,
// token-file, client certificate/key) runs or is read only after an admin approved exactly it.
// Kubeconfigs of the OS user (KUBECONFIG, ~/.kube/config) behave as kubectl does.

let dir: string;
let db: Sqlite;
let services: ClustersService[] = [];
let server: https.Server;
let caData: string;
let serverUrl: string;
let seen: { url: string; authorization: string | undefined }[];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-approvals-'));
  db = openLocalStore(dir, [...settingsMigrations, ...clustersMigrations]).db;
  seen = [];
  // stands for the server an attacker's kubeconfig points at: records what the console sends
  const ca = makeCa(path.join(dir, 'pki'));
  const cert = makeServerCert(path.join(dir, 'pki'), ca, 'api', 'IP:127.0.0.1');
  caData = Buffer.from(ca.pem).toString('base64');
  server = https.createServer({ cert: fs.readFileSync(cert.cert), key: fs.readFileSync(cert.key) }, (req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        major: '1',
        minor: '35',
        gitVersion: 'v1.35.0',
        gitCommit: 'x',
        gitTreeState: 'clean',
        buildDate: 'x',
        goVersion: 'go',
        compiler: 'gc',
        platform: 'linux/amd64',
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  for (const s of services) s.close();
  services = [];
  await new Promise((r) => server.close(r));
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function build(env: NodeJS.ProcessEnv) {
  const store = new ProfileStore(db, new SecretStoreManager({ dataDir: dir, keychain: null, prefer: 'encrypted-file' }));
  const service = new ClustersService({
    store,
    bus: new EventBus(),
    log: pino({ level: 'silent' }),
    env,
    home: dir,
    watch: false,
    requestTimeoutMs: 2000,
  });
  services.push(service);
  return service;
}

const marker = () => path.join(dir, 'exec-ran');
/** An exec plugin that leaves a mark when it runs and prints an ExecCredential. */
function execUser(token: string) {
  return {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: '/bin/sh',
      args: [
        '-c',
        `echo ran >> '${marker()}'; printf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${token}"}}'`,
      ],
      env: [{ name: 'GATEHOUSE_TEST', value: 'yes' }],
      interactiveMode: 'Never',
    },
  };
}
function kubeconfig(file: string, user: Record<string, unknown>, contextUser = 'u', userName = 'u') {
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: serverUrl, 'certificate-authority-data': caData } }],
      users: [{ name: userName, user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: contextUser } }],
    }),
  );
}
const reach = async (service: ClustersService, id: string) => {
  await service.runtimeFor(id).kube.version.getCode();
};

describe('kubeconfigs added through the console', () => {
  it('an exec command in an added kubeconfig does not run before an admin approved exactly that command; a change revokes the approval', async () => {
    const file = path.join(dir, 'added.yaml');
    kubeconfig(file, execUser('exec-token'));
    const service = build({ KUBECONFIG: path.join(dir, 'none.yaml') });
    const list = service.addKubeconfig(file);
    const ctx = list.contexts.find((c) => c.contextName === 'ctx')!;
    expect(ctx).toMatchObject({ status: 'error', error: expect.stringMatching(/Waiting for an admin to approve .*run \(exec\)/) });
    expect(list.approvals).toEqual([
      expect.objectContaining({ kind: 'exec', contextName: 'ctx', server: serverUrl, approved: false, approvedBy: null }),
    ]);
    // shown in full: environment, command and every argument
    expect(list.approvals[0]!.detail).toMatch(/^GATEHOUSE_TEST=yes \/bin\/sh -c '.*ExecCredential.*exec-token.*'$/);

    await expect(service.test(ctx.id)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(reach(service, ctx.id)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(fs.existsSync(marker())).toBe(false);
    expect(seen).toEqual([]);

    const approved = service.approveKubeconfig(list.approvals[0]!.id, 'local:root').list;
    expect(approved.approvals[0]).toMatchObject({ approved: true, approvedBy: 'local:root' });
    expect(approved.contexts[0]).toMatchObject({ status: 'ok', error: null });
    await reach(service, ctx.id);
    expect(fs.existsSync(marker())).toBe(true);
    expect(seen.at(-1)?.authorization).toBe('Bearer exec-token');

    // the approval is durable: another console on the same state still has it
    expect(build({ KUBECONFIG: path.join(dir, 'none.yaml') }).list(null).contexts[0]).toMatchObject({ status: 'ok' });

    // another argument is another command: the approval ends, nothing runs
    fs.rmSync(marker());
    kubeconfig(file, execUser('other-token'));
    const changed = service.reload();
    expect(changed.contexts[0]).toMatchObject({ status: 'error' });
    expect(changed.approvals[0]).toMatchObject({ approved: false });
    expect(db.prepare('SELECT count(*) FROM cluster_kubeconfig_approvals').pluck().get()).toBe(0);
    await expect(reach(service, ctx.id)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(fs.existsSync(marker())).toBe(false);
  });

  it('approving names exactly what was shown: an id from before the file changed is refused', () => {
    const file = path.join(dir, 'added.yaml');
    kubeconfig(file, execUser('t1'));
    const service = build({});
    const shown = service.addKubeconfig(file).approvals[0]!;
    kubeconfig(file, execUser('t2'));
    expect(() => service.approveKubeconfig(shown.id, 'local:root')).toThrow(/no longer what the file names/);
    expect(service.list(null).contexts[0]).toMatchObject({ status: 'error' });
  });

  it('an added kubeconfig cannot send a local file as a bearer token to its server (token-file needs approval)', async () => {
    const secret = path.join(dir, 'id_ed25519');
    fs.writeFileSync(secret, '-----BEGIN OPENSSH PRIVATE KEY-----\nnot-for-the-network\n');
    const file = path.join(dir, 'added.yaml');
    kubeconfig(file, { 'token-file': secret });
    const service = build({});
    const list = service.addKubeconfig(file);
    expect(list.approvals).toEqual([expect.objectContaining({ kind: 'token-file', detail: secret, approved: false })]);
    await service.test(list.contexts[0]!.id).catch(() => undefined);
    expect(seen).toEqual([]);
  });

  it('client certificate and key paths of an added kubeconfig are read only once approved', async () => {
    const file = path.join(dir, 'added.yaml');
    kubeconfig(file, { 'client-certificate': '/etc/ssl/private/host.crt', 'client-key': '/etc/ssl/private/host.key' });
    const list = build({}).addKubeconfig(file);
    expect(list.approvals.map((a) => [a.kind, a.detail])).toEqual([
      ['client-certificate', '/etc/ssl/private/host.crt'],
      ['client-key', '/etc/ssl/private/host.key'],
    ]);
    expect(list.contexts[0]).toMatchObject({
      status: 'error',
      error: expect.stringMatching(/read \(client-certificate\), read \(client-key\)/),
    });
  });

  it("an added kubeconfig cannot borrow the credentials of the OS user's kubeconfig for its own server", async () => {
    const mine = path.join(dir, 'config');
    fs.writeFileSync(
      mine,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'prod', cluster: { server: 'https://prod.internal:6443' } }],
        users: [{ name: 'prod-admin', user: { token: 'prod-admin-token' } }],
        contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'prod-admin' } }],
      }),
    );
    const evil = path.join(dir, 'evil.yaml');
    fs.writeFileSync(
      evil,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'evil', cluster: { server: serverUrl, 'certificate-authority-data': caData } }],
        contexts: [{ name: 'evil', context: { cluster: 'evil', user: 'prod-admin' } }],
      }),
    );
    const service = build({ KUBECONFIG: mine });
    const list = service.addKubeconfig(evil);
    const ctx = list.contexts.find((c) => c.contextName === 'evil')!;
    expect(ctx).toMatchObject({ status: 'error', error: expect.stringMatching(/user "prod-admin" is not defined in this file/) });
    await service.test(ctx.id).catch(() => undefined);
    expect(seen).toEqual([]);
  });

  it("the OS user's own kubeconfig runs its exec plugin as kubectl does, without approval", async () => {
    const mine = path.join(dir, 'config');
    kubeconfig(mine, execUser('kubectl-like'));
    const service = build({ KUBECONFIG: mine });
    const list = service.list(null);
    expect(list.approvals).toEqual([]);
    expect(list.contexts[0]).toMatchObject({ status: 'ok' });
    await reach(service, list.contexts[0]!.id);
    expect(seen.at(-1)?.authorization).toBe('Bearer kubectl-like');
  });

  it('an auth-provider is shown with its settings (secrets masked) and waits for approval; removing the file removes its approvals', () => {
    const file = path.join(dir, 'added.yaml');
    kubeconfig(file, {
      'auth-provider': {
        name: 'gcp',
        config: {
          'cmd-path': '/usr/bin/gcloud',
          'cmd-args': 'config config-helper --format=json',
          'access-token': 'ya29.secret',
          expiry: '2026-01-01T00:00:00Z',
        },
      },
    });
    const service = build({});
    const [request] = service.addKubeconfig(file).approvals;
    expect(request).toMatchObject({ kind: 'auth-provider', approved: false });
    expect(request!.detail).toBe('auth-provider "gcp" with cmd-path=/usr/bin/gcloud, cmd-args=config config-helper --format=json');
    service.approveKubeconfig(request!.id, 'local:root');
    // a refreshed access token (kubectl writes it back) is not a new command
    kubeconfig(file, {
      'auth-provider': {
        name: 'gcp',
        config: {
          'cmd-path': '/usr/bin/gcloud',
          'cmd-args': 'config config-helper --format=json',
          'access-token': 'ya29.newer',
          expiry: '2026-01-02T00:00:00Z',
        },
      },
    });
    expect(service.reload().approvals[0]).toMatchObject({ approved: true });
    service.removeKubeconfig(file);
    expect(db.prepare('SELECT count(*) FROM cluster_kubeconfig_approvals').pluck().get()).toBe(0);
  });
});
