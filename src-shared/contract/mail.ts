import { z } from 'zod';
import { command } from './define';

/**
 * Mail: the SMTP relay of a cluster (used by every tenant and by the console's own mail),
 * its staged test, and the daily report. Stored in the cluster where the platform backend
 * reads it: ConfigMap + Secret `gatehouse-smtp` in the platform namespace (docs/mail.md).
 */

/** none: plain SMTP (no encryption); starttls: upgrade after EHLO (port 587); tls: implicit TLS from the first byte (port 465). */
export const SmtpTlsMode = z.enum(['none', 'starttls', 'tls']);
export type SmtpTlsMode = z.infer<typeof SmtpTlsMode>;
/** system: the workstation's (or pod's) trusted roots; custom: only the PEM stored with the settings. */
export const SmtpCaChoice = z.enum(['system', 'custom']);

const HOST =
  /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$|^\d{1,3}(?:\.\d{1,3}){3}$|^\[?[0-9A-Fa-f:.]+\]?$/;
export const MailAddress = z
  .email('an e-mail address (name@example.com)')
  .max(320)
  .meta({ examples: ['ops@example.com'] });

export const SmtpSettings = z
  .object({
    host: z
      .string()
      .min(1)
      .max(253)
      .regex(HOST, 'a host name or IP address (no scheme, no port)')
      .meta({ examples: ['smtp.example.com'] }),
    port: z.number().int().min(1).max(65535),
    /** Empty: the relay accepts mail without AUTH. */
    username: z.string().max(320).default(''),
    /** The envelope sender and From header of every mail (never the operator's address). */
    from: MailAddress,
    tls: SmtpTlsMode,
    ca: SmtpCaChoice.default('system'),
    /** PEM of the CA (or the server certificate itself) trusted when ca = custom. */
    caPem: z.string().max(100_000).nullable().default(null),
  })
  .strict()
  .refine((s) => s.ca !== 'custom' || (s.caPem !== null && /-----BEGIN CERTIFICATE-----/.test(s.caPem)), {
    message: 'paste the PEM of the CA certificate (-----BEGIN CERTIFICATE-----…) or choose the system CAs',
    path: ['caPem'],
  })
  .refine((s) => s.tls !== 'none' || s.ca === 'system', { message: 'a CA only matters with STARTTLS or TLS', path: ['ca'] })
  .meta({
    examples: [
      { host: 'smtp.example.com', port: 587, username: 'relay', from: 'noreply@example.com', tls: 'starttls', ca: 'system', caPem: null },
    ],
  });
export type SmtpSettings = z.infer<typeof SmtpSettings>;

export const SmtpView = z.object({
  clusterId: z.string(),
  /** Null: nothing saved yet for this cluster. */
  settings: SmtpSettings.nullable(),
  /** Whether a password is stored (the value never leaves the engine). */
  passwordSet: z.boolean(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
  /** resourceVersion of the ConfigMap: give it back on save to refuse overwriting someone else's change. */
  version: z.string().nullable(),
  objects: z.object({ namespace: z.string(), configMap: z.string(), secret: z.string() }),
  /** The signed-in operator's own address when it is known (the default test recipient). */
  operatorEmail: z.string().nullable(),
});
export type SmtpView = z.infer<typeof SmtpView>;

export const SmtpStageName = z.enum(['dns', 'tcp', 'tls', 'auth', 'mailFrom', 'rcptTo', 'data']);
export type SmtpStageName = z.infer<typeof SmtpStageName>;

export const CertificateInfo = z.object({
  subject: z.string(),
  issuer: z.string(),
  validFrom: z.string(),
  validTo: z.string(),
  altNames: z.string().nullable(),
  fingerprint256: z.string(),
  /** Null when the chain and name verified; else OpenSSL's code and a sentence (DEPTH_ZERO_SELF_SIGNED_CERT…). */
  verificationError: z.string().nullable(),
  protocol: z.string().nullable(),
  cipher: z.string().nullable(),
});
export type CertificateInfo = z.infer<typeof CertificateInfo>;

export const SmtpStage = z.object({
  stage: SmtpStageName,
  label: z.string(),
  /** skipped: not applicable (TLS with mode none, AUTH without username); not-run: an earlier stage failed. */
  status: z.enum(['ok', 'failed', 'skipped', 'not-run']),
  durationMs: z.number().int().nonnegative().nullable(),
  /** One line on what happened (the addresses found, the reply accepted). */
  detail: z.string().nullable(),
  /** On failure: what went wrong and what to do. */
  error: z.string().nullable(),
  /** The SMTP dialogue of this stage (client lines "C:", server "S:"); never a password or AUTH payload. */
  transcript: z.array(z.string()),
  certificate: CertificateInfo.nullable(),
});
export type SmtpStage = z.infer<typeof SmtpStage>;

export const SmtpTestResult = z.object({
  ok: z.boolean(),
  stages: z.array(SmtpStage),
  /** The stage that failed, if any. */
  failedStage: SmtpStageName.nullable(),
  to: z.string(),
  from: z.string(),
  /** The server's final answer to DATA (e.g. "250 2.0.0 Ok: queued as 1A2B3C"). */
  response: z.string().nullable(),
  messageId: z.string().nullable(),
  usedSavedPassword: z.boolean(),
});
export type SmtpTestResult = z.infer<typeof SmtpTestResult>;

/** Password input: absent or empty means "keep / use the saved one". */
const PasswordInput = z.string().max(1000).optional();

export const ReportConfig = z
  .object({
    enabled: z.boolean(),
    /** Hour of the day (0–23) in `timeZone` at which the report is sent. */
    hour: z.number().int().min(0).max(23),
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'an IANA time zone (Etc/UTC, Europe/Berlin…)')
      .meta({ examples: ['Europe/Berlin'] })
      .default('Etc/UTC'),
    recipients: z.array(MailAddress).max(50),
    /** Also send it from a CronJob in the cluster when no console runs (docs/mail.md). */
    inCluster: z.boolean().default(false),
  })
  .strict()
  .refine((c) => !c.enabled || c.recipients.length > 0, {
    message: 'add at least one recipient to enable the daily report',
    path: ['recipients'],
  });
