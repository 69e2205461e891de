import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { format } from 'node:util';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { SmtpSettings, SmtpStage, SmtpStageName, SmtpTestResult } from '../../../src-shared/contract/mail';
import { describeCertificate, sniName, trustedCa } from './tls';

/**
 * The staged SMTP test: each stage on its own, with its transcript, so a failure names
 * where it happened and what to do. It runs on the values of the form (keycloak #15061),
 * sends MAIL FROM with the configured From (never the operator's address: keycloak #13931)
 * and never puts a password or an AUTH payload in the transcript.
 *
 * DNS and TCP are done here; TLS too for implicit TLS (so the certificate can be shown even
 * when it does not verify); STARTTLS, AUTH and the envelope go through nodemailer's
 * SMTPConnection, whose transaction log is split into stages by the command it sends.
 * Certificates are checked by this code before AUTH: credentials never cross a connection
 * whose certificate did not verify.
 */
export interface StagedTestInput {
  settings: SmtpSettings;
  /** The password to use (the form's, or the saved one); null: none. */
  password: string | null;
  to: string;
  /** Shown in the test mail's subject. */
  clusterName: string;
  timeoutMs?: number;
  now?: Date;
}

const LABELS: Record<SmtpStageName, string> = {
  dns: 'DNS',
  tcp: 'TCP connect',
  tls: 'TLS handshake and certificate',
  auth: 'AUTH',
  mailFrom: 'MAIL FROM',
  rcptTo: 'RCPT TO',
  data: 'DATA',
};
const ORDER: SmtpStageName[] = ['dns', 'tcp', 'tls', 'auth', 'mailFrom', 'rcptTo', 'data'];

const errCode = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const reply = (e: unknown): string | null => {
  const r = (e as { response?: unknown } | null)?.response;
  return typeof r === 'string' && r ? r.replace(/\r?\n/g, ' ').slice(0, 300) : null;
};

class Stages {
  readonly map = new Map<SmtpStageName, SmtpStage & { started: number | null }>();
  current: SmtpStageName = 'dns';
  private readonly secrets: string[];

  constructor(password: string | null) {
    for (const stage of ORDER) {
      this.map.set(stage, {
        stage,
        label: LABELS[stage],
        status: 'not-run',
        durationMs: null,
        detail: null,
        error: null,
        transcript: [],
        certificate: null,
        started: null,
      });
    }
    // last line of defence: the password and its base64 never appear, whatever a server echoes
    this.secrets = password ? [password, Buffer.from(password).toString('base64')] : [];
  }

  begin(stage: SmtpStageName): void {
    this.current = stage;
    const s = this.map.get(stage)!;
    if (s.started === null) s.started = performance.now();
  }

  line(text: string, stage: SmtpStageName = this.current): void {
    let t = text;
    for (const secret of this.secrets) if (secret.length >= 3) t = t.split(secret).join('[redacted]');
    this.map.get(stage)!.transcript.push(t.slice(0, 1000));
  }

  finish(stage: SmtpStageName, status: 'ok' | 'failed' | 'skipped', detail: string | null, error: string | null = null): void {
    const s = this.map.get(stage)!;
    s.status = status;
    s.detail = detail;
    s.error = error;
    s.durationMs = s.started === null ? null : Math.round(performance.now() - s.started);
  }

  /** The last server reply of a stage (its verdict). */
  lastReply(stage: SmtpStageName): string | null {
    const lines = this.map.get(stage)!.transcript.filter((l) => l.startsWith('S: '));
    return lines.length ? lines[lines.length - 1]!.slice(3) : null;
  }

  list(): SmtpStage[] {
    return ORDER.map((k) => {
      const { started: _s, ...rest } = this.map.get(k)!;
      return rest;
    });
  }
}

/** The SMTP dialogue as nodemailer logs it, split into stages by the command the client sends. */
function transcriptLogger(st: Stages) {
  // with PIPELINING, MAIL FROM, RCPT TO and DATA leave together: each reply goes to the command it answers
  const pending: SmtpStageName[] = [];
  const log = (meta: unknown, ...args: unknown[]) => {
    const tnx = (meta as { tnx?: string } | null)?.tnx;
    const text = format(...(args as [string, ...unknown[]]));
    if (tnx === 'client') {
      const cmd = text.trim();
      if (/^STARTTLS$/i.test(cmd)) st.begin('tls');
      else if (/^AUTH\b/i.test(cmd)) st.begin('auth');
      else if (/^MAIL FROM:/i.test(cmd)) st.begin('mailFrom');
      else if (/^RCPT TO:/i.test(cmd)) st.begin('rcptTo');
      else if (/^DATA$/i.test(cmd)) st.begin('data');
      if (/^(MAIL FROM:|RCPT TO:|DATA$)/i.test(cmd)) pending.push(st.current);
      if (st.current === 'auth') {
        const mech = /^AUTH\s+(\S+)/i.exec(cmd);
        st.line(mech ? `C: AUTH ${mech[1]!.toUpperCase()} [credentials hidden]` : 'C: [credentials hidden]');
      } else st.line(`C: ${cmd}`);
    } else if (tnx === 'server') {
      // 334 continuation lines carry challenges and, for some mechanisms, encoded names
      const stage = pending.shift() ?? st.current;
      st.line(stage === 'auth' && /^334\b/.test(text) ? 'S: 334 [challenge]' : `S: ${text}`, stage);
    } else if (tnx !== 'message' && text) {
      st.line(`* ${text}`);
    }
  };
  return { level: () => undefined, trace: log, debug: log, info: log, warn: log, error: log, fatal: log };
}

