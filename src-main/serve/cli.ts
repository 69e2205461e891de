import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine } from '../engine';
import { createRouter } from '../ipc/router';
import { isLoopback, startServer, type RunningServer } from './server';
import { DEFAULT_SESSION_LIMITS } from './sessions';

const here = path.dirname(fileURLToPath(import.meta.url));

function positiveNumber(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`gatehouse: ${flag} needs a positive number (got ${JSON.stringify(raw)}).`);
    process.exit(2);
  }
  return n;
}

/**
 * How an operator gets another single-use sign-in link while the server runs:
 * SIGUSR2 (Linux, macOS: works headless, under systemd or nohup), or a line on
 * stdin when stdin is not a terminal (a supervisor's pipe) or on Windows. A
 * terminal's stdin is not read on Linux/macOS: reading it would stop a server
 * started in the background with `&` (SIGTTIN).
 */
function offerFreshLinks(server: RunningServer) {
  const print = (why: string) =>
    console.log(
      `\nA fresh sign-in link (${why}; it works once, within ${Math.round(DEFAULT_SESSION_LIMITS.tokenLifetimeMs / 60_000)} minutes):\n\n  ${server.newOpenUrl()}\n`,
    );
  if (process.platform !== 'win32') process.on('SIGUSR2', () => print('SIGUSR2'));
  if (process.platform === 'win32' || !process.stdin.isTTY) {
    const lines = readline.createInterface({ input: process.stdin });
    lines.on('line', () => print('asked on stdin'));
    lines.on('error', () => undefined);
  }
  const how =
    process.platform === 'win32'
      ? 'press Enter here'
      : `run \`kill -USR2 ${process.pid}\`${process.stdin.isTTY ? '' : ' or write a line to its stdin'}`;
  return how;
}

/** `npm run serve` / `gatehouse serve`: browser mode on loopback. */
export async function main(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'allow-remote': { type: 'boolean', default: false },
      dev: { type: 'boolean', default: false },
      'static-dir': { type: 'string' },
      'reset-local-state': { type: 'boolean', default: false },
      'session-idle-minutes': { type: 'string' },
      'session-max-hours': { type: 'string' },
    },
    allowPositionals: true,
  });
  const host = values.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    if (!values['allow-remote']) {
      console.error(`gatehouse: refusing to listen on ${host}. Browser mode is loopback-only; add --allow-remote if you really mean it.`);
      process.exit(2);
    }
    console.warn(
      `gatehouse: WARNING: listening on ${host}. Anyone who can reach this address and obtains a sign-in link can operate your clusters.`,
    );
  }
  const idleMs = positiveNumber('--session-idle-minutes', values['session-idle-minutes'], DEFAULT_SESSION_LIMITS.idleMs / 60_000) * 60_000;
  const lifetimeMs =
    positiveNumber('--session-max-hours', values['session-max-hours'], DEFAULT_SESSION_LIMITS.lifetimeMs / 3_600_000) * 3_600_000;
  const engine = createEngine({
    mode: 'browser',
    dataDir: values['data-dir'],
    // only the explicit flag: an inherited environment variable must not turn on test keys and the OS-user admin
    developmentMode: values.dev,
    resetLocalState: values['reset-local-state'],
  });
  for (const warning of engine.startupWarnings) console.warn(`gatehouse: ${warning}`);
  const router = createRouter(engine);
  const server = await startServer({
    router,
    host,
    port: Number(values.port),
    allowRemote: values['allow-remote'],
    staticDir: values['static-dir'] ?? path.resolve(here, '../../out/renderer'),
    sessionLimits: { idleMs, lifetimeMs },
    log: engine.log,
  });
  const how = offerFreshLinks(server);
  console.log(
    `Gatehouse is running in browser mode (pid ${process.pid}). Open this sign-in link; it works once, within ${Math.round(DEFAULT_SESSION_LIMITS.tokenLifetimeMs / 60_000)} minutes:\n\n  ${server.openUrl}\n`,
  );
  console.log(`For another link, ${how}. Sessions end after ${idleMs / 60_000} idle minutes and after ${lifetimeMs / 3_600_000} hours.`);
  console.log(`Data directory: ${engine.dataDir}`);
  const stop = async () => {
    await server.close();
    await engine.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return server;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`gatehouse: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
