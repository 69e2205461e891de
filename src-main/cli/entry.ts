import { run } from './main';

// `gatehouse <tenants|backups|license|audit|operations|login|logout|whoami> …` (bin/gatehouse.mjs)
const code = await run(process.argv.slice(2));
// the engine closed its pools; anything left (a socket in TIME_WAIT) must not hold a script
process.exit(code);