export type ReportConfig = z.infer<typeof ReportConfig>;

export const ReportLastSent = z.object({
  /** The local day (in the report's time zone) the record is about. */
  day: z.string(),
  state: z.enum(['sending', 'sent', 'failed']),
  at: z.string(),
  by: z.string(),
  attempts: z.number().int(),
  messageId: z.string().nullable(),
  error: z.string().nullable(),
});
export type ReportLastSent = z.infer<typeof ReportLastSent>;

export const ReportView = z.object({
  config: ReportConfig,
  lastSent: ReportLastSent.nullable(),
  /** When the console would send next (null: disabled). */
  nextAt: z.string().nullable(),
  smtpConfigured: z.boolean(),
  cronJob: z.object({ name: z.string(), exists: z.boolean(), schedule: z.string().nullable(), timeZone: z.string().nullable() }),
  image: z.string(),
});
export type ReportView = z.infer<typeof ReportView>;

export const ReportPreview = z.object({
  subject: z.string(),
  text: z.string(),
  html: z.string(),
  generatedAt: z.string(),
  /** Sections that could not be filled, and why (shown, never papered over). */
  unavailable: z.array(z.object({ section: z.string(), reason: z.string() })),
});

export const mailCommands = {
  'mail.smtp.get': command({
    summary: 'The SMTP relay settings of the selected cluster (never the password)',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: SmtpView,
  }),
  'mail.smtp.save': command({
    summary: 'Save the SMTP relay settings of the cluster (ConfigMap + Secret gatehouse-smtp)',
    role: 'admin',
    mutating: true,
    input: z
      .object({
        settings: SmtpSettings,
        password: PasswordInput,
        /** Remove the stored password (a relay without AUTH). */
        clearPassword: z.boolean().default(false),
        /** The version the form was loaded from; a newer one on the cluster is a CONFLICT. */
        expectedVersion: z.string().max(64).nullable().optional(),
      })
      .strict(),
    output: SmtpView,
  }),
  'mail.smtp.test': command({
    summary: 'Staged SMTP test with the values in the form: DNS, TCP, TLS, AUTH, MAIL FROM, RCPT TO, DATA',
    role: 'operator',
    mutating: true,
    input: z.object({ settings: SmtpSettings, password: PasswordInput, to: MailAddress }).strict(),
    output: SmtpTestResult,
  }),
  'mail.report.get': command({
    summary: 'The daily report settings, its last sending and its CronJob',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: ReportView,
  }),
  'mail.report.set': command({
    summary: 'Set the daily report: hour, time zone, recipients, enabled, CronJob in the cluster',
    role: 'admin',
    mutating: true,
    input: ReportConfig,
    output: ReportView,
  }),
  'mail.report.preview': command({
    summary: 'Build the daily report now, without sending it',
    role: 'viewer',
    mutating: false,
    input: z.object({}).strict(),
    output: ReportPreview,
  }),
  'mail.report.send': command({
    summary: 'Send the daily report now (to its recipients, or to the given addresses)',
    role: 'operator',
    mutating: true,
    input: z.object({ to: z.array(MailAddress).max(50).optional() }).strict(),
    output: z.object({ messageId: z.string(), to: z.array(z.string()), subject: z.string() }),
  }),
};
