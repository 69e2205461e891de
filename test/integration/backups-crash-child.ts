// Child process of backups-faults.test.ts: builds the engine on a shared data dir and runs
// one in-place restore, so GATEHOUSE_SAGA_CRASH can SIGKILL it at a step boundary; or (mode
// "take-many") an all-tenant run that SIGKILLs itself when it starts dumping `killAtSlug`.
import { buildBackupEngine } from './backups-env';

const cfg = JSON.parse(process.env.BACKUPS_CRASH_CHILD ?? '{}') as {
  kubeconfig: string;
  namespace: string;
  pg: { host: string; port: number; user: string; password: string; database: string };
  dataDir: string;
  consoleId: string;
  slug: string;
  backupId: string;
  secrets: Record<string, string>;
  mode?: 'restore' | 'take-many';
  slugs?: string[];
  killAtSlug?: string;
};
const eng = buildBackupEngine({
  ...cfg,
  backups: {
    beforeDumpTable: async (slug) => {
      if (cfg.mode === 'take-many' && slug === cfg.killAtSlug) process.kill(process.pid, 'SIGKILL');
    },
  },
});
// The parent's secret store (the key), as a keychain would hold it across restarts.
for (const [k, v] of Object.entries(cfg.secrets)) eng.secrets.set(k, v);
try {
  if (cfg.mode === 'take-many') {
    await eng.backups.service.takeMany(eng.runtime, cfg.slugs ?? [], { reason: 'manual', actor: 'crash-child', concurrency: 1 });
  } else {
    await eng.backups.restoreInPlace(eng.runtime, { backupId: cfg.backupId, slug: cfg.slug, name: null, actor: 'crash-child' });
  }
  console.log('completed');
} finally {
  await eng.close();
}
