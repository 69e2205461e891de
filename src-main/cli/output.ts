/** How results reach a script or a person: JSON on stdout, or a plain table. */
export type OutputFormat = 'json' | 'table';

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

/** Columns padded to their widest cell; a header line in capitals. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

/** An object as "key: value" lines (nested values as JSON). */
export function keyValues(value: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(value).map((k) => k.length));
  return Object.entries(value)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`)
    .join('\n');
}

export interface Printer {
  format: OutputFormat;
  /** The command's answer: JSON of the whole value, or what `asTable` makes of it. */
  result(value: unknown, asTable?: (value: never) => string): void;
  /** Progress and notices: always stderr, so stdout stays parseable. */
  note(message: string): void;
}

export function printer(
  format: OutputFormat,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Printer {
  return {
    format,
    result(value, asTable) {
      if (format === 'json') out.write(`${JSON.stringify(value, null, 2)}\n`);
      else
        out.write(
          `${asTable ? asTable(value as never) : typeof value === 'object' && value !== null ? keyValues(value as Record<string, unknown>) : cell(value)}\n`,
        );
    },
    note(message) {
      err.write(`${message}\n`);
    },
  };
}
