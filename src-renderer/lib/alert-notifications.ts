import { create } from 'zustand';
import { client } from '../client';
import { useToasts } from '../stores/toasts';

/**
 * Desktop notifications for alert groups the engine says are due (`alerts.notify`: grouped,
 * deduplicated and spaced by the engine, so one event is one notification). The browser
 * Notification API serves both shells: in Electron the renderer's Notification is the
 * desktop notification, so no electron import is needed here.
 */
type Permission = 'granted' | 'denied' | 'default' | 'unsupported';

const permissionNow = (): Permission => (typeof Notification === 'undefined' ? 'unsupported' : Notification.permission);

export const useNotificationPermission = create<{ permission: Permission; request(): Promise<void> }>((set) => ({
  permission: permissionNow(),
  async request() {
    if (typeof Notification === 'undefined') return;
    set({ permission: await Notification.requestPermission() });
  },
}));

let wired = false;
export function wireAlertNotifications(): void {
  if (wired) return;
  wired = true;
  client.subscribe('alerts.notify', (n) => {
    const permission = permissionNow();
    useNotificationPermission.setState({ permission });
    if (permission === 'granted') {
      const note = new Notification(n.title, { body: n.body, tag: `gatehouse-alert:${n.clusterId}:${n.fingerprints[0] ?? ''}` });
      note.onclick = () => {
        window.focus();
        window.location.hash = '#/alerts';
      };
    } else {
      // No permission (or no API): the same news as a toast, so it is not lost.
      useToasts.getState().push({ kind: n.severity === 'critical' ? 'error' : 'info', title: n.title, message: n.body });
    }
  });
}
