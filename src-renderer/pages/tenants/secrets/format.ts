/** "12 d 3 h", "5 min", "40 s": key ages and windows. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export const KIND_LABELS: Record<string, string> = {
  jwt: 'JWT signing keys',
  'login-worker': 'Login-worker token',
  proxy: 'Proxy token',
  cp: 'Control-plane token',
  database: 'Database password',
  bootstrap: 'Bootstrap token',
};

export const PHASE_LABELS: Record<string, string> = {
  stable: 'stable',
  staged: 'phase 1: next key accepted',
  promoted: 'phase 2: promoted, rolling out',
};
