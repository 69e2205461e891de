// Child process of two-clusters.test.ts: a whole console (createEngine + router) on a shared
// data directory that selects one context and creates one tenant, so GATEHOUSE_SAGA_CRASH can
// SIGKILL it mid-saga and the parent finds the operation journaled against that cluster.
import { createEngine } from '../../src-main/engine';
import { createRouter } from '../../src-main/ipc/router';

const cfg = JSON.parse(process.env.TWO_CLUSTERS_CHILD ?? '{}') as {
  dataDir: string;
  home: string;
  kubeconfig: string;
  contextId: string;
  slug: string;
};
const engine = createEngine({
  mode: 'browser',
  dataDir: cfg.dataDir,
  identity: 'os-user',
  clusters: {
    env: { KUBECONFIG: cfg.kubeconfig },
    home: cfg.home,
    watch: false,
    autoStart: false,
    secretStore: { keychain: null, prefer: 'encrypted-file', passphrase: 'two clusters passphrase' },
  },
});
const router = createRouter(engine);
try {
  const selected = await router.invoke('child', 'clusters.select', { clusterId: cfg.contextId });
  if (!selected.ok) throw new Error(selected.error.message);
  const created = await router.invoke('child', 'tenants.create', { slug: cfg.slug, name: `Interrupted ${cfg.slug}`, tier: 'DEV' });
  console.log(created.ok ? 'completed' : `failed: ${created.error.message}`);
} finally {
  await engine.close();
}
