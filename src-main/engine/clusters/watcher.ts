import fs from 'node:fs';
import path from 'node:path';

export interface FileWatcherOptions {
  /** Quiet period after the last change before `onChange` runs (editors write in several steps). */
  debounceMs?: number;
  /** mtime polling, for file systems where fs.watch misses events (network mounts, some containers). */
  pollMs?: number;
}

/**
 * Watches a set of files by watching their folders (so a file replaced by rename,
 * as editors and `kubectl config` do, is still seen) and polling their mtimes as a
 * fallback. Calls `onChange` once per burst of changes.
 */
export class FileSetWatcher {
  private files = new Set<string>();
  private readonly dirWatchers = new Map<string, fs.FSWatcher>();
  private stamps = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly debounceMs: number;

  constructor(
    private readonly onChange: () => void,
    options: FileWatcherOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 250;
    const pollMs = options.pollMs ?? 5000;
    if (pollMs > 0) {
      this.poller = setInterval(() => this.poll(), pollMs);
      this.poller.unref();
    }
  }

  /** Replaces the watched set (after every reload: the files a kubeconfig names can change). */
  setFiles(files: string[]): void {
    if (this.closed) return;
    this.files = new Set(files);
    this.stamps = new Map(files.map((f) => [f, stamp(f)]));
    const dirs = new Set(files.map((f) => path.dirname(f)));
    for (const [dir, watcher] of this.dirWatchers) {
      if (!dirs.has(dir)) {
        watcher.close();
        this.dirWatchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.dirWatchers.has(dir)) continue;
      try {
        const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
          // Without a file name (some platforms) we cannot tell: assume it was ours.
          if (!name || this.files.has(path.join(dir, name.toString()))) this.schedule();
        });
        watcher.on('error', () => {
          watcher.close();
          this.dirWatchers.delete(dir); // the folder went away; polling still covers its files
        });
        this.dirWatchers.set(dir, watcher);
      } catch {
        // folder missing or unreadable: polling notices when the file appears
      }
    }
  }

  private poll(): void {
    for (const file of this.files) {
      if (this.stamps.get(file) !== stamp(file)) {
        this.schedule();
        return;
      }
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed) this.onChange();
    }, this.debounceMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearInterval(this.poller);
    for (const watcher of this.dirWatchers.values()) watcher.close();
    this.dirWatchers.clear();
  }
}

function stamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}
