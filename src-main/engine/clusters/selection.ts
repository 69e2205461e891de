import type { SettingsService } from '../settings';

const LAST_SELECTED_KEY = 'clusters.selected';

/**
 * Which context each session (connection) looks at. A view choice only: commands
 * resolve their cluster from it once, at the pipeline; no engine code reads it while
 * it works. A new session starts on this workstation's last choice.
 */
export class ClusterSelections {
  private readonly bySession = new Map<string, string>();

  constructor(private readonly settings: SettingsService) {}

  get(connectionId: string): string | null {
    return this.bySession.get(connectionId) ?? this.lastChoice();
  }

  set(connectionId: string, contextId: string): void {
    this.bySession.set(connectionId, contextId);
    this.settings.set(LAST_SELECTED_KEY, contextId);
  }

  lastChoice(): string | null {
    return this.settings.get<string | null>(LAST_SELECTED_KEY, null);
  }

  /** Contexts some session has selected (those are the ones worth monitoring). */
  inUse(): string[] {
    const ids = new Set(this.bySession.values());
    const last = this.lastChoice();
    if (last) ids.add(last);
    return [...ids];
  }

  forget(connectionId: string): void {
    this.bySession.delete(connectionId);
  }
}
