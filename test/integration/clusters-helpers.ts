// Helpers for the clusters integration tests: kubeconfigs for other identities,
// a restricted ServiceAccount, an expired client certificate, a cuttable TCP path.
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import type { HarnessInfo } from './harness-fixture';

/** A kubeconfig for the harness API server (or `server`) with the given credentials. */
export function writeKubeconfig(
  file: string,
  state: HarnessInfo,
  opts: { name: string; token?: string; certFile?: string; keyFile?: string; server?: string; clusterName?: string },
): string {
  const user: Record<string, string> = {};
  if (opts.token) user.token = opts.token;
  if (opts.certFile) user['client-certificate'] = opts.certFile;
  if (opts.keyFile) user['client-key'] = opts.keyFile;
  const cluster = opts.clusterName ?? 'harness';
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster, cluster: { server: opts.server ?? state.apiServerUrl, 'certificate-authority': state.caFile } }],
      users: [{ name: `${opts.name}-user`, user }],
      contexts: [{ name: opts.name, context: { cluster, user: `${opts.name}-user` } }],
      'current-context': opts.name,
    }),
    { mode: 0o600 },
  );
  return file;
}

export const suffix = () => randomBytes(3).toString('hex');

/**
 * A ServiceAccount that may only read secrets in its own namespace, and a short-lived
 * token for it (TokenRequest), made with the admin kubeconfig.
 */
export async function restrictedServiceAccount(
  admin: KubeConfig,
  namespace: string,
): Promise<{ token: string; cleanup: () => Promise<void> }> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'gatehouse.io/test': 'clusters' } } } });
  const name = 'restricted-operator';
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  const tr = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 900 } } });
  return {
    token: tr.status?.token ?? '',
    cleanup: async () => {
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    },
  };
}

/** A client certificate signed by the harness CA whose validity ended in 2020. */
export function expiredClientCert(state: HarnessInfo, dir: string): { certFile: string; keyFile: string } {
  const pki = path.join(state.runDir, 'pki');
  const work = fs.mkdtempSync(path.join(dir, 'expired-'));
  const keyFile = path.join(work, 'op.key');
  const csr = path.join(work, 'op.csr');
  const certFile = path.join(work, 'op.crt');
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'pipe' });
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-subj', '/CN=expired-operator/O=system:masters', '-out', csr]);
  fs.mkdirSync(path.join(work, 'db'));
  fs.writeFileSync(path.join(work, 'db', 'index.txt'), '');
  fs.writeFileSync(path.join(work, 'db', 'serial'), '01\n');
  fs.writeFileSync(
    path.join(work, 'ca.cnf'),
    '[ca]\ndefault_ca=d\n[d]\ndatabase=db/index.txt\nserial=db/serial\nnew_certs_dir=db\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\norganizationName=optional\n',
  );
  run([
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-cert',
    path.join(pki, 'ca.crt'),
    '-keyfile',
    path.join(pki, 'ca.key'),
    '-in',
    csr,
    '-out',
    certFile,
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
    '-notext',
  ]);
  return { certFile, keyFile };
}

/**
 * A TCP relay in front of the API server on a fixed loopback port: closing it is,
 * to the console, exactly a server that went away (connection refused), without
 * taking the shared API server from the tests running beside this one.
 */
export class Relay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}
