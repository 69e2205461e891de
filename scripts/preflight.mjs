#!/usr/bin/env node
// Names every missing prerequisite of `npm test`, with the command that installs it, before any suite runs.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const pgBin = () => {
  if (process.env.GATEHOUSE_PG_BIN && existsSync(`${process.env.GATEHOUSE_PG_BIN}/initdb`)) return true;
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  } catch {
    return false;
  }
};
const nodeMajor = Number(process.versions.node.split('.')[0]);

export const checks = [
  {
    name: 'Node.js 24 or newer',
    ok: nodeMajor >= 24,
    fix: 'npm i -g node@24 --prefix ~/.local/node24 && export PATH=~/.local/node24/bin:$PATH',
  },
  {
    name: 'Chromium (/usr/bin/chromium)',
    ok: existsSync(process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium'),
    fix: 'sudo apt-get install -y chromium',
  },
  { name: 'PostgreSQL server binaries (initdb, pg_ctl)', ok: pgBin(), fix: 'sudo apt-get install -y postgresql' },
  {
    name: 'Go toolchain (builds the Kubernetes test cluster)',
    ok: has('go'),
    fix: 'install Go 1.24+ from your distribution (apt-get install golang) or go.dev',
  },
  { name: 'openssl (test cluster certificates)', ok: has('openssl'), fix: 'sudo apt-get install -y openssl' },
  { name: 'dbus-run-session (real keychain test)', ok: has('dbus-run-session'), fix: 'sudo apt-get install -y dbus' },
  { name: 'gnome-keyring-daemon (real keychain test)', ok: has('gnome-keyring-daemon'), fix: 'sudo apt-get install -y gnome-keyring' },
  { name: 'installed npm packages', ok: existsSync('node_modules/.package-lock.json'), fix: 'npm install' },
];

if (import.meta.url === `file://${process.argv[1]}`) {
  const missing = checks.filter((c) => !c.ok);
  if (missing.length === 0) {
    console.log(`preflight: all ${checks.length} prerequisites present`);
  } else {
    console.error('preflight: npm test needs what is missing below:');
    for (const m of missing) console.error(`  - ${m.name}: ${m.fix}`);
    console.error('(`npm run test:unit` needs none of them.)');
    process.exit(1);
  }
}
