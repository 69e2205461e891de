// SMTP settings, the staged test and the sender against a real SMTP server on loopback
// (smtp-server: STARTTLS, implicit TLS, AUTH, a From policy, a failure per stage) and the
// harness API server (settings in a ConfigMap + Secret of the operator's namespace).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeClients } from '../../src-main/adapters/kube';
import { ClusterScope } from '../../src-main/engine/clusters/scope';
import { createMailCapability, runStagedTest, sendMail, SMTP_OBJECT } from '../../src-main/engine/mail';
import type { SmtpSettings, SmtpTestResult } from '../../src-shared/contract/mail';
import { ContractError } from '../../src-shared/contract';
import { harness, uniqueNamespace } from './harness-fixture';
import { closedPort, startTestSmtp, testCerts, type TestCerts, type TestSmtp } from '../fixtures/smtp-server';

const PASSWORD = 'pa55-Wörd-sekret';
const FROM = 'noreply@gatehouse.test';
const USERS = { relay: PASSWORD };

let certs: TestCerts;
let starttls: TestSmtp;
let implicit: TestSmtp;
let selfSigned: TestSmtp;
let dropper: TestSmtp;

const base = (port: number, over: Partial<SmtpSettings> = {}): SmtpSettings => ({
  host: '127.0.0.1',
  port,
  username: 'relay',
  from: FROM,
  tls: 'starttls',
  ca: 'custom',
  caPem: certs.caPem,
  ...over,
});
const stage = (r: SmtpTestResult, name: string) => r.stages.find((s) => s.stage === name)!;
const test = (settings: SmtpSettings, password: string | null = PASSWORD, to = 'ops@example.test') =>
  runStagedTest({ settings, password, to, clusterName: 'harness', timeoutMs: 10_000 });

/** Nothing in any transcript may show the password or an AUTH payload. */
function expectNoSecrets(r: SmtpTestResult): void {
  const all = r.stages.flatMap((s) => s.transcript).join('\n');
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(Buffer.from(PASSWORD).toString('base64'));
  expect(all).not.toContain(Buffer.from(`\u0000relay\u0000${PASSWORD}`).toString('base64'));
  expect(all).not.toContain(Buffer.from('relay').toString('base64'));
}

beforeAll(async () => {
  certs = testCerts();
  starttls = await startTestSmtp({
    mode: 'starttls',
    key: certs.key,
    cert: certs.cert,
    users: USERS,
    allowedFrom: [FROM],
    refuseDomain: 'elsewhere.example',
  });
  implicit = await startTestSmtp({ mode: 'tls', key: certs.key, cert: certs.cert, users: USERS, allowedFrom: [FROM] });
  selfSigned = await startTestSmtp({ mode: 'starttls', key: certs.selfSignedKey, cert: certs.selfSignedCert, users: USERS });
  dropper = await startTestSmtp({ mode: 'none', dropMidData: true });
});
afterAll(async () => {
  await Promise.all([starttls, implicit, selfSigned, dropper].map((s) => s?.close()));
});

