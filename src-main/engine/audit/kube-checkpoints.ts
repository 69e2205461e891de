import type { V1ConfigMap } from '@kubernetes/client-node';
import { kubeError, kubeStatusCode, MANAGED_BY_LABEL, retryOnConflict, type KubeClients } from '../../adapters/kube';
import { mergeNotes, noteSignatures } from './signing';

/** The Kubernetes object checkpoints are published to, outside the database (separate RBAC from the DBA's). */
export const CHECKPOINTS_CONFIGMAP = 'gatehouse-audit-checkpoints';
/** Per log: the newest checkpoints kept (plus the newest of every signer); a signed note is ~200 bytes. */
const KEEP = 32;

const dataKey = (logId: string) => `log-${logId.replace(/[^A-Za-z0-9._-]/g, '_')}`;

interface Published {
  origin: string;
  checkpoints: string[];
}

const sizeOf = (note: string) => Number(note.split('\n')[1]);

/** Keeps the newest KEEP notes and the newest of each signer; notes over the same body are merged (cosignatures). */
export function mergeCheckpointLists(current: string[], added: string[]): string[] {
  const byBody = new Map<string, string>();
  for (const note of [...current, ...added]) {
    const body = note.slice(0, note.indexOf('\n\n'));
    const prev = byBody.get(body);
    byBody.set(body, prev ? (mergeNotes(prev, note) ?? prev) : note);
  }
  const all = [...byBody.values()].sort((a, b) => sizeOf(b) - sizeOf(a));
  const keep = new Set(all.slice(0, KEEP));
  const seen = new Set<string>();
  for (const note of all) {
    for (const s of noteSignatures(note)) {
      if (!seen.has(s.name)) {
        seen.add(s.name);
        keep.add(note);
      }
    }
  }
  return all.filter((n) => keep.has(n));
}

/**
 * Checkpoints published into a ConfigMap in the platform namespace. Written with
 * optimistic concurrency (resourceVersion, retried on 409) so two consoles never lose
 * each other's checkpoints. Signed notes: whoever can edit the ConfigMap can delete
 * checkpoints (the witness notices) but cannot forge one.
 */
export class KubeCheckpoints {
  constructor(
    private readonly kube: Pick<KubeClients, 'core'>,
    private readonly namespace: string,
  ) {}

  get where(): string {
    return `Kubernetes ConfigMap ${this.namespace}/${CHECKPOINTS_CONFIGMAP}`;
  }

  private async get(): Promise<V1ConfigMap | null> {
    try {
      return await this.kube.core.readNamespacedConfigMap({ name: CHECKPOINTS_CONFIGMAP, namespace: this.namespace });
    } catch (error) {
      if (kubeStatusCode(error) === 404) return null;
      throw kubeError(error, { verb: 'get', resource: 'configmaps', namespace: this.namespace, name: CHECKPOINTS_CONFIGMAP });
    }
  }

  /** The checkpoints published for a log; null when nothing was ever published for it. */
  async read(logId: string): Promise<string[] | null> {
    const cm = await this.get();
    const raw = cm?.data?.[dataKey(logId)];
    if (!raw) return null;
    try {
      const parsed = JSON.parse(raw) as Published;
      return Array.isArray(parsed.checkpoints) ? parsed.checkpoints.filter((n) => typeof n === 'string') : [];
    } catch {
      return [];
    }
  }

  async publish(logId: string, origin: string, notes: string[]): Promise<void> {
    const key = dataKey(logId);
    try {
      await retryOnConflict(async () => {
        const cm = await this.get();
        const current = cm?.data?.[key] ? ((JSON.parse(cm.data[key]) as Published).checkpoints ?? []) : [];
        const merged = mergeCheckpointLists(current, notes);
        if (cm && merged.length === current.length && merged.every((n, i) => n === current[i])) return;
        const value = JSON.stringify({ origin, checkpoints: merged } satisfies Published);
        if (!cm) {
          await this.kube.core.createNamespacedConfigMap({
            namespace: this.namespace,
            body: {
              metadata: {
                name: CHECKPOINTS_CONFIGMAP,
                namespace: this.namespace,
                labels: { ...MANAGED_BY_LABEL, 'gatehouse.io/component': 'audit' },
              },
              data: { [key]: value },
            },
          });
        } else {
          // resourceVersion from the read: a concurrent write makes this one fail with 409, and it is retried
          await this.kube.core.replaceNamespacedConfigMap({
            name: CHECKPOINTS_CONFIGMAP,
            namespace: this.namespace,
            body: { ...cm, data: { ...cm.data, [key]: value } },
          });
        }
      });
    } catch (error) {
      throw kubeError(error, { verb: 'update', resource: 'configmaps', namespace: this.namespace, name: CHECKPOINTS_CONFIGMAP });
    }
  }
}
