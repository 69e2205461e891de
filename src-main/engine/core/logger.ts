import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { maskTokensDeep, redactTokens } from './redact';

export type Logger = pino.Logger;

/** JSON logs under <dataDir>/logs, written synchronously so a crash loses nothing; secrets redacted by key. */
export function createLogger(dataDir: string, level = process.env.GATEHOUSE_LOG_LEVEL ?? 'info'): Logger {
  const dir = path.join(dataDir, 'logs');
  fs.mkdirSync(dir, { recursive: true });
  return pino(
    {
      level,
      redact: { paths: ['*.password', '*.token', '*.secret', '*.passphrase', 'password', 'token', 'secret'], censor: '[redacted]' },
      // API tokens are masked wherever they appear, in the message or any field
      formatters: { log: (object) => maskTokensDeep(object) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redactTokens(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    pino.destination({ dest: path.join(dir, 'gatehouse.log'), sync: true, mkdir: true }),
  );
}