describe('staged SMTP test', () => {
  it('STARTTLS with the custom CA: every stage passes, the mail arrives with the configured From', async () => {
    const before = starttls.received.length;
    const r = await test(base(starttls.port));
    expect(r.ok, JSON.stringify(r.stages, null, 1)).toBe(true);
    expect(r.stages.map((s) => [s.stage, s.status])).toEqual([
      ['dns', 'ok'],
      ['tcp', 'ok'],
      ['tls', 'ok'],
      ['auth', 'ok'],
      ['mailFrom', 'ok'],
      ['rcptTo', 'ok'],
      ['data', 'ok'],
    ]);
    const tls = stage(r, 'tls');
    expect(tls.certificate?.subject).toContain('CN=kube-apiserver');
    expect(tls.certificate?.issuer).toContain('gatehouse-smtp-test-ca');
    expect(tls.certificate?.verificationError).toBeNull();
    expect(tls.transcript.some((l) => l === 'C: STARTTLS')).toBe(true);
    expect(stage(r, 'auth').transcript).toContain('C: AUTH PLAIN [credentials hidden]');
    expect(stage(r, 'mailFrom').transcript.some((l) => l.startsWith(`C: MAIL FROM:<${FROM}>`))).toBe(true);
    expect(stage(r, 'rcptTo').transcript.some((l) => l.startsWith('C: RCPT TO:<ops@example.test>'))).toBe(true);
    expect(r.response).toContain('queued as TEST1234');
    expect(r.messageId).toBe('TEST1234');
    expectNoSecrets(r);
    const got = starttls.received.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]!.from).toBe(FROM);
    expect(got[0]!.to).toEqual(['ops@example.test']);
    expect(got[0]!.user).toBe('relay');
    expect(got[0]!.raw).toContain('Subject: Gatehouse SMTP test');
  });

  it('implicit TLS: the handshake happens before the greeting, the certificate is shown', async () => {
    const r = await test(base(implicit.port, { tls: 'tls' }));
    expect(r.ok, JSON.stringify(r.stages, null, 1)).toBe(true);
    expect(stage(r, 'tls').detail).toContain('implicit TLS');
    expect(stage(r, 'tls').certificate?.protocol).toMatch(/TLSv1\.[23]/);
  });

  it('wrong port: TCP fails with "connection refused", nothing after it runs', async () => {
    const port = await closedPort();
    const r = await test(base(port));
    expect(r.ok).toBe(false);
    expect(r.failedStage).toBe('tcp');
    expect(stage(r, 'dns').status).toBe('ok');
    expect(stage(r, 'tcp').error).toMatch(/connection refused.*port/i);
    expect(r.stages.slice(2).every((s) => s.status === 'not-run')).toBe(true);
  });

  it('a name that does not resolve fails at DNS', async () => {
    const r = await test(base(25, { host: 'no-such-relay.invalid' }));
    expect(r.failedStage).toBe('dns');
    expect(stage(r, 'dns').error).toContain('no-such-relay.invalid');
    expect(stage(r, 'tcp').status).toBe('not-run');
  });

  it('implicit TLS against a STARTTLS port fails at TLS and says to choose STARTTLS', async () => {
    const r = await test(base(starttls.port, { tls: 'tls' }));
    expect(r.failedStage).toBe('tls');
    expect(stage(r, 'tls').error).toMatch(/STARTTLS/);
  });

  it('a self-signed certificate with the system CAs fails at TLS, shows the certificate, and no AUTH is sent', async () => {
    const r = await test(base(selfSigned.port, { ca: 'system', caPem: null }));
    expect(r.failedStage).toBe('tls');
    const tls = stage(r, 'tls');
    expect(tls.certificate?.verificationError).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(tls.certificate?.subject).toContain('CN=self-signed-relay');
    expect(tls.error).toMatch(/self-signed.*custom/i);
    expect(stage(r, 'auth').status).toBe('not-run');
    expect(selfSigned.authAttempts).toHaveLength(0);
  });

  it('a certificate of an untrusted CA fails with the system CAs and passes with that CA pasted', async () => {
    const bad = await test(base(starttls.port, { ca: 'system', caPem: null }));
    expect(bad.failedStage).toBe('tls');
    expect(stage(bad, 'tls').certificate?.verificationError).toMatch(/UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)/);
    const good = await test(base(starttls.port));
    expect(good.ok).toBe(true);
  });

  it('a bad password fails at AUTH with what to do, and the transcript hides what was sent', async () => {
    const r = await test(base(starttls.port), 'wrong-password-123');
    expect(r.failedStage).toBe('auth');
    expect(stage(r, 'auth').error).toMatch(/refused the username or password \(535/);
    const all = r.stages.flatMap((s) => s.transcript).join('\n');
    expect(all).not.toContain('wrong-password-123');
    expect(stage(r, 'mailFrom').status).toBe('not-run');
  });

  it('a From the relay does not allow fails at MAIL FROM, naming the sender', async () => {
    const r = await test(base(starttls.port, { from: 'admin@operator-own.example' }));
    expect(r.failedStage).toBe('mailFrom');
    expect(stage(r, 'mailFrom').error).toContain('admin@operator-own.example');
    expect(stage(r, 'mailFrom').error).toMatch(/553/);
    expect(stage(r, 'auth').status).toBe('ok');
    expect(stage(r, 'rcptTo').status).toBe('not-run');
    expectNoSecrets(r);
  });

  it('a refused recipient fails at RCPT TO', async () => {
    const r = await test(base(starttls.port), PASSWORD, 'someone@elsewhere.example');
    expect(r.failedStage).toBe('rcptTo');
    expect(stage(r, 'mailFrom').status).toBe('ok');
    expect(stage(r, 'rcptTo').error).toMatch(/refused the recipient someone@elsewhere\.example/);
  });

  it('a server that drops the connection mid-DATA fails at DATA', async () => {
    const r = await test({ host: '127.0.0.1', port: dropper.port, username: '', from: FROM, tls: 'none', ca: 'system', caPem: null });
    expect(r.failedStage).toBe('data');
    expect(stage(r, 'tls').status).toBe('skipped');
    expect(stage(r, 'auth').status).toBe('skipped');
    expect(stage(r, 'rcptTo').status).toBe('ok');
    expect(stage(r, 'data').error).toMatch(/closed the connection during DATA/);
    expect(dropper.received).toHaveLength(0);
  });
});

