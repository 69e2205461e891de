// Child process of rotation-crash.test.ts: builds the rotation engine on a shared data dir and
// runs one rotation, so GATEHOUSE_SAGA_CRASH can SIGKILL it mid-saga.
import { buildRotationEngine } from './rotation-env';

const cfg = JSON.parse(process.env.ROTATION_CRASH_CHILD ?? '{}') as {
  kubeconfig: string;
  namespace: string;
  dataDir: string;
  consoleId: string;
  slug: string;
};
const eng = buildRotationEngine(cfg);
try {
  await eng.service.rotate(eng.runtime, { slug: cfg.slug, kind: 'jwt' });
  console.log('completed');
} finally {
  await eng.close();
}
