// Child process of entities.test.ts: builds the entities engine on the shared data dir and
// runs one fleet apply, so GATEHOUSE_ENTITIES_CRASH_AFTER can SIGKILL it mid-fan-out.
import { buildEntitiesEngine } from './entities-env';

const cfg = JSON.parse(process.env.ENTITIES_CRASH_CHILD ?? '{}') as {
  kubeconfig: string;
  namespace: string;
  pg: { host: string; port: number; user: string; password: string; database: string };
  dataDir: string;
  consoleId: string;
  revision: number;
};
const eng = buildEntitiesEngine(cfg);
try {
  const out = await eng.entities.apply(eng.runtime, { revision: cfg.revision, concurrency: 4 }, 'test:crash-child');
  console.log('completed', out.status);
} finally {
  await eng.close();
}