describe('SMTP settings in the cluster and the sender', () => {
  let runtime: ClusterScope;
  let ns: string;
  beforeAll(async () => {
    ns = await uniqueNamespace('mail');
    const kc = new KubeConfig();
    kc.loadFromFile(harness().kubeconfigs.operator);
    runtime = new ClusterScope(`test:${ns}`, {
      contextId: `test:${ns}`,
      contextName: 'harness',
      kube: kubeClients(kc),
      namespace: ns,
      pgAdmin: async () => null,
    });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('sendMail before anything is saved says to set SMTP in Settings', async () => {
    const mail = createMailCapability();
    const error = await mail.send(runtime, { to: ['ops@example.test'], subject: 'x', text: 'y' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).message).toMatch(/SMTP is not configured.*Settings → SMTP/);
  });

  it('saves the documented ConfigMap and Secret; the view never carries the password; the sender uses them', async () => {
    const mail = createMailCapability();
    const saved = await mail.store.save(runtime, { settings: base(starttls.port), password: PASSWORD, by: 'test' });
    const core = runtime.kube.core;
    const cm = await core.readNamespacedConfigMap({ name: SMTP_OBJECT, namespace: ns });
    expect(cm.data).toEqual({
      host: '127.0.0.1',
      port: String(starttls.port),
      username: 'relay',
      from: FROM,
      tls: 'starttls',
      ca: 'custom',
      'ca.pem': certs.caPem,
    });
    expect(cm.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('gatehouse');
    expect(JSON.stringify(cm)).not.toContain(PASSWORD);
    const secret = await core.readNamespacedSecret({ name: SMTP_OBJECT, namespace: ns });
    expect(Buffer.from(secret.data!.password!, 'base64').toString('utf8')).toBe(PASSWORD);
    const view = mail.store.view(runtime, saved, null);
    expect(view.passwordSet).toBe(true);
    expect(JSON.stringify(view)).not.toContain(PASSWORD);

    const before = starttls.received.length;
    const out = await sendMail(runtime, mail.deps, {
      to: ['a@example.test', 'b@example.test'],
      subject: 'Alert: something',
      text: 'plain body',
      html: '<p>html body</p>',
    });
    expect(out.messageId).toMatch(/@/);
    const got = starttls.received.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]!.from).toBe(FROM);
    expect(got[0]!.to).toEqual(['a@example.test', 'b@example.test']);
    expect(got[0]!.raw).toContain('plain body');
    expect(got[0]!.raw).toContain('<p>html body</p>');
  });

  it('a stale form version is refused; saving without a password keeps the stored one', async () => {
    const mail = createMailCapability();
    const current = await mail.store.read(runtime);
    await expect(mail.store.save(runtime, { settings: base(starttls.port), expectedVersion: '1', by: 'test' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const again = await mail.store.save(runtime, {
      settings: base(starttls.port, { port: implicit.port, tls: 'tls' }),
      expectedVersion: current.version,
      by: 'test',
    });
    expect(again.password).toBe(PASSWORD);
    expect(again.settings?.tls).toBe('tls');
  });

  it('the staged test with a blank password uses the saved one; the form values win over the saved ones', async () => {
    const mail = createMailCapability();
    // saved: implicit TLS port; the form says STARTTLS on the other server: the form is what is tested
    const r = await mail.test(runtime, { settings: base(starttls.port), to: 'ops@example.test' });
    expect(r.ok, JSON.stringify(r.stages, null, 1)).toBe(true);
    expect(r.usedSavedPassword).toBe(true);
    expect(stage(r, 'tcp').detail).toContain(String(starttls.port));
  });

  it('the sender refuses an unverified certificate (no fallback)', async () => {
    const mail = createMailCapability();
    await mail.store.save(runtime, { settings: base(selfSigned.port, { ca: 'system', caPem: null }), by: 'test' });
    const error = await mail.send(runtime, { to: ['ops@example.test'], subject: 'x', text: 'y' }).catch((e: unknown) => e);
    expect((error as ContractError).code).toBe('UNAVAILABLE');
    expect((error as ContractError).message).toMatch(/staged test/);
    expect((error as ContractError).message).not.toContain(PASSWORD);
  });
});
