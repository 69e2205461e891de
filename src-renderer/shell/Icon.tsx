/** A handful of 16px stroke icons, inline so the CSP needs no external source. */
const paths: Record<string, string> = {
  gauge: 'M3 13a6 6 0 1 1 12 0M9 13l3-4M2 13h1m12 0h1',
  building: 'M3 16V3h8v13M11 7h4v9M5 6h1m2 0h1M5 9h1m2 0h1M5 12h1m2 0h1M1 16h16',
  server: 'M2 3h14v5H2zM2 10h14v5H2zM5 5.5h.01M5 12.5h.01',
  key: 'M7 11a4 4 0 1 1 3-3l6 6v2h-2v-2h-2v-2l-2-2',
  scroll: 'M4 2h10v14H4zM7 6h4M7 9h4M7 12h2',
  user: 'M9 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM3 16c0-3 3-5 6-5s6 2 6 5',
  sun: 'M9 12a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM9 1v2M9 15v2M1 9h2M15 9h2M3.3 3.3l1.4 1.4M13.3 13.3l1.4 1.4M3.3 14.7l1.4-1.4M13.3 4.7l1.4-1.4',
  moon: 'M15 11A7 7 0 0 1 7 3a7 7 0 1 0 8 8z',
  refresh: 'M15 9a6 6 0 1 1-2-4.5M15 2v4h-4',
  plus: 'M9 3v12M3 9h12',
  copy: 'M6 6h9v9H6zM3 12V3h9',
  x: 'M4 4l10 10M14 4L4 14',
  alert: 'M9 2l8 14H1zM9 7v4M9 13.5h.01',
  check: 'M3 9l4 4 8-8',
  eye: 'M1 9s3-6 8-6 8 6 8 6-3 6-8 6-8-6-8-6zM9 11a2 2 0 1 0 0-4 2 2 0 0 0 0 4z',
  keyboard: 'M1 4h16v10H1zM4 7h1m2 0h1m2 0h1m2 0h1M5 11h8',
  database: 'M3 4c0-1.1 2.7-2 6-2s6 .9 6 2-2.7 2-6 2-6-.9-6-2zM3 4v10c0 1.1 2.7 2 6 2s6-.9 6-2V4M3 9c0 1.1 2.7 2 6 2s6-.9 6-2',
  search: 'M8 13A5 5 0 1 0 8 3a5 5 0 0 0 0 10zM16 16l-4.5-4.5',
  chevron: 'M5 7l4 4 4-4',
  folder: 'M1 4h6l2 2h8v9H1z',
  mail: 'M1 4h16v10H1zM1 4l8 6 8-6',
};

export function Icon({ name, size = 16, className }: { name: string; size?: number; className?: string }) {
  return (
    <svg
      className={`icon ${className ?? ''}`}
      width={size}
      height={size}
      viewBox="0 0 18 18"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.5"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
    >
      <path d={paths[name] ?? paths.gauge} />
    </svg>
  );
}
