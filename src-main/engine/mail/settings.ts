import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { ContractError } from '../../../src-shared/contract';
import { SmtpSettings, type SmtpView } from '../../../src-shared/contract/mail';
import { MANAGED_BY_LABEL, kubeError, kubeStatusCode, retryOnConflict } from '../../adapters/kube';
import type { ClusterRuntime } from '../core/cluster-runtime';

/**
 * Where the SMTP relay of a cluster lives: what the platform backend reads (docs/mail.md).
 * - ConfigMap `gatehouse-smtp`: host, port, username, from, tls (none|starttls|tls),
 *   ca (system|custom), ca.pem (when custom);
 * - Secret `gatehouse-smtp`: password (absent: the relay takes mail without AUTH).
 * Both in the platform namespace, labelled managed-by=gatehouse, component=smtp.
 * The password is read only to talk to the relay; it never goes to SQLite, a log or the audit.
 */
export const SMTP_OBJECT = 'gatehouse-smtp';
const COMPONENT = { 'app.kubernetes.io/component': 'smtp' } as const;
const UPDATED_BY = 'gatehouse.io/updated-by';
const UPDATED_AT = 'gatehouse.io/updated-at';

export interface StoredSmtp {
  settings: SmtpSettings | null;
  password: string | null;
  version: string | null;
  updatedAt: string | null;
  updatedBy: string | null;
  /** The ConfigMap exists but cannot be read as settings: why. */
  invalid: string | null;
}

export function smtpConfigMap(namespace: string, s: SmtpSettings, by: string, at: string): V1ConfigMap {
  const data: Record<string, string> = {
    host: s.host,
    port: String(s.port),
    username: s.username,
    from: s.from,
    tls: s.tls,
    ca: s.ca,
  };
  if (s.ca === 'custom' && s.caPem) data['ca.pem'] = s.caPem;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: SMTP_OBJECT,
      namespace,
      labels: { ...MANAGED_BY_LABEL, ...COMPONENT },
      annotations: { [UPDATED_BY]: by, [UPDATED_AT]: at },
    },
    data,
  };
}

export function parseSmtpConfigMap(cm: V1ConfigMap): { settings: SmtpSettings | null; invalid: string | null } {
  const d = cm.data ?? {};
  const parsed = SmtpSettings.safeParse({
    host: d.host ?? '',
    port: Number(d.port ?? 'x'),
    username: d.username ?? '',
    from: d.from ?? '',
    tls: d.tls ?? '',
    ca: d.ca ?? 'system',
    caPem: d['ca.pem'] ?? null,
  });
  if (parsed.success) return { settings: parsed.data, invalid: null };
  const issue = parsed.error.issues[0];
  return {
    settings: null,
    invalid: `ConfigMap ${SMTP_OBJECT} is not valid (${issue?.path.join('.') || 'data'}: ${issue?.message ?? 'unreadable'}); save the settings again.`,
  };
}

async function readOrNull<T>(read: () => Promise<T>, doing: Parameters<typeof kubeError>[1]): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (kubeStatusCode(error) === 404) return null;
    throw kubeError(error, doing);
  }
}

/** Reads and writes the SMTP objects of one cluster through its kube client. */
export class SmtpStore {
  async read(cluster: ClusterRuntime): Promise<StoredSmtp> {
    const ns = cluster.namespace;
    const [cm, secret] = await Promise.all([
      readOrNull(() => cluster.kube.core.readNamespacedConfigMap({ name: SMTP_OBJECT, namespace: ns }), {
        verb: 'get',
        resource: 'configmaps',
        namespace: ns,
        name: SMTP_OBJECT,
      }),
      readOrNull(() => cluster.kube.core.readNamespacedSecret({ name: SMTP_OBJECT, namespace: ns }), {
        verb: 'get',
        resource: 'secrets',
        namespace: ns,
        name: SMTP_OBJECT,
      }),
    ]);
    const raw = secret?.data?.password;
    const password = raw ? Buffer.from(raw, 'base64').toString('utf8') : null;
    if (!cm) return { settings: null, password, version: null, updatedAt: null, updatedBy: null, invalid: null };
    const { settings, invalid } = parseSmtpConfigMap(cm);
    return {
      settings,
      password,
      version: cm.metadata?.resourceVersion ?? null,
      updatedAt: cm.metadata?.annotations?.[UPDATED_AT] ?? null,
      updatedBy: cm.metadata?.annotations?.[UPDATED_BY] ?? null,
      invalid,
    };
  }

