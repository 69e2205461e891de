import { create } from 'zustand';
import type { CommandOutput, OperatorIdentity } from '../../src-shared/contract';
import { client, onEngineBack, onEngineStatus } from '../client';
import { toastError } from './toasts';

export type ThemeSetting = 'light' | 'dark' | 'system';

interface AppState {
  info: CommandOutput<'system.info'> | null;
  operator: OperatorIdentity | null;
  /** Whether the console engine answers (the WebSocket in browser mode). */
  engineUp: boolean;
  /** Bumped each time the engine answers again after a loss: readers of engine data reload on it. */
  reconnects: number;
  themeSetting: ThemeSetting;
  /** The theme actually shown once "system" is resolved. */
  theme: 'light' | 'dark';
  dismissedWarnings: boolean;
  load(): Promise<void>;
  setTheme(t: ThemeSetting): Promise<void>;
  toggleTheme(): Promise<void>;
  dismissWarnings(): void;
}

const systemDark = () => window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
const resolve = (t: ThemeSetting): 'light' | 'dark' => (t === 'system' ? (systemDark() ? 'dark' : 'light') : t);

function applyTheme(theme: 'light' | 'dark') {
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme;
}

export const useApp = create<AppState>((set, get) => ({
  info: null,
  operator: null,
  engineUp: true,
  reconnects: 0,
  themeSetting: 'system',
  theme: resolve('system'),
  dismissedWarnings: false,
  async load() {
    const [info, session, settings] = await Promise.allSettled([
      client.invoke('system.info', {}),
      client.invoke('system.session', {}),
      client.invoke('system.settings.get', {}),
    ]);
    if (info.status === 'fulfilled') set({ info: info.value });
    else toastError('Could not read the console information', info.reason);
    if (session.status === 'fulfilled') set({ operator: session.value.operator });
    if (settings.status === 'fulfilled') {
      const theme = resolve(settings.value.theme);
      applyTheme(theme);
      set({ themeSetting: settings.value.theme, theme });
    }
  },
  async setTheme(t) {
    const theme = resolve(t);
    applyTheme(theme);
    set({ themeSetting: t, theme });
    try {
      await client.invoke('system.settings.set', { theme: t });
    } catch (e) {
      toastError('The theme could not be saved', e);
    }
  },
  async toggleTheme() {
    await get().setTheme(get().theme === 'dark' ? 'light' : 'dark');
  },
  dismissWarnings() {
    set({ dismissedWarnings: true });
  },
}));

applyTheme(useApp.getState().theme);
window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener('change', () => {
  const { themeSetting } = useApp.getState();
  if (themeSetting !== 'system') return;
  const theme = resolve('system');
  applyTheme(theme);
  useApp.setState({ theme });
});
onEngineStatus((s) => useApp.setState({ engineUp: s.up }));
// after a reconnect the engine may have restarted: identity, info and settings first, then every reader
onEngineBack(() => {
  void useApp.getState().load();
  useApp.setState((s) => ({ reconnects: s.reconnects + 1 }));
});