function tcpConnect(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function tlsHandshake(socket: net.Socket, s: SmtpSettings, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const servername = sniName(s.host);
    // rejectUnauthorized: false so the certificate can be shown; describeCertificate decides, before any AUTH
    const t = tls.connect({
      socket,
      ca: trustedCa(s),
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ...(servername ? { servername } : {}),
    });
    const timer = setTimeout(() => {
      t.destroy();
      reject(Object.assign(new Error(`TLS handshake did not finish within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    t.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(t);
    });
    t.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function tcpAdvice(code: string | undefined, s: SmtpSettings, address: string, e: unknown): string {
  switch (code) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections on ${address}:${s.port} (connection refused). Check the port: 587 is usual for STARTTLS, 465 for implicit TLS, 25 for relays without TLS.`;
    case 'ETIMEDOUT':
      return `No answer from ${address}:${s.port} (${errText(e)}): a firewall may drop the traffic, or the host or port is wrong.`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${address} cannot be reached from this machine (${code}). Check the network, VPN or routing.`;
    default:
      return `Could not connect to ${address}:${s.port} (${code ?? errText(e)}).`;
  }
}

function handshakeAdvice(e: unknown, s: SmtpSettings): string {
  const text = errText(e);
  if (
    /wrong version number|unknown protocol|packet length too long|http request/i.test(text) ||
    errCode(e) === 'ERR_SSL_WRONG_VERSION_NUMBER'
  ) {
    return `The server on port ${s.port} does not speak TLS from the first byte (${text}). For ports 587 and 25 choose STARTTLS; implicit TLS is usually port 465.`;
  }
  if (/socket hang up|ECONNRESET/i.test(text))
    return `The server closed the connection during the TLS handshake (${text}). It may need STARTTLS instead, or a newer TLS version.`;
  return `The TLS handshake failed (${text}). Check the TLS mode and the port.`;
}

function connectAdvice(e: unknown, st: Stages, s: SmtpSettings): string {
  const text = errText(e);
  const r = reply(e);
  if (st.current === 'tls') {
    if (/STARTTLS/i.test(text) && /support|not/i.test(text))
      return `The server does not offer STARTTLS on port ${s.port} (${r ?? text}). Use TLS mode "tls" (port 465), or "none" only on a trusted network.`;
    return handshakeAdvice(e, s);
  }
  if (/greeting/i.test(text) || errCode(e) === 'ETIMEDOUT') {
    return `The server accepted the connection but sent no SMTP greeting (${text}). Is ${s.port} an SMTP port? A port that expects TLS from the first byte (465) needs TLS mode "tls".`;
  }
  return `The SMTP session could not start (${r ?? text}).`;
}

function envelopeAdvice(stage: SmtpStageName, e: unknown, s: SmtpSettings, to: string): string {
  const r = reply(e) ?? errText(e);
  if (stage === 'mailFrom')
    return `The server refused the sender ${s.from} (${r}). The relay accepts only senders it may send for: use an address of a verified domain or identity, or allow this From on the relay.`;
  if (stage === 'rcptTo')
    return `The server refused the recipient ${to} (${r}). A relay often refuses outside domains without AUTH ("relay access denied"): set a username, or try an address of your own domain.`;
  if (/closed|ECONNECTION|ECONNRESET|socket/i.test(`${errCode(e) ?? ''} ${errText(e)}`) && !reply(e)) {
    return `The server closed the connection during DATA (${errText(e)}): the message was not accepted. Check the relay's log; size limits and content filters often do this.`;
  }
  return `The server refused the message (${r}). Check the relay's log for why.`;
}

/** Runs each stage in turn; the first failure stops the run, later stages are "not-run". */
export async function runStagedTest(input: StagedTestInput): Promise<SmtpTestResult> {
  const s = input.settings;
  const timeoutMs = input.timeoutMs ?? 15_000;
  const st = new Stages(input.password);
  const result = (
    failedStage: SmtpStageName | null,
    extra: { response?: string | null; messageId?: string | null } = {},
  ): SmtpTestResult => ({
    ok: failedStage === null,
    stages: st.list(),
    failedStage,
    to: input.to,
    from: s.from,
    response: extra.response ?? null,
    messageId: extra.messageId ?? null,
    usedSavedPassword: false,
  });
  const sockets: net.Socket[] = [];
  let conn: SMTPConnection | null = null;
  try {
    // ---- DNS
    st.begin('dns');
    const host = s.host.replace(/^\[|\]$/g, '');
    let addresses: string[];
    if (net.isIP(host)) {
      addresses = [host];
      st.line(`* ${host} is an IP address: no lookup`);
      st.finish('dns', 'ok', `${host} (IP address, no lookup)`);
    } else {
      try {
        const found = await Promise.race([
          dns.promises.lookup(host, { all: true }),
          new Promise<never>((_r, reject) =>
            setTimeout(() => reject(Object.assign(new Error('lookup timed out'), { code: 'ETIMEOUT' })), timeoutMs).unref(),
          ),
        ]);
        addresses = found.map((a) => a.address);
        for (const a of found) st.line(`* ${host} → ${a.address} (IPv${a.family})`);
        st.finish('dns', 'ok', `${host} → ${addresses.join(', ')}`);
      } catch (e) {
        st.line(`* lookup ${host}: ${errCode(e) ?? errText(e)}`);
        const why = errCode(e) === 'ENOTFOUND' ? 'does not resolve' : `could not be resolved (${errCode(e) ?? errText(e)})`;
        st.finish(
          'dns',
          'failed',
          null,
          `The host name "${host}" ${why}. Check the spelling and this machine's DNS (an IP address works too).`,
        );
        return result('dns');
      }
    }

    // ---- TCP
    st.begin('tcp');
    let socket: net.Socket | null = null;
    let lastError: unknown = null;
    let tried = '';
    for (const address of addresses) {
      tried = address;
      st.line(`* connecting to ${address}:${s.port}`);
      try {
        socket = await tcpConnect(address, s.port, timeoutMs);
        sockets.push(socket);
        st.line(`* connected to ${address}:${s.port} from ${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}`);
        break;
      } catch (e) {
        lastError = e;
        st.line(`* ${address}:${s.port}: ${errCode(e) ?? errText(e)}`);
      }
    }
    if (!socket) {
      st.finish('tcp', 'failed', null, tcpAdvice(errCode(lastError), s, tried, lastError));
      return result('tcp');
    }
    st.finish('tcp', 'ok', `connected to ${socket.remoteAddress}:${s.port}`);

    // ---- TLS (implicit): before any SMTP byte
    let smtpSocket: net.Socket = socket;
    if (s.tls === 'tls') {
      st.begin('tls');
      try {
        const t = await tlsHandshake(socket, s, timeoutMs);
        sockets.push(t);
        const { info, error } = describeCertificate(t, host);
        st.map.get('tls')!.certificate = info;
        st.line(
          `* ${info.protocol ?? 'TLS'} ${info.cipher ?? ''}; certificate ${info.subject} issued by ${info.issuer}, valid ${info.validFrom} – ${info.validTo}`,
        );
        if (error) {
          st.line(`* certificate verification: ${info.verificationError}`);
          st.finish('tls', 'failed', null, error);
          return result('tls');
        }
        st.line('* certificate verified');
        smtpSocket = t;
      } catch (e) {
        st.line(`* handshake: ${errText(e)}`);
        st.finish('tls', 'failed', null, handshakeAdvice(e, s));
        return result('tls');
      }
    } else {
      st.begin('tcp');
    }

    // ---- SMTP greeting, EHLO and (STARTTLS)
    const servername = sniName(host);
    conn = new SMTPConnection({
      host,
      port: s.port,
      connection: smtpSocket,
      secure: s.tls === 'tls',
      secured: s.tls === 'tls',
      requireTLS: s.tls === 'starttls',
      ignoreTLS: s.tls === 'none',
      tls: { ca: trustedCa(s), rejectUnauthorized: false, minVersion: 'TLSv1.2', ...(servername ? { servername } : {}) },
      logger: transcriptLogger(st) as never,
      debug: true,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs * 2,
    });
    const c = conn;
    // errors outside a callback (a server that hangs up) must not go unhandled: each step's callback reports them
    c.on('error', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => c.connect((e) => (e ? reject(e) : resolve())));
    } catch (e) {
      const stage = st.current === 'tls' ? 'tls' : 'tcp';
      st.finish(stage, 'failed', null, connectAdvice(e, st, s));
      if (stage === 'tcp') st.map.get('tcp')!.detail = null;
      return result(stage);
    }
    if (s.tls === 'starttls') {
      const t = (c as unknown as { _socket?: tls.TLSSocket })._socket;
      if (!t || !(t instanceof tls.TLSSocket)) {
        st.finish('tls', 'failed', null, 'The connection was not upgraded with STARTTLS. Check the TLS mode.');
        return result('tls');
      }
      const { info, error } = describeCertificate(t, host);
      st.map.get('tls')!.certificate = info;
      st.line(
        `* ${info.protocol ?? 'TLS'} ${info.cipher ?? ''}; certificate ${info.subject} issued by ${info.issuer}, valid ${info.validFrom} – ${info.validTo}`,
        'tls',
      );
      if (error) {
        st.line(`* certificate verification: ${info.verificationError}`, 'tls');
        st.finish('tls', 'failed', null, error);
        return result('tls');
      }
      st.line('* certificate verified', 'tls');
      st.finish('tls', 'ok', `STARTTLS: ${info.protocol ?? 'TLS'}, certificate of ${info.subject} verified`);
    } else if (s.tls === 'tls') {
      const info = st.map.get('tls')!.certificate!;
      st.finish('tls', 'ok', `implicit TLS: ${info.protocol ?? 'TLS'}, certificate of ${info.subject} verified`);
    } else {
      st.finish('tls', 'skipped', 'TLS mode "none": mail and password travel unencrypted. Use it only on a trusted network.');
    }

    // ---- AUTH
    if (s.username) {
      st.begin('auth');
      if (!input.password) {
        st.finish(
          'auth',
          'failed',
          null,
          `No password was given and none is saved for "${s.username}". Type the password, or clear the username if the relay takes mail without AUTH.`,
        );
        return result('auth');
      }
      try {
        await new Promise<void>((resolve, reject) =>
          c.login({ user: s.username, pass: input.password! }, (e) => (e ? reject(e) : resolve())),
        );
        st.finish('auth', 'ok', `authenticated as ${s.username}${st.lastReply('auth') ? ` (${st.lastReply('auth')})` : ''}`);
      } catch (e) {
        const r = reply(e);
        const why =
          /^53[05]/.test(r ?? '') && /starttls|tls/i.test(r ?? '')
            ? `The server wants TLS before AUTH (${r}). Choose STARTTLS or TLS.`
            : /^535|^454|^534/.test(r ?? '')
              ? `The server refused the username or password (${r}). Check both; relays with two-factor sign-in need an app password.`
              : `AUTH failed (${r ?? errText(e)}). Check the username and password, and whether the relay offers AUTH on this port.`;
        st.finish('auth', 'failed', null, why);
        return result('auth');
      }
    } else {
      st.finish('auth', 'skipped', 'No username: the relay must accept mail without AUTH.');
    }

    // ---- MAIL FROM, RCPT TO, DATA
    const message = await new Promise<Buffer>((resolve, reject) =>
      new MailComposer({
        from: s.from,
        to: input.to,
        subject: `Gatehouse SMTP test: ${input.clusterName}`,
        text: `This is a test message from the Gatehouse console's staged SMTP test for cluster ${input.clusterName}, sent ${(input.now ?? new Date()).toISOString()} through ${s.host}:${s.port} (${s.tls}) with From ${s.from}.\n\nIf you received it, the relay accepts mail from the console.\n`,
      })
        .compile()
        .build((e, m) => (e ? reject(e) : resolve(m))),
    );
    st.begin('mailFrom');
    try {
      const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
        c.send({ from: s.from, to: [input.to] }, message, (e, i) => (e ? reject(e) : resolve(i))),
      );
      st.finish('mailFrom', 'ok', st.lastReply('mailFrom') ?? 'accepted');
      st.finish('rcptTo', 'ok', st.lastReply('rcptTo') ?? `accepted ${info.accepted.join(', ')}`);
      st.finish('data', 'ok', info.response);
      const messageId = /queued as (\S+)/i.exec(info.response)?.[1] ?? null;
      c.quit();
      return result(null, { response: info.response, messageId });
    } catch (e) {
      const byCommand: Record<string, SmtpStageName> = { 'MAIL FROM': 'mailFrom', 'RCPT TO': 'rcptTo', DATA: 'data' };
      const cmd = (e as { command?: string } | null)?.command;
      const stage = (cmd && byCommand[cmd]) || (['mailFrom', 'rcptTo', 'data'].includes(st.current) ? st.current : 'mailFrom');
      for (const earlier of ORDER.slice(ORDER.indexOf('mailFrom'), ORDER.indexOf(stage)))
        st.finish(earlier, 'ok', st.lastReply(earlier) ?? 'accepted');
      st.finish(stage, 'failed', null, envelopeAdvice(stage, e, s, input.to));
      return result(stage);
    }
  } finally {
    conn?.close();
    for (const sock of sockets) sock.destroy();
  }
}
