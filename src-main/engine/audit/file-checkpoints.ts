import fs from 'node:fs';
import path from 'node:path';
import { mergeNotes } from './signing';

/** What publishes checkpoints outside the database and reads them back for verification. */
export interface CheckpointPublisher {
  /** Named in findings and on the Audit log page ("the one that disagrees"). */
  readonly where: string;
  /** The notes published for a log; null when nothing was ever published for it. */
  read(logId: string): Promise<string[] | null>;
  publish(logId: string, origin: string, notes: string[]): Promise<void>;
}

export const checkpointFileName = (logId: string) => `gatehouse-audit-checkpoints-${logId.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`;

interface Line {
  at: string;
  origin: string;
  note: string;
}

/**
 * Checkpoints appended to a file in a folder the operator chose: a mounted share, a
 * WORM/object-lock mount or removable media, out of the database owner's reach. The file is
 * only ever appended to (one JSON line per signed note, with the time it was written), so
 * whoever can write it can add lines but a console never rewrites what it wrote; a deleted or
 * rewritten line is noticed like a deleted checkpoint anywhere else (the witness, the other
 * publications). Lines that are not signed notes are ignored here and fail signature checks
 * if altered.
 */
export class FileCheckpoints implements CheckpointPublisher {
  constructor(
    private readonly folder: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  file(logId: string): string {
    return path.join(this.folder, checkpointFileName(logId));
  }

  get where(): string {
    return `checkpoint file in ${this.folder}`;
  }

  async read(logId: string): Promise<string[] | null> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file(logId), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const notes: string[] = [];
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      try {
        const line = JSON.parse(raw) as Partial<Line>;
        if (typeof line.note === 'string') notes.push(line.note);
      } catch {
        // a torn last line (power loss mid-append) or noise: not a checkpoint
      }
    }
    // cosignatures of one body written as separate lines are merged (every checkpoint kept: the file is the long memory)
    const byBody = new Map<string, string>();
    for (const note of notes) {
      const body = note.slice(0, note.indexOf('\n\n'));
      const prev = byBody.get(body);
      byBody.set(body, prev ? (mergeNotes(prev, note) ?? prev) : note);
    }
    return [...byBody.values()];
  }

  async publish(logId: string, origin: string, notes: string[]): Promise<void> {
    await fs.promises.access(this.folder, fs.constants.W_OK).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`the folder ${this.folder} is not writable here (${error.code ?? error.message}); check that the share is mounted`);
    });
    const already = new Set((await this.read(logId)) ?? []);
    const fresh = notes.filter((n) => !already.has(n));
    if (!fresh.length) return;
    const at = this.clock().toISOString();
    const text = fresh.map((note) => JSON.stringify({ at, origin, note } satisfies Line)).join('\n') + '\n';
    // O_APPEND: concurrent consoles on one share each add whole lines; nothing is rewritten
    const fh = await fs.promises.open(this.file(logId), 'a', 0o644);
    try {
      await fh.appendFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
