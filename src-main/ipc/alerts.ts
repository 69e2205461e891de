import type { alertsCommands } from '../../src-shared/contract/alerts';
import type { dashboardOverviewCommands } from '../../src-shared/contract/dashboard';
import { AuditQueryInput } from '../../src-shared/contract/audit';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

/** Binds the alert commands; acknowledge, silence and rule changes are audited with the alert's state before and after. */
export function alertsHandlers(engine: Engine): HandlersFor<typeof alertsCommands> {
  const a = engine.alerts;
  return {
    'alerts.list': async (input, ctx) => a.overview(await ctx.cluster(), input.includeResolved),
    'alerts.rules.get': async (_input, ctx) => a.rules(await ctx.cluster()),
    'alerts.rules.set': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `alerts:rules`;
      const { before, result } = await a.setRules(cluster, input.rules);
      ctx.audit.before = before;
      ctx.audit.after = result.rules;
      return result;
    },
    'alerts.evaluate': async (_input, ctx) => a.evaluate(await ctx.cluster()),
    'alerts.acknowledge': async (input, ctx) => {
      ctx.audit.target = `alert:${input.fingerprint}`;
      const { before, after } = a.acknowledge(await ctx.cluster(), input.fingerprint, ctx.operator.id, input.note);
      ctx.audit.before = { state: before.state };
      ctx.audit.after = { state: after.state, note: input.note };
      return after;
    },
    'alerts.silence': async (input, ctx) => {
      ctx.audit.target = `alert:${input.fingerprint}`;
      const { before, after } = a.silence(await ctx.cluster(), input.fingerprint, ctx.operator.id, input.hours);
      ctx.audit.before = { state: before.state, silencedUntil: before.silencedUntil };
      ctx.audit.after = { state: after.state, silencedUntil: after.silencedUntil };
      return after;
    },
  };
}

/** The dashboard's totals (engine/alerts/overview.ts): served from the caches, so it answers offline too. */
export function dashboardOverviewHandlers(engine: Engine): HandlersFor<typeof dashboardOverviewCommands> {
  // At most one background audit sync per cluster every 30 s: the page reloads on audit.changed, which a sync publishes.
  const lastSync = new Map<string, number>();
  return {
    'dashboard.overview': async (_input, ctx) => {
      const cluster = await ctx.cluster();
      // Paints from the caches; the audit copy is brought up to date in the background (audit.changed follows).
      if ((lastSync.get(cluster.clusterId) ?? 0) < Date.now() - 30_000) {
        lastSync.set(cluster.clusterId, Date.now());
        void engine.auditLog.sync(cluster.clusterId).catch(() => undefined);
      }
      const recent = engine.auditLog.query(AuditQueryInput.parse({ source: `cluster:${cluster.clusterId}`, limit: 8 }));
      const activity = recent.entries.map((e) => ({ at: e.at, actor: e.actor, action: e.action, target: e.target, outcome: e.outcome }));
      return engine.alerts.dashboard(cluster.clusterId, engine.tenants.cache.load(cluster.clusterId), activity);
    },
  };
}
