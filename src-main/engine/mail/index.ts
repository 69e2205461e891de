// What other capabilities may use of mail (eslint: capabilities import each other only through index.ts).
import type { SmtpSettings, SmtpTestResult } from '../../../src-shared/contract/mail';
import type { ClusterRuntime } from '../core/cluster-runtime';
import type { Logger } from '../core/logger';
import { sendMail, type MailDeps, type MailMessage } from './sender';
import { SmtpStore } from './settings';
import { runStagedTest } from './staged-test';

export { sendMail, type MailDeps, type MailMessage } from './sender';
export { SmtpStore, SMTP_OBJECT } from './settings';
export { runStagedTest } from './staged-test';

/** The mail capability: the SMTP settings of each cluster, the staged test and the sender. */
export function createMailCapability(o: { log?: Logger; timeoutMs?: number } = {}) {
  const store = new SmtpStore();
  const deps: MailDeps = { store, ...(o.log ? { log: o.log } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) };
  return {
    store,
    /** What sendMail needs (alerts and the daily report send through it). */
    deps,
    send: (cluster: ClusterRuntime, msg: MailMessage) => sendMail(cluster, deps, msg),
    /**
     * The staged test on the form's values; a blank password means the saved one (read from
     * the cluster's Secret here, never sent to the renderer).
     */
    async test(
      cluster: ClusterRuntime,
      input: { settings: SmtpSettings; password?: string | undefined; to: string },
    ): Promise<SmtpTestResult> {
      let password = input.password ? input.password : null;
      let usedSavedPassword = false;
      if (!password && input.settings.username) {
        password = (await store.read(cluster)).password;
        usedSavedPassword = password !== null;
      }
      const out = await runStagedTest({
        settings: input.settings,
        password,
        to: input.to,
        clusterName: cluster.contextName,
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      });
      return { ...out, usedSavedPassword };
    },
  };
}

export type MailCapability = ReturnType<typeof createMailCapability>;
