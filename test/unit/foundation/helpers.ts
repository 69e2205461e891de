import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEngine, type Engine } from '../../../src-main/engine';

/** A real engine on a throwaway data directory. */
export function tempEngine(mode: 'browser' | 'electron' = 'browser'): { engine: Engine; dir: string; cleanup(): Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-test-'));
  const engine = createEngine({ mode, dataDir: dir });
  return {
    engine,
    dir,
    async cleanup() {
      await engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
