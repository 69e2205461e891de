import { ContractError } from '../../../src-shared/contract';
import { AlertRules } from '../../../src-shared/contract/alerts';
import type { ClusterRuntime } from '../core/cluster-runtime';
import { tenantKube, writeConfigMapKey } from '../tenants';

/** Where the rules live: the platform backend reads the same ConfigMap (docs/alerts.md). */
export const RULES_CONFIGMAP = 'gatehouse-alert-rules';
export const RULES_KEY = 'rules.json';

export const defaultRules = (): AlertRules => AlertRules.parse({});

export function parseRules(raw: string): AlertRules {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ContractError(
      'VALIDATION',
      `ConfigMap ${RULES_CONFIGMAP} holds no valid JSON in ${RULES_KEY}. Save the rules again on Settings → Alerts.`,
    );
  }
  const parsed = AlertRules.safeParse(json);
  if (!parsed.success)
    throw new ContractError(
      'VALIDATION',
      `ConfigMap ${RULES_CONFIGMAP} holds malformed rules (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}). Save them again on Settings → Alerts.`,
    );
  return parsed.data;
}

/** The cluster's rules (defaults when the ConfigMap does not exist yet) and whether they are stored. */
export async function readRules(cluster: ClusterRuntime): Promise<{ rules: AlertRules; stored: boolean }> {
  const cm = await tenantKube(cluster.kube, cluster.namespace).getConfigMap(RULES_CONFIGMAP);
  const raw = cm?.data?.[RULES_KEY];
  if (!raw) return { rules: defaultRules(), stored: false };
  return { rules: parseRules(raw), stored: true };
}

/** Written with the ConfigMap's resourceVersion (a concurrent edit is re-read, not overwritten blindly). */
export async function writeRules(cluster: ClusterRuntime, rules: AlertRules): Promise<{ before: AlertRules | null }> {
  let before: AlertRules | null = null;
  await writeConfigMapKey(tenantKube(cluster.kube, cluster.namespace), RULES_CONFIGMAP, RULES_KEY, JSON.stringify(rules, null, 2), (cm) => {
    const raw = cm?.data?.[RULES_KEY];
    try {
      before = raw ? parseRules(raw) : null;
    } catch {
      before = null;
    }
  });
  return { before };
}
