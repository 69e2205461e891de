// Command lines and readiness probes of the cluster components. Flags follow
// what kwokctl's "binary" runtime does (sigs.k8s.io/kwok pkg/kwokctl/components)
// minus the conveniences that would hide bugs from the console: authorization
// stays on (Node,RBAC), admission stays on, TLS and client certs are real.
import { request } from 'node:http';
import { join } from 'node:path';
import type { Pki } from './certs';
import { KWOK_CONFIG_FILE } from './config';
import { type KubeConn, kubeRequest } from './kubeapi';
import { type ProcessRecord, type ProcessSpec, waitFor } from './processes';

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
  postgres: number;
}

export interface Layout {
  binDir: string;
  runDir: string;
  logs: string;
  etcdData: string;
  pki: Pki;
  ports: Ports;
  /** Per-component kubeconfigs (client certs), written before the components start. */
  componentKubeconfigs: { 'kube-controller-manager': string; 'kube-scheduler': string; kwok: string };
}

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

function bin(l: Layout, name: string): string {
  return join(l.binDir, name);
}

function log(l: Layout, name: string): string {
  return join(l.logs, `${name}.log`);
}

export function etcdSpec(l: Layout): ProcessSpec {
  const client = `http://127.0.0.1:${l.ports.etcdClient}`;
  const peer = `http://127.0.0.1:${l.ports.etcdPeer}`;
  return {
    name: 'etcd',
    command: bin(l, 'etcd'),
    args: [
      '--name=harness',
      `--data-dir=${l.etcdData}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=harness=${peer}`,
      '--auto-compaction-retention=1',
      '--quota-backend-bytes=2147483648',
      // Throwaway data: skipping fsync makes etcd (and so every write) several
      // times faster on CI disks. Never do this on a real cluster.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    logFile: log(l, 'etcd'),
    ports: [l.ports.etcdClient, l.ports.etcdPeer],
  };
}

export function apiserverSpec(l: Layout): ProcessSpec {
  const p = l.pki;
  return {
    name: 'kube-apiserver',
    command: bin(l, 'kube-apiserver'),
    args: [
      `--etcd-servers=http://127.0.0.1:${l.ports.etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${l.ports.apiserver}`,
      `--tls-cert-file=${p.apiserverCert}`,
      `--tls-private-key-file=${p.apiserverKey}`,
      `--client-ca-file=${p.caCert}`,
      // The point of the harness: the console must work under real RBAC.
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${p.saPub}`,
      `--service-account-signing-key-file=${p.saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      // Endpoints may not point at loopback addresses, so the default lease
      // reconciler would log errors forever for 127.0.0.1. Nothing in-cluster
      // talks to the `kubernetes` Service here.
      '--endpoint-reconciler-type=none',
      // Front-proxy (aggregation) settings. Not used by tests, but without them the
      // controller-manager and scheduler log "missing content for CA bundle" forever.
      `--requestheader-client-ca-file=${p.caCert}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${p.clients['front-proxy-client'].cert}`,
      `--proxy-client-key-file=${p.clients['front-proxy-client'].key}`,
      '--allow-privileged=true',
      // SIGTERM otherwise takes 60 s: the HTTP server waits for watch
      // connections (kwok, controllers, tests' informers) until its shutdown
      // timeout. With a grace period the watches are ended actively.
      '--shutdown-watch-termination-grace-period=2s',
      '--profiling=false',
      '--v=1',
    ],
    logFile: log(l, 'kube-apiserver'),
    ports: [l.ports.apiserver],
  };
}

export function controllerManagerSpec(l: Layout): ProcessSpec {
  const kc = l.componentKubeconfigs['kube-controller-manager'];
  return {
    name: 'kube-controller-manager',
    command: bin(l, 'kube-controller-manager'),
    args: [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${l.ports.controllerManager}`,
      // Single instance: skip the leader-election lease dance (saves ~15 s at start).
      '--leader-elect=false',
      // Each controller uses its own ServiceAccount (as kubeadm does). The
      // bootstrap RBAC only grants system:kube-controller-manager itself enough
      // to mint those tokens, so without this the controllers get 403s.
      '--use-service-account-credentials=true',
      `--root-ca-file=${l.pki.caCert}`,
      `--service-account-private-key-file=${l.pki.saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--v=1',
    ],
    logFile: log(l, 'kube-controller-manager'),
    ports: [l.ports.controllerManager],
  };
}

export function schedulerSpec(l: Layout): ProcessSpec {
  const kc = l.componentKubeconfigs['kube-scheduler'];
  return {
    name: 'kube-scheduler',
    command: bin(l, 'kube-scheduler'),
    args: [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${l.ports.scheduler}`,
      '--leader-elect=false',
      '--v=1',
    ],
    logFile: log(l, 'kube-scheduler'),
    ports: [l.ports.scheduler],
  };
}

export function kwokSpec(l: Layout): ProcessSpec {
  return {
    name: 'kwok',
    command: bin(l, 'kwok'),
    args: [
      `--kubeconfig=${l.componentKubeconfigs.kwok}`,
      // Stage definitions (node/pod lifecycle) live in this file; see its header.
      `--config=${KWOK_CONFIG_FILE}`,
      // Only nodes we register with this annotation are simulated.
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--cidr=10.244.0.0/16',
      '--node-ip=10.240.0.1',
      `--server-address=127.0.0.1:${l.ports.kwok}`,
    ],
    logFile: log(l, 'kwok'),
    ports: [l.ports.kwok],
  };
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request(url, { timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function waitEtcdHealthy(port: number, proc: ProcessRecord, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    'etcd /health',
    async () => {
      const res = await httpGet(`http://127.0.0.1:${port}/health`);
      return res.status === 200 && res.body.includes('"health":"true"');
    },
    { timeoutMs, proc },
  );
}

/** /readyz covers etcd connectivity, RBAC bootstrap roles and priority classes. */
export async function waitApiserverReady(conn: KubeConn, proc: ProcessRecord | undefined, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    'kube-apiserver /readyz',
    async () => (await kubeRequest(conn, 'GET', '/readyz', undefined, undefined, 3000)).status === 200,
    { timeoutMs, proc },
  );
}
