// Child process of backups-faults.test.ts: builds the engine on a shared data dir and runs
// one in-place restore, so GATEHOUSE_SAGA_CRASH can SIGKILL it at a step boundary.
import { buildBackupEngine } from './backups-env';

const cfg = JSON.parse(process.env.BACKUPS_CRASH_CHILD ?? '{}') as {
  kubeconfig: string; namespace: string; pg: { host: string; port: number; user: string; password: string; database: string };
  dataDir: string; consoleId: string; slug: string; backupId: string; secrets: Record<string, string>;
};
const eng = buildBackupEngine(cfg);
// The parent's secret store (the key), as a keychain would hold it across restarts.
for (const [k, v] of Object.entries(cfg.secrets)) eng.secrets.set(k, v);
try {
  await eng.backups.restoreInPlace(eng.runtime, { backupId: cfg.backupId, slug: cfg.slug, name: null, actor: 'crash-child' });
  console.log('completed');
} finally {
  await eng.close();
}
