import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine } from '../engine';
import { createRouter } from '../ipc/router';
import { isLoopback, startServer } from './server';

const here = path.dirname(fileURLToPath(import.meta.url));

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
    },
    allowPositionals: true,
  });
  const host = values.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    if (!values['allow-remote']) {
      console.error(`gatehouse: refusing to listen on ${host}. Browser mode is loopback-only; add --allow-remote if you really mean it.`);
      process.exit(2);
    }
    console.warn(`gatehouse: WARNING: listening on ${host}. Anyone who can reach this address and learns the token can operate your clusters.`);
  }
  const engine = createEngine({
    mode: 'browser',
    dataDir: values['data-dir'],
    developmentMode: values.dev || process.env.GATEHOUSE_DEV === '1',
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
  });
  console.log(`Gatehouse is running in browser mode. Open this URL (it carries your access token):\n\n  ${server.openUrl}\n`);
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