  view(cluster: ClusterRuntime, stored: StoredSmtp, operatorEmail: string | null): SmtpView {
    return {
      clusterId: cluster.clusterId,
      settings: stored.settings,
      passwordSet: stored.password !== null && stored.password !== '',
      updatedAt: stored.updatedAt,
      updatedBy: stored.updatedBy,
      version: stored.version,
      objects: { namespace: cluster.namespace, configMap: SMTP_OBJECT, secret: SMTP_OBJECT },
      operatorEmail,
    };
  }

  /**
   * Saves settings (and the password when one is given; `clearPassword` removes it). The
   * Secret is written first, so the backend never reads new settings with an old password.
   */
  async save(
    cluster: ClusterRuntime,
    input: {
      settings: SmtpSettings;
      password?: string | undefined;
      clearPassword?: boolean;
      expectedVersion?: string | null | undefined;
      by: string;
      now?: Date;
    },
  ): Promise<StoredSmtp> {
    const ns = cluster.namespace;
    const at = (input.now ?? new Date()).toISOString();
    const current = await this.read(cluster);
    if (input.expectedVersion !== undefined && input.expectedVersion !== current.version) {
      throw new ContractError(
        'CONFLICT',
        `The SMTP settings were changed on the cluster since this form was loaded${current.updatedBy ? ` (by ${current.updatedBy})` : ''}. Reload them, then save again.`,
      );
    }
    if (input.password) await this.writePassword(cluster, input.password, input.by);
    else if (input.clearPassword) await this.deletePassword(cluster);
    if (!input.password && !input.clearPassword && input.settings.username && !current.password) {
      throw new ContractError(
        'VALIDATION',
        `Give the password of "${input.settings.username}" (none is stored yet), or clear the username if the relay takes mail without AUTH.`,
        { fields: { password: 'required' } },
      );
    }
    const body = smtpConfigMap(ns, input.settings, input.by, at);
    await retryOnConflict(async () => {
      const existing = await readOrNull(() => cluster.kube.core.readNamespacedConfigMap({ name: SMTP_OBJECT, namespace: ns }), {
        verb: 'get',
        resource: 'configmaps',
        namespace: ns,
        name: SMTP_OBJECT,
      });
      try {
        if (existing)
          await cluster.kube.core.replaceNamespacedConfigMap({
            name: SMTP_OBJECT,
            namespace: ns,
            body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
          });
        else await cluster.kube.core.createNamespacedConfigMap({ namespace: ns, body });
      } catch (error) {
        if (kubeStatusCode(error) === 409) throw error;
        throw kubeError(error, { verb: existing ? 'update' : 'create', resource: 'configmaps', namespace: ns, name: SMTP_OBJECT });
      }
    });
    return this.read(cluster);
  }

  private async writePassword(cluster: ClusterRuntime, password: string, by: string): Promise<void> {
    const ns = cluster.namespace;
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: SMTP_OBJECT, namespace: ns, labels: { ...MANAGED_BY_LABEL, ...COMPONENT }, annotations: { [UPDATED_BY]: by } },
      data: { password: Buffer.from(password, 'utf8').toString('base64') },
    };
    await retryOnConflict(async () => {
      const existing = await readOrNull(() => cluster.kube.core.readNamespacedSecret({ name: SMTP_OBJECT, namespace: ns }), {
        verb: 'get',
        resource: 'secrets',
        namespace: ns,
        name: SMTP_OBJECT,
      });
      try {
        if (existing)
          await cluster.kube.core.replaceNamespacedSecret({
            name: SMTP_OBJECT,
            namespace: ns,
            body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
          });
        else await cluster.kube.core.createNamespacedSecret({ namespace: ns, body });
      } catch (error) {
        if (kubeStatusCode(error) === 409) throw error;
        throw kubeError(error, { verb: existing ? 'update' : 'create', resource: 'secrets', namespace: ns, name: SMTP_OBJECT });
      }
    });
  }

  private async deletePassword(cluster: ClusterRuntime): Promise<void> {
    try {
      await cluster.kube.core.deleteNamespacedSecret({ name: SMTP_OBJECT, namespace: cluster.namespace });
    } catch (error) {
      if (kubeStatusCode(error) !== 404)
        throw kubeError(error, { verb: 'delete', resource: 'secrets', namespace: cluster.namespace, name: SMTP_OBJECT });
    }
  }
}
