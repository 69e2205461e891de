import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A test CA and a server certificate signed by it (openssl CLI, as the harness does). */
export function makeCa(dir: string, name = 'ca'): { cert: string; key: string; pem: string } {
  fs.mkdirSync(dir, { recursive: true });
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  run([
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=gatehouse-test-${name}`,
    '-days',
    '30',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    `${name}.crt`,
  ]);
  const cert = path.join(dir, `${name}.crt`);
  return { cert, key: path.join(dir, `${name}.key`), pem: fs.readFileSync(cert, 'utf8') };
}

/** A serving certificate for `subjectAltName` (e.g. "IP:127.0.0.1"), signed by `ca`. */
export function makeServerCert(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  subjectAltName: string,
): { cert: string; key: string; pem: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  fs.writeFileSync(
    path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${subjectAltName}\n`,
  );
  run(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
  run([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '30',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
  const cert = path.join(dir, `${name}.crt`);
  return { cert, key: path.join(dir, `${name}.key`), pem: fs.readFileSync(cert, 'utf8') };
}
