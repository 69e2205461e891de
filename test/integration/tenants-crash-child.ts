// Child process of tenants-crash.test.ts: builds the tenants engine on a shared data dir
// and runs one create (or resume/rollback), so GATEHOUSE_SAGA_CRASH can SIGKILL it mid-saga.
import { buildTenantEngine } from './tenants-env';

const cfg = JSON.parse(process.env.TENANTS_CRASH_CHILD ?? '{}') as {
  kubeconfig: string;
  namespace: string;
  pg: { host: string; port: number; user: string; password: string; database: string };
  dataDir: string;
  consoleId: string;
  slug: string;
};
const eng = buildTenantEngine(cfg);
try {
  await eng.service.create(eng.runtime, { slug: cfg.slug, name: `Crash ${cfg.slug}`, tier: 'DEV' });
  console.log('completed');
} finally {
  await eng.close();
}
