/**
 * Memory used again instead of allocated per chunk. Every byte of a backup or restore
 * passes through a few large buffers on the console's main thread (a COPY block, a file
 * read, a worker's answer); fresh ones cost page faults and V8 external memory, whose
 * growth started most of the full garbage collections of the main heap (`--trace-gc`).
 *
 * Two ways back:
 * - I/O blocks (1 MiB: COPY blocks, file reads) go to a worker thread, which hands each
 *   block back once it has hashed and sealed or opened it (a transferred ArrayBuffer is a
 *   new object here, so the pool takes it by size): returnIoBlock.
 * - A worker's answers are marked returnable; whoever holds one last (the directory
 *   storage once it is on disk, a COPY FROM once the socket took it) releases it.
 * Anything nobody gives back (an S3 upload, a test) is simply collected.
 */
export const IO_BLOCK = 1024 * 1024;
const POOL_MAX = 16;
const blocks: ArrayBuffer[] = [];

/** A block of `size` bytes (IO_BLOCK: from the pool when one is free). */
export function takeIoBlock(size = IO_BLOCK): Buffer {
  const ab = size === IO_BLOCK ? blocks.pop() : undefined;
  return ab ? Buffer.from(ab) : Buffer.allocUnsafeSlow(size);
}

/** A block's memory back for the next read; its previous holder never touches it again (a detached one, of length 0, is ignored). */
export function returnIoBlock(ab: ArrayBuffer): void {
  if (ab.byteLength === IO_BLOCK && blocks.length < POOL_MAX) blocks.push(ab);
}

/** Test hook: how many blocks wait to be used again. */
export const pooledIoBlocks = (): number => blocks.length;

const owners = new WeakMap<ArrayBufferLike, (ab: ArrayBuffer) => void>();

/** Marks buf's memory as returnable to `giveBack`; whoever holds buf last calls releaseBuffer. */
export function returnable(buf: Buffer, giveBack: (ab: ArrayBuffer) => void): Buffer {
  owners.set(buf.buffer, giveBack);
  return buf;
}

/** The caller is done with buf and keeps no view of it: its memory may be used again at once. */
export function releaseBuffer(buf: Buffer): void {
  const ab = buf.buffer;
  const giveBack = owners.get(ab);
  if (!giveBack) return;
  owners.delete(ab);
  giveBack(ab as ArrayBuffer);
}

/**
 * Staging buffers for direct I/O (storage.ts): O_DIRECT needs the memory, the length and
 * the file offset of every write aligned to the device's block. A Buffer's address cannot
 * be chosen in JavaScript, but WebAssembly memory is page-aligned, and so is every
 * STAGE-sized slice of it. Slices are never transferred; a memory is never grown (that
 * would detach views a write in flight still uses).
 */
export const STAGE = 1024 * 1024;
/** Alignment every direct write keeps (a page: enough for 512-byte and 4 KiB devices). */
export const DIRECT_ALIGN = 4096;
const STAGES_PER_MEMORY = 16;
const MAX_MEMORIES = 4;
// Node's global (the main process's TypeScript lib has no DOM or WebAssembly types).
declare const WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };
const freeStages: Buffer[] = [];
let memories = 0;

/** A page-aligned STAGE-byte buffer, or null when all 64 are in use (the caller writes through the page cache). */
export function takeStage(): Buffer | null {
  if (!freeStages.length && memories < MAX_MEMORIES) {
    const pages = (STAGES_PER_MEMORY * STAGE) / 65536;
    const mem = new WebAssembly.Memory({ initial: pages, maximum: pages });
    memories++;
    for (let i = 0; i < STAGES_PER_MEMORY; i++) freeStages.push(Buffer.from(mem.buffer, i * STAGE, STAGE));
  }
  return freeStages.pop() ?? null;
}

/** A stage back once no write uses it. */
export function returnStage(stage: Buffer): void {
  freeStages.push(stage);
}

/** Test hook: stages free for the next file. */
export const freeStageCount = (): number => freeStages.length;
