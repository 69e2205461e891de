/**
 * Vendor tool (development and tests): `npm run license -- <command>`.
 *   keygen root   --out DIR
 *   keygen issuer --root ROOT.private.jwk.json --out DIR [--days 730]
 *   issue   (--test | --key ISSUER.private.jwk.json --cert ISSUER.cert.jws) --customer NAME [options] [--out FILE]
 *   revoke  (--test | --key KEY.private.jwk.json [--cert CERT]) --seq N [--lid L]... [--kid K]... [--out FILE]
 *           (--seq is required: the list in force + 1; consoles refuse jumps over 10,000)
 *   inspect FILE
 *   verify  FILE [--dev] [--cluster-uid UID] [--revocations FILE]
 * Private keys are written with mode 0600 and never printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { base64url, type JWK } from 'jose';
import { CERT_HEADER, MAX_REVOCATION_SEQ_JUMP, Tier, type LicenseClaims } from './format';
import { defaultClaims, generateEd25519, issueCert, issueLicense, issueRevocations } from './issue';
import { loadTrustedRoots } from './trust';
import { verifyLicense, verifyRevocations } from './verify';
import { isContractError } from '../../../src-shared/contract';

// the vendor tool runs from the repository (tsx): the test keys are at this exact path beside it
const TEST_DIR = () => fileURLToPath(new URL('../../../test/fixtures/license/', import.meta.url));

const readJwk = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
const writeSecret = (file: string, value: unknown) => fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
const writePublic = (file: string, text: string) => fs.writeFileSync(file, text.endsWith('\n') ? text : text + '\n');
const toEpoch = (value: string | undefined, fallback: number) => (value ? Math.floor(Date.parse(value) / 1000) : fallback);

function decodePart(segment: string | undefined): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(base64url.decode(segment ?? '')));
  } catch {
    return '(not decodable)';
  }
}

function signerFromArgs(values: Record<string, unknown>): { key: JWK; cert: string | undefined } {
  if (values.test) {
    return {
      key: readJwk(path.join(TEST_DIR(), 'test-issuer.private.jwk.json')),
      cert: fs.readFileSync(path.join(TEST_DIR(), 'test-issuer.cert.jws'), 'utf8').trim(),
    };
  }
  if (typeof values.key !== 'string') throw new Error('pass --key ISSUER.private.jwk.json (and --cert) or --test');
  return { key: readJwk(values.key), cert: typeof values.cert === 'string' ? fs.readFileSync(values.cert, 'utf8').trim() : undefined };
}

function output(text: string, out: unknown) {
  if (typeof out === 'string') {
    writePublic(out, text);
    console.error(`written ${out}`);
  } else process.stdout.write(text + '\n');
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      root: { type: 'string' },
      days: { type: 'string' },
      test: { type: 'boolean', default: false },
      key: { type: 'string' },
      cert: { type: 'string' },
      customer: { type: 'string' },
      lid: { type: 'string', multiple: true },
      kid: { type: 'string', multiple: true },
      tier: { type: 'string' },
      tenants: { type: 'string' },
      users: { type: 'string' },
      grace: { type: 'string' },
      features: { type: 'string' },
      'renewal-url': { type: 'string' },
      'cluster-uid': { type: 'string' },
      nbf: { type: 'string' },
      exp: { type: 'string' },
      iat: { type: 'string' },
      'after-grace': { type: 'string' },
      nonce: { type: 'string' },
      seq: { type: 'string' },
      dev: { type: 'boolean', default: false },
      revocations: { type: 'string' },
    },
  });
  const now = Math.floor(Date.now() / 1000);
  switch (command) {
    case 'keygen': {
      const kind = positionals[0];
      const out = values.out ?? '.';
      fs.mkdirSync(out, { recursive: true });
      if (kind === 'root') {
        const pair = await generateEd25519('gh-root');
        writeSecret(path.join(out, `${pair.publicJwk.kid}.private.jwk.json`), pair.privateJwk);
        writePublic(path.join(out, `${pair.publicJwk.kid}.jwks.json`), JSON.stringify({ keys: [pair.publicJwk] }, null, 2));
        console.log(`root key ${pair.publicJwk.kid}: public JWKS and private key (0600) written to ${out}. Keep the private key offline.`);
      } else if (kind === 'issuer') {
        if (!values.root) throw new Error('keygen issuer needs --root ROOT.private.jwk.json');
        const pair = await generateEd25519('gh-issuer');
        const days = Number(values.days ?? 730);
        const cert = await issueCert(readJwk(values.root), pair.publicJwk, { nbf: now - 60, exp: now + days * 86400 });
        writeSecret(path.join(out, `${pair.publicJwk.kid}.private.jwk.json`), pair.privateJwk);
        writePublic(path.join(out, `${pair.publicJwk.kid}.cert.jws`), cert);
        console.log(`issuing key ${pair.publicJwk.kid} certified for ${days} days; written to ${out}.`);
      } else throw new Error('keygen root | keygen issuer --root FILE');
      return 0;
    }
    case 'issue': {
      if (!values.customer) throw new Error('issue needs --customer NAME');
      const { key, cert } = signerFromArgs(values);
      if (!cert) throw new Error('issue needs the issuing key certificate (--cert FILE)');
      const iat = toEpoch(values.iat, now);
      const nbf = toEpoch(values.nbf, iat);
      const claims: LicenseClaims = defaultClaims(
        {
          customer: values.customer,
          iat,
          nbf,
          exp: toEpoch(values.exp, nbf + Number(values.days ?? 365) * 86400),
          ...(values.lid?.[0] ? { lid: values.lid[0] } : {}),
          ...(values.tier ? { tier: Tier.parse(values.tier) } : {}),
          ...(values.grace ? { grace_days: Number(values.grace) } : {}),
          ...(values.features !== undefined ? { features: values.features.split(',').filter(Boolean) } : {}),
          ...(values['renewal-url'] ? { renewal_url: values['renewal-url'] } : {}),
          ...(values['cluster-uid'] ? { cluster_uid: values['cluster-uid'] } : {}),
          ...(values.nonce ? { renewal_nonce: values.nonce } : {}),
        },
        iat,
      );
      if (values.tenants || values.users)
        claims.limits = { tenants: Number(values.tenants ?? claims.limits.tenants), users: Number(values.users ?? claims.limits.users) };
      if (values['after-grace']) claims.expiry_strategy.after_grace = values['after-grace'] === 'freeze' ? 'freeze' : 'free-tier';
      // consoles stop trusting an issuing key when its certificate ends, grace included
      const certExp = (decodePart(cert.split('.')[1]) as { exp?: number }).exp;
      const graceEnd = claims.exp + claims.grace_days * 86400;
      if (typeof certExp === 'number' && graceEnd > certExp) {
        throw new Error(
          `the issuing key's certificate ends ${new Date(certExp * 1000).toISOString()}, before this license's grace does (${new Date(graceEnd * 1000).toISOString()}); certify a new issuing key or shorten the license`,
        );
      }
      output(await issueLicense(key, cert, claims), values.out);
      return 0;
    }
    case 'revoke': {
      const seq = Number(values.seq);
      if (!values.seq || !Number.isSafeInteger(seq) || seq < 0)
        throw new Error('revoke needs --seq N: the seq of the list in force plus one');
      if (seq > MAX_REVOCATION_SEQ_JUMP)
        console.error(`note: consoles without a list accept a first list only up to #${MAX_REVOCATION_SEQ_JUMP}`);
      const { key, cert } = signerFromArgs(values);
      const jws = await issueRevocations(key, { iat: now, seq, revoked_lids: values.lid ?? [], revoked_kids: values.kid ?? [] }, cert);
      output(jws, values.out);
      return 0;
    }
    case 'inspect': {
      const file = positionals[0];
      if (!file) throw new Error('inspect FILE');
      const parts = fs.readFileSync(file, 'utf8').trim().split('.');
      const header = decodePart(parts[0]) as Record<string, unknown>;
      const certParts = typeof header[CERT_HEADER] === 'string' ? (header[CERT_HEADER] as string).split('.') : null;
      const shown = {
        ...header,
        [CERT_HEADER]: certParts ? { header: decodePart(certParts[0]), payload: decodePart(certParts[1]) } : header[CERT_HEADER],
      };
      console.log(JSON.stringify({ header: shown, payload: decodePart(parts[1]), note: 'not verified; use `verify`' }, null, 2));
      return 0;
    }
    case 'verify': {
      const file = positionals[0];
      if (!file) throw new Error('verify FILE');
      const roots = loadTrustedRoots({ developmentMode: values.dev ?? false });
      const revocations = values.revocations ? (await verifyRevocations(fs.readFileSync(values.revocations), roots)).claims : null;
      const result = await verifyLicense(fs.readFileSync(file), { roots, clusterUid: values['cluster-uid'] ?? null, revocations });
      console.log(JSON.stringify({ valid: true, trust: result.trust, issuer: result.issuer, claims: result.claims }, null, 2));
      return 0;
    }
    default:
      console.error('usage: npm run license -- keygen root|issuer | issue | revoke | inspect FILE | verify FILE [--dev]');
      return 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (isContractError(error)) console.error(`INVALID (${String(error.details?.reason)}): ${error.message}`);
      else console.error(`license: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
