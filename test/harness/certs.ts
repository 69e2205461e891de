// PKI for the throwaway cluster, generated with the openssl CLI (present on
// every dev machine and CI image; avoids an npm dependency for X.509).
// One CA signs everything: the apiserver serving cert and client certs whose
// CN/O map to Kubernetes users/groups (O=system:masters = cluster-admin).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './errors';

export interface ClientCert {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  /** Service-account token signing key pair (RSA: every k8s version accepts it). */
  saKey: string;
  saPub: string;
  clients: Record<ClientName, ClientCert>;
}

/** Identities used by the harness; subject = Kubernetes user (CN) and groups (O). */
const CLIENTS = {
  admin: '/O=system:masters/CN=gatehouse-harness-admin',
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
  // kwok impersonates many kubelets (node status, pod status, leases). The Node
  // authorizer only lets a kubelet touch its own node, so kwok runs as admin.
  kwok: '/O=system:masters/CN=kwok-controller',
  // Identity the apiserver uses when proxying to aggregated API servers.
  'front-proxy-client': '/CN=front-proxy-client',
} as const;
export type ClientName = keyof typeof CLIENTS;

function openssl(args: string[], cwd: string): void {
  const res = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (res.error)
    throw new HarnessError('`openssl` was not found on PATH; install it (apt-get install openssl) to generate the harness certificates.');
  if (res.status !== 0) throw new HarnessError(`openssl ${args.join(' ')} failed:\n${res.stderr}`);
}

function ecKey(dir: string, file: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
}

function signLeaf(dir: string, name: string, subject: string, ext: string): void {
  ecKey(dir, `${name}.key`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

/**
 * Creates the PKI in `dir` unless it already exists (re-running `up` keeps kubeconfigs valid).
 * Each harness has its own CA (`caName` tells them apart in TLS errors), so one
 * cluster's credentials are refused by another.
 */
export function ensurePki(dir: string, caName = 'gatehouse-harness-ca'): Pki {
  const pki: Pki = {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    apiserverCert: join(dir, 'apiserver.crt'),
    apiserverKey: join(dir, 'apiserver.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
    clients: Object.fromEntries(
      Object.keys(CLIENTS).map((n) => [n, { cert: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) }]),
    ) as Record<ClientName, ClientCert>,
  };
  if (existsSync(join(dir, '.complete'))) return pki;

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  ecKey(dir, 'ca.key');
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-subj',
      `/CN=${caName}`,
      '-days',
      '3650',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  signLeaf(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      // 10.0.0.1 = first IP of --service-cluster-ip-range (the `kubernetes` Service).
      'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
      '',
    ].join('\n'),
  );
  for (const [name, subject] of Object.entries(CLIENTS)) {
    signLeaf(dir, name, subject, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  }
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return pki;
}
