import type { mailCommands } from '../../src-shared/contract/mail';
import type { Engine } from '../engine';
import type { HandlersFor } from './pipeline';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Binds the mail commands; audit records carry the settings and outcomes, never the password (docs/mail.md). */
export function mailHandlers(engine: Engine): HandlersFor<typeof mailCommands> {
  const { mail, reports } = engine;
  return {
    'mail.smtp.get': async (_i, ctx) => {
      const cluster = await ctx.cluster();
      const stored = await mail.store.read(cluster);
      return mail.store.view(cluster, stored, EMAIL.test(ctx.operator.id) ? ctx.operator.id : null);
    },
    'mail.smtp.save': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `smtp:${cluster.namespace}/gatehouse-smtp`;
      const before = await mail.store.read(cluster);
      ctx.audit.before = before.settings;
      const saved = await mail.store.save(cluster, {
        settings: input.settings,
        password: input.password,
        clearPassword: input.clearPassword,
        expectedVersion: input.expectedVersion,
        by: ctx.operator.id,
      });
      // what happened to the password, named so the redaction does not hide the fact itself
      ctx.audit.after = { ...saved.settings, authChange: input.password ? 'new' : input.clearPassword ? 'cleared' : 'kept' };
      return mail.store.view(cluster, saved, EMAIL.test(ctx.operator.id) ? ctx.operator.id : null);
    },
    'mail.smtp.test': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `smtp:${input.settings.host}:${input.settings.port}`;
      const out = await mail.test(cluster, input);
      ctx.audit.after = {
        ok: out.ok,
        failedStage: out.failedStage,
        to: out.to,
        from: out.from,
        tls: input.settings.tls,
        response: out.response,
      };
      return out;
    },
    'mail.report.get': async (_i, ctx) => reports.view(await ctx.cluster()),
    'mail.report.set': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `daily-report:${cluster.namespace}`;
      ctx.audit.before = (await reports.state.read(cluster)).config;
      const out = await reports.set(cluster, input);
      ctx.audit.after = { ...out.config, cronJob: out.cronJob.exists ? out.cronJob.name : null };
      return out;
    },
    'mail.report.preview': async (_i, ctx) => reports.preview(await ctx.cluster()),
    'mail.report.send': async (input, ctx) => {
      const cluster = await ctx.cluster();
      ctx.audit.target = `daily-report:${cluster.namespace}`;
      const out = await reports.sendNow(cluster, input.to);
      ctx.audit.after = out;
      return out;
    },
  };
}
