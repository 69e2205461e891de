import nodemailer from 'nodemailer';
import { ContractError } from '../../../src-shared/contract';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { Logger } from '../core/logger';
import { SMTP_OBJECT, type SmtpStore } from './settings';
import { sniName, trustedCa } from './tls';

/** One mail the console sends (alerts, the daily report). The From is always the cluster's configured one. */
export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  html?: string;
}

/**
 * What sendMail needs besides the cluster:
 * - `store`: reads the cluster's SMTP settings and password (ConfigMap + Secret
 *   `gatehouse-smtp`, engine/mail/settings.ts) at every send, so a change made by another
 *   console is used at once; the engine's instance is `engine.mail.deps`;
 * - `log` (optional): one line per mail (cluster, recipients count, subject, message id; never
 *   the body or a credential);
 * - `timeoutMs` (optional): connection, greeting and socket timeouts (default 30 s).
 */
export interface MailDeps {
  store: Pick<SmtpStore, 'read'>;
  log?: Logger;
  timeoutMs?: number;
}

/**
 * Sends one mail through the cluster's relay, with its configured From, TLS mode and CA
 * (certificates are verified: no fallback to an unverified connection). Throws a
 * ContractError saying what to fix when SMTP is not configured or the relay refuses.
 */
export async function sendMail(cluster: ClusterRuntime, deps: MailDeps, msg: MailMessage): Promise<{ messageId: string }> {
  if (msg.to.length === 0) throw new ContractError('VALIDATION', 'The mail has no recipient. Add an address.');
  const stored = await deps.store.read(cluster);
  const where = `ConfigMap ${SMTP_OBJECT} in namespace "${cluster.namespace}"`;
  if (stored.invalid) throw new ContractError('VALIDATION', `${stored.invalid} (Settings → SMTP)`);
  const s = stored.settings;
  if (!s)
    throw new ContractError(
      'VALIDATION',
      `SMTP is not configured for cluster ${cluster.contextName} (no ${where}). Set the relay in Settings → SMTP, then run its test.`,
    );
  if (s.username && !stored.password) {
    throw new ContractError(
      'VALIDATION',
      `The SMTP settings of ${cluster.contextName} name the user "${s.username}" but no password is stored (Secret ${SMTP_OBJECT}). Save the password in Settings → SMTP.`,
    );
  }
  const timeout = deps.timeoutMs ?? 30_000;
  const servername = sniName(s.host);
  const transport = nodemailer.createTransport({
    host: s.host.replace(/^\[|\]$/g, ''),
    port: s.port,
    secure: s.tls === 'tls',
    requireTLS: s.tls === 'starttls',
    ignoreTLS: s.tls === 'none',
    ...(s.username ? { auth: { user: s.username, pass: stored.password! } } : {}),
    tls: { ca: trustedCa(s), minVersion: 'TLSv1.2', ...(servername ? { servername } : {}) },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  try {
    const info = await transport.sendMail({
      from: s.from,
      to: msg.to,
      subject: msg.subject,
      text: msg.text,
      ...(msg.html ? { html: msg.html } : {}),
    });
    deps.log?.info({ cluster: cluster.clusterId, recipients: msg.to.length, subject: msg.subject, messageId: info.messageId }, 'mail sent');
    return { messageId: info.messageId };
  } catch (error) {
    const e = error as { code?: string; response?: string; message?: string };
    const why = (e.response ?? e.message ?? String(error)).replace(/\r?\n/g, ' ').slice(0, 300);
    deps.log?.warn({ cluster: cluster.clusterId, recipients: msg.to.length, subject: msg.subject, code: e.code ?? null }, 'mail not sent');
    throw new ContractError(
      'UNAVAILABLE',
      `The mail could not be sent through ${s.host}:${s.port} (${e.code ? `${e.code}: ` : ''}${why}). Run the staged test in Settings → SMTP to see which stage fails.`,
    );
  } finally {
    transport.close();
  }
}
