// The synthetic audit entries the audit benches share: deterministic (a fixed-seed LCG),
// so runs compare. Each bench is its own process with its own generator.
import type { AuditRecord } from '../src-main/engine/audit/recorder';

const ACTIONS = [
  'tenants.create',
  'tenants.delete',
  'tenants.rotateSecrets',
  'backups.take',
  'backups.restore',
  'license.activate',
  'workers.upgrade',
  'settings.set',
  'operators.signIn',
  'clusters.select',
];
const WORDS = [
  'rotation',
  'incident',
  'migration',
  'quarterly',
  'renewal',
  'upgrade',
  'restore',
  'emergency',
  'scheduled',
  'customer',
  'billing',
  'compliance',
  'offboarding',
  'pilot',
  'staging',
];

/**
 * A generator of entries. `actions` / `words`: how many of the lists it draws from
 * (bench/audit.ts all of them; the import and verify benches 6 and 10, as they were
 * first measured, so their figures stay comparable across sessions).
 */
export function syntheticAudit(opts: { actions?: number; words?: number } = {}) {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  const actors = Array.from({ length: 50 }, (_, i) => (i % 3 ? `local:op${i}` : `oidc:idp.example:user${i}`));
  const actions = ACTIONS.slice(0, opts.actions ?? ACTIONS.length);
  const words = WORDS.slice(0, opts.words ?? WORDS.length);
  const t0 = Date.UTC(2025, 0, 1);
  const record = (i: number): AuditRecord => {
    const tenant = `tenant-${Math.floor(rnd() * 5000)}`;
    const failed = rnd() < 0.03;
    return {
      actor: pick(actors),
      actorRole: pick(['operator', 'admin'] as const),
      action: pick(actions),
      target: `tenant/${tenant}`,
      params: { slug: tenant, reason: `${pick(words)} ${pick(words)} ticket ${i % 9973}`, password: '[redacted]' },
      before: { plan: 'pro', users: Math.floor(rnd() * 10000) },
      after: { plan: pick(['pro', 'enterprise', 'dev']), users: Math.floor(rnd() * 10000) },
      outcome: failed ? 'failure' : 'success',
      errorCode: failed ? pick(['CONFLICT', 'UNAVAILABLE', 'FORBIDDEN']) : null,
      at: new Date(t0 + i * 30_000).toISOString(),
      cluster: 'prod',
      consoleVersion: 'bench',
    };
  };
  return { rnd, pick, actors, actions, words, t0, record };
}
